"""React to the Insights poller's events: a CloudEvent function fed by the poller's topic.

Each Pub/Sub message of the topic arrives as a CloudEvent of type
``google.cloud.pubsub.topic.v1.messagePublished`` whose data is the push body
``{"message": ..., "subscription": ...}``: Eventarc sends it so, and functions-framework makes
it of the plain body a Pub/Sub push subscription POSTs. Inside the message is the poller's own
event in the CloudEvents Pub/Sub binary binding. Delivery is at least once, so every event is
claimed in Firestore under its ``ce-id`` before its reaction runs, and marked done after: a
duplicate of a handled event is acknowledged without doing anything, while a failed reaction
releases its claim and is retried. This file is standalone: copy the directory and edit
``reaction_for``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime
import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, cast

import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http
from google.api_core import exceptions
from google.cloud import contact_center_insights_v1, firestore
from google.cloud.firestore_v1.types import WriteResult

EVENT_TYPE = "insights-poller.operation.v1.finished"
SUCCEEDED = "SUCCEEDED"
REQUIRED_ATTRIBUTES = (
    # The four the CloudEvents SDK needs to read the message as a binary-mode event...
    "ce-specversion", "ce-id", "ce-source", "ce-type",
    # ...and the plain ones the poller sets for filtering and routing.
    "operation", "operationType", "state",
)  # fmt: skip
UNSUCCESSFUL_SEVERITY = {"FAILED": "ERROR", "CANCELLED": "WARNING", "EXPIRED": "WARNING"}

COLLECTION = os.environ.get("DEDUP_COLLECTION", "insights-events-seen")
DATABASE = os.environ.get("FIRESTORE_DATABASE", "(default)")
INSIGHTS_TIMEOUT_SECONDS = float(os.environ.get("INSIGHTS_TIMEOUT_SECONDS", "20"))
CLAIM_LEASE = datetime.timedelta(seconds=300)
"""How long a claim keeps other deliveries of the event waiting; above the function's timeout."""
MARKER_RETENTION = datetime.timedelta(days=30)
"""Markers carry ``expireAt``: with a Firestore TTL policy on it they are deleted after this."""


class MalformedMessageError(ValueError):
    """The message is not a poller event this function can act on: a retry cannot fix it."""


class InProgressError(RuntimeError):
    """Another delivery of the event holds its claim: raised so that this one is retried later."""


@dataclasses.dataclass(frozen=True)
class PollerEvent:
    """The poller's event: the CloudEvent (id, source, time, JSON data) and its plain attributes."""

    cloud_event: CloudEvent
    data: dict[str, Any]
    operation: str
    operation_type: str
    state: str

    @property
    def id(self) -> str:
        return str(self.cloud_event["id"])

    def log_fields(self) -> dict[str, str]:
        return {
            "eventId": self.id,
            "operation": self.operation,
            "operationType": self.operation_type,
            "state": self.state,
        }


@functions_framework.cloud_event
def on_operation_finished(cloud_event: CloudEvent) -> None:
    """Entry point. Returning acknowledges the message; raising makes Pub/Sub deliver it again."""
    payload = cloud_event.get_data()
    message = payload.get("message") if isinstance(payload, dict) else None
    message_id = message.get("messageId") if isinstance(message, dict) else None
    try:
        event = parse_event(message)
        reaction = reaction_for(event)
    except MalformedMessageError as error:
        log("ERROR", f"malformed message dropped: {error}", messageId=message_id)
        return
    if reaction is None:
        log("DEBUG", "no reaction to this event", **event.log_fields())
        return
    marker = firestore_client().collection(COLLECTION).document(event.id)
    claimed_at = claim(marker, event)
    if claimed_at is None:
        log("INFO", "duplicate event dropped", messageId=message_id, **event.log_fields())
        return
    try:
        reaction()
    except BaseException:
        release(marker, claimed_at)
        raise
    marker.update({"status": "done", "doneAt": firestore.SERVER_TIMESTAMP})


