"""Property: any interleaving of polls, completions, faults and crashes loses no completion and
duplicates one only after a poll died between publishing and recording (same ce-id then)."""

from __future__ import annotations

import collections
import datetime
from collections.abc import Sequence

import builders
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from insights_poller import core, events, names
from insights_poller.state.base import Publication

LEASE = datetime.timedelta(minutes=10)


class Crash(Exception):
    """The process died between publishing and recording."""


class CrashingStore(InMemoryStateStore):
    """Dies in ``mark_published`` while ``crashing`` is set."""

    crashing = False

    def mark_published(self, publications: Sequence[Publication]) -> None:
        if self.crashing:
            raise Crash
        super().mark_published(publications)


class PollerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(builders.T0)
        self.reader = FakeReader(page_size=3, clock=self.clock)
        self.store = CrashingStore()
        self.publisher = FakePublisher()
        self.running: list[str] = []
        self.finished: dict[str, str] = {}  # name -> state
        self.published_by_crashed_polls: set[str] = set()
        self.runs = 0

    def poll(self) -> core.PollSummary:
        self.runs += 1
        return core.poll(
            reader=self.reader,
            store=self.store,
            publisher=self.publisher,
            options=core.PollOptions(
                locations=(builders.LOCATION,),
                watch_since=None,
                claim_lease=LEASE,
                max_concurrency=2,
                budget=datetime.timedelta(minutes=4),
                publish_reserve=datetime.timedelta(minutes=1),
                max_pending_age=datetime.timedelta(days=30),
            ),
            clock=self.clock,
            run_id=f"run-{self.runs}",
            identity=names.ProjectIdentity(builders.PROJECT),
        )

    @initialize()
    def start_watching(self) -> None:
        self.poll()

    @rule()
    def start_operation(self) -> None:
        self.clock.advance(1)
        name = builders.name(len(self.running) + len(self.finished) + 1)
        self.reader.put(builders.issue_model_operation(name, created=self.clock.now))
        self.running.append(name)

    @rule(data=st.data(), outcome=st.sampled_from(["SUCCEEDED", "FAILED", "CANCELLED"]))
    def finish_operation(self, data: st.DataObject, outcome: str) -> None:
        if not self.running:
            return
        name = self.running.pop(data.draw(st.integers(0, len(self.running) - 1)))
        self.clock.advance(1)
        code = {"SUCCEEDED": None, "FAILED": code_pb2.INTERNAL, "CANCELLED": code_pb2.CANCELLED}
        error = None if code[outcome] is None else status_pb2.Status(code=code[outcome])
        created = builders.T0
        self.reader.put(
            builders.issue_model_operation(name, created=created, ended=self.clock.now, error=error)
        )
        self.finished[name] = outcome

    @rule(minutes=st.integers(0, 15))
    def let_time_pass(self, minutes: int) -> None:
        self.clock.advance(minutes * 60)

    @rule(
        fail_listing=st.booleans(),
        hide=st.sets(st.integers(0, 30), max_size=5),
        fail_gets=st.sets(st.integers(0, 30), max_size=5),
        fail_publishes=st.sets(st.integers(0, 30), max_size=5),
    )
    def poll_with_faults(
        self, fail_listing: bool, hide: set[int], fail_gets: set[int], fail_publishes: set[int]
    ) -> None:
        self.reader.failing_locations = {builders.LOCATION} if fail_listing else set()
        self.reader.hidden_from_listing = {builders.name(n) for n in hide}
        self.reader.failing_gets = {builders.name(n) for n in fail_gets}
        self.publisher.failing = {builders.name(n) for n in fail_publishes}
        try:
            self.poll()
        finally:
            self.reader.failing_locations = set()
            self.reader.hidden_from_listing = set()
            self.reader.failing_gets = set()
            self.publisher.failing = set()

    @rule()
    def poll_that_dies_before_recording(self) -> None:
        before = len(self.publisher.published)
        self.store.crashing = True
        try:
            self.poll()
        except Crash:
            pass
        finally:
            self.store.crashing = False
        self.published_by_crashed_polls |= {
            event.operation for event in self.publisher.published[before:]
        }

    @invariant()
    def nothing_unfinished_is_published_and_repeats_need_a_crash(self) -> None:
        counts = collections.Counter(event.operation for event in self.publisher.published)
        assert set(counts) <= set(self.finished)
        for name, count in counts.items():
            assert count == 1 or name in self.published_by_crashed_polls, name

    @invariant()
    def every_event_of_an_operation_is_the_same_event(self) -> None:
        seen: dict[str, tuple[str, str]] = {}
        for event in self.publisher.published:
            identity = (event.event_id, event.state)
            assert seen.setdefault(event.operation, identity) == identity
            assert event.event_id == events.event_id(event.operation)
            assert event.state == self.finished[event.operation]

    def teardown(self) -> None:
        """Once faults stop and leases run out, every completion has arrived."""
        self.clock.advance(LEASE.total_seconds() + 60)
        self.poll()
        self.poll()
        published = {event.operation for event in self.publisher.published}
        assert published == set(self.finished)


PollerMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_poller_state_machine = PollerMachine.TestCase
