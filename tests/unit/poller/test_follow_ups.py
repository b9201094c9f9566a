"""Follow-ups, on fakes and a fake clock: once a poll leaves operations running, the same
invocation re-checks them every few seconds and publishes each as it finishes, within the
window and the budget, reading as little as it can."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

import builders
import pytest
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore
from google.longrunning import operations_pb2

from insights_poller import core, names

INTERVAL = datetime.timedelta(seconds=5)
WINDOW = datetime.timedelta(seconds=55)


class ScheduledReader(FakeReader):
    """A reader whose operations change when the clock reaches the time they were put for."""

    def __init__(self, clock: FakeClock, **options: float) -> None:
        super().__init__(clock=clock, **options)  # type: ignore[arg-type]
        self.fake_clock = clock
        self.scheduled: list[tuple[datetime.datetime, operations_pb2.Operation]] = []

    def put_at(self, moment: datetime.datetime, operation: operations_pb2.Operation) -> None:
        self.scheduled.append((moment, operation))

    def _apply(self) -> None:
        due = [(m, o) for m, o in self.scheduled if m <= self.fake_clock.now]
        for item in due:
            self.scheduled.remove(item)
            self.put(item[1])

    def list_page(
        self, location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        self._apply()
        return super().list_page(location, page_token, timeout_seconds)

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        self._apply()
        return super().get_operation(name, timeout_seconds)


@dataclasses.dataclass
class World:
    reader: ScheduledReader
    store: InMemoryStateStore
    publisher: FakePublisher
    clock: FakeClock
    sleeps: list[float] = dataclasses.field(default_factory=list)
    interval: datetime.timedelta = INTERVAL
    window: datetime.timedelta = WINDOW
    budget: datetime.timedelta = datetime.timedelta(minutes=4)
    locations: tuple[str, ...] = (builders.LOCATION,)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def poll(self) -> core.PollSummary:
        return core.poll(
            reader=self.reader,
            store=self.store,
            publisher=self.publisher,
            options=core.PollOptions(
                locations=self.locations,
                watch_since=None,
                claim_lease=datetime.timedelta(minutes=10),
                max_concurrency=4,
                budget=self.budget,
                publish_reserve=datetime.timedelta(seconds=30),
                max_pending_age=datetime.timedelta(days=7),
                follow_up_interval=self.interval,
                follow_up_window=self.window,
            ),
            clock=self.clock,
            run_id=f"run-{self.clock.now.isoformat()}",
            identity=names.ProjectIdentity(builders.PROJECT),
            sleep=self.sleep,
        )

    def running(self, number: int, location: str = builders.LOCATION) -> str:
        name = builders.name(number, location)
        self.reader.put(builders.issue_model_operation(name, created=self.clock.now))
        return name

    def ends_in(self, name: str, seconds: float, *, failing: bool = False) -> None:
        ended = self.clock.now + datetime.timedelta(seconds=seconds)
        error = None
        if failing:
            from google.rpc import code_pb2, status_pb2  # noqa: PLC0415

            error = status_pb2.Status(code=code_pb2.INTERNAL, message="boom")
        operation = builders.issue_model_operation(
            name, created=builders.T0, ended=ended, error=error
        )
        self.reader.put_at(ended, operation)


@pytest.fixture
def world() -> World:
    clock = FakeClock(builders.T0)
    return World(ScheduledReader(clock), InMemoryStateStore(), FakePublisher(), clock)


def test_an_operation_ending_seconds_after_the_poll_is_published_by_the_same_invocation(
    world: World,
) -> None:
    name = world.running(1)
    world.ends_in(name, 3)

    summary = world.poll()

    assert [event.operation for event in world.publisher.published] == [name]
    assert summary.follow_ups == 1 and summary.pending == 0
    [published] = summary.published_events
    assert published.detection_latency_seconds is not None
    assert 0 <= published.detection_latency_seconds <= INTERVAL.total_seconds()
    assert summary.to_json()["detectionLatencySeconds"] == {
        "p50": published.detection_latency_seconds,
        "max": published.detection_latency_seconds,
    }
    assert summary.to_json()["followUps"] == 1


def test_with_nothing_running_the_invocation_returns_at_once(world: World) -> None:
    summary = world.poll()

    assert world.sleeps == [] and summary.follow_ups == 0
    assert summary.to_json()["detectionLatencySeconds"] == {"p50": None, "max": None}


def test_follow_ups_off_leave_the_completion_to_the_next_poll(world: World) -> None:
    world.interval = datetime.timedelta(0)
    name = world.running(1)
    world.ends_in(name, 3)

    summary = world.poll()

    assert world.sleeps == [] and world.publisher.published == []
    assert summary.pending == 1


def test_follow_ups_end_with_the_window_and_leave_what_still_runs_pending(world: World) -> None:
    world.running(1)

    summary = world.poll()

    # A round every 5 s, the last at the window's end: at 5, 10, ..., 55 s.
    assert world.sleeps == [5.0] * 11 and summary.follow_ups == 11
    assert world.clock.now - builders.T0 == WINDOW
    assert summary.pending == 1 and summary.ok


def test_follow_ups_never_run_past_the_budget_whatever_the_window(world: World) -> None:
    world.reader.seconds_per_call = 2.0  # every Insights call takes 2 s of the budget
    world.budget = datetime.timedelta(seconds=60)  # work deadline: 60 - 30 = 30 s
    world.window = datetime.timedelta(minutes=10)
    world.running(1)

    summary = world.poll()

    assert summary.follow_ups >= 1
    assert summary.duration_seconds <= world.budget.total_seconds()
    assert summary.pending == 1


def test_many_running_in_one_location_are_followed_by_listing_until_all_were_seen(
    world: World,
) -> None:
    world.reader.page_size = 5
    running = [world.running(n) for n in range(10)]  # two pages
    for n in range(20, 30):  # finished long ago, listed after the running ones
        world.reader.put(builders.issue_model_operation(builders.name(n), ended=builders.T0))
    world.ends_in(running[0], 7)
    world.ends_in(running[9], 7)
    world.window = datetime.timedelta(seconds=11)  # rounds at 5, 10 and 11 s

    summary = world.poll()

    # The first listing took 4 pages; 10 running operations: one listing of 2 pages a round
    # (stopped once all ten were seen) beats 10 GetOperation calls.
    assert world.reader.get_calls == []
    assert world.reader.list_calls == 4 + 3 * 2
    assert {e.operation for e in world.publisher.published} == {running[0], running[9]}
    assert summary.follow_ups == 3 and summary.pending == 8


def test_few_running_among_a_long_listing_are_followed_with_get_operation(world: World) -> None:
    world.reader.page_size = 2
    for n in range(20, 30):  # five pages of finished operations
        world.reader.put(builders.issue_model_operation(builders.name(n), ended=builders.T0))
    name = world.running(1)
    world.ends_in(name, 12)

    summary = world.poll()

    assert world.reader.list_calls == 6  # the poll's own listing only
    assert world.reader.get_calls == [name] * 3  # at 5, 10 and 15 s
    assert [event.operation for event in world.publisher.published] == [name]
    assert summary.follow_ups == 3


def test_an_operation_started_and_ended_between_rounds_is_published_by_a_listing(
    world: World,
) -> None:
    running = [world.running(n) for n in range(3)]
    quick = builders.name(50)
    world.reader.put_at(
        builders.T0 + datetime.timedelta(seconds=6),
        builders.issue_model_operation(
            quick,
            created=builders.T0 + datetime.timedelta(seconds=6),
            ended=builders.T0 + datetime.timedelta(seconds=8),
        ),
    )
    world.window = datetime.timedelta(seconds=11)

    world.poll()

    assert [event.operation for event in world.publisher.published] == [quick]
    assert all(name in world.store.get_many(running) for name in running)


def test_a_publish_that_fails_in_a_follow_up_is_left_for_the_next_poll(world: World) -> None:
    name = world.running(1)
    world.ends_in(name, 3)
    world.publisher.failing.add(name)

    summary = world.poll()

    assert [error.stage for error in summary.errors] == ["publish"]  # tried once, not each round
    assert summary.follow_ups == 1 and summary.pending == 1
    world.publisher.failing.clear()
    world.clock.advance(60)
    world.poll()
    assert [event.operation for event in world.publisher.published] == [name]


def test_latency_is_measured_from_the_end_to_the_publish(world: World) -> None:
    first, second = world.running(1), world.running(2)
    world.ends_in(first, 1)
    world.ends_in(second, 9)

    summary = world.poll()

    latencies = {e.operation: e.detection_latency_seconds for e in summary.published_events}
    assert latencies == {first: 4.0, second: 1.0}  # found by the rounds at 5 s and at 10 s
    assert summary.detection_latency() == {"p50": 2.5, "max": 4.0}


def test_a_later_poll_that_takes_the_follow_ups_over_stops_this_one(world: World) -> None:
    world.running(1)
    sleeps_before = len(world.sleeps)

    def next_tick_after_two_rounds(seconds: float) -> None:
        world.clock.advance(seconds)
        world.sleeps.append(seconds)
        if len(world.sleeps) - sleeps_before == 3:
            world.store.take_follow_ups("the-next-tick")

    world.sleep = next_tick_after_two_rounds  # type: ignore[method-assign]

    summary = world.poll()

    assert summary.follow_ups == 2 and summary.pending == 1
    assert world.reader.get_calls == [builders.name(1)] * 2


def test_the_summary_says_how_long_the_oldest_owed_operation_has_been_pending(
    world: World,
) -> None:
    world.interval = datetime.timedelta(0)
    assert world.poll().to_json()["oldestPendingAgeSeconds"] is None
    world.running(1)  # created now
    world.clock.advance(600)
    world.running(2)
    world.clock.advance(30)

    summary = world.poll()

    assert summary.pending == 2
    assert summary.to_json()["oldestPendingAgeSeconds"] == 630.0
