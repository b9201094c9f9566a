"""The poller against what the real Insights service does and our assumptions once hid: each
location on its own endpoint, names answered with the project number, and bodies newer than the
client library. End to end: the function process, Pub/Sub emulator, Insights emulator(s)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import CheckedSink, Launch, PollerEnv

from devstack.stack import (
    LOCATION,
    PROJECT,
    InsightsEmulatorProcess,
    event_data,
    process_env,
)
from insights_emulator import Fault, InsightsEmulator
from insights_poller import events

pytestmark = pytest.mark.integration

EUROPE = "europe-west1"


@pytest.fixture
def regional_emulators(tmp_path: Path) -> Iterator[dict[str, InsightsEmulatorProcess]]:
    """One emulator process per endpoint, each serving only its own location."""
    started: dict[str, InsightsEmulatorProcess] = {}
    try:
        for location in (LOCATION, EUROPE):
            log = tmp_path / f"insights-{location}.log"
            started[location] = InsightsEmulatorProcess(log, location)
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


def host_map(emulators: dict[str, InsightsEmulatorProcess], attribute: str) -> str:
    return ",".join(f"{location}={getattr(e, attribute)}" for location, e in emulators.items())


def test_each_location_is_polled_on_its_own_endpoint(
    launch: Launch, regional_emulators: dict[str, InsightsEmulatorProcess], sink: CheckedSink
) -> None:
    central, europe = regional_emulators[LOCATION], regional_emulators[EUROPE]
    names = {
        central.create("CreateIssueModel", LOCATION, finishAfterSeconds=2),
        europe.create("ExportInsightsData", EUROPE, finishAfterSeconds=2),
        europe.create("SampleConversations", EUROPE, finishAfterSeconds=2),
    }
    function = launch(
        INSIGHTS_LOCATIONS=f"{LOCATION},{EUROPE}",
        INSIGHTS_EMULATOR_HOST=host_map(regional_emulators, "address"),
        INSIGHTS_EMULATOR_REST_HOST=host_map(regional_emulators, "rest_address"),
    )

    summaries = [function.poll()]
    deadline = time.monotonic() + 30
    while summaries[-1]["pending"] and time.monotonic() < deadline:
        time.sleep(0.5)
        summaries.append(function.poll())

    assert summaries[0]["newlyTracked"] == 3
    assert [summary["errors"] for summary in summaries] == [0] * len(summaries)
    published = {event_data(message)["operation"]: message for message in sink.drain()}
    assert set(published) == names
    assert {m.attributes["location"] for m in published.values()} == {LOCATION, EUROPE}
    assert "lossyBody" not in event_data(published[sorted(names)[-1]])
    assert central.calls().get("ListOperations") and europe.calls().get("ListOperations")


def test_a_location_sent_to_another_endpoint_is_refused_naming_the_right_one(
    launch: Launch, regional_emulators: dict[str, InsightsEmulatorProcess]
) -> None:
    function = launch(
        INSIGHTS_LOCATIONS=f"{LOCATION},{EUROPE}",
        INSIGHTS_EMULATOR_HOST=regional_emulators[LOCATION].address,  # both on the global one
    )

    status, summary = function.post()

    assert status == 500
    [error] = summary["errorDetails"]
    assert (error["stage"], error["code"], error["location"]) == (
        "list",
        "INVALID_ARGUMENT",
        EUROPE,
    )
    assert f"{EUROPE}-contactcenterinsights.googleapis.com" in error["message"]


def as_id(name: str) -> str:
    """``name`` with its project spelled by ID, as a user may copy it."""
    return name.replace(f"projects/{name.split('/')[1]}/", f"projects/{PROJECT}/")


def test_one_operation_whatever_the_spelling_of_its_project_one_event_one_ce_id(
    launch: Launch,
    poller_env: PollerEnv,
    insights: InsightsEmulator,
    sink: CheckedSink,
    tmp_path: Path,
) -> None:
    function = launch(GOOGLE_CLOUD_PROJECT_NUMBER="")  # to be learned from the API's names
    function.poll()  # the watch starts; nothing to learn the number from yet
    by_id = insights.create("CreateAnalysis", PROJECT, LOCATION, outcome="succeed")
    by_number = insights.create("BulkAnalyzeConversations", PROJECT, LOCATION)
    number = insights.project_number(PROJECT)
    assert by_id.startswith(f"projects/{number}/")

    refused, _ = function.post(json.dumps({"operations": [by_number]}).encode())
    learning = function.poll(operations=[as_id(by_id)])
    insights.succeed(by_number)
    both = function.poll(operations=[as_id(by_id), by_number])
    quiet = function.poll(operations=[as_id(by_number), by_id])

    assert refused == 400  # a number before the number is known: set it, or use the ID
    assert learning["published"] == 1 and learning["errors"] == 0
    assert (both["published"], both["errors"], quiet["published"]) == (1, 0, 0)
    messages = sink.drain()
    assert sorted(m.attributes["operation"] for m in messages) == sorted([by_id, by_number])
    assert {m.attributes["ce-id"] for m in messages} == {
        events.event_id(by_id),
        events.event_id(by_number),
    }
    status, answer = function.post(
        json.dumps(
            {"operations": [f"projects/other-project/locations/{LOCATION}/operations/1"]}
        ).encode()
    )
    assert status == 400 and "outside the watched project" in answer["error"]

    cli_env = process_env(poller_env())
    for spelling in (as_id(by_number), by_number):
        replay = subprocess.run(
            [sys.executable, "-m", "insights_poller", "replay", spelling],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr
        assert f"replayed SUCCEEDED BulkAnalyzeConversations {by_number}" in replay.stdout
    replayed = sink.drain()
    assert [m.attributes["ce-id"] for m in replayed] == [events.event_id(by_number)] * 2


def test_bodies_carry_every_field_the_service_returned_even_newer_than_the_library(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    function.poll()
    sample = insights.create("SampleConversations", PROJECT, LOCATION)
    ingest = insights.create("IngestConversations", PROJECT, LOCATION)
    export = insights.create("ExportInsightsData", PROJECT, LOCATION)
    function.poll()
    for name in (sample, ingest, export):
        insights.succeed(name)

    summary = function.poll()

    assert (summary["published"], summary["errors"], summary["lossyBodies"]) == (3, 0, 0)
    data = {event_data(m)["operation"]: event_data(m) for m in sink.drain()}
    assert data[sample]["operationType"] == "SampleConversations"
    assert data[sample]["metadata"]["@type"].endswith(".v1.SampleConversationsMetadata")
    assert "value" not in data[sample]["metadata"]  # fields by name, not base64
    assert "sampledConversations" in data[ingest]["metadata"]
    assert "completedExportCount" in data[export]["metadata"]
    for event in data.values():
        assert event["createTime"] and event["endTime"]
        assert "lossyBody" not in event


def test_a_failing_rest_read_still_publishes_once_marked_lossy(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(INSIGHTS_TIMEOUT_SECONDS="2")
    function.poll()
    insights_kind = insights.create("GenerativeInsights", PROJECT, LOCATION)
    function.poll()
    insights.succeed(insights_kind)
    insights.faults.set_fault("RestGetOperation", Fault(error_rate=1.0))

    status, failed = function.post()
    again = function.poll()

    assert status == 500
    assert [(e["stage"], e["operation"]) for e in failed["errorDetails"]] == [
        ("body", insights_kind)
    ]
    assert (failed["published"], failed["lossyBodies"], again["published"]) == (1, 1, 0)
    [message] = sink.drain()
    data = event_data(message)
    assert data["lossyBody"] is True
    assert set(data["metadata"]) == {"@type", "value"}
