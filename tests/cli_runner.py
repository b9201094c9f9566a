"""The command line run as a user runs it: ``python -m insights_poller ...`` in a process of its
own, configured by the environment only, from a scratch directory."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devstack.stack import process_env


class Cli:
    """Runs the command line with the test stack's configuration, from a scratch directory."""

    def __init__(self, env: Mapping[str, str], workdir: Path) -> None:
        self.env = process_env(env)
        self.workdir = workdir

    def run(self, *args: str, stderr: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "insights_poller", *args],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=60,
            check=False,
        )

    def run_many(self, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
        """Several commands that change nothing, run at once to keep the tests fast."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda command: self.run(*command), commands))

    def ok(self, *args: str) -> str:
        """Stdout of a command that must succeed."""
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))
