"""Replay's rules on in-memory fakes: the event as first published, marked as a replay, or a
refusal that publishes nothing and changes no record."""

from __future__ import annotations

import dataclasses
import datetime
import json

import builders
import pytest
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore

from insights_poller import core, names, replay
from insights_poller.model import Event, Outcome
from insights_poller.ports import CallError

OPTIONS = core.PollOptions(
    locations=(builders.LOCATION,),
    watch_since=None,
    claim_lease=datetime.timedelta(minutes=10),
    max_concurrency=4,
    budget=datetime.timedelta(minutes=4),
    publish_reserve=datetime.timedelta(seconds=30),
    max_pending_age=datetime.timedelta(days=7),
)


@dataclasses.dataclass
class Stack:
    reader: FakeReader
    store: InMemoryStateStore
    publisher: FakePublisher
    clock: FakeClock

    def poll(self) -> core.PollSummary:
        return core.poll(
            reader=self.reader,
            store=self.store,
            publisher=self.publisher,
            options=OPTIONS,
            clock=self.clock,
            run_id=f"run-{self.clock.now.isoformat()}",
            identity=names.ProjectIdentity(builders.PROJECT),
        )

    def replay(self, name: str) -> Event:
        self.clock.advance(3600)
        return replay.replay(
            name,
            reader=self.reader,
            store=self.store,
            publisher=self.publisher,
            insights_timeout_seconds=30,
            publish_timeout_seconds=60,
            now=self.clock.now,
        )


@pytest.fixture
def stack() -> Stack:
    clock = FakeClock(builders.T0)
    return Stack(FakeReader(clock=clock), InMemoryStateStore(), FakePublisher(), clock)


def test_a_replay_is_the_first_event_marked_as_a_replay_and_changes_no_record(
    stack: Stack,
) -> None:
    name = builders.name(1)
    stack.reader.put(builders.issue_model_operation(name))
    stack.poll()
    stack.clock.advance(60)
    stack.reader.put(builders.issue_model_operation(name, ended=stack.clock.now))
    stack.poll()
    [first] = stack.publisher.published
    records = stack.store.all_records()

    stack.replay(name)

    again = stack.publisher.published[-1]
    assert again.data == first.data  # same detectTime: the first detection, not the replay's
    assert dict(again.attributes) == {**first.attributes, "replay": "true"}
    assert stack.store.all_records() == records


def test_an_expired_event_is_replayed_with_its_reason_derived_from_the_api(stack: Stack) -> None:
    known, forgotten = builders.name(2), builders.name(3)
    for name in (known, forgotten):
        stack.reader.put(builders.issue_model_operation(name))
    stack.poll()
    stack.store.mark_settled([Outcome(n, "EXPIRED", builders.T0) for n in (known, forgotten)])
    del stack.reader.operations[forgotten]

    reasons = {}
    for name in (known, forgotten):
        stack.replay(name)
        reasons[name] = json.loads(stack.publisher.published[-1].data)["expiredReason"]

    assert reasons == {known: "MAX_PENDING_AGE", forgotten: "NOT_FOUND"}


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("unknown", "unknown operation: Insights has no operation"),
        ("running", "is not finished"),
        ("not published", "has not been published yet"),
        ("HISTORY", "was recorded as HISTORY: no event, it ended before the watch started"),
        ("SKIPPED", "was recorded as SKIPPED: no event, OPERATION_TYPES leaves its type out"),
    ],
)
def test_what_has_no_event_is_refused_and_nothing_is_published(
    stack: Stack, case: str, refusal: str
) -> None:
    name = builders.name(4)
    if case != "unknown":
        stack.reader.put(builders.issue_model_operation(name))
        stack.poll()  # tracked as pending
    if case in {"not published", "HISTORY", "SKIPPED"}:
        ended = builders.issue_model_operation(name, ended=builders.T0)
        stack.reader.put(ended)
    if case in {"HISTORY", "SKIPPED"}:
        stack.store.mark_settled([Outcome(name, case, builders.T0)])
    records = stack.store.all_records()

    with pytest.raises(replay.NothingToReplay, match=refusal):
        stack.replay(name)

    assert stack.publisher.published == []
    assert stack.store.all_records() == records


def test_a_failed_publish_is_raised_as_the_call_error(stack: Stack) -> None:
    name = builders.name(5)
    stack.reader.put(builders.issue_model_operation(name))
    stack.poll()
    stack.reader.put(builders.issue_model_operation(name, ended=stack.clock.now))
    stack.poll()
    stack.publisher.failing.add(name)

    with pytest.raises(CallError, match="topic unreachable"):
        stack.replay(name)
