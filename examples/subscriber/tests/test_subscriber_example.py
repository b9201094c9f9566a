"""The subscriber (main.py) as it runs: served by functions-framework in a process of its own.

It is fed real events of the poller (``events/``, recorded from the poller; each test gives its
event a new operation, ``ce-id`` and issue model) the way they reach it: published to the
Pub/Sub emulator and delivered as a Pub/Sub push subscription POSTs them, or as Eventarc does
(the same body, inside a CloudEvent). Its dedupe markers live in the Firestore emulator; the two
Insights RPCs it calls (GetIssueModel, DeployIssueModel) are served by a small fake gRPC server
here. The emulators are started by ``conftest.py``. A few tests need none of it: they load
main.py in this process.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import datetime
import importlib.util
import json
import os
import random
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.contact_center_insights_v1 import types as insights_types
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1 import types as pubsub_types
from google.longrunning import operations_pb2
from google.protobuf import any_pb2

EXAMPLE = Path(__file__).resolve().parents[1]
MAIN = EXAMPLE / "main.py"
EVENTS = Path(__file__).resolve().parent / "events"
SAMPLE_PUSH = EXAMPLE / "sample-push.json"
PROJECT = "demo-project"
INSIGHTS_SERVICE = "google.cloud.contactcenterinsights.v1.ContactCenterInsights"
MODEL_STATE = insights_types.IssueModel.State
STARTUP_TIMEOUT_SECONDS = 60.0


# --- events -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    """A poller event as published: the Pub/Sub message's data and attributes."""

    data: bytes
    attributes: dict[str, str]

    @property
    def id(self) -> str:
        return self.attributes["ce-id"]

    @property
    def operation(self) -> str:
        return self.attributes["operation"]

    def field(self, *path: str) -> Any:
        value: Any = json.loads(self.data)
        for key in path:
            value = value[key]
        return value


def recorded(file_name: str) -> dict[str, Any]:
    """A recorded event: ``{"attributes": {...}, "data": {...}}``."""
    loaded: dict[str, Any] = json.loads((EVENTS / file_name).read_text(encoding="utf-8"))
    return loaded


