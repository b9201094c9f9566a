"""A fresh install works: ``pip install`` of the repository (not editable, its dependencies
resolved from the package registry as declared) into a new virtualenv gives a working
``insights-poller`` command and the ``insights_poller`` package alone, with its settings
declarations. pip's cache is used; the first run downloads the dependencies (about a minute)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from insights_poller import __version__
from insights_poller.settings import DECLARATIONS

ROOT = Path(__file__).resolve().parents[3]
DISTRIBUTION = "insights-poller"
PACKAGE = "insights_poller"

pytestmark = pytest.mark.timeout(900)

# Run by the installed interpreter, isolated (-I: neither the working directory nor PYTHONPATH
# on its path): what the installed distribution holds, and every module any module of the
# installed package imports (function-level imports included), imported for real.
INSPECT = """
import ast, importlib, importlib.metadata, json, pathlib
import insights_poller
files = importlib.metadata.files("insights-poller")
imported = set()
for path in pathlib.Path(insights_poller.__file__).parent.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            imported.add(node.module)
for name in sorted(imported):
    importlib.import_module(name)
print(json.dumps({
    "version": importlib.metadata.version("insights-poller"),
    "files": [file.as_posix() for file in files],
    "imported": len(imported),
}))
"""


# What would point the new install at the repository or at this virtualenv, and the poller's
# settings (an emulator fixture of the session may have set some).
DROPPED = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "K_SERVICE", *DECLARATIONS}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in DROPPED}
    return {**env, **extra}


def _source_copy(destination: Path) -> Path:
    """The files of a fresh clone (tracked, or new and not ignored), so that the build neither
    writes into the working tree nor packages what git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a new virtualenv into which the repository was pip-installed."""
    work = tmp_path_factory.mktemp("install")
    source = _source_copy(work / "source")
    environment = work / "venv"
    # Without a pip of its own (installing one takes seconds): this pip installs into it.
    venv.EnvBuilder(with_pip=False).create(environment)
    bin_dir = environment / "bin"
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", bin_dir / "python"]
    result = subprocess.run(
        [*pip, "install", "--quiet", "--no-input", source],
        check=False,
        cwd=work,
        env=_clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return bin_dir


def _run(command: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_answers_help_and_its_version(installed: Path, tmp_path: Path) -> None:
    helped = _run([installed / "insights-poller", "--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert all(command in helped.stdout for command in ("poll", "status", "watch", "replay"))

    version = _run([installed / "insights-poller", "--version"], tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"insights-poller {__version__}"


def test_the_command_exits_with_the_code_of_the_cli(installed: Path, tmp_path: Path) -> None:
    """A configuration error is exit 2; ``status`` reads the installed settings declarations
    and an SQLite store, and exits 0."""
    unconfigured = _run([installed / "insights-poller", "status"], tmp_path)
    assert unconfigured.returncode == 2, unconfigured.stderr
    assert "GOOGLE_CLOUD_PROJECT" in unconfigured.stderr

    status = _run(
        [installed / "insights-poller", "status", "--json"],
        tmp_path,
        GOOGLE_CLOUD_PROJECT="demo-project",
        RESULTS_TOPIC="events",
        STATE_URL="sqlite:///state.db",
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == []


def test_the_install_holds_the_poller_alone_and_its_dependencies(
    installed: Path, tmp_path: Path
) -> None:
    inspected = _run([installed / "python", "-I", "-c", INSPECT], tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    found = json.loads(inspected.stdout)
    assert found["version"] == __version__
    assert found["imported"] > 10  # the Google client libraries among them

    files = set(found["files"])
    installed_modules = {name for name in files if name.endswith(".py")}
    repo_modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / PACKAGE).rglob("*.py")}
    assert installed_modules == repo_modules
    assert f"{PACKAGE}/settings.json" in files
    dist_info = f"{PACKAGE}-{__version__}.dist-info"
    tops = {name.split("/")[0] for name in files if not name.startswith("../")}
    assert tops == {PACKAGE, dist_info}, f"installed beside the package: {tops}"
    scripts = {name.rsplit("/", 1)[-1] for name in files if name.startswith("../")}
    assert scripts == {DISTRIBUTION}
    assert not any(  # nothing of the repository's other trees, wherever it landed
        part in {"tests", "bench", "devstack", "insights_emulator", "examples"}
        for name in files
        for part in name.split("/")
    )
