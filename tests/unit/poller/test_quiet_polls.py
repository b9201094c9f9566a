"""Quiet polls cost O(pending), not O(history): finished operations an earlier poll's listing
showed and settled are passed by without reading their records, and none is lost for it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import builders
import pytest
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore

from insights_poller import core, names
from insights_poller.model import TrackedOperation


class ReadCountingStore(InMemoryStateStore):
    """Counts the records a poll reads by name."""

    def __init__(self) -> None:
        super().__init__()
        self.records_read = 0

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        wanted = list(names)
        self.records_read += len(wanted)
        return super().get_many(wanted)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(builders.T0)


def poll(
    reader: FakeReader, store: InMemoryStateStore, publisher: FakePublisher, clock: FakeClock
) -> core.PollSummary:
    clock.advance(300)
    return core.poll(
        reader=reader,
        store=store,
        publisher=publisher,
        options=core.PollOptions(
            locations=(builders.LOCATION,),
            watch_since=None,
            claim_lease=datetime.timedelta(minutes=10),
            max_concurrency=4,
            budget=datetime.timedelta(minutes=4),
            publish_reserve=datetime.timedelta(seconds=30),
            max_pending_age=datetime.timedelta(days=7),
        ),
        clock=clock,
        run_id=f"run-{clock.now.isoformat()}",
        identity=names.ProjectIdentity(builders.PROJECT),
    )


def test_a_quiet_poll_reads_no_record_of_the_finished_operations_it_lists(
    clock: FakeClock,
) -> None:
    reader, store, publisher = FakeReader(page_size=100), ReadCountingStore(), FakePublisher()
    poll(reader, store, publisher, clock)  # the watch starts
    for number in range(500):  # finish after the watch started: each is published once
        ended = clock.now + datetime.timedelta(seconds=1)
        reader.put(builders.issue_model_operation(builders.name(number), ended=ended))
    clock.advance(10)
    settling = poll(reader, store, publisher, clock)
    assert settling.published == 500
    store.records_read = 0

    quiet = [poll(reader, store, publisher, clock) for _ in range(3)]

    assert [s.published for s in quiet] == [0, 0, 0] and len(publisher.published) == 500
    assert store.records_read == 0  # before: 500 a poll, for ever
    assert [s.listed for s in quiet] == [500, 500, 500]


def test_an_operation_a_complete_listing_did_not_show_is_still_published(
    clock: FakeClock,
) -> None:
    reader, store, publisher = FakeReader(page_size=100), InMemoryStateStore(), FakePublisher()
    poll(reader, store, publisher, clock)
    hidden, shown = builders.name(1), builders.name(2)
    ended = clock.now + datetime.timedelta(seconds=1)  # after the watch started
    reader.put(builders.issue_model_operation(hidden, ended=ended))
    reader.put(builders.issue_model_operation(shown, ended=ended))
    reader.hidden_from_listing = {hidden}  # listings are eventually consistent
    poll(reader, store, publisher, clock)
    assert [event.operation for event in publisher.published] == [shown]

    reader.hidden_from_listing = set()
    poll(reader, store, publisher, clock)

    assert [event.operation for event in publisher.published] == [shown, hidden]


def test_an_operation_left_unsettled_is_looked_at_again(clock: FakeClock) -> None:
    reader, store, publisher = FakeReader(page_size=100), InMemoryStateStore(), FakePublisher()
    poll(reader, store, publisher, clock)
    name = builders.name(1)
    reader.put(
        builders.issue_model_operation(name, ended=clock.now + datetime.timedelta(seconds=1))
    )
    clock.advance(10)
    publisher.failing.add(name)
    assert poll(reader, store, publisher, clock).errors

    publisher.failing.clear()
    poll(reader, store, publisher, clock)

    assert [event.operation for event in publisher.published] == [name]