def parse_event(message: object) -> PollerEvent:
    """The poller's event in a Pub/Sub message, read with the CloudEvents SDK.

    The Pub/Sub binary binding has the HTTP binary binding's shape (``ce-`` attributes plus
    ``content-type``; the data is the event data), so the SDK's HTTP reader parses it.
    """
    if not isinstance(message, dict):
        raise MalformedMessageError("the delivery has no Pub/Sub 'message' object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise MalformedMessageError("message attributes are not an object")
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise MalformedMessageError(f"message attributes lack {', '.join(missing)}")
    if attributes["ce-type"] != EVENT_TYPE:
        raise MalformedMessageError(f"ce-type is {attributes['ce-type']!r}, not {EVENT_TYPE!r}")
    try:
        body = base64.b64decode(message.get("data", ""), validate=True)
        event = from_http(attributes, body, data_unmarshaller=json.loads)
    except (binascii.Error, TypeError, ValueError, GenericException) as error:
        raise MalformedMessageError(f"message data is not the event's JSON: {error}") from None
    data = event.get_data()
    if not isinstance(data, dict):
        raise MalformedMessageError("event data is not a JSON object")
    return PollerEvent(
        cloud_event=event,
        data=data,
        operation=str(data.get("operation") or attributes["operation"]),  # the whole name
        operation_type=attributes["operationType"],
        state=attributes["state"],
    )


def reaction_for(event: PollerEvent) -> Callable[[], None] | None:
    """What to do about an event, its inputs checked now, before anything is claimed or done.

    Every reaction must be safe to run twice: a delivery that dies after reacting and before
    marking the event done leaves its claim to expire, and the event is handled again.
    """
    if event.state != SUCCEEDED:
        return functools.partial(log_unsuccessful, event)
    if event.operation_type == "ExportInsightsData":
        destination = field(event, "metadata", "request", "bigQueryDestination")
        return functools.partial(log_export, event, destination)
    if event.operation_type == "CreateIssueModel":
        return functools.partial(deploy_issue_model, event, str(field(event, "response", "name")))
    return None


def field(event: PollerEvent, *path: str) -> Any:
    """A field of the event data; its absence (e.g. a ``truncated`` event) is malformed here."""
    value: Any = event.data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not value:
        raise MalformedMessageError(f"{event.operation_type} event has no {'.'.join(path)}")
    return value


# --- Reactions ----------------------------------------------------------------------------------


def log_unsuccessful(event: PollerEvent) -> None:
    """FAILED is an error to look at; CANCELLED and EXPIRED (outcome unknown) are warnings."""
    error = event.data.get("error", {})
    log(
        UNSUCCESSFUL_SEVERITY.get(event.state, "WARNING"),
        f"{event.operation_type} operation {event.state}",
        errorCode=error.get("code"),
        errorMessage=error.get("message"),
        expiredReason=event.data.get("expiredReason"),
        **event.log_fields(),
    )


def log_export(event: PollerEvent, destination: Mapping[str, str]) -> None:
    """Where the export landed, for whatever reads the table next."""
    log(
        "INFO",
        "Insights data exported to BigQuery",
        bigQueryDestination=destination,
        **event.log_fields(),
    )


def deploy_issue_model(event: PollerEvent, model: str) -> None:
    """Deploy the issue model the operation created.

    DeployIssueModel fails for a model already deployed, so a model deployed or deploying is
    left alone: a repeated reaction does nothing. The deployment is itself an operation; the
    poller reports its end as a DeployIssueModel event.
    """
    client = insights_client(model.split("/")[3])  # projects/P/locations/L/issueModels/M
    state = client.get_issue_model(name=model, timeout=INSIGHTS_TIMEOUT_SECONDS).state
    deployed = (
        contact_center_insights_v1.IssueModel.State.DEPLOYED,
        contact_center_insights_v1.IssueModel.State.DEPLOYING,
    )
    if state in deployed:
        log("INFO", "issue model already deployed", issueModel=model, **event.log_fields())
        return
    deployment = client.deploy_issue_model(name=model, timeout=INSIGHTS_TIMEOUT_SECONDS)
    log(
        "INFO",
        "issue model deployment started",
        issueModel=model,
        deployOperation=deployment.operation.name,
        **event.log_fields(),
    )


# --- Deduplication ------------------------------------------------------------------------------


def claim(marker: firestore.DocumentReference, event: PollerEvent) -> datetime.datetime | None:
    """Claim the event for this delivery: the claim's write time, or None if it was handled.

    A claim another delivery holds makes this one retry later (InProgressError); one whose lease
    ran out (its delivery died) is taken over, unless a third delivery took it first.
    """
    now = datetime.datetime.now(datetime.UTC)
    fields = {
        **event.log_fields(),
        "status": "processing",
        "leaseExpires": now + CLAIM_LEASE,
        "expireAt": now + MARKER_RETENTION,
    }
    try:
        return write_time(marker.create(fields))
    except exceptions.AlreadyExists:
        snapshot = marker.get()
    if snapshot.exists and snapshot.get("status") == "done":
        return None
    if not snapshot.exists or snapshot.get("leaseExpires") > now:
        raise InProgressError(f"event {event.id} is being handled by another delivery")
    option = firestore_client().write_option(last_update_time=snapshot.update_time)
    try:
        return write_time(marker.update(fields, option=option))
    except exceptions.FailedPrecondition:
        raise InProgressError(f"event {event.id} was just claimed by another delivery") from None


def release(marker: firestore.DocumentReference, claimed_at: datetime.datetime) -> None:
    """Give up this delivery's claim so that the retry can take it at once (else: lease expiry)."""
    option = firestore_client().write_option(last_update_time=claimed_at)
    with contextlib.suppress(exceptions.GoogleAPICallError):
        marker.delete(option=option)


# --- Clients and logging ------------------------------------------------------------------------


def write_time(result: WriteResult) -> datetime.datetime:
    """When a write happened: the precondition that a later write is still ours."""
    # Typed as a protobuf Timestamp, but proto-plus hands out a datetime (with nanoseconds).
    return cast(datetime.datetime, result.update_time)


@functools.cache
def firestore_client() -> firestore.Client:
    """Made once per instance, on first use."""
    return firestore.Client(database=DATABASE)


@functools.cache
def insights_client(location: str) -> contact_center_insights_v1.ContactCenterInsightsClient:
    """The Insights client of ``location``'s endpoint, made once per instance and location.

    Insights serves us-central1 on the global host and every other location on its own
    (https://cloud.google.com/contact-center/insights/docs/regionalization). With
    ``INSIGHTS_EMULATOR_HOST``: that host, over an insecure channel, with no credentials.
    """
    host = os.environ.get("INSIGHTS_EMULATOR_HOST")
    if not host:
        endpoint = "contactcenterinsights.googleapis.com"
        if location != "us-central1":
            endpoint = f"{location}-{endpoint}"
        return contact_center_insights_v1.ContactCenterInsightsClient(
            client_options={"api_endpoint": endpoint}
        )
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.contact_center_insights_v1.services.contact_center_insights import (
        transports,
    )

    transport = transports.ContactCenterInsightsGrpcTransport(
        channel=grpc.insecure_channel(host), credentials=AnonymousCredentials()
    )
    return contact_center_insights_v1.ContactCenterInsightsClient(transport=transport)


def log(severity: str, message: str, **fields: Any) -> None:
    """One JSON line on stdout: Cloud Logging reads its severity, message and (set) fields."""
    present = {key: value for key, value in fields.items() if value is not None}
    print(json.dumps({"severity": severity, "message": message, **present}), flush=True)
