"""Property: any interleaving of polls, completions, faults, time budgets, requests, overlapping
polls and crashes loses no completion and duplicates one only after a poll died between
publishing and recording (same ce-id then).

Every operation that finished after the watch started, or was named in a request, gets exactly
one event with its state; one that stayed pending past MAX_PENDING_AGE while a poll saw it
running may get EXPIRED instead. What is promised for undated operations (a kind the library
cannot date) is per location: those that finish after the location's history baseline is set.
"""

from __future__ import annotations

import collections
import datetime
from collections.abc import Sequence

import builders
from fakes import FakeClock, FakePublisher, FakeReader, InMemoryStateStore
from google.longrunning import operations_pb2
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from insights_poller import core, events, names
from insights_poller.model import EXPIRED, Outcome

LEASE = datetime.timedelta(minutes=10)
MAX_PENDING_AGE = datetime.timedelta(minutes=20)
LOCATIONS = (builders.LOCATION, "europe-west1")
UNDATED_METADATA = any_pb2.Any(
    type_url="type.googleapis.com/google.cloud.contactcenterinsights.v1.SampleConversationsMetadata"
)
STATUS = {
    "SUCCEEDED": None,
    "FAILED": status_pb2.Status(code=code_pb2.INTERNAL, message="failed"),
    "CANCELLED": status_pb2.Status(code=code_pb2.CANCELLED, message="cancelled"),
}


class Crash(Exception):
    """The process died between publishing and recording."""


class CrashingStore(InMemoryStateStore):
    """Dies in ``mark_settled`` while ``crashing`` is set."""

    crashing = False

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        if self.crashing:
            raise Crash
        super().mark_settled(outcomes)


def operation(
    name: str, *, undated: bool, created: datetime.datetime, ended: datetime.datetime | None
) -> operations_pb2.Operation:
    """An operation as Insights lists it: dated (CreateIssueModel) or of a kind the library
    cannot read (no time known), running until ``ended``."""
    state = None if ended is None else "SUCCEEDED"
    return finished(name, undated=undated, created=created, ended=ended, state=state)


def finished(
    name: str,
    *,
    undated: bool,
    created: datetime.datetime,
    ended: datetime.datetime | None,
    state: str | None,
) -> operations_pb2.Operation:
    if not undated:
        error = None if state is None else STATUS[state]
        return builders.issue_model_operation(name, created=created, ended=ended, error=error)
    result = operations_pb2.Operation(name=name, metadata=UNDATED_METADATA)
    if state is not None:
        result.done = True
        if STATUS[state] is None:
            result.response.CopyFrom(any_pb2.Any(type_url=UNDATED_METADATA.type_url + "Response"))
        else:
            result.error.CopyFrom(STATUS[state])
    return result


class PollerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(builders.T0)
        self.reader = FakeReader(page_size=3, clock=self.clock)
        self.store = CrashingStore()
        self.publisher = FakePublisher()
        self.budget = datetime.timedelta(minutes=4)
        self.undated: set[str] = set()
        self.location_of: dict[str, str] = {}
        self.running: list[str] = []
        self.finished: dict[str, str] = {}  # name -> state
        self.historic: set[str] = set()  # ended before the watch started
        self.requested: set[str] = set()  # named in a request that was answered
        self.before_baseline: set[str] = set()  # undated, finished before its location's baseline
        self.expired_while_running: set[str] = set()
        self.published_by_crashed_polls: set[str] = set()
        self.count = 0
        self.runs = 0
        self.noted = 0
        self.follow_ups = False
        self.finishing_during_follow_ups: list[tuple[int, str]] = []
        """(index into the running operations, outcome) to finish at each follow-up's wait."""

    # --- the world ---------------------------------------------------------------------------

    def new_name(self, location: str) -> str:
        self.count += 1
        name = builders.name(self.count, location)
        self.location_of[name] = location
        return name

    def poll(self, requested: Sequence[str] = (), run_id: str | None = None) -> core.PollSummary:
        """One poll; EXPIRED events it publishes must be of operations still running."""
        self.runs += 1
        try:
            return core.poll(
                reader=self.reader,
                store=self.store,
                publisher=self.publisher,
                options=core.PollOptions(
                    locations=LOCATIONS,
                    watch_since=None,
                    claim_lease=LEASE,
                    max_concurrency=2,
                    budget=self.budget,
                    publish_reserve=datetime.timedelta(minutes=1),
                    max_pending_age=MAX_PENDING_AGE,
                    follow_up_interval=datetime.timedelta(seconds=5 if self.follow_ups else 0),
                    follow_up_window=datetime.timedelta(seconds=55),
                ),
                clock=self.clock,
                run_id=run_id or f"run-{self.runs}",
                identity=names.ProjectIdentity(builders.PROJECT),
                requested=requested,
                sleep=self.wait_between_follow_ups,
            )
        finally:  # a poll that crashed has published too
            self.note_expired()

    def note_expired(self) -> None:
        """The EXPIRED events published since last noted were of operations still running."""
        for event in self.publisher.published[self.noted :]:
            if event.state == EXPIRED:
                assert event.operation not in self.finished, f"{event.operation} finished"
                self.expired_while_running.add(event.operation)
        self.noted = len(self.publisher.published)

    def wait_between_follow_ups(self, seconds: float) -> None:
        """Time passes, and operations finish meanwhile, as drawn."""
        self.clock.advance(seconds)
        self.note_expired()  # before an operation finishes: an expiry is judged when it was made
        if self.finishing_during_follow_ups and self.running:
            index, outcome = self.finishing_during_follow_ups.pop()
            self.finish(self.running.pop(index % len(self.running)), outcome)

    def finish(self, name: str, outcome: str) -> None:
        self.clock.advance(1)
        undated = name in self.undated
        self.reader.put(
            finished(
                name, undated=undated, created=builders.T0, ended=self.clock.now, state=outcome
            )
        )
        self.finished[name] = outcome
        if undated and self.location_of[name] not in self.store.baselines:
            self.before_baseline.add(name)

    def overlapping_polls(self, requested: Sequence[str] = ()) -> None:
        """Poll B runs whole while poll A is between its listing and its bookkeeping."""
        listing = self.reader.list_page
        ran: list[bool] = []

        def list_page_then_let_another_poll_run(
            location: str, page_token: str, timeout_seconds: float
        ) -> tuple[Sequence[operations_pb2.Operation], str]:
            page = listing(location, page_token, timeout_seconds)
            if not ran:
                ran.append(True)
                self.poll(run_id=f"run-{self.runs}-b")
            return page

        self.reader.list_page = list_page_then_let_another_poll_run  # type: ignore[method-assign]
        try:
            self.poll(requested)
        finally:
            self.reader.list_page = listing  # type: ignore[method-assign]

    # --- rules -------------------------------------------------------------------------------

    @initialize(
        history=st.lists(st.tuples(st.sampled_from(LOCATIONS), st.booleans()), max_size=4),
        first_listing_fails=st.booleans(),
        overlapping=st.booleans(),
    )
    def start_watching(
        self, history: list[tuple[str, bool]], first_listing_fails: bool, overlapping: bool
    ) -> None:
        old = builders.T0 - datetime.timedelta(days=2)
        for location, undated in history:
            name = self.new_name(location)
            self.reader.put(operation(name, undated=undated, created=old, ended=old))
            self.historic.add(name)
            if undated:
                self.undated.add(name)
        self.reader.failing_locations = {LOCATIONS[1]} if first_listing_fails else set()
        try:
            self.overlapping_polls() if overlapping else self.poll()
        finally:
            self.reader.failing_locations = set()

    @rule(location=st.sampled_from(LOCATIONS), undated=st.booleans())
    def start_operation(self, location: str, undated: bool) -> None:
        self.clock.advance(1)
        name = self.new_name(location)
        self.reader.put(operation(name, undated=undated, created=self.clock.now, ended=None))
        self.running.append(name)
        if undated:
            self.undated.add(name)

    @rule(data=st.data(), outcome=st.sampled_from(sorted(STATUS)))
    def finish_operation(self, data: st.DataObject, outcome: str) -> None:
        if not self.running:
            return
        self.finish(self.running.pop(data.draw(st.integers(0, len(self.running) - 1))), outcome)

    @rule(minutes=st.integers(0, 15))
    def let_time_pass(self, minutes: int) -> None:
        self.clock.advance(minutes * 60)

    @rule(
        data=st.data(),
        fail_location=st.sampled_from([None, *LOCATIONS]),
        hide=st.sets(st.integers(1, 30), max_size=5),
        fail_gets=st.sets(st.integers(1, 30), max_size=5),
        fail_publishes=st.sets(st.integers(1, 30), max_size=5),
        seconds_per_call=st.sampled_from([0, 1, 40]),
        overlapping=st.booleans(),
        outage=st.booleans(),
        follow_ups=st.booleans(),
        finishing=st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from(sorted(STATUS))), max_size=4
        ),
    )
    def poll_with_faults(
        self,
        data: st.DataObject,
        fail_location: str | None,
        hide: set[int],
        fail_gets: set[int],
        fail_publishes: set[int],
        seconds_per_call: int,
        overlapping: bool,
        outage: bool,
        follow_ups: bool,
        finishing: list[tuple[int, str]],
    ) -> None:
        every_name = sorted(self.location_of)
        requested = data.draw(
            st.lists(st.sampled_from(every_name), max_size=4) if every_name else st.just([])
        )
        by_number = {int(name.rsplit("/", 1)[1]): name for name in every_name}
        self.reader.failing_locations = {fail_location} if fail_location else set()
        self.reader.hidden_from_listing = {by_number[n] for n in hide if n in by_number}
        self.reader.failing_gets = {by_number[n] for n in fail_gets if n in by_number}
        if outage:  # Insights answers nothing: no listing, no GetOperation
            self.reader.failing_locations = set(LOCATIONS)
            self.reader.failing_gets = set(every_name)
        self.publisher.failing = {by_number[n] for n in fail_publishes if n in by_number}
        if seconds_per_call:  # 2 s of work after the reserve: checks are cut, and at 40 s a
            # call the settle chunks are not reached either
            self.reader.seconds_per_call = seconds_per_call
            self.budget = datetime.timedelta(seconds=62)
        self.follow_ups, self.finishing_during_follow_ups = follow_ups, finishing
        try:
            self.overlapping_polls(requested) if overlapping else self.poll(requested)
        finally:
            self.follow_ups, self.finishing_during_follow_ups = False, []
            self.reader.failing_locations = set()
            self.reader.hidden_from_listing = set()
            self.reader.failing_gets = set()
            self.publisher.failing = set()
            self.reader.seconds_per_call = 0
            self.budget = datetime.timedelta(minutes=4)
        self.requested |= set(requested)  # promised: an event each, history or not

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

    # --- what must hold ----------------------------------------------------------------------

    @invariant()
    def repeats_need_a_crash_and_history_stays_quiet(self) -> None:
        counts = collections.Counter(event.operation for event in self.publisher.published)
        for name, count in counts.items():
            assert count == 1 or name in self.published_by_crashed_polls, name
            if name in self.historic:
                assert name in self.requested, f"{name} ended before the watch: no event"
            if name not in self.finished:
                assert name in self.expired_while_running or name in self.requested, name

    @invariant()
    def every_event_of_an_operation_is_the_same_event(self) -> None:
        seen: dict[str, tuple[str, str]] = {}
        for event in self.publisher.published:
            identity = (event.event_id, event.state)
            first = seen.setdefault(event.operation, identity)
            # Known limit (README, Guarantees): a poll that dies after publishing EXPIRED leaves
            # no record of that decision; if the operation finishes before the lease runs out,
            # the re-publish (same ce-id) carries its real outcome.
            assert first == identity or (
                first[1] == EXPIRED and event.operation in self.published_by_crashed_polls
            )
            assert event.event_id == events.event_id(event.operation)
            if event.state != EXPIRED and event.operation not in self.historic:
                assert event.state == self.finished[event.operation]

    def teardown(self) -> None:
        """Once faults stop and leases run out, every promised completion has arrived."""
        self.clock.advance(LEASE.total_seconds() + 60)
        self.poll()
        self.poll()
        published = {event.operation for event in self.publisher.published}
        promised = (set(self.finished) - self.before_baseline) | (
            self.requested & (set(self.finished) | self.historic)
        )
        assert promised <= published, sorted(promised - published)
        assert published <= promised | self.before_baseline | self.expired_while_running


PollerMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_poller_state_machine = PollerMachine.TestCase
