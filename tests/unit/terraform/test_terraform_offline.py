"""`make terraform-offline`: what it hands Terraform, and what the test files must hold to run.

The run itself (`terraform validate` and `terraform test` against the schema-only plugin) is
`make terraform-offline`, part of `make test`; the plugin needs its own virtualenv, so it is not
started from here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from devstack.terraform_offline import run
from devstack.terraform_schema import parse_hcl

TESTS = run.CONFIGURATION / "tests"


def hcl(path: Path) -> dict[str, Any]:
    return parse_hcl(path, raw=False)


def test_every_provider_of_the_configuration_is_overridden() -> None:
    versions = hcl(run.CONFIGURATION / "versions.tf")
    (required,) = versions["terraform"][0]["required_providers"]
    assert {spec["source"] for spec in required.values()} == {
        f"hashicorp/{name}" for name in run.PROVIDERS
    }, "a provider not overridden would send Terraform to the registry"


def test_the_overrides_start_the_plugin_with_the_schema(tmp_path: Path) -> None:
    schema = tmp_path / "providers.json"

    config = run.write_overrides(tmp_path / "work", schema, "/opt/py thon/bin/python")

    text = config.read_text(encoding="utf-8")
    overrides = dict(re.findall(r'"(hashicorp/\w+)" = "([^"]+)"', text))
    assert "dev_overrides" in text
    assert set(overrides) == {f"hashicorp/{name}" for name in run.PROVIDERS}
    for address, directory in overrides.items():
        name = address.removeprefix("hashicorp/")
        launcher = Path(directory) / f"terraform-provider-{name}"
        assert os.access(launcher, os.X_OK)
        *environment, command = launcher.read_text(encoding="utf-8").splitlines()[1].split(" exec ")
        assert shlex.split(command) == [
            "/opt/py thon/bin/python",
            "-m",
            run.PLUGIN_MODULE,
            name,
            str(schema),
        ]
        # tf caches its TLS certificate under ~/.cache: in the temporary directory, not $HOME.
        assert f"HOME={tmp_path / 'work' / 'home'}" in environment[0]


def test_terraform_runs_with_the_overrides_and_none_of_the_callers_variables(
    tmp_path: Path,
) -> None:
    caller = {"PATH": "/bin", "TF_VAR_project_id": "theirs", "TF_CLI_ARGS_test": "-verbose"}

    environment = run.terraform_environment(caller, tmp_path, tmp_path / "terraform.rc")

    assert environment["TF_CLI_CONFIG_FILE"] == str(tmp_path / "terraform.rc")
    assert environment["TF_DATA_DIR"] == str(tmp_path / "data")
    assert environment["CHECKPOINT_DISABLE"] == "1"
    assert environment["PATH"] == "/bin"
    assert not any(key.startswith(("TF_VAR_", "TF_CLI_ARGS")) for key in environment)
    real = run.terraform_environment({"TF_CLI_CONFIG_FILE": "mine"}, tmp_path, None)
    assert real["TF_CLI_CONFIG_FILE"] == "mine", "with the real providers, the user's config"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("{", "not readable JSON"),
        ({"format_version": "1.0"}, "no provider_schemas"),
        (
            {"provider_schemas": {f"{run.REGISTRY}/google": {}, f"{run.REGISTRY}/time": {}}},
            f"no schema for {run.REGISTRY}/archive",
        ),
    ],
)
def test_a_schema_file_that_cannot_serve_is_named(
    tmp_path: Path, content: object, problem: str
) -> None:
    path = tmp_path / "providers.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))

    (found,) = run.schema_problems(path)

    assert problem in found


def test_a_complete_schema_file_serves() -> None:
    providers: dict[str, object] = {f"{run.REGISTRY}/{name}": {} for name in run.PROVIDERS}

    assert run.schema_problems_of({"provider_schemas": providers}) == []


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.tftest.hcl")), ids=lambda path: path.name)
def test_every_test_file_mocks_every_provider(path: Path) -> None:
    """Offline, an unmocked provider fails the run: the plugin plans, applies and reads nothing."""
    document = hcl(path)
    mocked = {name for block in document.get("mock_provider", []) for name in block}
    assert mocked == set(run.PROVIDERS)
    assert document["variables"][0]["project_id"]


def test_there_are_terraform_tests() -> None:
    assert {path.name for path in TESTS.glob("*.tftest.hcl")} >= {
        "defaults.tftest.hcl",
        "validation.tftest.hcl",
        "wiring.tftest.hcl",
    }
