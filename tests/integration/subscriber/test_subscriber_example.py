"""The subscriber example (examples/subscriber) end to end, as it runs behind Eventarc.

The poller's real events (``build_event`` on operations of our Insights emulator) go through
the Pub/Sub emulator and are POSTed to the example, served by functions-framework, the way
Eventarc delivers a Pub/Sub message. Its dedupe markers live in the Firestore emulator. Our
Insights emulator serves only ``google.longrunning.Operations``, so the two Insights RPCs the
example calls (GetIssueModel, DeployIssueModel) are served by a small fake here.
"""

from __future__ import annotations

import base64
import datetime
import importlib.util
import json
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.contact_center_insights_v1 import types as insights_types
from google.cloud.pubsub_v1 import types as pubsub_types
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from stack import CheckedSink

from devstack.stack import LOCATION, PROJECT, REPO, FunctionProcess
from insights_emulator import InsightsEmulator, Outcome
from insights_poller.events import build_event
from insights_poller.model import Event

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples" / "subscriber" / "main.py"
INSIGHTS_SERVICE = "google.cloud.contactcenterinsights.v1.ContactCenterInsights"
MODEL_STATE = insights_types.IssueModel.State
DETECT_TIME = datetime.datetime(2026, 11, 29, 3, 11, 29, tzinfo=datetime.UTC)


class FakeIssueModels:
    """GetIssueModel and DeployIssueModel over real gRPC, with the real messages; records calls.

    Like the API, deploying a model that is deployed or deploying fails (FAILED_PRECONDITION),
    so a second deployment by the example would show up as an error, not pass unnoticed.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (method, model, status code name)
        self.states: dict[str, int] = {}
        self.fail_next_deploy: grpc.StatusCode | None = None
        self._lock = threading.Lock()
        rpcs = {
            "GetIssueModel": grpc.unary_unary_rpc_method_handler(
                self._get,
                request_deserializer=insights_types.GetIssueModelRequest.pb().FromString,
                response_serializer=insights_types.IssueModel.pb().SerializeToString,
            ),
            "DeployIssueModel": grpc.unary_unary_rpc_method_handler(
                self._deploy,
                request_deserializer=insights_types.DeployIssueModelRequest.pb().FromString,
                response_serializer=operations_pb2.Operation.SerializeToString,
            ),
        }
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(INSIGHTS_SERVICE, rpcs),)
        )
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._server.start()

    def calls_for(self, model: str) -> list[tuple[str, str]]:
        return [(method, code) for method, name, code in self.calls if name == model]

    def _get(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.calls.append(("GetIssueModel", request.name, "OK"))
            state = self.states.get(request.name, MODEL_STATE.UNDEPLOYED)
        return insights_types.IssueModel.pb()(name=request.name, state=state)

    def _deploy(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            state = self.states.get(request.name, MODEL_STATE.UNDEPLOYED)
            if self.fail_next_deploy is not None:
                code, self.fail_next_deploy = self.fail_next_deploy, None
            elif state in (MODEL_STATE.DEPLOYED, MODEL_STATE.DEPLOYING):
                code = grpc.StatusCode.FAILED_PRECONDITION
            else:
                code = grpc.StatusCode.OK
                self.states[request.name] = MODEL_STATE.DEPLOYING
            self.calls.append(("DeployIssueModel", request.name, code.name))
        if code is not grpc.StatusCode.OK:
            context.abort(code, f"{code.name} (injected by the test's fake)")
        metadata = any_pb2.Any()
        metadata.Pack(insights_types.DeployIssueModelMetadata.pb()(request=request))
        parent = request.name.split("/issueModels/")[0]
        return operations_pb2.Operation(name=f"{parent}/operations/deploy-1", metadata=metadata)

    def stop(self) -> None:
        self._server.stop(None).wait()


class SubscriberFunction(FunctionProcess):
    """The example under functions-framework, as a CloudEvent function, in a process of its own.

    Its PYTHONPATH is cleared: the example must run without this repository's packages.
    """

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        super().__init__(
            env,
            workdir,
            "on_operation_finished",
            source=EXAMPLE,
            signature_type="cloudevent",
            repository_on_path=False,
        )

    def deliver(self, message: dict[str, Any], topic: CheckedSink) -> int:
        """POST one message of ``topic`` as Eventarc does (a binary-mode CloudEvent wrapping it
        and the subscription); the HTTP status."""
        headers = {
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": message["messageId"],
            "ce-source": f"//pubsub.googleapis.com/{topic.topic}",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-time": message.get("publishTime", DETECT_TIME.isoformat()),
        }
        body = json.dumps({"message": message, "subscription": topic.subscription}).encode()
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def lines(self, **match: object) -> list[dict[str, Any]]:
        """The structured log lines whose fields include ``match``."""
        parsed = [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]
        return [line for line in parsed if match.items() <= line.items()]


# --- fixtures: one function process, fake, topic and marker collection for the module ------


@pytest.fixture(scope="module")
def fake_insights() -> Iterator[FakeIssueModels]:
    fake = FakeIssueModels()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def collection_id() -> str:
    return f"subscriber-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def subscriber(
    firestore_emulator: str,
    fake_insights: FakeIssueModels,
    collection_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SubscriberFunction]:
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DEDUP_COLLECTION": collection_id,
        "INSIGHTS_EMULATOR_HOST": fake_insights.address,
        "INSIGHTS_TIMEOUT_SECONDS": "10",
    }
    function = SubscriberFunction(env, tmp_path_factory.mktemp("subscriber"))
    yield function
    function.stop()


@pytest.fixture(scope="module")
def markers(firestore_emulator: str, collection_id: str) -> firestore.CollectionReference:
    return firestore.Client(project=PROJECT).collection(collection_id)


@pytest.fixture(scope="module")
def topic(pubsub_emulator: str) -> Iterator[CheckedSink]:
    """The poller's results topic, with the subscription Eventarc would create on it."""
    sink = CheckedSink(PROJECT, f"results-{uuid.uuid4().hex[:12]}")
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def operations() -> InsightsEmulator:
    """Our Insights emulator's operation store (no server needed: the events are built here)."""
    return InsightsEmulator()


