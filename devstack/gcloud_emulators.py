"""Start and stop the official Google Cloud emulators (Firestore, Pub/Sub) for the local stack.

Each emulator runs under ``gcloud``, which spawns a Java server; both live in a
process group of their own so stopping kills the whole group and no JVM is left
behind. A missing ``gcloud`` or ``java`` is an error, never a silent skip.
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
from collections.abc import Sequence
from pathlib import Path

EMULATOR_PROJECT = "insights-poller-test"
"""The project id the tests use against the emulators (any id is accepted)."""

STARTUP_TIMEOUT = 60.0
"""Seconds to wait for an emulator to answer before giving up."""

_LOG_TAIL_CHARS = 4000


class Emulator:
    """A running emulator: its ``host:port`` and the process group to kill."""

    def __init__(
        self, name: str, host_port: str, process: subprocess.Popen[bytes], workdir: Path
    ) -> None:
        self.name = name
        self.host_port = host_port
        self._process = process
        self._workdir = workdir

    @property
    def log_path(self) -> Path:
        """Where the emulator's stdout and stderr go."""
        return self._workdir / "emulator.log"

    def log_tail(self) -> str:
        """The end of the emulator's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"<log unreadable: {error}>"
        return text[-_LOG_TAIL_CHARS:]

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll the emulator's HTTP root until it answers ``Ok``; raise with the log if not."""
        deadline = time.monotonic() + timeout
        url = f"http://{self.host_port}/"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} emulator exited with code {self._process.returncode} "
                    f"before becoming ready; log tail:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.read().strip() == b"Ok":
                    return
            time.sleep(0.25)
        raise RuntimeError(
            f"{self.name} emulator did not answer on {url} within {timeout:.0f} s; "
            f"log tail:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Kill the whole process group (gcloud wrapper and its JVM), then clean up."""
        group = self._process.pid
        _signal_group(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        _signal_group(group, signal.SIGKILL)
        self._process.wait()
        deadline = time.monotonic() + 10
        while _signal_group(group, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self._workdir, ignore_errors=True)


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False once the group no longer exists."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True


def require_tools() -> None:
    """Raise naming what is missing when the emulators cannot run on this machine."""
    missing = [tool for tool in ("gcloud", "java") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"cannot start the Google Cloud emulators: {' and '.join(missing)} not found on "
            "PATH (install the Google Cloud CLI with its firestore/pubsub emulator "
            "components and a Java runtime)"
        )


def free_port() -> int:
    """A loopback TCP port that was free a moment ago, below the kernel's ephemeral range.

    The port is bound later by another process (an emulator, a function). A port from the
    ephemeral range can meanwhile become the local end of any outgoing connection (a test's
    gRPC client, say), and then that process fails with "Address already in use"; ports below
    the range are only ever taken by an explicit bind.
    """
    below = ephemeral_ports_start()
    for port in random.sample(range(_LOWEST_PORT, below), min(200, below - _LOWEST_PORT)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port between {_LOWEST_PORT} and {below}")


_LOWEST_PORT = 10000


def ephemeral_ports_start() -> int:
    """The first port the kernel hands out to outgoing connections (Linux's default: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _start(name: str, args: Sequence[str], host_port: str, workdir: Path) -> Emulator:
    """Launch ``gcloud args`` in a new session, logging to ``workdir``; wait until it answers."""
    with (workdir / "emulator.log").open("wb") as log:
        process = subprocess.Popen(
            ["gcloud", *args, f"--host-port={host_port}", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
        )
    emulator = Emulator(name, host_port, process, workdir)
    try:
        emulator.wait_ready()
    except BaseException:
        emulator.stop()
        raise
    return emulator


def start_firestore() -> Emulator:
    """Start the Firestore emulator on a free loopback port."""
    require_tools()
    workdir = Path(tempfile.mkdtemp(prefix="firestore-emulator-"))
    host_port = f"127.0.0.1:{free_port()}"
    return _start("Firestore", ["emulators", "firestore", "start"], host_port, workdir)


def start_pubsub(project: str = EMULATOR_PROJECT, port: int | None = None) -> Emulator:
    """Start the Pub/Sub emulator on ``port`` (default: a free one) with its data in a temp dir.

    Starting one again on the port of a stopped one is how tests stage an outage.
    """
    require_tools()
    workdir = Path(tempfile.mkdtemp(prefix="pubsub-emulator-"))
    (workdir / "data").mkdir()
    args = [
        "beta",
        "emulators",
        "pubsub",
        "start",
        f"--project={project}",
        f"--data-dir={workdir / 'data'}",
    ]
    return _start("Pub/Sub", args, f"127.0.0.1:{port or free_port()}", workdir)
