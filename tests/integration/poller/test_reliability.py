"""Under faults, load and odd input, with the real pieces: no completion lost, none doubled."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crashing_poll import MARKER
from stack import CheckedSink, Launch, PollerEnv

from devstack import gcloud_emulators
from devstack.stack import LOCATION, PROJECT, event_data, process_env
from insights_emulator import Fault, InsightsEmulator

pytestmark = pytest.mark.integration

QUICK_BUDGET = {
    "POLL_BUDGET_SECONDS": "4",
    "PUBLISH_TIMEOUT_SECONDS": "2",
    "CLAIM_LEASE_SECONDS": "6",
    "INSIGHTS_MAX_RPS": "50",
}


def test_thirty_percent_of_insights_calls_failing_loses_and_doubles_nothing(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(INSIGHTS_MAX_RPS="50", INSIGHTS_TIMEOUT_SECONDS="1")
    names = [insights.create("CreateAnalysis", PROJECT, LOCATION) for _ in range(24)]
    function.poll()
    insights.faults.reseed(3)
    for method in ("ListOperations", "GetOperation"):
        insights.faults.set_fault(method, Fault(error_rate=0.3))

    statuses = []
    for start in range(0, 24, 4):
        for name in names[start : start + 4]:
            insights.succeed(name)
        status, _ = function.post()
        statuses.append(status)
    insights.faults.clear_faults()
    for _ in range(3):
        function.poll()

    assert sum(insights.faults.injected_errors().values()) > 0
    per_operation = collections.Counter(event_data(m)["operation"] for m in sink.drain())
    assert per_operation == dict.fromkeys(names, 1)


def test_pubsub_outage_answers_5xx_then_delivers_each_held_back_completion_once(
    launch: Launch, insights: InsightsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pubsub = gcloud_emulators.start_pubsub(PROJECT)
    port = int(pubsub.host_port.rsplit(":", 1)[1])
    try:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub.host_port)
        sink = CheckedSink(PROJECT, "outage-events")
        function = launch(
            PUBSUB_EMULATOR_HOST=pubsub.host_port, RESULTS_TOPIC="outage-events", **QUICK_BUDGET
        )
        names = [insights.create("ExportInsightsData", PROJECT, LOCATION) for _ in range(5)]
        function.poll()
        for name in names:
            insights.succeed(name)

        pubsub.stop()
        status, during = function.post()
        pubsub = gcloud_emulators.start_pubsub(PROJECT, port=port)
        sink = CheckedSink(PROJECT, "outage-events")
        time.sleep(3)  # a publish still retrying in the background would land by now
        after = function.poll()
        delivered = sink.drain()
        time.sleep(2)
        late = sink.drain()
    finally:
        pubsub.stop()

    assert status == 500 and during["published"] == 0
    assert {error["stage"] for error in during["errorDetails"]} == {"publish"}
    assert after["published"] == 5
    assert sorted(event_data(m)["operation"] for m in delivered) == sorted(names)
    assert late == []


def test_process_killed_between_publish_and_record_republishes_with_the_same_id(
    launch: Launch, poller_env: PollerEnv, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(**QUICK_BUDGET)
    names = [insights.create("CreateIssueModel", PROJECT, LOCATION) for _ in range(3)]
    function.poll()
    for name in names:
        insights.succeed(name)

    crashed = _run_until_marker(poller_env(**QUICK_BUDGET))
    first = sink.drain()
    within_lease = function.poll()
    time.sleep(float(QUICK_BUDGET["CLAIM_LEASE_SECONDS"]) + 1)
    after_lease = function.poll()
    second = sink.drain()
    settled = function.poll()

    assert crashed == -signal.SIGKILL
    assert within_lease["published"] == 0 and within_lease["claimedElsewhere"] == 3
    assert after_lease["published"] == 3 and settled["published"] == 0
    ids = {event_data(m)["operation"]: m.attributes["ce-id"] for m in first}
    assert set(ids) == set(names)
    assert {event_data(m)["operation"]: m.attributes["ce-id"] for m in second} == ids


def _run_until_marker(env: dict[str, str]) -> int:
    """Run crashing_poll.py until it says it published; SIGKILL it; return its status."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parents[2] / "crashing_poll.py")],
        env=process_env(env),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    line = ""
    while MARKER not in line and time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline()
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=30)


