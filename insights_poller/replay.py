"""Replay: publish a finished operation's event again, as it was first published, for a
subscriber that lost it. What may be replayed is decided here, next to the poll; the state
store is read, never changed."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime

from google.longrunning import operations_pb2

from insights_poller import events
from insights_poller.model import (
    EXPIRED,
    EXPIRED_MAX_PENDING_AGE,
    EXPIRED_NOT_FOUND,
    NO_EVENT_BECAUSE,
    PENDING,
    REPLAY_ATTRIBUTE,
    Event,
    TrackedOperation,
)
from insights_poller.ports import (
    BudgetExhausted,
    CallError,
    EventPublisher,
    OperationsReader,
    StateStore,
)


class NothingToReplay(Exception):
    """The operation has no event to replay; nothing was published."""


class NotPublishedYet(NothingToReplay):
    """The operation's event has not gone out yet: a poll publishes it, not a replay."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} has not been published yet, so there is no event to replay")
        self.name = name


def replay(
    name: str,
    *,
    reader: OperationsReader,
    store: StateStore,
    publisher: EventPublisher,
    insights_timeout_seconds: float,
    publish_timeout_seconds: float,
    now: datetime.datetime,
) -> Event:
    """Publish the event of ``name`` again and return it; ``NothingToReplay`` when it has none,
    ``CallError`` when the publish failed."""
    operation = reader.get_operation(name, insights_timeout_seconds)
    name = name if operation is None else operation.name  # the API's spelling is the key
    record = store.get_many([name]).get(name)
    event = replay_event(name, record, operation, reader, insights_timeout_seconds, now)
    outcome = publisher.publish([event], publish_timeout_seconds)
    failure = outcome.get(name, CallError("UNKNOWN", "no publish outcome"))
    if failure is not None:
        raise failure
    return event


def replay_event(
    name: str,
    record: TrackedOperation | None,
    operation: operations_pb2.Operation | None,
    reader: OperationsReader,
    timeout_seconds: float,
    now: datetime.datetime,
) -> Event:
    """The event as first published, marked as a replay; ``NothingToReplay`` when there is none.

    An EXPIRED event's reason is not stored: an operation the API still knows cannot have
    expired as NOT_FOUND, so it was MAX_PENDING_AGE. (One that aged out and was deleted
    since comes back as NOT_FOUND.)
    """
    outcome = None if record is None else record.outcome
    detect_time = (record.detect_time if record else None) or now
    if record is not None and outcome == EXPIRED:
        reason = EXPIRED_NOT_FOUND if operation is None else EXPIRED_MAX_PENDING_AGE
        event = events.build_expired_event(
            record.described(), reason=reason, detect_time=detect_time
        )
    elif operation is None:
        raise NothingToReplay(f"unknown operation: Insights has no operation {name}")
    elif not operation.done:
        raise NothingToReplay(f"{name} is not finished: its event is published when it finishes")
    elif outcome is not None and outcome in NO_EVENT_BECAUSE:
        raise NothingToReplay(
            f"{name} was recorded as {outcome}: no event, {NO_EVENT_BECAUSE[outcome]}"
        )
    elif outcome is None or outcome == PENDING:
        raise NotPublishedYet(f"{name} has not been published yet, so there is no event to replay")
    else:
        event = full_event(reader, operation, detect_time, timeout_seconds)
    return dataclasses.replace(event, attributes={**event.attributes, REPLAY_ATTRIBUTE: "true"})


def full_event(
    reader: OperationsReader,
    operation: operations_pb2.Operation,
    detect_time: datetime.datetime,
    timeout_seconds: float,
) -> Event:
    """The event of a done operation outside a poll, with its body as a poll publishes it:
    read over REST when the library would decode it lossily, else marked ``lossyBody``."""
    body = None
    lossy = events.needs_rest_body(operation)
    if lossy:
        with contextlib.suppress(CallError, BudgetExhausted):
            body = reader.read_operation_json(operation.name, timeout_seconds)
    return events.build_event(
        operation, detect_time=detect_time, rest_body=body, lossy=lossy and body is None
    )
