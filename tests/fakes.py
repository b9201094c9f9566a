"""In-memory fakes of the poll's collaborators, for fast unit tests of the core."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contract import assert_valid_event
from google.longrunning import operations_pb2

from insights_poller.model import (
    HISTORY,
    PENDING,
    SETTLED,
    Event,
    NewOperation,
    Outcome,
    TrackedOperation,
)
from insights_poller.ports import BudgetExhausted, CallError, IncompleteClaim
from insights_poller.state.rules import (
    as_utc,
    by_name,
    claimable,
    initial_record,
    new_record,
    pending_order,
    unique,
    with_claim,
)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class FakeReader:
    """Operations by name; listing pages in insertion order; faults by name or location.

    With a ``clock`` and ``seconds_per_call``, every call takes that long on the clock.
    """

    def __init__(
        self, page_size: int = 2, clock: FakeClock | None = None, seconds_per_call: float = 0
    ) -> None:
        self.operations: dict[str, operations_pb2.Operation] = {}
        self.page_size = page_size
        self.clock = clock
        self.seconds_per_call = seconds_per_call
        self.failing_locations: set[str] = set()
        self.failing_gets: set[str] = set()
        self.hidden_from_listing: set[str] = set()
        self.rest_bodies: dict[str, dict[str, Any]] = {}
        """What the REST read answers, by name (NOT_FOUND for others)."""
        self.failing_rest_reads: set[str] = set()
        self.project_numbers: dict[str, str] = {}
        """Project ID -> number: a request may use either, as with Insights, which answers
        with the number; operations are then ``put`` under their number spelling."""
        self.list_calls = 0
        self.get_calls: list[str] = []
        self.rest_calls: list[str] = []
        self._lock = threading.Lock()

    def put(self, operation: operations_pb2.Operation) -> None:
        self.operations[operation.name] = operation

    def list_page(
        self, location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        self._spend(timeout_seconds)
        self.list_calls += 1
        if location in self.failing_locations:
            raise CallError("UNAVAILABLE", f"listing {location} failed")
        matching = [
            operation
            for name, operation in self.operations.items()
            if f"/locations/{location}/" in name and name not in self.hidden_from_listing
        ]
        start = int(page_token or 0)
        end = start + self.page_size
        return matching[start:end], str(end) if end < len(matching) else ""

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        self._spend(timeout_seconds)
        with self._lock:
            self.get_calls.append(name)
        if name in self.failing_gets:
            raise CallError("UNAVAILABLE", f"get {name} failed")
        return self.operations.get(self._numbered(name))

    def read_operation_json(self, name: str, timeout_seconds: float) -> dict[str, Any] | None:
        self._spend(timeout_seconds)
        with self._lock:
            self.rest_calls.append(name)
        if name in self.failing_rest_reads:
            raise CallError("UNAVAILABLE", f"REST read of {name} failed")
        return self.rest_bodies.get(self._numbered(name))

    def _numbered(self, name: str) -> str:
        project = name.split("/")[1]
        number = self.project_numbers.get(project)
        return (
            name if number is None else name.replace(f"projects/{project}/", f"projects/{number}/")
        )

    def _spend(self, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise BudgetExhausted("no time left")
        if self.clock is not None:
            with self._lock:
                self.clock.advance(self.seconds_per_call)


class FakePublisher:
    """Keeps what it published; fails the operations named in ``failing``."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.failing: set[str] = set()
        self.timeouts: list[float] = []

    def publish(
        self, events: Sequence[Event], timeout_seconds: float
    ) -> Mapping[str, CallError | None]:
        self.timeouts.append(timeout_seconds)
        outcomes: dict[str, CallError | None] = {}
        for event in events:
            if event.operation in self.failing:
                outcomes[event.operation] = CallError("UNAVAILABLE", "topic unreachable")
            else:
                assert_valid_event(event.data, event.attributes)
                self.published.append(event)
                outcomes[event.operation] = None
        return outcomes


