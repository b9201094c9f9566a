"""The Google Cloud emulators the example's tests need, started by the tests themselves.

Self-contained, so that a copy of this folder tests itself (``python -m pytest`` in it): each
emulator runs under ``gcloud`` (the Google Cloud CLI with its Firestore and Pub/Sub emulator
components, and Java), once per session and only when a test asks for it, in a process group of
its own that is killed afterwards. A missing tool or a failed start fails the test, never skips
it: a skipped test would pass a broken subscriber.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

STARTUP_TIMEOUT_SECONDS = 90.0


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range: a port from that range could
    meanwhile become the local end of some outgoing connection before the emulator binds it."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    for port in random.sample(range(10000, ephemeral), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port")


class Emulator:
    """``gcloud ARGS --host-port=...`` until it answers ``Ok`` on its HTTP root; ``stop`` kills
    the process group (the gcloud wrapper and its JVM)."""

    def __init__(self, name: str, args: Sequence[str]) -> None:
        missing = [tool for tool in ("gcloud", "java") if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(
                f"the {name} emulator needs {' and '.join(missing)} on PATH: install the Google "
                "Cloud CLI with its firestore and pubsub emulator components, and Java"
            )
        self.name = name
        self.host_port = f"127.0.0.1:{free_port()}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{name.lower().replace('/', '')}-emulator-"))
        self.log_path = self.workdir / "emulator.log"
        (self.workdir / "data").mkdir()
        args = [arg.replace("{workdir}", str(self.workdir)) for arg in args]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                ["gcloud", *args, f"--host-port={self.host_port}", "--quiet"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the {self.name} emulator exited:\n{self._log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.host_port}/", timeout=2) as response,
            ):
                if response.read().strip() == b"Ok":
                    return
            time.sleep(0.25)
        raise RuntimeError(f"the {self.name} emulator did not start:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _run(name: str, args: Sequence[str], env_var: str) -> Iterator[str]:
    """Start an emulator, point ``env_var`` (read by the client libraries) at it, then stop it."""
    try:
        emulator = Emulator(name, args)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(env_var, emulator.host_port)
            yield emulator.host_port
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def loopback_port() -> Callable[[], int]:
    """Gives a free loopback port (for a process the test starts), as the emulators get theirs."""
    return free_port


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """``host:port`` of a Firestore emulator; FIRESTORE_EMULATOR_HOST is set meanwhile."""
    yield from _run("Firestore", ["emulators", "firestore", "start"], "FIRESTORE_EMULATOR_HOST")


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    """``host:port`` of a Pub/Sub emulator; PUBSUB_EMULATOR_HOST is set meanwhile."""
    args = ["beta", "emulators", "pubsub", "start", "--data-dir={workdir}/data"]
    yield from _run("Pub/Sub", args, "PUBSUB_EMULATOR_HOST")
