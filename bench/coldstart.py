"""Cold start: ``import main`` in a fresh interpreter, as a new function instance does it.

Why three measurements: the process time is what the target names (``python -c "import
main"``, interpreter start included); the in-process import time isolates our share; and
``strace`` shows whether the import opens any network connection (the client libraries'
gRPC core connects from C, out of sight of Python's own socket hooks).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack.stack import REPO, process_env

CLIENT_MODULES = (
    "google.cloud.firestore",
    "google.cloud.pubsub_v1",
    "google.cloud.contact_center_insights_v1",
)
"""The heavy client libraries, which the function builds lazily on its first poll."""
_PROBE = (
    "import json, sys, time\n"
    "started = time.perf_counter()\n"
    "import main\n"
    "seconds = time.perf_counter() - started\n"
    f"loaded = [m for m in {CLIENT_MODULES!r} if m in sys.modules]\n"
    "print(json.dumps({'seconds': seconds, 'loaded': loaded}))\n"
)


@dataclasses.dataclass(frozen=True)
class ColdStart:
    """Medians over ``runs`` fresh processes (bytecode cached, as after the first start)."""

    runs: int
    process_seconds: float
    import_seconds: float
    client_modules_loaded: list[str]
    network_connects: int | None
    """connect() calls to an IP address during the import; None when strace is missing."""


def _python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=process_env({}),
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout


def _network_connects() -> int | None:
    strace = shutil.which("strace")
    if strace is None:
        return None
    with tempfile.TemporaryDirectory() as workdir:
        trace = Path(workdir) / "trace"
        subprocess.run(
            [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace)]
            + [sys.executable, "-c", "import main"],
            cwd=REPO,
            env=process_env({}),
            check=True,
            capture_output=True,
        )
        lines = trace.read_text().splitlines()
    return sum(1 for line in lines if "AF_INET" in line)


def measure(runs: int = 7) -> ColdStart:
    """Time ``runs`` cold imports after one untimed start that fills the bytecode cache."""
    _python("import main")
    process_seconds: list[float] = []
    import_seconds: list[float] = []
    loaded: list[str] = []
    for _ in range(runs):
        started = time.perf_counter()
        _python("import main")
        process_seconds.append(time.perf_counter() - started)
        probe = json.loads(_python(_PROBE))
        import_seconds.append(probe["seconds"])
        loaded = probe["loaded"]
    return ColdStart(
        runs=runs,
        process_seconds=statistics.median(process_seconds),
        import_seconds=statistics.median(import_seconds),
        client_modules_loaded=loaded,
        network_connects=_network_connects(),
    )
