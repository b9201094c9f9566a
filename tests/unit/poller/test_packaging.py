"""The package as released: one version, written once and named by CHANGELOG.md's latest
release; the dependencies it declares, the pins of requirements.txt; only the poller packaged;
the Apache-2.0 license in full. (``tests/integration/devstack/test_install.py`` installs it.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import insights_poller

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "insights_poller"

SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
)
RELEASE_HEADING = re.compile(r"## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})")


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def changelog_headings() -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("## ")]


def test_the_version_is_written_once_in_the_package_and_read_by_the_metadata() -> None:
    project = pyproject()["project"]
    assert SEMVER.fullmatch(insights_poller.__version__), insights_poller.__version__
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = pyproject()["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "insights_poller.__version__"}


def test_the_changelog_keeps_unreleased_first_and_its_latest_release_is_the_version() -> None:
    """Keep a Changelog: ``## [Unreleased]``, then ``## [X.Y.Z] - YYYY-MM-DD``, newest first."""
    first, *rest = changelog_headings()
    assert first == "## [Unreleased]"
    releases = [RELEASE_HEADING.fullmatch(heading) for heading in rest]
    assert releases and all(releases), f"a release heading of another form among {rest}"
    versions = [match["version"] for match in releases if match]
    dates = [match["date"] for match in releases if match]
    assert versions[0] == insights_poller.__version__, (
        f"CHANGELOG.md's latest release is {versions[0]}, the package says "
        f"{insights_poller.__version__}: release both or neither"
    )
    assert all(SEMVER.fullmatch(version) for version in versions), versions
    numbers = [
        tuple(int(part) for part in version.split("-")[0].split(".")) for version in versions
    ]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers)
    assert dates == sorted(dates, reverse=True)


def requirements(lines: list[str]) -> dict[str, Requirement]:
    """Each requirement by its canonical name (a line that is no requirement fails here)."""
    parsed = [Requirement(line) for line in lines]
    by_name: dict[str, Requirement] = {
        canonicalize_name(requirement.name): requirement for requirement in parsed
    }
    assert len(by_name) == len(parsed), f"a dependency named twice in {lines}"
    return by_name


def test_the_declared_dependencies_are_the_pins_of_requirements_txt() -> None:
    """requirements.txt deploys the function; the package declares the very same pins, so an
    installed command line runs on the versions the tests run on."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split(" #")[0].strip() for line in text.splitlines()]
    pinned = requirements([line for line in lines if line and not line.startswith("#")])
    declared = requirements(pyproject()["project"]["dependencies"])

    assert sorted(declared) == sorted(pinned)
    for name, requirement in pinned.items():
        assert [spec.operator for spec in requirement.specifier] == ["=="], requirement
        assert str(declared[name]) == str(requirement), f"pyproject.toml: {declared[name]}"


def test_only_the_poller_is_packaged_with_its_settings_declarations() -> None:
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["packages"]["find"]["include"] == [PACKAGE, f"{PACKAGE}.*"]
    assert "settings.json" in setuptools["package-data"][PACKAGE]
    assert (ROOT / PACKAGE / "settings.json").is_file()
    # Discovery finds regular packages only: every folder of modules needs its __init__.py.
    folders = {path.parent for path in (ROOT / PACKAGE).rglob("*.py")}
    assert all((folder / "__init__.py").is_file() for folder in folders), sorted(folders)


def test_the_command_and_the_license_are_declared() -> None:
    project = pyproject()["project"]
    assert project["name"] == "insights-poller"
    assert project["scripts"] == {"insights-poller": "insights_poller.cli:main"}
    assert (project["license"], project["license-files"]) == ("Apache-2.0", ["LICENSE"])
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    terms, appendix = license_text.split("END OF TERMS AND CONDITIONS")
    assert "Apache License\n                           Version 2.0, January 2004" in terms
    sections = re.findall(r"^   (\d)\. ", terms, flags=re.MULTILINE)
    assert sections == [str(number) for number in range(1, 10)]
    assert "Copyright 2026 The insights-poller authors" in appendix