# --- helpers ------------------------------------------------------------------------------


def finished(operations: InsightsEmulator, kind: str, outcome: Outcome = "succeed") -> Event:
    """The poller's event for a new operation of ``kind`` that ended with ``outcome``."""
    name = operations.create(kind, PROJECT, LOCATION, outcome=outcome)
    return build_event(operations.get_operation(name), detect_time=DETECT_TIME)


def through_pubsub(topic: CheckedSink, event: Event) -> dict[str, Any]:
    """Publish the event as the poller does; the message as received, in Pub/Sub's JSON form."""
    topic.publisher.publish(topic.topic, event.data, **event.attributes).result(timeout=30)
    (received,) = topic.drain()
    message = pubsub_types.PubsubMessage.to_dict(received, preserving_proto_field_name=False)
    return {key: value for key, value in message.items() if value != ""}


def issue_model(event: Event) -> str:
    name: str = json.loads(event.data)["response"]["name"]
    return name


def marker_status(markers: firestore.CollectionReference, event: Event) -> str | None:
    snapshot = markers.document(event.event_id).get()
    return snapshot.get("status") if snapshot.exists else None


# --- tests --------------------------------------------------------------------------------


def test_export_success_logs_the_bigquery_destination(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    markers: firestore.CollectionReference,
) -> None:
    event = finished(operations, "ExportInsightsData")

    assert subscriber.deliver(through_pubsub(topic, event), topic) == 200

    (line,) = subscriber.lines(eventId=event.event_id)
    assert line["severity"] == "INFO"
    assert line["bigQueryDestination"] == {
        "projectId": PROJECT,
        "dataset": "insights_export",
        "table": "conversations",
    }
    assert (line["operation"], line["state"]) == (event.operation, "SUCCEEDED")
    assert marker_status(markers, event) == "done"


