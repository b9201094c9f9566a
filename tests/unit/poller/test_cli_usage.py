"""The command line's help and configuration errors: answered before any service is reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import Cli

from devstack.stack import LOCATION, PROJECT

UNKNOWN_OPERATION = f"projects/{PROJECT}/locations/{LOCATION}/operations/424242"


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ((), ["poll", "status", "watch", "replay", "RESULTS_TOPIC"]),
        (("poll",), ["--json", "Exit code 0 when the poll is ok, 1"]),
        (("status",), ["--state STATE", "--type TYPE", "--json", "HISTORY"]),
        (("watch",), ["OPERATION [OPERATION ...]", "projects/PROJECT/locations/LOCATION"]),
        (("replay",), ["OPERATION", 'replay="true"', "same ce-id"]),
    ],
)
def test_every_command_explains_itself(
    command: tuple[str, ...], mentions: list[str], tmp_path: Path
) -> None:
    unconfigured = Cli({}, tmp_path)
    result = unconfigured.run(*command, "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # as if unwrapped
    assert text.startswith(" ".join(["usage: python -m insights_poller", *command]))
    for mention in mentions:
        assert mention in text


def test_configuration_errors_name_the_variable_and_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    cli = Cli({"GOOGLE_CLOUD_PROJECT": PROJECT, "STATE_URL": f"sqlite:///{state}"}, tmp_path)
    commands = (["poll"], ["status"], ["watch", UNKNOWN_OPERATION], ["replay", "x"])

    for result in cli.run_many(*commands):
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == "error: RESULTS_TOPIC: is required but not set\n"
    assert not state.exists()

    cli.env.update(RESULTS_TOPIC="events", STATE_URL="sqlite:///")
    result = cli.run("status")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: STATE_URL: state store URL 'sqlite:///' has no file")
