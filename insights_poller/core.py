"""One poll: discover, check, claim, publish, record. Pure of any client library.

The order matters for the guarantees in the README: an operation is claimed in the
state store before its event is published and marked published after, so the only
possible repeat is a re-publish (same ``ce-id``) after a poll died in between.

A poll has a time budget. Discovery and checks start no new call once only the publish
reserve is left, and listing stops at half of that work time so that checks always get
some. A cut listing resumes where it stopped next poll; pending operations a poll did not
reach are checked first next time (the state store hands them out least recently checked
first), so none starves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.longrunning import operations_pb2

from insights_poller import events, names, timestamps
from insights_poller.names import operation_parts
from insights_poller.ports import BudgetExhausted, CallError, EventPublisher, OperationsReader
from insights_poller.state._common import HISTORY, by_name, new_record
from insights_poller.state.base import (
    IncompleteClaim,
    NewOperation,
    Publication,
    StateStore,
    TrackedOperation,
)

Clock = Callable[[], datetime.datetime]

SKIPPED = "SKIPPED"
"""The recorded state of a finished operation whose type OPERATION_TYPES leaves out."""
LISTING_SHARE = 0.5
SETTLE_CHUNK = 500
"""Operations claimed, published and recorded together: bounds memory, and what a crash repeats."""
MIN_PUBLISH_SECONDS = 1.0
"""A settle chunk starts only with at least this much of the budget left."""
EXPIRED_NOT_FOUND = "NOT_FOUND"
EXPIRED_MAX_PENDING_AGE = "MAX_PENDING_AGE"


@dataclasses.dataclass(frozen=True)
class PollOptions:
    locations: tuple[str, ...]
    watch_since: datetime.datetime | None
    claim_lease: datetime.timedelta
    max_concurrency: int
    budget: datetime.timedelta
    publish_reserve: datetime.timedelta
    max_pending_age: datetime.timedelta
    operation_types: frozenset[str] | None = None
    """Publish only these kinds; the others are recorded as SKIPPED. None publishes all."""


@dataclasses.dataclass(frozen=True)
class PollError:
    """Something that did not work this poll; the next poll tries it again."""

    stage: str
    code: str
    message: str
    operation: str | None = None
    location: str | None = None

    def to_json(self) -> dict[str, str]:
        fields = {"stage": self.stage, "code": self.code, "message": self.message}
        if self.operation:
            fields["operation"] = self.operation
        if self.location:
            fields["location"] = self.location
        return fields


@dataclasses.dataclass(frozen=True)
class PublishedEvent:
    """What the summary keeps of a published event (not its data: a poll may publish many)."""

    operation: str
    state: str
    operation_type: str
    event_id: str

    @classmethod
    def of(cls, event: events.Event) -> PublishedEvent:
        return cls(event.operation, event.state, event.attributes["operationType"], event.event_id)


@dataclasses.dataclass
class PollSummary:
    """What one poll did; the HTTP answer and the log line."""

    run_id: str
    watch_start: datetime.datetime
    listed: int = 0
    newly_tracked: int = 0
    checked: int = 0
    published: int = 0
    expired: int = 0
    pending: int = 0
    claimed_elsewhere: int = 0
    skipped: int = 0
    not_reached: int = 0
    lossy_bodies: int = 0
    listing_complete: bool = True
    not_found: list[str] = dataclasses.field(default_factory=list)
    errors: list[PollError] = dataclasses.field(default_factory=list)
    published_by_state: dict[str, int] = dataclasses.field(default_factory=dict)
    published_events: list[PublishedEvent] = dataclasses.field(default_factory=list)
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "published": self.published,
            "pending": self.pending,
            "errors": len(self.errors),
            "publishedByState": self.published_by_state,
            "expired": self.expired,
            "newlyTracked": self.newly_tracked,
            "listed": self.listed,
            "listingComplete": self.listing_complete,
            "checked": self.checked,
            "notReached": self.not_reached,
            "claimedElsewhere": self.claimed_elsewhere,
            "skipped": self.skipped,
            "lossyBodies": self.lossy_bodies,
            "notFound": self.not_found,
            "watchStart": timestamps.format_rfc3339(self.watch_start),
            "durationSeconds": round(self.duration_seconds, 3),
            "errorDetails": [error.to_json() for error in self.errors],
        }


def poll(
    *,
    reader: OperationsReader,
    store: StateStore,
    publisher: EventPublisher,
    options: PollOptions,
    clock: Clock,
    run_id: str,
    identity: names.ProjectIdentity,
    requested: Sequence[str] = (),
) -> PollSummary:
    """Run one poll. ``requested``: operation names to check now and track (already validated,
    in the watched project under either spelling); ``identity`` learns the project number from
    what the API answers, and state is keyed by the API's spelling."""
    return _Poll(reader, store, publisher, options, clock, run_id, identity).run(requested)