def test_issue_model_is_deployed_once_however_often_its_event_arrives(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = finished(operations, "CreateIssueModel")
    model = issue_model(event)
    message = through_pubsub(topic, event)

    assert subscriber.deliver(message, topic) == 200
    # Pub/Sub redelivers the same message; the poller re-publishes the event after a crash
    # (a new message with the same ce-id).
    assert subscriber.deliver(message, topic) == 200
    republished = through_pubsub(topic, event)
    assert republished["messageId"] != message["messageId"]
    assert subscriber.deliver(republished, topic) == 200

    assert fake_insights.calls_for(model) == [("GetIssueModel", "OK"), ("DeployIssueModel", "OK")]
    snapshot = markers.document(event.event_id).get()
    assert snapshot.get("status") == "done"
    assert snapshot.get("operation") == event.operation
    assert snapshot.get("operationType") == "CreateIssueModel"
    messages = [line["message"] for line in subscriber.lines(eventId=event.event_id)]
    assert messages == [
        "issue model deployment started",
        "duplicate event dropped",
        "duplicate event dropped",
    ]
    (started,) = subscriber.lines(eventId=event.event_id, message="issue model deployment started")
    assert started["issueModel"] == model
    assert started["deployOperation"].endswith("/operations/deploy-1")


@pytest.mark.parametrize(("outcome", "state", "severity"), [
    ("fail", "FAILED", "ERROR"),
    ("cancel", "CANCELLED", "WARNING"),
])  # fmt: skip
def test_unsuccessful_operation_is_logged_and_nothing_is_deployed(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    fake_insights: FakeIssueModels,
    outcome: Outcome,
    state: str,
    severity: str,
) -> None:
    event = finished(operations, "CreateIssueModel", outcome=outcome)
    calls_before = len(fake_insights.calls)

    assert subscriber.deliver(through_pubsub(topic, event), topic) == 200

    (line,) = subscriber.lines(eventId=event.event_id)
    assert (line["severity"], line["state"]) == (severity, state)
    assert line["message"] == f"CreateIssueModel operation {state}"
    assert line["errorCode"] == json.loads(event.data)["error"]["code"]
    assert line["errorMessage"]
    assert len(fake_insights.calls) == calls_before


def test_failed_reaction_releases_its_claim_and_the_retry_deploys(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = finished(operations, "CreateIssueModel")
    model = issue_model(event)
    message = through_pubsub(topic, event)
    fake_insights.fail_next_deploy = grpc.StatusCode.UNAVAILABLE

    assert subscriber.deliver(message, topic) == 500  # Eventarc retries it
    assert marker_status(markers, event) is None
    assert subscriber.deliver(message, topic) == 200

    assert fake_insights.calls_for(model) == [
        ("GetIssueModel", "OK"),
        ("DeployIssueModel", "UNAVAILABLE"),
        ("GetIssueModel", "OK"),
        ("DeployIssueModel", "OK"),
    ]
    assert marker_status(markers, event) == "done"


def test_claim_held_elsewhere_is_retried_and_an_expired_one_taken_over(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = finished(operations, "CreateIssueModel")
    model = issue_model(event)
    message = through_pubsub(topic, event)
    now = datetime.datetime.now(datetime.UTC)
    held = {"status": "processing", "leaseExpires": now + datetime.timedelta(minutes=5)}
    markers.document(event.event_id).set(held)

    assert subscriber.deliver(message, topic) == 500
    assert f"event {event.event_id} is being handled by another delivery" in subscriber.log()
    assert fake_insights.calls_for(model) == []

    # The delivery holding the claim died: once its lease is over, the next one takes over.
    markers.document(event.event_id).update({"leaseExpires": now - datetime.timedelta(seconds=1)})
    assert subscriber.deliver(message, topic) == 200
    assert fake_insights.calls_for(model) == [("GetIssueModel", "OK"), ("DeployIssueModel", "OK")]
    assert marker_status(markers, event) == "done"


def _without(attributes: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in attributes.items() if key != name}


@pytest.mark.parametrize(("breakage", "reason"), [
    ("data-not-base64", "message data is not the event's JSON"),
    ("data-not-json", "message data is not the event's JSON"),
    ("no-ce-id", "message attributes lack ce-id"),
    ("other-type", "ce-type is 'com.example.other', not 'insights-poller.operation.v1.finished'"),
])  # fmt: skip
def test_malformed_message_is_logged_as_an_error_and_acknowledged(
    subscriber: SubscriberFunction,
    topic: CheckedSink,
    operations: InsightsEmulator,
    markers: firestore.CollectionReference,
    breakage: str,
    reason: str,
) -> None:
    event = finished(operations, "CreateIssueModel")
    attributes = dict(event.attributes)
    data = base64.b64encode(event.data).decode()
    if breakage == "data-not-base64":
        data = "%% not base64 %%"
    elif breakage == "data-not-json":
        data = base64.b64encode(b"{not json").decode()
    elif breakage == "no-ce-id":
        attributes = _without(attributes, "ce-id")
    else:
        attributes["ce-type"] = "com.example.other"
    message_id = f"malformed-{uuid.uuid4().hex[:8]}"
    message = {"data": data, "attributes": attributes, "messageId": message_id}

    # Acknowledged (a retry would fail the same way), with an error naming the problem.
    assert subscriber.deliver(message, topic) == 200
    (line,) = subscriber.lines(messageId=message_id)
    assert line["severity"] == "ERROR"
    assert line["message"].startswith(f"malformed message dropped: {reason}")
    assert marker_status(markers, event) is None


def test_the_subscriber_calls_each_location_on_its_own_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = importlib.util.spec_from_file_location(
        "subscriber_example_main", REPO / "examples" / "subscriber" / "main.py"
    )
    assert spec is not None and spec.loader is not None
    subscriber = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, subscriber)  # its dataclasses look it up
    spec.loader.exec_module(subscriber)
    monkeypatch.delenv("INSIGHTS_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(
        "google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), None)
    )

    hosts = {
        location: subscriber.insights_client(location).transport._host
        for location in ("us-central1", "europe-west1", "eu")
    }

    assert hosts == {
        "us-central1": "contactcenterinsights.googleapis.com:443",
        "europe-west1": "europe-west1-contactcenterinsights.googleapis.com:443",
        "eu": "eu-contactcenterinsights.googleapis.com:443",
    }
