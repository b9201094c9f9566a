"""The command line's help and configuration errors, and the refusals its state store decides:
answered before any service is reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import Cli

from devstack.stack import LOCATION, PROJECT
from insights_poller import __version__
from insights_poller.cli import STATE_URL_UNSET
from insights_poller.model import NewOperation, Outcome
from insights_poller.state.sqlite import SqliteStateStore
from insights_poller.timestamps import utc_now

UNKNOWN_OPERATION = f"projects/{PROJECT}/locations/{LOCATION}/operations/424242"
CONFIGURED = {"GOOGLE_CLOUD_PROJECT": PROJECT, "RESULTS_TOPIC": "events"}
RUNTIME_ROLES = [
    "contactcenterinsights.operations.get",
    "roles/datastore.user on the state database",
    "roles/pubsub.publisher on the events topic",
    "only an operator trusted to publish",
    "runtime service account by impersonation",
]


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        (
            (),
            [
                "poll",
                "status",
                "watch",
                "replay",
                "RESULTS_TOPIC",
                "--version",
                "STATE_URL must be set",
                'export STATE_URL="$(terraform -chdir=terraform output -raw state_url)"',
                "STATE_URL=sqlite:///poller-state.db",
            ],
        ),
        (("poll",), ["--json", "Exit code 0 when the poll is ok, 1", *RUNTIME_ROLES]),
        (
            ("status",),
            ["--state STATE", "--type TYPE", "--json", "HISTORY", "roles/datastore.viewer"],
        ),
        (
            ("watch",),
            ["OPERATION [OPERATION ...]", "projects/PROJECT/locations/LOCATION", *RUNTIME_ROLES],
        ),
        (
            ("replay",),
            [
                "OPERATION",
                'replay="true"',
                "same ce-id",
                "before any Insights or Pub/Sub call",
                "contactcenterinsights.operations.get",
                "roles/pubsub.publisher on the events topic",
                "roles/datastore.viewer on the state database",
                "only an operator trusted to publish",
            ],
        ),
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


def test_status_needs_no_publisher_role(tmp_path: Path) -> None:
    text = " ".join(Cli({}, tmp_path).ok("status", "--help").split())
    assert "roles/pubsub.publisher" not in text
    assert "roles/datastore.user" not in text


def test_version_names_the_package_version(tmp_path: Path) -> None:
    result = Cli({}, tmp_path).run("--version")

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"insights-poller {__version__}\n",
        "",
    )


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


def test_every_configuration_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    cli = Cli(
        {"INSIGHTS_LOCATIONS": " ", "OPERATION_TYPES": "ExportInsightData,+SomeNewKind"},
        tmp_path,
    )

    result = cli.run("status")

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "error: GOOGLE_CLOUD_PROJECT: is required but not set",
        "error: INSIGHTS_LOCATIONS: is set but empty: name the locations to watch (e.g. "
        "us-central1,europe-west1), or unset it for the default us-central1",
        "error: RESULTS_TOPIC: is required but not set",
        f"error: STATE_URL: {STATE_URL_UNSET}",
        "error: OPERATION_TYPES: 'ExportInsightData' is not a known operation type: did you "
        "mean 'ExportInsightsData'? (a kind newer than this poller is written +ExportInsightData)",
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("state_url", [None, "", "  "])
def test_without_state_url_no_command_runs_and_no_file_is_created(
    state_url: str | None, tmp_path: Path
) -> None:
    env = dict(CONFIGURED) if state_url is None else {**CONFIGURED, "STATE_URL": state_url}
    cli = Cli(env, tmp_path)
    commands = (["poll"], ["status"], ["watch", UNKNOWN_OPERATION], ["replay", UNKNOWN_OPERATION])

    for result in cli.run_many(*commands):
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == f"error: STATE_URL: {STATE_URL_UNSET}\n"
    assert list(tmp_path.iterdir()) == []  # no poller-state.db
    assert 'export STATE_URL="$(terraform -chdir=terraform output -raw state_url)"' in (
        STATE_URL_UNSET
    )
    assert "STATE_URL=sqlite:///poller-state.db" in STATE_URL_UNSET


def test_replay_refuses_from_the_state_store_alone_without_google_credentials(
    tmp_path: Path,
) -> None:
    """No emulator and no credentials: any Insights or Pub/Sub client would fail (exit 1)."""
    state = tmp_path / "state.db"
    pending, history, skipped = (
        f"projects/{PROJECT}/locations/{LOCATION}/operations/{n}" for n in (1, 2, 3)
    )
    store = SqliteStateStore(str(state))
    try:
        now = utc_now()
        store.track(
            [NewOperation(name, LOCATION, "CreateIssueModel") for name in (pending, history)], now
        )
        store.track([NewOperation(skipped, LOCATION, "IngestConversations")], now)
        store.mark_settled([Outcome(history, "HISTORY", now), Outcome(skipped, "SKIPPED", now)])
    finally:
        store.close()
    cli = Cli({**CONFIGURED, "STATE_URL": f"sqlite:///{state}"}, tmp_path)
    cli.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "no-such-credentials.json")
    for emulator in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
        cli.env.pop(emulator, None)
    watch = "(`python -m insights_poller watch {}` checks it now, and publishes it if it has"
    not_yet = "has not been published yet, so there is no event to replay: "
    refusals = {
        UNKNOWN_OPERATION: f"error: {UNKNOWN_OPERATION} {not_yet}the state store has no record "
        "of it (records use the project number once Insights answered with it: name the "
        "operation projects/NUMBER/..., or set GOOGLE_CLOUD_PROJECT_NUMBER) "
        + watch.format(UNKNOWN_OPERATION),
        pending: f"error: {pending} {not_yet}it is tracked as pending; a poll publishes it once "
        "it has finished " + watch.format(pending),
        history: f"error: {history} was recorded as HISTORY: no event, it ended before the watch "
        "started\n",
        skipped: f"error: {skipped} was recorded as SKIPPED: no event, OPERATION_TYPES leaves its "
        "type out\n",
    }

    results = cli.run_many(*(["replay", name] for name in refusals))

    for result, refusal in zip(results, refusals.values(), strict=True):
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert result.stderr.startswith(refusal)
