"""End to end with the real pieces: functions-framework over HTTP, the official Pub/Sub and
Firestore emulators, and the Insights emulator over gRPC driven by the real client."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.rpc import code_pb2, status_pb2
from stack import CheckedSink, Launch

from devstack.stack import LOCATION, PROJECT, event_data
from insights_emulator import InsightsEmulator
from insights_poller.state.sqlite import SqliteStateStore

pytestmark = pytest.mark.integration

SOURCE = f"//contactcenterinsights.googleapis.com/projects/{PROJECT}/locations/{LOCATION}"


both_stores = pytest.mark.parametrize("state_url", ["sqlite", "firestore"], indirect=True)


@both_stores
def test_pending_operations_become_one_event_each_field_by_field(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    model = insights.create("CreateIssueModel", PROJECT, LOCATION)
    export = insights.create("ExportInsightsData", PROJECT, LOCATION)
    ingest = insights.create("IngestConversations", PROJECT, LOCATION)
    first = function.poll()
    assert (first["pending"], first["published"], first["newlyTracked"]) == (3, 0, 3)
    assert sink.drain() == []

    insights.succeed(model)
    insights.fail(ingest, code=code_pb2.INVALID_ARGUMENT, message="bad bucket")
    insights.cancel(export)
    second = function.poll()

    assert (second["published"], second["pending"], second["errors"]) == (3, 0, 0)
    messages = {event_data(m)["operation"]: m for m in sink.drain()}
    assert set(messages) == {model, export, ingest}

    succeeded = messages[model]
    data = event_data(succeeded)
    assert dict(succeeded.attributes) == {
        "operation": model,
        "operationType": "CreateIssueModel",
        "state": "SUCCEEDED",
        "location": LOCATION,
        "ce-specversion": "1.0",
        "ce-id": str(
            uuid.uuid5(uuid.NAMESPACE_URL, "//contactcenterinsights.googleapis.com/" + model)
        ),
        "ce-source": SOURCE.replace(PROJECT, insights.project_number(PROJECT)),
        "ce-type": "insights-poller.operation.v1.finished",
        "ce-subject": "operations/" + model.rsplit("/", 1)[1],
        "ce-time": data["endTime"],
        "content-type": "application/json",
        "hasPartialErrors": "false",
    }
    assert data["response"]["@type"].endswith(".IssueModel")
    assert data["metadata"]["@type"].endswith(".CreateIssueModelMetadata")
    assert data["createTime"] <= data["endTime"] <= data["detectTime"]
    assert "error" not in data

    failed = event_data(messages[ingest])
    assert failed["state"] == messages[ingest].attributes["state"] == "FAILED"
    assert failed["error"]["code"] == code_pb2.INVALID_ARGUMENT
    assert failed["error"]["message"] == "bad bucket"
    assert "response" not in failed
    assert failed["metadata"]["@type"].endswith(".IngestConversationsMetadata")

    cancelled = event_data(messages[export])
    assert cancelled["state"] == "CANCELLED" and cancelled["error"]["code"] == code_pb2.CANCELLED
    assert cancelled["operationType"] == "ExportInsightsData"

    quiet = function.poll()
    assert (quiet["published"], quiet["pending"]) == (0, 0)
    assert sink.drain() == []


def test_operation_that_starts_and_ends_between_two_polls_is_reported(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    function.poll()
    quick = insights.create("BulkDeleteConversations", PROJECT, LOCATION, outcome="succeed")

    summary = function.poll()

    assert summary["published"] == 1
    [message] = sink.drain()
    assert event_data(message)["operation"] == quick
    assert event_data(message)["operationType"] == "BulkDeleteConversations"


def test_history_before_the_first_poll_is_not_published(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    insights.create("CreateAnalysis", PROJECT, LOCATION, created_ago=7200, finished_ago=3600)
    insights.create(
        "UploadConversation", PROJECT, LOCATION, outcome="fail", created_ago=20, finished_ago=10
    )
    insights.create("Passthrough", PROJECT, LOCATION, created_ago=20, finished_ago=10)
    function = launch()

    first, second = function.poll(), function.poll()

    assert first["listed"] == 3
    assert (first["published"], second["published"], second["pending"]) == (0, 0, 0)
    assert sink.drain() == []


@both_stores
def test_a_restart_loses_nothing_and_republishes_nothing(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    first_instance = launch()
    names = [insights.create("DeployIssueModel", PROJECT, LOCATION) for _ in range(2)]
    assert first_instance.poll()["pending"] == 2
    first_instance.stop()
    for name in names:
        insights.succeed(name)

    second_instance = launch()
    after_restart = second_instance.poll()
    second_instance.stop()
    third_instance = launch()
    after_second_restart = third_instance.poll()

    assert after_restart["published"] == 2
    assert after_second_restart["published"] == 0
    assert sorted(event_data(m)["operation"] for m in sink.drain()) == sorted(names)


@both_stores
def test_six_overlapping_polls_on_two_instances_publish_each_completion_once(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    instances = [launch(), launch()]
    names = [insights.create("CreateAnalysis", PROJECT, LOCATION) for _ in range(30)]
    instances[0].poll()
    for name in names:
        insights.succeed(name)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda i: instances[i % 2].post(), range(6)))

    assert [status for status, _ in answers] == [200] * 6, answers
    assert sum(summary["published"] for _, summary in answers) == 30
    messages = sink.drain()
    assert len(messages) == 30
    assert len({m.attributes["ce-id"] for m in messages}) == 30
    assert {event_data(m)["operation"] for m in messages} == set(names)


def test_tracked_operation_not_found_yields_expired_and_is_dropped(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    name = insights.create("ExportIssueModel", PROJECT, LOCATION)
    function.poll()
    insights.delete(name)

    summary = function.poll()
    after = function.poll()

    assert (summary["published"], summary["expired"], summary["pending"]) == (1, 1, 0)
    [message] = sink.drain()
    assert message.attributes["state"] == "EXPIRED"
    assert event_data(message)["operationType"] == "ExportIssueModel"
    assert after["published"] == 0 and after["checked"] == 0


def test_requested_operation_is_published_even_from_before_the_watch(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    old = insights.create("ImportIssueModel", PROJECT, LOCATION, created_ago=600, finished_ago=300)
    function = launch()
    function.poll()
    assert sink.drain() == []

    summary = function.poll([old])

    assert summary["published"] == 1
    [message] = sink.drain()
    assert event_data(message)["operation"] == old


def test_a_body_no_json_can_render_still_reaches_the_subscriber_raw_and_marked_lossy(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    function.poll()
    raw = insights.create("Passthrough", PROJECT, LOCATION, outcome="succeed")

    status, summary = function.post()  # the REST read fails: the emulator cannot render it

    assert status == 500 and summary["published"] == 1 and summary["lossyBodies"] == 1
    assert [(e["stage"], e["code"]) for e in summary["errorDetails"]] == [("body", "INTERNAL")]
    [message] = sink.drain()
    data = event_data(message)
    assert (data["operation"], data["lossyBody"]) == (raw, True)
    assert base64.b64decode(data["metadata"]["value"])
    assert data["response"]["@type"] != data["metadata"]["@type"]
    assert function.poll()["published"] == 0


NAME = b"projects/demo-project/locations"
BAD_BODIES = [
    (b"{", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'"operations"', "JSON object"),
    (b'{"operations": "projects/x"}', "must be a list"),
    (b'{"operations": [42]}', "must hold strings"),
    (b'{"ops": []}', "unknown field"),
    (b'{"operations": ["%s/us-central1/operations/../7"]}' % NAME, "not an operation name"),
    (b'{"operations": ["%s/us-central1/operations/"]}' % NAME, "not an operation name"),
    (b'{"operations": ["%s/us-central1/operations/a%%2Fb"]}' % NAME, "not an operation name"),
    (b'{"operations": ["projects/other-project/locations/us-central1/operations/7"]}',
     "outside the watched project"),
    (b'{"operations": ["%s/europe-west1/operations/7"]}' % NAME,
     "outside the watched locations"),
    (b"\xff\xfe", "not valid JSON"),
]  # fmt: skip


def test_bad_bodies_get_400_naming_the_problem_and_change_nothing(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink, state_url: str
) -> None:
    function = launch()
    running = insights.create("TuneQaScorecardRevision", PROJECT, LOCATION)
    function.poll()
    store = SqliteStateStore(state_url.removeprefix("sqlite:///"))
    before = store.pending()
    calls_before = insights.faults.calls()
    insights.succeed(running)

    answers = [(function.post(body), expected) for body, expected in BAD_BODIES]

    for (status, answer), expected in answers:
        assert status == 400, answer
        assert expected in answer["error"]
    assert store.pending() == before
    assert insights.faults.calls() == calls_before
    assert sink.drain() == []
    store.close()


def test_wrong_method_and_oversized_body_are_refused(
    launch: Launch, insights: InsightsEmulator
) -> None:
    function = launch()
    with pytest.raises(urllib.error.HTTPError) as got:
        urllib.request.urlopen(function.url, timeout=30)
    assert got.value.code == 405
    assert "POST" in json.load(got.value)["error"]

    status, answer = function.post(b'{"operations": [' + b'"x",' * 300_000 + b'"x"]}')
    assert status == 413 and "exceeds" in answer["error"]
    assert insights.faults.calls().get("ListOperations", 0) == 0


def test_missing_setting_fails_the_request_naming_the_variable(launch: Launch) -> None:
    function = launch(RESULTS_TOPIC="")

    status, answer = function.post()

    assert status == 500
    assert answer["variable"] == "RESULTS_TOPIC"
    assert "RESULTS_TOPIC" in answer["message"]


def test_cloud_run_refuses_a_state_store_on_local_disk(launch: Launch) -> None:
    function = launch(K_SERVICE="insights-poller")

    status, answer = function.post()

    assert status == 500 and answer["variable"] == "STATE_URL"
    assert "Firestore" in answer["message"]


def test_publish_failure_answers_5xx_and_the_next_poll_delivers(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    name = insights.create("BulkUploadFeedbackLabels", PROJECT, LOCATION)
    function.poll()
    insights.succeed(name)
    sink.publisher.delete_topic(topic=sink.topic, timeout=30)

    status, failed = function.post()
    sink.publisher.create_topic(name=sink.topic, timeout=30)
    sink.subscriber.delete_subscription(subscription=sink.subscription, timeout=30)
    sink.subscriber.create_subscription(name=sink.subscription, topic=sink.topic, timeout=30)
    retried = function.poll()

    assert status == 500 and failed["errors"] == 1 and failed["published"] == 0
    assert failed["errorDetails"][0]["stage"] == "publish"
    assert retried["published"] == 1
    [message] = sink.drain()
    assert event_data(message)["operation"] == name


def test_cloudevent_entry_point_polls_and_raises_on_failure(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(target="poll_operations_event")
    scheduler_message = json.dumps({"message": {"data": ""}}).encode()

    assert _post_cloudevent(function.url, scheduler_message) == 200  # starts the watch
    finished = insights.create("QueryMetrics", PROJECT, LOCATION, outcome="succeed")
    assert _post_cloudevent(function.url, scheduler_message) == 200
    assert [event_data(m)["operation"] for m in sink.drain()] == [finished]

    sink.publisher.delete_topic(topic=sink.topic, timeout=30)
    insights.create("QueryMetrics", PROJECT, LOCATION, outcome="succeed")
    assert _post_cloudevent(function.url, scheduler_message) == 500


def _post_cloudevent(url: str, body: bytes) -> int:
    """Deliver a Pub/Sub CloudEvent in binary mode, as Eventarc does; returns the status."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": uuid.uuid4().hex,
            "ce-source": "//pubsub.googleapis.com/projects/demo-project/topics/poll-schedule",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_operation_types_limit_what_is_published_and_the_rest_is_skipped(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch(OPERATION_TYPES="ExportInsightsData")
    wanted = insights.create("ExportInsightsData", PROJECT, LOCATION)
    other = insights.create("BulkDeleteConversations", PROJECT, LOCATION)
    function.poll()
    insights.succeed(wanted)
    insights.succeed(other)

    summary = function.poll()
    again = function.poll()

    assert (summary["published"], summary["skipped"], summary["pending"]) == (1, 1, 0)
    assert [event_data(m)["operation"] for m in sink.drain()] == [wanted]
    assert (again["published"], again["skipped"]) == (0, 0)


def test_partial_errors_are_routable_by_attribute(
    launch: Launch, insights: InsightsEmulator, sink: CheckedSink
) -> None:
    function = launch()
    function.poll()
    problem = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="conversation 3: no text")
    with_errors = insights.create(
        "BulkAnalyzeConversations", PROJECT, LOCATION, outcome="succeed", partial_errors=[problem]
    )
    clean = insights.create("BulkAnalyzeConversations", PROJECT, LOCATION, outcome="succeed")

    function.poll()

    flags = {event_data(m)["operation"]: m.attributes["hasPartialErrors"] for m in sink.drain()}
    assert flags == {with_errors: "true", clean: "false"}
