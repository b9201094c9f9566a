"""The command line as a user runs it: ``python -m insights_poller ...`` in a process of its own,
configured by the environment, against the Insights emulator and the official Pub/Sub
emulator, with state in SQLite (and in the Firestore emulator for ``status``)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import threading
from pathlib import Path

import grpc
import pytest
from cli_runner import Cli
from google.rpc import code_pb2
from stack import CheckedSink, PollerEnv

from devstack.stack import LOCATION, PROJECT, event_data
from insights_emulator import Fault, InsightsEmulator

OTHER_PROJECT_OPERATION = "projects/other-project/locations/us-central1/operations/1"
UNKNOWN_OPERATION = f"projects/{PROJECT}/locations/{LOCATION}/operations/424242"


@pytest.fixture
def cli(poller_env: PollerEnv, tmp_path: Path) -> Cli:
    return Cli(poller_env(INSIGHTS_TIMEOUT_SECONDS="5"), tmp_path)


def state_file(state_url: str) -> Path:
    return Path(state_url.removeprefix("sqlite:///"))


# --- poll ------------------------------------------------------------------------


def test_poll_prints_the_summary_and_exits_1_when_the_poll_had_errors(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    model = insights.create("CreateIssueModel", PROJECT, LOCATION)
    first = cli.json("poll")
    assert (first["published"], first["pending"], first["errors"]) == (0, 1, 0)
    assert (first["newlyTracked"], first["listed"], first["errorDetails"]) == (1, 1, [])

    insights.succeed(model)
    lines = cli.ok("poll").splitlines()
    assert lines[0] == "poll: published 1, pending 0, errors 0 (SUCCEEDED 1)"
    assert lines[1].split() == ["published", "SUCCEEDED", "CreateIssueModel", model]
    assert re.fullmatch(
        r"newly tracked 0, listed 1, checked 0, published [0-9.]+ s after the end \(p50\), "
        r"[0-9.]+ s max",
        lines[2],
    )
    assert lines[3].startswith(f"watching since {first['watchStart']}; run ")
    assert [event_data(message)["operation"] for message in sink.drain()] == [model]

    insights.faults.set_fault(
        "ListOperations", Fault(error_rate=1.0, code=grpc.StatusCode.PERMISSION_DENIED)
    )
    failed = cli.run("poll")
    assert failed.returncode == 1, failed.stderr
    lines = failed.stdout.splitlines()
    assert lines[0] == "poll: published 0, pending 0, errors 1"
    assert lines[1].startswith(f"  error     list PERMISSION_DENIED {LOCATION}: ")
    assert "(listing cut short)" in lines[2]
    assert json.loads(cli.run("poll", "--json").stdout)["errors"] == 1


# --- status ----------------------------------------------------------------------


@pytest.mark.parametrize("state_url", ["sqlite", "firestore"], indirect=True)
def test_status_shows_every_tracked_operation_with_filters_and_json(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    empty, empty_json = cli.run_many(["status"], ["status", "--json"])
    assert (empty.stdout, json.loads(empty_json.stdout)) == ("no tracked operations\n", [])
    history = insights.create("Passthrough", PROJECT, LOCATION, created_ago=20, finished_ago=10)
    model = insights.create("CreateIssueModel", PROJECT, LOCATION, created_ago=7260)
    export = insights.create("ExportInsightsData", PROJECT, LOCATION)
    ingest = insights.create("IngestConversations", PROJECT, LOCATION)
    cli.ok("poll")
    insights.succeed(export)
    insights.fail(ingest, code=code_pb2.INVALID_ARGUMENT, message="bad bucket")
    cli.ok("poll")
    sink.drain()
    # A listing that fails once makes the next poll check ``model`` with GetOperation.
    insights.faults.set_fault(
        "ListOperations",
        Fault(error_rate=1.0, code=grpc.StatusCode.PERMISSION_DENIED, max_errors=1),
    )
    assert cli.run("poll").returncode == 1

    table, finished, model_json, no_match_json, ingest_json, bad = cli.run_many(
        ["status"],
        ["status", "--state", "failed", "--state", "SUCCEEDED"],
        ["status", "--type", "createissuemodel", "--json"],
        ["status", "--state", "PENDING", "--type", "ExportInsightsData", "--json"],
        ["status", "--type", "IngestConversations", "--type", "Nothing", "--json"],
        ["status", "--state", "DONE"],
    )

    header, *rows, footer = table.stdout.splitlines()
    assert " ".join(header.split()) == "OPERATION TYPE STATE AGE LAST CHECKED PUBLISHED AT"
    state_column = header.index(" STATE ") + 1
    assert sorted(row[state_column:].split()[0] for row in rows) == [
        "FAILED",
        "HISTORY",
        "PENDING",
        "SUCCEEDED",
    ]  # aligned under the header
    by_name = {row.split()[0]: row.split()[1:] for row in rows}
    assert set(by_name) == {history, model, export, ingest}
    assert by_name[model][:2] == ["CreateIssueModel", "PENDING"]
    assert by_name[model][2].startswith("2h01m")  # created 2 h 1 min ago
    assert by_name[model][3].endswith("s") and by_name[model][4] == "ago"  # checked just now
    assert by_name[model][5] == "-"  # not published
    assert by_name[export][:2] == ["ExportInsightsData", "SUCCEEDED"]
    assert by_name[ingest][:2] == ["IngestConversations", "FAILED"]
    assert by_name[ingest][-1].endswith("Z")  # published at
    assert by_name[history][1] == "HISTORY"
    assert footer == "4 of 4 tracked operations"

    assert sorted(row.split()[0] for row in finished.stdout.splitlines()[1:-1]) == sorted(
        [export, ingest]
    )
    [record] = json.loads(model_json.stdout)
    assert record["operation"] == model
    assert (record["operationType"], record["state"], record["location"]) == (
        "CreateIssueModel",
        "PENDING",
        LOCATION,
    )
    assert record["createTime"] < record["firstSeen"] <= record["lastChecked"]
    assert record["publishedAt"] is None and record["claimOwner"] is None
    assert json.loads(no_match_json.stdout) == []
    [published] = json.loads(ingest_json.stdout)
    assert published["state"] == "FAILED"
    assert published["detectTime"] <= published["publishedAt"]
    assert bad.returncode == 2 and "invalid choice: 'DONE'" in bad.stderr


# --- watch -----------------------------------------------------------------------


def test_a_bad_name_makes_watch_change_nothing_at_all(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink, state_url: str
) -> None:
    done = insights.create("CreateAnalysis", PROJECT, LOCATION, outcome="succeed")

    refused = cli.run("watch", done, OTHER_PROJECT_OPERATION)

    assert refused.returncode == 2
    assert refused.stderr == (
        f"error: {OTHER_PROJECT_OPERATION!r} is outside the watched project {PROJECT!r} "
        f"(number {insights.project_number(PROJECT)})\n"
    )
    assert refused.stdout == ""
    assert not state_file(state_url).exists()  # no state store was even opened
    assert insights.faults.calls() == dict.fromkeys(insights.faults.calls(), 0)
    assert sink.drain() == []
    malformed = cli.run("watch", f"projects/{PROJECT}/locations/{LOCATION}/operations/../x")
    assert malformed.returncode == 2 and "is not an operation name" in malformed.stderr


def test_watch_tracks_pending_publishes_done_and_reports_unknown(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    old = insights.create("CreateAnalysis", PROJECT, LOCATION, created_ago=7200, finished_ago=3600)
    undated = insights.create("Passthrough", PROJECT, LOCATION, created_ago=20, finished_ago=10)
    cli.ok("poll")  # the watch starts: ``old`` ended before it, so polls leave it alone
    running = insights.create("BulkAnalyzeConversations", PROJECT, LOCATION)

    result = cli.run("watch", running, old)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    [message] = sink.drain()
    assert lines[0] == f"{running}: tracked as pending"
    assert lines[1] == f"{old}: published SUCCEEDED (ce-id {message.attributes['ce-id']})"
    assert lines[2] == "poll: published 1, pending 1, errors 0 (SUCCEEDED 1)"
    assert lines[3].split() == ["published", "SUCCEEDED", "CreateAnalysis", old]
    assert event_data(message)["operation"] == old
    [tracked] = cli.json("status", "--state", "PENDING")
    assert tracked["operation"] == running

    again = cli.run("watch", old, undated, UNKNOWN_OPERATION)
    assert again.returncode == 1
    [history] = sink.drain()  # recorded as history by the first poll, and now named: published
    assert again.stdout.splitlines()[:3] == [
        f"{old}: already finished, published earlier as SUCCEEDED",
        f"{undated}: published SUCCEEDED (ce-id {history.attributes['ce-id']})",
        # reported as the API spells names: with the project number (GOOGLE_CLOUD_PROJECT_NUMBER)
        f"{insights.project_number(PROJECT).join(UNKNOWN_OPERATION.split(PROJECT))}: not found: "
        "Insights has no such operation",
    ]
    assert event_data(history)["operation"] == undated


# --- replay ----------------------------------------------------------------------


def test_replay_publishes_the_same_event_marked_as_a_replay_and_changes_no_state(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    model = insights.create("CreateIssueModel", PROJECT, LOCATION)
    lost = insights.create("IngestConversations", PROJECT, LOCATION)
    cli.ok("poll")
    insights.succeed(model)
    insights.delete(lost)  # the API forgets it: an EXPIRED event
    cli.ok("poll")
    originals = {event_data(message)["operation"]: message for message in sink.drain()}
    state_before = cli.json("status")

    for name, state in ((model, "SUCCEEDED"), (lost, "EXPIRED")):
        result = cli.run("replay", name)
        assert result.returncode == 0, result.stderr
        [replayed] = sink.drain()
        original = originals[name]
        assert dict(replayed.attributes) == {**original.attributes, "replay": "true"}
        assert event_data(replayed) == event_data(original)  # detectTime included
        assert replayed.attributes["state"] == state
        assert result.stdout.startswith(f"replayed {state} ")
        assert result.stdout.endswith(f"{name} (ce-id {original.attributes['ce-id']})\n")
    assert event_data(replayed)["expiredReason"] == "NOT_FOUND"
    assert cli.json("status") == state_before


def test_replay_refuses_what_has_no_event_to_replay(
    cli: Cli, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    cli.env["OPERATION_TYPES"] = "CreateIssueModel,ExportInsightsData"
    undated = insights.create("Passthrough", PROJECT, LOCATION, created_ago=20, finished_ago=10)
    running = insights.create("CreateIssueModel", PROJECT, LOCATION)
    cli.ok("poll")
    insights.create("IngestConversations", PROJECT, LOCATION, outcome="succeed")
    cli.ok("poll")
    [skipped] = [record["operation"] for record in cli.json("status", "--state", "SKIPPED")]
    state_before = cli.json("status")
    finished_unpolled = insights.create("ExportInsightsData", PROJECT, LOCATION, outcome="succeed")

    not_yet = "has not been published yet, so there is no event to replay: "
    untracked = f"{not_yet}the state store has no record of it (`python -m insights_poller watch"
    unknown = insights.project_number(PROJECT).join(UNKNOWN_OPERATION.split(PROJECT))
    refusals = {  # the record decides, before any Insights call
        running: f"error: {running} {not_yet}it is tracked as pending; a poll publishes it",
        # named as the API spells names: with the project number (GOOGLE_CLOUD_PROJECT_NUMBER)
        UNKNOWN_OPERATION: f"error: {unknown} {untracked} {unknown}`",
        finished_unpolled: f"error: {finished_unpolled} {untracked} {finished_unpolled}`",
        undated: f"error: {undated} was recorded as HISTORY: no event, it ended before the",
        skipped: f"error: {skipped} was recorded as SKIPPED: no event, OPERATION_TYPES leaves",
        OTHER_PROJECT_OPERATION: f"error: {OTHER_PROJECT_OPERATION!r} is outside the watched",
    }
    calls_before = insights.faults.calls()

    results = cli.run_many(*(["replay", name] for name in refusals))

    for result, problem in zip(results, refusals.values(), strict=True):
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert result.stderr.startswith(problem)
    assert insights.faults.calls() == calls_before
    assert sink.drain() == []
    assert cli.json("status") == state_before


# --- progress ----------------------------------------------------------------------


def test_progress_is_drawn_on_a_terminal_and_never_into_a_pipe(
    cli: Cli, insights: InsightsEmulator
) -> None:
    insights.faults.set_fault("ListOperations", Fault(latency_seconds=0.5))

    piped = cli.run("poll")
    on_terminal, terminal_output = run_with_terminal_stderr(cli, "poll")

    assert piped.returncode == on_terminal.returncode == 0
    assert piped.stderr == ""
    assert "polling... 0 s" in terminal_output
    assert terminal_output.endswith("\r\x1b[K")  # the line is cleared when done
    assert on_terminal.stdout.splitlines()[0] == piped.stdout.splitlines()[0]


def run_with_terminal_stderr(cli: Cli, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run with stderr on a pseudo-terminal; returns the result and what stderr showed."""
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal side closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        result = cli.run(*args, stderr=terminal)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return result, b"".join(chunks).decode()