def test_an_eleven_megabyte_response_becomes_one_truncated_event_under_ten(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    function.poll()
    name = insights.create(
        "UploadConversation", PROJECT, LOCATION, outcome="succeed", response_size_bytes=11_000_000
    )

    summary = function.poll()

    [message] = sink.drain()
    data = event_data(message)
    assert summary["published"] == 1
    assert len(message.data) < 10_000_000
    assert data["operation"] == name and data["truncated"] is True
    assert data["truncatedFields"] == ["response"]
    assert data["response"]["@type"].endswith(".Conversation")
    assert data["metadata"]["@type"].endswith(".UploadConversationMetadata")


def test_operation_pending_longer_than_max_pending_age_yields_one_expired_event(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(MAX_PENDING_AGE="60")
    stuck = insights.create("BulkAnalyzeConversations", PROJECT, LOCATION, created_ago=120)
    young = insights.create("BulkAnalyzeConversations", PROJECT, LOCATION)

    first = function.poll()
    insights.succeed(stuck)
    second = function.poll()

    assert (first["expired"], first["pending"]) == (1, 1)
    [message] = sink.drain()
    assert message.attributes["state"] == "EXPIRED"
    assert event_data(message)["operation"] == stuck
    assert event_data(message)["expiredReason"] == "MAX_PENDING_AGE"
    assert second["published"] == 0
    assert young != stuck


def test_two_thousand_pending_on_a_slow_api_each_poll_keeps_its_budget_and_all_arrive(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(**QUICK_BUDGET)
    # A kind the library decodes in full: settled from the listing, without a REST read each.
    names = [insights.create("DeployIssueModel", PROJECT, LOCATION) for _ in range(2000)]
    while function.poll()["pending"] < 2000:
        pass
    for name in names:
        insights.succeed(name)
    insights.faults.set_fault("*", Fault(latency_seconds=0.25))

    durations, published = [], 0
    for _ in range(15):
        started = time.monotonic()
        summary = function.poll()
        durations.append(time.monotonic() - started)
        published += summary["published"]
        if summary["pending"] == 0:
            break

    assert published == 2000, summary
    assert len(durations) > 2  # the budget did cut polls short
    assert max(durations) < float(QUICK_BUDGET["POLL_BUDGET_SECONDS"]) + 1.5, durations
    per_operation = collections.Counter(event_data(m)["operation"] for m in sink.drain())
    assert per_operation == dict.fromkeys(names, 1)


def test_a_backlog_needing_rest_reads_keeps_the_budget_and_all_arrive_complete(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(**QUICK_BUDGET)
    # Conversation has fields newer than the library: each event needs one REST read.
    names = [insights.create("UploadConversation", PROJECT, LOCATION) for _ in range(120)]
    function.poll()
    for name in names:
        insights.succeed(name)
    insights.faults.set_fault("*", Fault(latency_seconds=0.25))

    durations, summaries = [], []
    for _ in range(15):
        started = time.monotonic()
        summaries.append(function.poll())
        durations.append(time.monotonic() - started)
        if summaries[-1]["pending"] == 0:
            break

    assert sum(summary["published"] for summary in summaries) == 120, [
        (s["published"], s["pending"], s["notReached"], s["listingComplete"], s["durationSeconds"])
        for s in summaries
    ]
    assert len(durations) > 1  # the reads did not all fit in one poll's budget
    assert max(durations) < float(QUICK_BUDGET["POLL_BUDGET_SECONDS"]) + 1.5, durations
    messages = sink.drain()
    assert collections.Counter(event_data(m)["operation"] for m in messages) == dict.fromkeys(
        names, 1
    )
    assert not [m for m in messages if "lossyBody" in event_data(m)]
    assert all("transcript" in event_data(m)["response"] for m in messages)