class InMemoryStateStore:
    """A StateStore in a dict, counting its writes.

    It applies the real stores' rules (``insights_poller.state.rules``) and runs their
    contract tests (``tests/state_contract.py``), so it cannot drift from them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watch_start: datetime.datetime | None = None
        self.records: dict[str, TrackedOperation] = {}
        self.cursors: dict[str, str] = {}
        self.baselines: set[str] = set()
        self.follower: str | None = None
        self.fingerprints: dict[str, frozenset[int]] = {}
        self.writes = 0
        self.failing_claims: set[str] = set()
        """Names whose claim write fails (UNAVAILABLE): ``claim`` raises ``IncompleteClaim``."""

    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        now = as_utc(now)
        with self._lock:
            if self._watch_start is None:
                self._watch_start = now
                self.writes += 1
            return self._watch_start

    def listing_cursor(self, location: str) -> str:
        with self._lock:
            return self.cursors.get(location, "")

    def save_listing_cursor(self, location: str, page_token: str) -> None:
        with self._lock:
            if page_token:
                self.cursors[location] = page_token
            else:
                self.cursors.pop(location, None)
            self.writes += 1

    def baselined_locations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self.baselines)

    def mark_baselined(self, location: str, now: datetime.datetime) -> None:
        with self._lock:
            if location not in self.baselines:
                self.baselines.add(location)
                self.writes += 1

    def settled_fingerprints(self, locations: Sequence[str]) -> dict[str, frozenset[int]]:
        with self._lock:
            return {
                location: self.fingerprints.get(location, frozenset()) for location in locations
            }

    def save_settled_fingerprints(self, location: str, fingerprints: frozenset[int]) -> None:
        with self._lock:
            self.fingerprints[location] = fingerprints
            self.writes += 1

    def take_follow_ups(self, run_id: str) -> None:
        with self._lock:
            self.follower = run_id
            self.writes += 1

    def follow_up_owner(self) -> str | None:
        with self._lock:
            return self.follower

    def pending(self) -> list[TrackedOperation]:
        with self._lock:
            pending = [r for r in self.records.values() if r.status == PENDING]
        return sorted(pending, key=pending_order)

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        wanted = unique(names)
        with self._lock:
            return {name: self.records[name] for name in wanted if name in self.records}

    def all_records(self) -> list[TrackedOperation]:
        with self._lock:
            return sorted(self.records.values(), key=lambda r: (r.first_seen, r.name))

    def track(
        self,
        operations: Sequence[NewOperation],
        now: datetime.datetime,
        *,
        history: bool = False,
        reopen_history: bool = False,
    ) -> int:
        now = as_utc(now)
        with self._lock:
            new = 0
            for name, operation in by_name(operations).items():
                current = self.records.get(name)
                if current is not None and reopen_history and current.state == HISTORY:
                    self.records[name] = dataclasses.replace(
                        current, status=PENDING, state=None, published_at=None
                    )
                    self.writes += 1
                    new += 1
                elif current is None:
                    self.records[name] = initial_record(operation, now, history=history)
                    self.writes += 1
                    new += 1
            return new

    def mark_checked(self, names: Sequence[str], now: datetime.datetime) -> None:
        now = as_utc(now)
        with self._lock:
            for name in unique(names):
                if name in self.records:
                    self.records[name] = dataclasses.replace(self.records[name], last_checked=now)
                    self.writes += 1

    def claim(
        self,
        operations: Sequence[NewOperation],
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> dict[str, TrackedOperation]:
        now, lease_until = as_utc(now), as_utc(lease_until)
        claimed: dict[str, TrackedOperation] = {}
        failed: dict[str, tuple[str, str]] = {}
        with self._lock:
            for name, operation in by_name(operations).items():
                record = self.records.get(name) or new_record(operation, now)
                if not claimable(record, owner, now):
                    continue
                if name in self.failing_claims:  # the write was tried, and failed
                    failed[name] = ("UNAVAILABLE", f"claim of {name} failed")
                    continue
                record = with_claim(record, owner, now, lease_until)
                self.records[name] = record
                self.writes += 1
                claimed[name] = record
        if failed:
            raise IncompleteClaim(claimed, failed)
        return claimed

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        with self._lock:
            for outcome in outcomes:
                record = self.records.get(outcome.name)
                if record is None:
                    continue
                self.records[outcome.name] = dataclasses.replace(
                    record,
                    status=SETTLED,
                    state=outcome.state,
                    published_at=as_utc(outcome.at),
                    claim_owner=None,
                    claim_until=None,
                )
                self.writes += 1

    def release(self, names: Sequence[str], owner: str) -> None:
        with self._lock:
            for name in unique(names):
                record = self.records.get(name)
                if record is not None and record.status == PENDING and record.claim_owner == owner:
                    self.records[name] = dataclasses.replace(
                        record, claim_owner=None, claim_until=None
                    )
                    self.writes += 1

    def close(self) -> None:
        pass
