"""Replay's rules on in-memory fakes: the event as first published, marked as a replay, or a
refusal that publishes nothing and changes no record; a refusal the record decides is made
before the Insights reader and the publisher are even asked for."""

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
    clients_asked: int = 0
    """How often replay asked for the reader and the publisher (the Poller builds them then)."""

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

    def replay(self, name: str, spellings: tuple[str, ...] = ()) -> Event:
        self.clock.advance(3600)
        return replay.replay(
            name,
            store=self.store,
            spellings=spellings,
            clients=self.clients,
            insights_timeout_seconds=30,
            publish_timeout_seconds=60,
            now=self.clock.now,
        )

    def clients(self) -> tuple[FakeReader, FakePublisher]:
        self.clients_asked += 1
        return self.reader, self.publisher


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

    assert stack.clients_asked == 1
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


NOT_PUBLISHED = "has not been published yet, so there is no event to replay: "


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("unknown", f"{NOT_PUBLISHED}the state store has no record of it"),
        ("finished, never polled", f"{NOT_PUBLISHED}the state store has no record of it"),
        ("running", f"{NOT_PUBLISHED}it is tracked as pending"),
        ("not published", f"{NOT_PUBLISHED}it is tracked as pending"),
        ("HISTORY", "was recorded as HISTORY: no event, it ended before the watch started"),
        ("SKIPPED", "was recorded as SKIPPED: no event, OPERATION_TYPES leaves its type out"),
    ],
)
def test_what_has_no_event_is_refused_from_the_record_before_any_call(
    stack: Stack, case: str, refusal: str
) -> None:
    name = builders.name(4)
    if case not in {"unknown", "finished, never polled"}:
        stack.reader.put(builders.issue_model_operation(name))
        stack.poll()  # tracked as pending
    if case in {"finished, never polled", "not published", "HISTORY", "SKIPPED"}:
        stack.reader.put(builders.issue_model_operation(name, ended=builders.T0))
    if case in {"HISTORY", "SKIPPED"}:
        stack.store.mark_settled([Outcome(name, case, builders.T0)])
    records = stack.store.all_records()
    calls_before = (list(stack.reader.get_calls), stack.reader.list_calls)

    with pytest.raises(replay.NothingToReplay, match=refusal) as refused:
        stack.replay(name)

    assert stack.clients_asked == 0  # no Insights client, no publisher was built
    assert (stack.reader.get_calls, stack.reader.list_calls) == calls_before
    assert stack.reader.rest_calls == []
    assert (stack.publisher.published, stack.publisher.timeouts) == ([], [])
    assert stack.store.all_records() == records
    assert str(refused.value).startswith(f"{name} ")
    if isinstance(refused.value, replay.NotPublishedYet):
        assert refused.value.name == name  # what the command line's `watch` hint names


def test_a_record_is_found_under_another_spelling_of_its_name(stack: Stack) -> None:
    """The Poller passes the name with the project number, when known: records use it."""
    number = "389908145857"
    stack.reader.project_numbers[builders.PROJECT] = number
    by_number = builders.name(6).replace(builders.PROJECT, number)
    stack.reader.put(builders.issue_model_operation(by_number))
    stack.poll()
    stack.reader.put(builders.issue_model_operation(by_number, ended=stack.clock.now))
    stack.poll()
    [first] = stack.publisher.published
    by_id = builders.name(6)

    with pytest.raises(replay.NotTracked) as refused:
        stack.replay(by_id)  # the number is not known: the ID spelling finds no record
    assert refused.value.name == by_id
    assert stack.clients_asked == 0

    again = stack.replay(by_id, spellings=(by_number,))

    assert again.operation == by_number
    assert again.attributes["ce-id"] == first.attributes["ce-id"]
    assert stack.reader.get_calls[-1] == by_number  # read as the record spells it


def test_a_published_operation_that_insights_forgot_since_is_refused_unpublished(
    stack: Stack,
) -> None:
    name = builders.name(7)
    stack.reader.put(builders.issue_model_operation(name))
    stack.poll()
    stack.reader.put(builders.issue_model_operation(name, ended=stack.clock.now))
    stack.poll()
    del stack.reader.operations[name]
    published = list(stack.publisher.published)

    with pytest.raises(replay.NothingToReplay, match="unknown operation: Insights has no "):
        stack.replay(name)

    assert stack.reader.get_calls[-1] == name
    assert stack.publisher.published == published


def test_a_failed_publish_is_raised_as_the_call_error(stack: Stack) -> None:
    name = builders.name(5)
    stack.reader.put(builders.issue_model_operation(name))
    stack.poll()
    stack.reader.put(builders.issue_model_operation(name, ended=stack.clock.now))
    stack.poll()
    stack.publisher.failing.add(name)

    with pytest.raises(CallError, match="topic unreachable"):
        stack.replay(name)
