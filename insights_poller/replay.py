"""Replay: publish a finished operation's event again, as it was first published, for a
subscriber that lost it. What may be replayed is decided here, next to the poll, from the state
store's record first (no Google call for a refusal); the state store is read, never changed."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Callable, Sequence

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

    def __init__(self, name: str, why: str) -> None:
        super().__init__(
            f"{name} has not been published yet, so there is no event to replay: {why}"
        )
        self.name = name


class NotTracked(NotPublishedYet):
    """The state store has no record of the operation (under any of the spellings tried)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "the state store has no record of it")


def replay(
    name: str,
    *,
    store: StateStore,
    spellings: Sequence[str] = (),
    clients: Callable[[], tuple[OperationsReader, EventPublisher]],
    insights_timeout_seconds: float,
    publish_timeout_seconds: float,
    now: datetime.datetime,
) -> Event:
    """Publish the event of ``name`` again and return it; ``NothingToReplay`` when it has none,
    ``CallError`` when the publish failed.

    The record decides first, from the state store alone: an operation without one, pending,
    HISTORY or SKIPPED is refused before ``clients`` is even asked for the Insights reader and
    the publisher. Only a record with an event reads the operation again (its body; an EXPIRED
    event's reason) and publishes. ``spellings``: other names the record may be kept under (with
    the project's number for its ID), tried first.
    """
    record = replayable_record([*spellings, name], store)
    reader, publisher = clients()
    operation = reader.get_operation(record.name, insights_timeout_seconds)
    event = replay_event(record, operation, reader, insights_timeout_seconds, now)
    outcome = publisher.publish([event], publish_timeout_seconds)
    failure = outcome.get(record.name, CallError("UNKNOWN", "no publish outcome"))
    if failure is not None:
        raise failure
    return event


def replayable_record(spellings: Sequence[str], store: StateStore) -> TrackedOperation:
    """The record of the first of ``spellings`` (one operation's names) the state store has, if
    it carries an event; ``NothingToReplay`` otherwise (``NotTracked``, naming the last
    spelling, the one asked, when there is no record). Reads the state store only."""
    spellings = list(dict.fromkeys(spellings))
    found = store.get_many(spellings)
    record = next((found[spelling] for spelling in spellings if spelling in found), None)
    if record is None:
        raise NotTracked(spellings[-1])
    outcome = record.outcome
    if outcome in NO_EVENT_BECAUSE:
        raise NothingToReplay(
            f"{record.name} was recorded as {outcome}: no event, {NO_EVENT_BECAUSE[outcome]}"
        )
    if outcome == PENDING:
        raise NotPublishedYet(
            record.name, "it is tracked as pending; a poll publishes it once it has finished"
        )
    return record


def replay_event(
    record: TrackedOperation,
    operation: operations_pb2.Operation | None,
    reader: OperationsReader,
    timeout_seconds: float,
    now: datetime.datetime,
) -> Event:
    """The event of a record that has one (``replayable_record``) as first published, marked as
    a replay; ``NothingToReplay`` when Insights no longer has what the event is made of.

    An EXPIRED event's reason is not stored: an operation the API still knows cannot have
    expired as NOT_FOUND, so it was MAX_PENDING_AGE. (One that aged out and was deleted
    since comes back as NOT_FOUND.)
    """
    name = record.name
    detect_time = record.detect_time or now
    if record.outcome == EXPIRED:
        reason = EXPIRED_NOT_FOUND if operation is None else EXPIRED_MAX_PENDING_AGE
        event = events.build_expired_event(
            record.described(), reason=reason, detect_time=detect_time
        )
    elif operation is None:
        raise NothingToReplay(f"unknown operation: Insights has no operation {name} any more")
    elif not operation.done:
        raise NothingToReplay(f"{name} is not finished: its event is published when it finishes")
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