def fresh(file_name: str) -> Event:
    """The recorded event, for a new operation: a new operation id, ``ce-id`` and, for an issue
    model, model name, so that no two tests share a marker or a model."""
    message = copy.deepcopy(recorded(file_name))
    data, attributes = message["data"], message["attributes"]
    operation_id = str(random.randrange(10**18, 10**19))
    parent = data["operation"].split("/operations/")[0]
    data["operation"] = attributes["operation"] = f"{parent}/operations/{operation_id}"
    attributes["ce-subject"] = f"operations/{operation_id}"
    attributes["ce-id"] = str(uuid.uuid4())
    if data.get("operationType") == "CreateIssueModel" and "response" in data:
        data["response"]["name"] = f"{parent}/issueModels/{operation_id}"
    return Event(json.dumps(data, separators=(",", ":")).encode(), attributes)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """main.py, imported in this process under a name of its own (a repository that holds this
    folder may have a ``main`` module of its own)."""
    spec = importlib.util.spec_from_file_location("subscriber_example_main", MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


# --- the fake Insights API, the topic, the function -----------------------------------------


class FakeIssueModels:
    """GetIssueModel and DeployIssueModel over real gRPC, with the real messages; records calls.

    Like the API, deploying a model that is deployed or deploying fails (FAILED_PRECONDITION),
    so a second deployment by the subscriber would show up as an error, not pass unnoticed.
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


class Topic:
    """The poller's events topic on the Pub/Sub emulator, with a pull subscription that shows
    each published message as a push subscription (or Eventarc) would carry it."""

    def __init__(self, topic_id: str) -> None:
        self.publisher = PublisherClient()
        self.subscriber = SubscriberClient()
        self.topic = self.publisher.topic_path(PROJECT, topic_id)
        self.subscription = self.subscriber.subscription_path(PROJECT, f"{topic_id}-pull")
        self.publisher.create_topic(name=self.topic, timeout=30)
        self.subscriber.create_subscription(
            name=self.subscription, topic=self.topic, ack_deadline_seconds=60, timeout=30
        )

    def publish(self, event: Event) -> dict[str, Any]:
        """Publish the event as the poller does; the message as received, in its JSON form."""
        future = self.publisher.publish(self.topic, event.data, **event.attributes)
        message_id = future.result(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = self.subscriber.pull(subscription=self.subscription, max_messages=10)
            if not response.received_messages:
                continue
            self.subscriber.acknowledge(
                subscription=self.subscription,
                ack_ids=[received.ack_id for received in response.received_messages],
            )
            for received in response.received_messages:
                if received.message.message_id == message_id:
                    message = pubsub_types.PubsubMessage.to_dict(
                        received.message, preserving_proto_field_name=False
                    )
                    return {key: value for key, value in message.items() if value != ""}
        raise AssertionError(f"message {message_id} not received on {self.subscription}")

    @contextlib.contextmanager
    def pushing_to(self, endpoint: str) -> Iterator[str]:
        """A push subscription on the topic that POSTs to ``endpoint`` meanwhile, as the
        Terraform sets one up (there with a token of the push account)."""
        name: str = self.subscriber.subscription_path(PROJECT, f"push-{uuid.uuid4().hex[:12]}")
        self.subscriber.create_subscription(
            request={
                "name": name,
                "topic": self.topic,
                "push_config": {"push_endpoint": endpoint},
                "ack_deadline_seconds": 60,
            },
            timeout=30,
        )
        try:
            yield name
        finally:
            self.subscriber.delete_subscription(subscription=name, timeout=30)

    def close(self) -> None:
        self.subscriber.delete_subscription(subscription=self.subscription, timeout=30)
        self.publisher.delete_topic(topic=self.topic, timeout=30)
        self.subscriber.close()
        self.publisher.stop()


class Subscriber:
    """main.py under functions-framework, as a CloudEvent function, on a free loopback port.

    Its environment has no PYTHONPATH: it runs on its requirements alone.
    """

    def __init__(self, env: dict[str, str], workdir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.log_path = workdir / f"subscriber-{port}.log"
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "functions_framework", "--source", str(MAIN),
                 "--target", "on_operation_finished", "--signature-type", "cloudevent",
                 "--host", "127.0.0.1", "--port", str(port)],
                cwd=workdir,
                env={**environment, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._serving():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the subscriber did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def _serving(self) -> bool:
        try:
            urllib.request.urlopen(self.url, timeout=2)
        except urllib.error.HTTPError:
            return True  # 405 for GET: serving
        except OSError:
            return False
        return True

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> int:
        """POST ``body`` as JSON (with ``headers``); the HTTP status."""
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def push(self, message: dict[str, Any], subscription: str) -> int:
        """Deliver a message as a Pub/Sub push subscription does (and curl in the README)."""
        return self.post(json.dumps({"message": message, "subscription": subscription}).encode())

    def eventarc(self, message: dict[str, Any], topic: Topic) -> int:
        """Deliver a message as an Eventarc Pub/Sub trigger does: the same body, as the data of
        a binary-mode CloudEvent of type google.cloud.pubsub.topic.v1.messagePublished."""
        headers = {
            "ce-specversion": "1.0",
            "ce-id": message["messageId"],
            "ce-source": f"//pubsub.googleapis.com/{topic.topic}",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-time": message.get("publishTime", "2026-11-28T03:09:42.518Z"),
        }
        body = json.dumps({"message": message, "subscription": topic.subscription}).encode()
        return self.post(body, headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self, **match: object) -> list[dict[str, Any]]:
        """The structured log lines whose fields include ``match``."""
        parsed = [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]
        return [line for line in parsed if match.items() <= line.items()]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# --- fixtures: one subscriber process, fake, topic and marker collection for the module -----


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
    loopback_port: Callable[[], int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Subscriber]:
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        "DEDUP_COLLECTION": collection_id,
        "INSIGHTS_EMULATOR_HOST": fake_insights.address,
        "INSIGHTS_TIMEOUT_SECONDS": "10",
    }
    function = Subscriber(env, tmp_path_factory.mktemp("subscriber"), loopback_port())
    yield function
    function.stop()


@pytest.fixture(scope="module")
def markers(firestore_emulator: str, collection_id: str) -> firestore.CollectionReference:
    return firestore.Client(project=PROJECT).collection(collection_id)


@pytest.fixture(scope="module")
def topic(pubsub_emulator: str) -> Iterator[Topic]:
    """The poller's events topic."""
    events = Topic(f"events-{uuid.uuid4().hex[:12]}")
    yield events
    events.close()


def marker_status(markers: firestore.CollectionReference, event_id: str) -> str | None:
    snapshot = markers.document(event_id).get()
    return snapshot.get("status") if snapshot.exists else None


# --- the sample push envelope (README: "Try it locally") ------------------------------------


def test_the_sample_push_envelope_carries_the_recorded_export_event() -> None:
    envelope = json.loads(SAMPLE_PUSH.read_text(encoding="utf-8"))
    event = recorded("export-succeeded.json")

    assert envelope["message"]["attributes"] == event["attributes"]
    assert json.loads(base64.b64decode(envelope["message"]["data"])) == event["data"]


def test_the_subscriber_reads_the_sample_push_envelope_as_the_poller_event(
    main: types.ModuleType,
) -> None:
    envelope = json.loads(SAMPLE_PUSH.read_text(encoding="utf-8"))

    event = main.parse_event(envelope["message"])

    assert event.id == envelope["message"]["attributes"]["ce-id"]
    assert (event.operation_type, event.state) == ("ExportInsightsData", "SUCCEEDED")
    assert event.cloud_event["type"] == "insights-poller.operation.v1.finished"
    assert main.reaction_for(event).func is main.log_export


def test_the_sample_push_envelope_posted_as_is_logs_the_export_then_is_a_duplicate(
    subscriber: Subscriber, markers: firestore.CollectionReference
) -> None:
    """What the README's curl line does: the file as the body, no CloudEvent headers;
    functions-framework makes the CloudEvent of a Pub/Sub push body itself."""
    body = SAMPLE_PUSH.read_bytes()
    event_id = json.loads(body)["message"]["attributes"]["ce-id"]

    assert subscriber.post(body) == 200
    assert subscriber.post(body) == 200

    messages = [(line["severity"], line["message"]) for line in subscriber.lines(eventId=event_id)]
    assert messages == [
        ("INFO", "Insights data exported to BigQuery"),
        ("INFO", "duplicate event dropped"),
    ]
    assert marker_status(markers, event_id) == "done"


# --- reactions, duplicates and retries ------------------------------------------------------


@pytest.mark.parametrize("delivery", ["push", "eventarc"])
def test_export_success_logs_the_bigquery_destination(
    subscriber: Subscriber,
    topic: Topic,
    markers: firestore.CollectionReference,
    delivery: str,
) -> None:
    event = fresh("export-succeeded.json")
    message = topic.publish(event)

    if delivery == "push":
        assert subscriber.push(message, topic.subscription) == 200
    else:
        assert subscriber.eventarc(message, topic) == 200

    (line,) = subscriber.lines(eventId=event.id)
    assert line["severity"] == "INFO"
    assert line["bigQueryDestination"] == {
        "projectId": PROJECT,
        "dataset": "insights_export",
        "table": "conversations",
    }
    assert (line["operation"], line["state"]) == (event.operation, "SUCCEEDED")
    assert marker_status(markers, event.id) == "done"


def test_issue_model_is_deployed_once_however_often_its_event_arrives(
    subscriber: Subscriber,
    topic: Topic,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = fresh("issue-model-succeeded.json")
    model = event.field("response", "name")
    message = topic.publish(event)

    assert subscriber.eventarc(message, topic) == 200
    # Pub/Sub redelivers the same message; the poller re-publishes the event after a crash
    # (a new message with the same ce-id).
    assert subscriber.push(message, topic.subscription) == 200
    republished = topic.publish(event)
    assert republished["messageId"] != message["messageId"]
    assert subscriber.eventarc(republished, topic) == 200

    assert fake_insights.calls_for(model) == [("GetIssueModel", "OK"), ("DeployIssueModel", "OK")]
    snapshot = markers.document(event.id).get()
    assert snapshot.get("status") == "done"
    assert snapshot.get("operation") == event.operation
    assert snapshot.get("operationType") == "CreateIssueModel"
    messages = [line["message"] for line in subscriber.lines(eventId=event.id)]
    assert messages == [
        "issue model deployment started",
        "duplicate event dropped",
        "duplicate event dropped",
    ]
    (started,) = subscriber.lines(eventId=event.id, message="issue model deployment started")
    assert started["issueModel"] == model
    assert started["deployOperation"].endswith("/operations/deploy-1")


@pytest.mark.parametrize(("file_name", "state", "severity"), [
    ("issue-model-failed.json", "FAILED", "ERROR"),
    ("issue-model-cancelled.json", "CANCELLED", "WARNING"),
])  # fmt: skip
def test_unsuccessful_operation_is_logged_and_nothing_is_deployed(
    subscriber: Subscriber,
    topic: Topic,
    fake_insights: FakeIssueModels,
    file_name: str,
    state: str,
    severity: str,
) -> None:
    event = fresh(file_name)
    calls_before = len(fake_insights.calls)

    assert subscriber.eventarc(topic.publish(event), topic) == 200

    (line,) = subscriber.lines(eventId=event.id)
    assert (line["severity"], line["state"]) == (severity, state)
    assert line["message"] == f"CreateIssueModel operation {state}"
    assert line["errorCode"] == event.field("error", "code")
    assert line["errorMessage"]
    assert len(fake_insights.calls) == calls_before


def test_failed_reaction_releases_its_claim_and_the_retry_deploys(
    subscriber: Subscriber,
    topic: Topic,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = fresh("issue-model-succeeded.json")
    model = event.field("response", "name")
    message = topic.publish(event)
    fake_insights.fail_next_deploy = grpc.StatusCode.UNAVAILABLE

    assert subscriber.push(message, topic.subscription) == 500  # Pub/Sub delivers it again
    assert marker_status(markers, event.id) is None
    assert subscriber.push(message, topic.subscription) == 200

    assert fake_insights.calls_for(model) == [
        ("GetIssueModel", "OK"),
        ("DeployIssueModel", "UNAVAILABLE"),
        ("GetIssueModel", "OK"),
        ("DeployIssueModel", "OK"),
    ]
    assert marker_status(markers, event.id) == "done"


def test_claim_held_elsewhere_is_retried_and_an_expired_one_taken_over(
    subscriber: Subscriber,
    topic: Topic,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    event = fresh("issue-model-succeeded.json")
    model = event.field("response", "name")
    message = topic.publish(event)
    now = datetime.datetime.now(datetime.UTC)
    held = {"status": "processing", "leaseExpires": now + datetime.timedelta(minutes=5)}
    markers.document(event.id).set(held)

    assert subscriber.eventarc(message, topic) == 500
    assert f"event {event.id} is being handled by another delivery" in subscriber.log()
    assert fake_insights.calls_for(model) == []

    # The delivery holding the claim died: once its lease is over, the next one takes over.
    markers.document(event.id).update({"leaseExpires": now - datetime.timedelta(seconds=1)})
    assert subscriber.eventarc(message, topic) == 200
    assert fake_insights.calls_for(model) == [("GetIssueModel", "OK"), ("DeployIssueModel", "OK")]
    assert marker_status(markers, event.id) == "done"


@pytest.mark.parametrize(("breakage", "reason"), [
    ("data-not-base64", "message data is not the event's JSON"),
    ("data-not-json", "message data is not the event's JSON"),
    ("no-ce-id", "message attributes lack ce-id"),
    ("other-type", "ce-type is 'com.example.other', not 'insights-poller.operation.v1.finished'"),
])  # fmt: skip
def test_malformed_message_is_logged_as_an_error_and_acknowledged(
    subscriber: Subscriber,
    topic: Topic,
    markers: firestore.CollectionReference,
    breakage: str,
    reason: str,
) -> None:
    event = fresh("issue-model-succeeded.json")
    attributes = dict(event.attributes)
    data = base64.b64encode(event.data).decode()
    if breakage == "data-not-base64":
        data = "%% not base64 %%"
    elif breakage == "data-not-json":
        data = base64.b64encode(b"{not json").decode()
    elif breakage == "no-ce-id":
        del attributes["ce-id"]
    else:
        attributes["ce-type"] = "com.example.other"
    message_id = f"malformed-{uuid.uuid4().hex[:8]}"
    message = {"data": data, "attributes": attributes, "messageId": message_id}

    # Acknowledged (a retry would fail the same way), with an error naming the problem.
    assert subscriber.eventarc(message, topic) == 200
    (line,) = subscriber.lines(messageId=message_id)
    assert line["severity"] == "ERROR"
    assert line["message"].startswith(f"malformed message dropped: {reason}")
    assert marker_status(markers, event.id) is None


def test_a_push_subscription_delivers_the_poller_events_to_the_subscriber(
    subscriber: Subscriber,
    topic: Topic,
    fake_insights: FakeIssueModels,
    markers: firestore.CollectionReference,
) -> None:
    """The path the Terraform deploys: a push subscription on the events topic POSTs each
    message to the function (here, the emulator's own push, without authentication)."""
    event = fresh("issue-model-succeeded.json")
    model = event.field("response", "name")

    with topic.pushing_to(subscriber.url):
        topic.publisher.publish(topic.topic, event.data, **event.attributes).result(timeout=30)
        deadline = time.monotonic() + 60
        while marker_status(markers, event.id) != "done" and time.monotonic() < deadline:
            time.sleep(0.5)

    assert marker_status(markers, event.id) == "done", subscriber.log()[-3000:]
    assert fake_insights.calls_for(model) == [("GetIssueModel", "OK"), ("DeployIssueModel", "OK")]
    (started,) = subscriber.lines(eventId=event.id, message="issue model deployment started")
    assert started["issueModel"] == model


# --- in this process ------------------------------------------------------------------------


def test_the_subscriber_calls_each_location_on_its_own_endpoint(
    main: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSIGHTS_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(
        "google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), None)
    )

    hosts = {
        location: main.insights_client(location).transport._host
        for location in ("us-central1", "europe-west1", "eu")
    }

    assert hosts == {
        "us-central1": "contactcenterinsights.googleapis.com:443",
        "europe-west1": "europe-west1-contactcenterinsights.googleapis.com:443",
        "eu": "eu-contactcenterinsights.googleapis.com:443",
    }