_NOT_REACHED = object()
_LOSSY = object()
"""The REST read of a body failed: the event carries what gRPC gave, marked ``lossyBody``."""


class _Poll:
    """The state of one poll while it runs: what it found and what it did."""

    def __init__(
        self,
        reader: OperationsReader,
        store: StateStore,
        publisher: EventPublisher,
        options: PollOptions,
        clock: Clock,
        run_id: str,
        identity: names.ProjectIdentity,
    ) -> None:
        self.reader = reader
        self.identity = identity
        self.store = store
        self.publisher = publisher
        self.options = options
        self.clock = clock
        self.run_id = run_id
        self.started = clock()
        self.deadline = self.started + options.budget
        self.work_deadline = self.deadline - options.publish_reserve
        # Listing gets at most half the work time, so checks always get some too.
        self.listing_deadline = self.started + (self.work_deadline - self.started) * LISTING_SHARE
        self.summary = PollSummary(run_id=run_id, watch_start=self.started)
        # Done operations to publish; tracked ones to expire, with the reason; the names
        # newly tracked as pending.
        self.done: dict[str, operations_pb2.Operation] = {}
        self.expiring: dict[str, tuple[TrackedOperation, str]] = {}
        self.tracked: dict[str, NewOperation] = {}
        # Operations this poll published, recorded as SKIPPED, or left to another poll's claim.
        self.settled: set[str] = set()
        # Operations the API showed not done this poll (listed, or answered): only these may
        # expire for age, never one whose check failed or was not reached.
        self.seen_running: set[str] = set()
        # Locations whose listing was cut short or failed this poll.
        self.incomplete_locations: set[str] = set()

    def run(self, requested: Sequence[str]) -> PollSummary:
        stored_start = self.store.watch_start(self.started)  # the first poll stores its time
        watch_start = self.options.watch_since or stored_start
        self.summary.watch_start = watch_start
        # Read the records and baselines while the listings run: all are round trips.
        with ThreadPoolExecutor(max_workers=2) as background:
            pending_records = background.submit(self.store.pending)
            baselined = background.submit(self.store.baselined_locations)
            listings = self._list_all_locations()
            pending = {record.name: record for record in pending_records.result()}

        # The listings taught the project number: requested names now match the API's spelling.
        requested = list(dict.fromkeys(self.identity.canonical(name) for name in requested))
        seen = self._discover(listings, pending, watch_start, baselined.result(), set(requested))
        # Requested names first (someone asked), then pending ones least recently checked first.
        to_check = [n for n in dict.fromkeys([*requested, *pending]) if n not in seen]
        self._check(to_check, pending)
        self._expire_stuck(pending)
        self._publish()
        self._keep_requested(requested, pending)

        # Still owed an event: what is pending, and what finished but was not settled this poll
        # (a publish that failed, or what the budget did not reach).
        owed = set(pending) | set(self.tracked) | set(self.done) | set(self.expiring)
        self.summary.pending = len(owed - self.settled)
        self.summary.duration_seconds = (self.clock() - self.started).total_seconds()
        return self.summary

    def _keep_requested(
        self, requested: Sequence[str], pending: dict[str, TrackedOperation]
    ) -> None:
        """Track every requested name this poll did not settle (its check or its publish was not
        reached, or failed), so that no later poll takes it for history: a pending record is
        published once done, whenever it ended. One never answered is tracked as ``Unknown``;
        if the API turns out not to know it, it ends as EXPIRED (NOT_FOUND) like any other."""
        not_found = set(self.summary.not_found)
        canonical = dict.fromkeys(self.identity.canonical(name) for name in requested)
        unsettled = [
            name
            for name in canonical
            if name not in self.settled
            and name not in pending
            and name not in self.tracked
            and name not in not_found
        ]
        if unsettled:  # reopening history too: a request named it, so it is to be published
            keep = [
                events.describe(self.done[name]) if name in self.done else _unanswered(name)
                for name in unsettled
            ]
            self.summary.newly_tracked += self.store.track(keep, self.clock(), reopen_history=True)
            self.tracked.update((operation.name, operation) for operation in keep)

    def _work_seconds_left(self) -> float:
        return (self.work_deadline - self.clock()).total_seconds()

    def _list_all_locations(self) -> list[list[Sequence[operations_pb2.Operation]]]:
        """Every location's pages, the locations listed in parallel."""
        locations = self.options.locations
        with ThreadPoolExecutor(max_workers=min(len(locations), 8)) as pool:
            return list(pool.map(lambda location: list(self._pages(location)), locations))

    def _discover(
        self,
        listings: Sequence[Sequence[Sequence[operations_pb2.Operation]]],
        pending: dict[str, TrackedOperation],
        watch_start: datetime.datetime,
        baselined: frozenset[str],
        requested: set[str],
    ) -> set[str]:
        """Sort what the listings showed; returns the names they showed (done or not).

        A done operation never seen pending is published when it ended after the watch
        started, or when a request named it; older ones are history. One whose metadata
        gives no time (a type this library can't read, or an empty metadata) is history
        until one complete listing of its location has set that location's baseline, and
        recorded as such; after that it is new. Per location, so that a listing that failed
        or was cut, or a location added later, never turns old operations into new ones.
        """
        seen: set[str] = set()
        new: list[NewOperation] = []
        undated_history: list[NewOperation] = []
        candidates: dict[str, operations_pb2.Operation] = {}
        for location, listing in zip(self.options.locations, listings, strict=True):
            for page in listing:
                for operation in page:
                    seen.add(operation.name)
                    if not operation.done:
                        self.seen_running.add(operation.name)
                        if operation.name not in pending:
                            new.append(events.describe(operation))
                    elif operation.name in pending:
                        self.done[operation.name] = operation
                    elif operation.name in requested:
                        candidates[operation.name] = operation
                    else:
                        ended_after = _ended_after(operation, watch_start)
                        if ended_after is None and location not in baselined:
                            undated_history.append(events.describe(operation))
                        elif ended_after is not False:
                            candidates[operation.name] = operation
        self.summary.listed = len(seen)
        if candidates:
            # Done since the watch started and not pending here: publish unless already published.
            known = self.store.get_many(candidates)
            for name, operation in candidates.items():
                record = known.get(name)
                if (
                    record is None
                    or record.status == "PENDING"
                    or (record.state == HISTORY and name in requested)
                ):
                    self.done[name] = operation
        if new:  # running, and not pending here: new, unless already settled (expired for age)
            settled = self.store.get_many(operation.name for operation in new)
            self._track([operation for operation in new if operation.name not in settled])
        if undated_history:  # never over a record: another poll may have tracked one meanwhile
            self.store.track(undated_history, self.clock(), history=True)
        for location in self.options.locations:
            if location not in baselined and location not in self.incomplete_locations:
                self.store.mark_baselined(location, self.clock())
        return seen

    def _pages(self, location: str) -> Iterator[Sequence[operations_pb2.Operation]]:
        """A location's listing, page by page, within the listing's share of the budget.

        A listing cut short by the budget is resumed there by the next poll (the cursor is
        kept in the state store), then wraps around to the first page: over a few polls,
        every page is seen even when one poll cannot list them all.
        """
        cursor = self.store.listing_cursor(location)
        page_token, wrapped = cursor, not cursor
        while True:
            seconds_left = (self.listing_deadline - self.clock()).total_seconds()
            try:
                if seconds_left <= 0:
                    raise BudgetExhausted(location)
                operations, next_token = self.reader.list_page(location, page_token, seconds_left)
            except BudgetExhausted:
                self.summary.listing_complete = False
                self.incomplete_locations.add(location)
                if page_token != cursor:
                    self.store.save_listing_cursor(location, page_token)
                return
            except CallError as error:
                if error.code == "INVALID_ARGUMENT" and page_token and page_token == cursor:
                    page_token, wrapped = "", True  # the stored token went stale: start over
                    continue
                self.summary.listing_complete = False
                self.incomplete_locations.add(location)
                self.summary.errors.append(
                    PollError("list", error.code, error.message, location=location)
                )
                return
            if operations:
                self.identity.learn(operations[0].name)
            yield operations
            page_token = next_token
            if not page_token:
                if wrapped:
                    if cursor:
                        self.store.save_listing_cursor(location, "")
                    return
                wrapped = True

    def _track(self, new: Sequence[NewOperation]) -> None:
        if new:
            self.summary.newly_tracked += self.store.track(new, self.clock())
            self.tracked.update((operation.name, operation) for operation in new)

    def _check(self, names: Sequence[str], pending: dict[str, TrackedOperation]) -> None:
        """GetOperation for what the listings did not settle, a bounded number at a time.

        What the API answers is keyed by the name it answers with: a name requested with the
        project ID comes back with the number, and is then one operation with the listed one.
        """
        if not names:
            return
        known = {name: pending[name] for name in names if name in pending}
        unknown = [name for name in names if name not in known]
        if unknown:
            known.update(self.store.get_many(unknown))
        results = self._calls(names, self.reader.get_operation, self._work_seconds_left)
        answered = {
            result.name
            for result in results.values()
            if isinstance(result, operations_pb2.Operation)
        }
        for name in answered:
            self.identity.learn(name)
        if answered - known.keys():
            known.update(self.store.get_many(answered - known.keys()))
        new: list[NewOperation] = []
        checked: list[str] = []
        for asked, result in results.items():
            if result is _NOT_REACHED:
                self.summary.not_reached += 1
                continue
            if isinstance(result, CallError):
                self.summary.errors.append(
                    PollError("get", result.code, result.message, operation=asked)
                )
                continue
            self.summary.checked += 1
            if result is None:
                record = known.get(asked)
                if record is None:
                    self.summary.not_found.append(asked)
                elif record.status == "PENDING":
                    self.expiring[asked] = (record, EXPIRED_NOT_FOUND)
                continue
            assert isinstance(result, operations_pb2.Operation)
            name = result.name
            record = known.get(name)
            if record is not None and record.status == "PUBLISHED" and record.state != HISTORY:
                continue  # settled; a HISTORY record here was requested: it is published now
            if record is not None:
                checked.append(name)
            if result.done:
                self.done[name] = result
                continue
            self.seen_running.add(name)
            if record is None:
                new.append(events.describe(result))
        self._track(list(by_name(new).values()))
        if checked:
            self.store.mark_checked(list(dict.fromkeys(checked)), self.clock())

    def _calls(
        self,
        names: Sequence[str],
        call: Callable[[str, float], Any],
        seconds_left: Callable[[], float],
    ) -> dict[str, Any]:
        """``call(name, seconds)`` for each name, a bounded number at a time, within the time
        ``seconds_left`` gives; each result, or the ``CallError``, or ``_NOT_REACHED``."""

        def call_one(name: str) -> Any:
            seconds = seconds_left()
            if seconds <= 0:
                return _NOT_REACHED
            try:
                return call(name, seconds)
            except BudgetExhausted:
                return _NOT_REACHED
            except CallError as error:
                return error

        with ThreadPoolExecutor(max_workers=self.options.max_concurrency) as pool:
            return dict(zip(names, pool.map(call_one, names), strict=True))

    def _expire_stuck(self, pending: dict[str, TrackedOperation]) -> None:
        """Pending longer than the maximum age (since created, or first seen): stop watching.

        Only what this poll saw running: one whose check failed or was not reached may have
        finished, and its real event must not be lost to an EXPIRED one.
        """
        now = self.clock()
        oldest_allowed = now - self.options.max_pending_age
        candidates = [
            record
            for record in pending.values()
            if record.status == "PENDING" and record.name in self.seen_running
        ] + [new_record(operation, now) for operation in self.tracked.values()]
        for record in candidates:
            if record.name in self.done or record.name in self.expiring:
                continue
            if (record.create_time or record.first_seen) < oldest_allowed:
                self.expiring[record.name] = (record, EXPIRED_MAX_PENDING_AGE)

    def _without_skipped(self, wanted: list[NewOperation]) -> list[NewOperation]:
        """Record the kinds OPERATION_TYPES leaves out as SKIPPED; return the others."""
        allowed = self.options.operation_types
        if allowed is None:
            return wanted
        skipped = [operation for operation in wanted if operation.operation_type not in allowed]
        if skipped:
            now = self.clock()
            self.store.track(skipped, now)
            self.store.mark_published([Publication(o.name, SKIPPED, now) for o in skipped])
            self.summary.skipped = len(skipped)
            self.settled.update(operation.name for operation in skipped)
        return [operation for operation in wanted if operation.operation_type in allowed]

    def _publish(self) -> None:
        """Claim, publish and record every finding, a chunk at a time while the budget lasts.

        A failure, or a chunk the budget did not reach, is left for the next poll; chunks keep
        a large backlog's memory bounded and each one recorded before the next starts.
        """
        wanted = [events.describe(operation) for operation in self.done.values()]
        wanted += [
            NewOperation(record.name, record.location, record.operation_type, record.create_time)
            for record, _ in self.expiring.values()
        ]
        wanted = self._without_skipped(wanted)
        for start in range(0, len(wanted), SETTLE_CHUNK):
            seconds_left = (self.deadline - self.clock()).total_seconds()
            if seconds_left < MIN_PUBLISH_SECONDS:
                self.summary.not_reached += len(wanted) - start
                return
            self._settle(wanted[start : start + SETTLE_CHUNK])

    def _rest_bodies(self, names: Sequence[str]) -> dict[str, dict[str, Any] | object]:
        """The REST JSON of the done operations this library would decode lossily.

        Reads take at most half of the time left, so the publish keeps the other half. A read
        that fails leaves the event to go out with the gRPC bodies (``_LOSSY``) rather than be
        held for ever; the failure is still an error of the poll.
        """
        lossy = [name for name in names if events.needs_rest_body(self.done[name])]
        if not lossy:
            return {}

        def half_the_time_left() -> float:
            return (self.deadline - self.clock()).total_seconds() / 2

        results = self._calls(lossy, self.reader.read_operation_json, half_the_time_left)
        bodies: dict[str, dict[str, Any] | object] = {}
        for name, result in results.items():
            if isinstance(result, dict) or result is _NOT_REACHED:
                bodies[name] = result
                continue
            if isinstance(result, CallError):
                self.summary.errors.append(
                    PollError("body", result.code, result.message, operation=name)
                )
            bodies[name] = _LOSSY
        return bodies

    def _settle(self, wanted: Sequence[NewOperation]) -> None:
        now = self.clock()
        failed_claims: dict[str, tuple[str, str]] = {}
        try:
            claimed = self.store.claim(wanted, self.run_id, now, now + self.options.claim_lease)
        except IncompleteClaim as incomplete:  # what did apply is this poll's to publish
            claimed, failed_claims = incomplete.claimed, incomplete.failed
        for name, (code, message) in failed_claims.items():  # not held: the next poll retries
            self.summary.errors.append(PollError("claim", code, message, operation=name))
        elsewhere = [
            o.name for o in wanted if o.name not in claimed and o.name not in failed_claims
        ]
        self.summary.claimed_elsewhere += len(elsewhere)
        self.settled.update(elsewhere)
        bodies = self._rest_bodies([name for name in claimed if name in self.done])
        unread = {name for name, body in bodies.items() if body is _NOT_REACHED}
        if unread:  # the next poll reads them: released, they are pending records now
            self.store.release(sorted(unread), self.run_id)
            self.summary.not_reached += len(unread)
        to_publish: list[events.Event] = []
        for name, record in claimed.items():
            detect_time = record.detect_time or now
            if name in unread:
                continue
            if name in self.done:
                body = bodies.get(name)
                to_publish.append(
                    events.build_event(
                        self.done[name],
                        detect_time=detect_time,
                        rest_body=body if isinstance(body, dict) else None,
                        lossy=body is _LOSSY,
                    )
                )
            else:
                reason = self.expiring[name][1]
                to_publish.append(
                    events.build_expired_event(record, reason=reason, detect_time=detect_time)
                )
        if not to_publish:
            return
        self.summary.lossy_bodies += sum(1 for body in bodies.values() if body is _LOSSY)
        seconds_left = max((self.deadline - self.clock()).total_seconds(), MIN_PUBLISH_SECONDS)
        outcomes = self.publisher.publish(to_publish, seconds_left)
        published: list[Publication] = []
        failed: list[str] = []
        recorded_at = self.clock()
        for event in to_publish:
            failure = outcomes.get(event.operation, CallError("UNKNOWN", "no publish outcome"))
            if failure is None:
                published.append(Publication(event.operation, event.state, recorded_at))
                self.settled.add(event.operation)
                self.summary.published_events.append(PublishedEvent.of(event))
            else:
                failed.append(event.operation)
                self.summary.errors.append(
                    PollError("publish", failure.code, failure.message, operation=event.operation)
                )
        if published:
            self.store.mark_published(published)
        if failed:
            self.store.release(failed, self.run_id)
        by_state = self.summary.published_by_state
        for publication in published:
            self.summary.published += 1
            by_state[publication.state] = by_state.get(publication.state, 0) + 1
            if publication.state == events.EXPIRED:
                self.summary.expired += 1


def full_event(
    reader: OperationsReader,
    operation: operations_pb2.Operation,
    detect_time: datetime.datetime,
    timeout_seconds: float,
) -> events.Event:
    """The event of a done operation outside a poll (a replay), with its body as a poll
    publishes it: read over REST when the library would decode it lossily, else ``lossyBody``."""
    body = None
    lossy = events.needs_rest_body(operation)
    if lossy:
        with contextlib.suppress(CallError, BudgetExhausted):
            body = reader.read_operation_json(operation.name, timeout_seconds)
    return events.build_event(
        operation, detect_time=detect_time, rest_body=body, lossy=lossy and body is None
    )


def _unanswered(name: str) -> NewOperation:
    """What is known of a requested operation the API has not answered for yet: its name."""
    return NewOperation(name=name, location=operation_parts(name)[1], operation_type="Unknown")


def _ended_after(
    operation: operations_pb2.Operation, watch_start: datetime.datetime
) -> bool | None:
    """Whether a done operation ended after the watch started; None when no time is readable."""
    moment = events.metadata_time(operation, "end_time") or events.metadata_time(
        operation, "create_time"
    )
    return None if moment is None else moment > watch_start
