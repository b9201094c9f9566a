"""One poll: discover, check, claim, publish, record. Pure of any client library.

The order matters for the guarantees in the README: an operation is claimed in the
state store before its event is published and marked published after, so the only
possible repeat is a re-publish (same ``ce-id``) after a poll died in between.

While operations are still pending after a poll, the same invocation follows up: it re-checks
them every ``follow_up_interval`` until none is pending or the follow-up window is over, and
publishes each as it finishes, so that an event goes out seconds after its operation ended
rather than at the next scheduled tick. A follow-up reads the least it can: per location, the
listing (stopped once every pending operation of the location was seen) or ``GetOperation``
for each pending one, whichever takes fewer calls.

A poll has a time budget. Discovery and checks start no new call once only the publish
reserve is left, and listing stops at half of that work time so that checks always get
some. A cut listing resumes where it stopped next poll; pending operations a poll did not
reach are checked first next time (the state store hands them out least recently checked
first), so none starves.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
import statistics
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.longrunning import operations_pb2

from insights_poller import events, names, timestamps
from insights_poller.model import (
    EXPIRED,
    EXPIRED_MAX_PENDING_AGE,
    EXPIRED_NOT_FOUND,
    HISTORY,
    PENDING,
    SETTLED,
    SKIPPED,
    Event,
    NewOperation,
    Outcome,
    TrackedOperation,
)
from insights_poller.names import operation_parts
from insights_poller.ports import (
    BudgetExhausted,
    CallError,
    EventPublisher,
    IncompleteClaim,
    OperationsReader,
    StateStore,
)

Clock = Callable[[], datetime.datetime]

LISTING_SHARE = 0.5
SETTLE_CHUNK = 500
"""Operations claimed, published and recorded together: bounds memory, and what a crash repeats."""
MIN_PUBLISH_SECONDS = 1.0
"""A settle chunk starts only with at least this much of the budget left."""


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
    """Publish only these kinds; the others are settled as SKIPPED. None publishes all."""
    follow_up_interval: datetime.timedelta = datetime.timedelta(0)
    """While operations are pending after the poll, re-check them this often; 0: never."""
    follow_up_window: datetime.timedelta = datetime.timedelta(0)
    """Follow-ups start only this long after the poll started (and before its work deadline)."""


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
    detection_latency_seconds: float | None
    """From the operation's end to the publish's acknowledgement; None without an end time."""

    @classmethod
    def of(cls, event: Event, published_at: datetime.datetime) -> PublishedEvent:
        latency = None
        if event.end_time is not None:
            latency = round((published_at - event.end_time).total_seconds(), 3)
        kind = event.attributes["operationType"]
        return cls(event.operation, event.state, kind, event.event_id, latency)


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
    follow_ups: int = 0
    oldest_pending_age_seconds: float | None = None
    """How long the oldest operation still owed an event has been pending (since created)."""
    listing_complete: bool = True
    not_found: list[str] = dataclasses.field(default_factory=list)
    errors: list[PollError] = dataclasses.field(default_factory=list)
    published_by_state: dict[str, int] = dataclasses.field(default_factory=dict)
    published_events: list[PublishedEvent] = dataclasses.field(default_factory=list)
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def detection_latency(self) -> dict[str, float | None]:
        """p50 and max of the published events' detection latency, in seconds."""
        latencies = [
            event.detection_latency_seconds
            for event in self.published_events
            if event.detection_latency_seconds is not None
        ]
        if not latencies:
            return {"p50": None, "max": None}
        return {"p50": round(statistics.median(latencies), 3), "max": max(latencies)}

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
            "followUps": self.follow_ups,
            "oldestPendingAgeSeconds": None
            if self.oldest_pending_age_seconds is None
            else round(self.oldest_pending_age_seconds, 3),
            "detectionLatencySeconds": self.detection_latency(),
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
    sleep: Callable[[float], None] = time.sleep,
) -> PollSummary:
    """Run one poll, and its follow-ups. ``requested``: operation names to check now and track
    (already validated, in the watched project under either spelling); ``identity`` learns the
    project number from what the API answers, and state is keyed by the API's spelling;
    ``sleep`` waits between follow-ups (a fake clock's ``advance`` in tests)."""
    poll_run = _Poll(reader, store, publisher, options, clock, run_id, identity, sleep)
    return poll_run.run(requested)


@dataclasses.dataclass(frozen=True)
class Finished:
    """A settlement: a done operation, whose event carries its result."""

    operation: operations_pb2.Operation

    @property
    def name(self) -> str:
        return str(self.operation.name)

    def described(self) -> NewOperation:
        return events.describe(self.operation)


@dataclasses.dataclass(frozen=True)
class Expiry:
    """A settlement: a tracked operation given up on, whose event is EXPIRED with ``reason``."""

    operation: NewOperation
    reason: str

    @property
    def name(self) -> str:
        return self.operation.name

    def described(self) -> NewOperation:
        return self.operation


Settlement = Finished | Expiry
"""What a poll found to settle: claimed, published, then recorded SETTLED."""


@dataclasses.dataclass(frozen=True)
class Listing:
    """One location's pages this poll, and whether they were all of them."""

    location: str
    pages: list[Sequence[operations_pb2.Operation]]
    complete: bool


@dataclasses.dataclass
class Findings:
    """What discovery or a check learned from the API, for the phases after it."""

    finished: dict[str, operations_pb2.Operation] = dataclasses.field(default_factory=dict)
    """Done operations to publish."""
    gone: dict[str, Expiry] = dataclasses.field(default_factory=dict)
    """Pending operations the API no longer knows: EXPIRED as NOT_FOUND."""
    tracked: dict[str, NewOperation] = dataclasses.field(default_factory=dict)
    """Operations newly tracked as pending."""
    running: set[str] = dataclasses.field(default_factory=set)
    """What the API showed not done (listed, or answered): only these may expire for age, never
    one whose check failed or was not reached."""
    not_found: list[str] = dataclasses.field(default_factory=list)
    """Requested names the API does not know and no record holds."""

    def __or__(self, later: Findings) -> Findings:
        return Findings(
            {**self.finished, **later.finished},
            {**self.gone, **later.gone},
            {**self.tracked, **later.tracked},
            self.running | later.running,
            [*self.not_found, *later.not_found],
        )


@dataclasses.dataclass
class _FollowUpState:
    """What follow-ups carry from round to round."""

    records: dict[str, TrackedOperation]
    """The records of the running operations, as far as this poll knows them."""
    pages: dict[str, float]
    """Per location, how many pages its last complete listing took (inf: unknown)."""
    listed_since: dict[str, datetime.datetime]
    """Per location, when its last listing started: what ended since may be new."""
    seen: set[str]
    """Operations already watched or looked up: a listing never reads their records again."""


def _pending_view(operation: NewOperation, first_seen: datetime.datetime) -> TrackedOperation:
    """The record of an operation this poll tracked, as the state store now holds it."""
    return TrackedOperation(
        name=operation.name,
        location=operation.location,
        operation_type=operation.operation_type,
        status=PENDING,
        first_seen=first_seen,
        create_time=operation.create_time,
    )


_NOT_REACHED = object()
_LOSSY = object()
"""The REST read of a body failed: the event carries what gRPC gave, marked ``lossyBody``."""


class _Poll:
    """One poll while it runs: its collaborators, deadlines and the summary it reports.

    Each phase returns what it found (``Listing``, ``Findings``, settlements, names settled)
    and the next one takes it as an argument; the summary is only written, for the report.
    """

    def __init__(
        self,
        reader: OperationsReader,
        store: StateStore,
        publisher: EventPublisher,
        options: PollOptions,
        clock: Clock,
        run_id: str,
        identity: names.ProjectIdentity,
        sleep: Callable[[float], None],
    ) -> None:
        self.reader = reader
        self.sleep = sleep
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

    def run(self, requested: Sequence[str]) -> PollSummary:
        stored_start = self.store.watch_start(self.started)  # the first poll stores its time
        watch_start = self.options.watch_since or stored_start
        self.summary.watch_start = watch_start
        # Read the records, baselines and fingerprints while the listings run: all round trips.
        with ThreadPoolExecutor(max_workers=3) as background:
            pending_records = background.submit(self.store.pending)
            baselined = background.submit(self.store.baselined_locations)
            fingerprints = background.submit(
                self.store.settled_fingerprints, self.options.locations
            )
            listings = self._list_all_locations()
            pending = {record.name: record for record in pending_records.result()}
            settled_before = fingerprints.result()

        # The listings taught the project number: requested names now match the API's spelling.
        requested = list(dict.fromkeys(self.identity.canonical(name) for name in requested))
        seen, discovered = self._discover(
            listings, pending, watch_start, baselined.result(), set(requested), settled_before
        )
        # Requested names first (someone asked), then pending ones least recently checked first.
        to_check = [n for n in dict.fromkeys([*requested, *pending]) if n not in seen]
        findings = discovered | self._check(to_check, pending)
        settlements: list[Settlement] = [Finished(o) for o in findings.finished.values()]
        settlements += [*findings.gone.values(), *self._too_old(pending, findings)]
        settled = self._settle_all(settlements)
        kept = self._keep_requested(requested, pending, findings, settled)

        # Still owed an event: what still runs, which follow-ups watch; and what finished but was
        # not settled (a publish that failed, or what the budget did not reach), which waits for
        # the next poll, as a publish that failed would fail again seconds later.
        finished = {settlement.name for settlement in settlements}
        running = {*pending, *findings.tracked, *kept} - finished - settled
        left = finished - settled
        self.summary.not_found = findings.not_found
        if running:
            running, unsettled = self._follow_ups(running, pending, findings.tracked, listings)
            left |= unsettled
        self._save_fingerprints(listings, settled_before, left)
        owed = running | left
        self.summary.pending = len(owed)
        if owed:
            since = {n: o.create_time for n, o in findings.tracked.items() if o.create_time}
            since |= {n: r.create_time or r.first_seen for n, r in pending.items()}
            oldest = min(since.get(name, self.started) for name in owed)
            self.summary.oldest_pending_age_seconds = (self.clock() - oldest).total_seconds()
        self.summary.duration_seconds = (self.clock() - self.started).total_seconds()
        return self.summary

    def _follow_ups(
        self,
        running: set[str],
        pending: dict[str, TrackedOperation],
        tracked: dict[str, NewOperation],
        listings: Sequence[Listing],
    ) -> tuple[set[str], set[str]]:
        """Re-check what is still running every ``follow_up_interval``, publishing what
        finished, until nothing runs, no round can start within the follow-up window and the
        work deadline, or a later poll took the follow-ups over (it started from the same
        records, so it watches all this one does). Returns what still runs, and what finished
        but was not settled."""
        unsettled: set[str] = set()
        interval = self.options.follow_up_interval.total_seconds()
        if interval <= 0:
            return running, unsettled
        window_end = self.started + self.options.follow_up_window
        state = _FollowUpState(
            records={**pending, **{n: _pending_view(o, self.started) for n, o in tracked.items()}},
            pages={
                listing.location: len(listing.pages) if listing.complete else math.inf
                for listing in listings
            },
            listed_since=dict.fromkeys(self.options.locations, self.started),
            seen=set(running),
        )
        self.store.take_follow_ups(self.run_id)
        while running:
            # Every interval, and once more at the window's end: what ends just before the next
            # tick waits the least. Never a round the work deadline would cut.
            wait = min(interval, (window_end - self.clock()).total_seconds())
            if wait <= 0 or self.clock() + datetime.timedelta(seconds=wait) >= self.work_deadline:
                break
            self.sleep(wait)
            if self.store.follow_up_owner() != self.run_id:
                break  # a later poll follows up now, over the same records: no work twice
            self.summary.follow_ups += 1
            running, failed = self._follow_up(running, state)
            unsettled |= failed
        return running, unsettled

    def _follow_up(self, running: set[str], state: _FollowUpState) -> tuple[set[str], set[str]]:
        """One round: per location, the listing or a ``GetOperation`` per running operation,
        whichever takes fewer calls; then settle what finished. Returns what still runs, and
        what finished but was not settled (left for the next poll)."""
        started = self.clock()
        by_location: dict[str, list[str]] = {}
        for name in sorted(running):
            by_location.setdefault(operation_parts(name)[1], []).append(name)
        listed = [
            loc for loc, names in by_location.items() if len(names) > state.pages.get(loc, math.inf)
        ]
        with ThreadPoolExecutor(max_workers=max(1, min(len(listed), 8))) as pool:
            listings = list(
                pool.map(lambda loc: self._list_until_seen(loc, by_location[loc]), listed)
            )
        findings = Findings()
        for listing in listings:
            findings = findings | self._sort_follow_up(listing, running, state)
            state.listed_since[listing.location] = started
            if listing.complete:
                state.pages[listing.location] = len(listing.pages)
        to_get = [name for loc, names in by_location.items() if loc not in listed for name in names]
        records = {name: state.records[name] for name in to_get if name in state.records}
        findings = findings | self._check(to_get, records, mark=False)
        settlements: list[Settlement] = [Finished(o) for o in findings.finished.values()]
        settled = self._settle_all([*settlements, *findings.gone.values()])
        for name, operation in findings.tracked.items():
            state.records[name] = _pending_view(operation, started)
        finished = {*findings.finished, *findings.gone}
        still_running = (running | set(findings.tracked)) - finished - set(findings.not_found)
        return still_running, finished - settled

    def _sort_follow_up(
        self, listing: Listing, running: set[str], state: _FollowUpState
    ) -> Findings:
        """What a follow-up listing shows: running operations that finished; and, read from the
        state store once each, operations that started since (tracked) or that started and
        ended since the location was last listed (published unless already settled)."""
        found = Findings()
        new: list[NewOperation] = []
        candidates: dict[str, operations_pb2.Operation] = {}
        since = state.listed_since[listing.location]
        for page in listing.pages:
            for operation in page:
                name = operation.name
                if name in running:
                    if operation.done:
                        found.finished[name] = operation
                    else:
                        found.running.add(name)
                elif name in state.seen:
                    continue
                elif not operation.done:
                    new.append(events.describe(operation))
                elif _ended_after(operation, since):
                    candidates[name] = operation
        state.seen.update(operation.name for operation in new)
        state.seen.update(candidates)
        if candidates:
            known = self.store.get_many(candidates)
            for name, operation in candidates.items():
                record = known.get(name)
                if record is None or record.status == PENDING:
                    found.finished[name] = operation
        if new:
            settled = self.store.get_many(operation.name for operation in new)
            found.tracked = self._track([o for o in new if o.name not in settled])
        return found

    def _keep_requested(
        self,
        requested: Sequence[str],
        pending: dict[str, TrackedOperation],
        findings: Findings,
        settled: set[str],
    ) -> list[str]:
        """Track every requested name this poll did not settle (its check or its publish was not
        reached, or failed), so that no later poll takes it for history: a pending record is
        published once done, whenever it ended. One never answered is tracked as ``Unknown``;
        if the API turns out not to know it, it ends as EXPIRED (NOT_FOUND) like any other.
        Returns the names it tracked."""
        canonical = dict.fromkeys(self.identity.canonical(name) for name in requested)
        unsettled = [
            name
            for name in canonical
            if name not in settled
            and name not in pending
            and name not in findings.tracked
            and name not in findings.not_found
        ]
        if not unsettled:
            return []
        keep = [
            events.describe(findings.finished[name])
            if name in findings.finished
            else _unanswered(name)
            for name in unsettled
        ]  # reopening history too: a request named it, so it is to be published
        self.summary.newly_tracked += self.store.track(keep, self.clock(), reopen_history=True)
        return unsettled

    def _work_seconds_left(self) -> float:
        return (self.work_deadline - self.clock()).total_seconds()

    def _list_all_locations(self) -> list[Listing]:
        """Every location's listing, the locations listed in parallel."""
        locations = self.options.locations
        with ThreadPoolExecutor(max_workers=min(len(locations), 8)) as pool:
            listings = list(pool.map(self._list, locations))
        self.summary.listing_complete = all(listing.complete for listing in listings)
        return listings

    def _discover(
        self,
        listings: Sequence[Listing],
        pending: dict[str, TrackedOperation],
        watch_start: datetime.datetime,
        baselined: frozenset[str],
        requested: set[str],
        settled_before: dict[str, frozenset[int]],
    ) -> tuple[set[str], Findings]:
        """Sort what the listings showed; returns the names they showed (done or not), and
        what they found.

        A done operation an earlier poll's listing showed and settled (its fingerprint is kept
        per location) is passed by without a lookup, so a quiet poll reads O(pending) records
        however many finished operations Insights still lists; one it did not (new, hidden
        from that listing, or left unsettled) is looked at as below.

        A done operation never seen pending is published when it ended after the watch
        started, or when a request named it; older ones are history. One whose metadata
        gives no time (a type this library can't read, or an empty metadata) is history
        until one complete listing of its location has set that location's baseline, and
        recorded as such; after that it is new. Per location, so that a listing that failed
        or was cut, or a location added later, never turns old operations into new ones.
        """
        found = Findings()
        seen: set[str] = set()
        new: list[NewOperation] = []
        undated_history: list[NewOperation] = []
        candidates: dict[str, operations_pb2.Operation] = {}
        for listing in listings:
            known_settled = settled_before.get(listing.location, frozenset())
            for page in listing.pages:
                for operation in page:
                    seen.add(operation.name)
                    if not operation.done:
                        found.running.add(operation.name)
                        if operation.name not in pending:
                            new.append(events.describe(operation))
                    elif operation.name in pending:
                        found.finished[operation.name] = operation
                    elif operation.name in requested:
                        candidates[operation.name] = operation
                    elif fingerprint(operation.name) in known_settled:
                        continue
                    else:
                        ended_after = _ended_after(operation, watch_start)
                        if ended_after is None and listing.location not in baselined:
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
                    or record.status == PENDING
                    or (record.state == HISTORY and name in requested)
                ):
                    found.finished[name] = operation
        if new:  # running, and not pending here: new, unless already settled (expired for age)
            settled = self.store.get_many(operation.name for operation in new)
            found.tracked = self._track([o for o in new if o.name not in settled])
        if undated_history:  # never over a record: another poll may have tracked one meanwhile
            self.store.track(undated_history, self.clock(), history=True)
        for listing in listings:
            if listing.location not in baselined and listing.complete:
                self.store.mark_baselined(listing.location, self.clock())
        return seen, found

    def _save_fingerprints(
        self,
        listings: Sequence[Listing],
        settled_before: dict[str, frozenset[int]],
        left: set[str],
    ) -> None:
        """Remember, per location, the done operations its listing showed that this poll (or
        an earlier one) settled: all but those left for the next poll. A complete listing
        replaces the set (operations Insights no longer lists drop out); a cut one adds to it.
        Written only when it changed, so a quiet poll writes nothing."""
        for listing in listings:
            shown = {
                fingerprint(operation.name)
                for page in listing.pages
                for operation in page
                if operation.done and operation.name not in left
            }
            before = settled_before.get(listing.location, frozenset())
            after = frozenset(shown) if listing.complete else before | shown
            if after != before:
                self.store.save_settled_fingerprints(listing.location, after)

    def _list(self, location: str) -> Listing:
        """A location's listing, page by page, within the listing's share of the budget.

        A listing cut short by the budget is resumed there by the next poll (the cursor is
        kept in the state store), then wraps around to the first page: over a few polls,
        every page is seen even when one poll cannot list them all.
        """
        pages: list[Sequence[operations_pb2.Operation]] = []
        cursor = self.store.listing_cursor(location)
        page_token, wrapped = cursor, not cursor
        while True:
            try:
                page = self._page(location, page_token, self.listing_deadline)
            except CallError as error:
                if error.code == "INVALID_ARGUMENT" and page_token and page_token == cursor:
                    page_token, wrapped = "", True  # the stored token went stale: start over
                    continue
                self._list_failed(location, error)
                return Listing(location, pages, complete=False)
            if page is None:
                if page_token != cursor:
                    self.store.save_listing_cursor(location, page_token)
                return Listing(location, pages, complete=False)
            operations, page_token = page
            pages.append(operations)
            if not page_token:
                if wrapped:
                    if cursor:
                        self.store.save_listing_cursor(location, "")
                    return Listing(location, pages, complete=True)
                wrapped = True

    def _list_until_seen(self, location: str, names: Collection[str]) -> Listing:
        """A follow-up's listing of ``location``: from the first page, until every one of
        ``names`` was seen (then ``complete`` is False unless that was the last page)."""
        pages: list[Sequence[operations_pb2.Operation]] = []
        unseen, page_token = set(names), ""
        while True:
            try:
                page = self._page(location, page_token, self.work_deadline)
            except CallError as error:
                self._list_failed(location, error)
                return Listing(location, pages, complete=False)
            if page is None:
                return Listing(location, pages, complete=False)
            operations, page_token = page
            pages.append(operations)
            unseen.difference_update(operation.name for operation in operations)
            if not page_token or not unseen:
                return Listing(location, pages, complete=not page_token)

    def _page(
        self, location: str, page_token: str, deadline: datetime.datetime
    ) -> tuple[Sequence[operations_pb2.Operation], str] | None:
        """One page and the next token, or None when no time is left before ``deadline``."""
        seconds_left = (deadline - self.clock()).total_seconds()
        try:
            if seconds_left <= 0:
                raise BudgetExhausted(location)
            operations, next_token = self.reader.list_page(location, page_token, seconds_left)
        except BudgetExhausted:
            return None
        if operations:
            self.identity.learn(operations[0].name)
        return operations, next_token

    def _list_failed(self, location: str, error: CallError) -> None:
        self.summary.errors.append(PollError("list", error.code, error.message, location=location))

    def _track(self, new: Sequence[NewOperation]) -> dict[str, NewOperation]:
        """Track ``new`` as pending; returns them by name."""
        if new:
            self.summary.newly_tracked += self.store.track(new, self.clock())
        return {operation.name: operation for operation in new}

    def _check(
        self, names: Sequence[str], pending: dict[str, TrackedOperation], *, mark: bool = True
    ) -> Findings:
        """GetOperation for what the listings did not settle, a bounded number at a time.

        What the API answers is keyed by the name it answers with: a name requested with the
        project ID comes back with the number, and is then one operation with the listed one.
        ``mark``: record the check on the records (``last_checked`` orders the next poll's
        checks; a follow-up, which checks them all every few seconds, leaves it).
        """
        found = Findings()
        if not names:
            return found
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
        new: dict[str, NewOperation] = {}
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
                    found.not_found.append(asked)
                elif record.status == PENDING:
                    found.gone[asked] = Expiry(record.described(), EXPIRED_NOT_FOUND)
                continue
            assert isinstance(result, operations_pb2.Operation)
            name = result.name
            record = known.get(name)
            if record is not None and record.status == SETTLED and record.state != HISTORY:
                continue  # settled; a HISTORY record here was requested: it is published now
            if record is not None:
                checked.append(name)
            if result.done:
                found.finished[name] = result
                continue
            found.running.add(name)
            if record is None:
                new.setdefault(name, events.describe(result))
        found.tracked = self._track(list(new.values()))
        if checked and mark:
            self.store.mark_checked(list(dict.fromkeys(checked)), self.clock())
        return found

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

    def _too_old(self, pending: dict[str, TrackedOperation], findings: Findings) -> list[Expiry]:
        """Pending longer than the maximum age (since created, or first seen): stop watching.

        Only what this poll saw running: one whose check failed or was not reached may have
        finished, and its real event must not be lost to an EXPIRED one.
        """
        now = self.clock()
        oldest_allowed = now - self.options.max_pending_age
        # Age counts from creation, else from first seen (now, for the newly tracked).
        candidates = [
            (record.described(), record.first_seen)
            for record in pending.values()
            if record.status == PENDING and record.name in findings.running
        ] + [(operation, now) for operation in findings.tracked.values()]
        return [
            Expiry(operation, EXPIRED_MAX_PENDING_AGE)
            for operation, first_seen in candidates
            if operation.name not in findings.finished
            and operation.name not in findings.gone
            and (operation.create_time or first_seen) < oldest_allowed
        ]

    def _settle_all(self, settlements: Sequence[Settlement]) -> set[str]:
        """Claim, publish and record every settlement, a chunk at a time while the budget lasts;
        returns the names settled (published, SKIPPED, or left to another poll's claim).

        A failure, or a chunk the budget did not reach, is left for the next poll; chunks keep
        a large backlog's memory bounded and each one recorded before the next starts.
        """
        settled = self._skip_unwanted_kinds(settlements)
        wanted = [settlement for settlement in settlements if settlement.name not in settled]
        for start in range(0, len(wanted), SETTLE_CHUNK):
            seconds_left = (self.deadline - self.clock()).total_seconds()
            if seconds_left < MIN_PUBLISH_SECONDS:
                self.summary.not_reached += len(wanted) - start
                break
            settled |= self._settle(wanted[start : start + SETTLE_CHUNK])
        return settled

    def _skip_unwanted_kinds(self, settlements: Sequence[Settlement]) -> set[str]:
        """Settle the kinds OPERATION_TYPES leaves out as SKIPPED; returns their names."""
        allowed = self.options.operation_types
        if allowed is None:
            return set()
        skipped = [
            operation
            for operation in (settlement.described() for settlement in settlements)
            if operation.operation_type not in allowed
        ]
        if skipped:
            now = self.clock()
            self.store.track(skipped, now)
            self.store.mark_settled([Outcome(o.name, SKIPPED, now) for o in skipped])
            self.summary.skipped = len(skipped)
        return {operation.name for operation in skipped}

    def _rest_bodies(self, finished: Sequence[Finished]) -> dict[str, dict[str, Any] | object]:
        """The REST JSON of the done operations this library would decode lossily.

        Reads take at most half of the time left, so the publish keeps the other half. A read
        that fails leaves the event to go out with the gRPC bodies (``_LOSSY``) rather than be
        held for ever; the failure is still an error of the poll.
        """
        lossy = [done.name for done in finished if events.needs_rest_body(done.operation)]
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

    def _settle(self, chunk: Sequence[Settlement]) -> set[str]:
        """Claim, publish and record one chunk; returns the names settled."""
        now = self.clock()
        failed_claims: dict[str, tuple[str, str]] = {}
        wanted = [settlement.described() for settlement in chunk]
        try:
            claimed = self.store.claim(wanted, self.run_id, now, now + self.options.claim_lease)
        except IncompleteClaim as incomplete:  # what did apply is this poll's to publish
            claimed, failed_claims = incomplete.claimed, incomplete.failed
        for name, (code, message) in failed_claims.items():  # not held: the next poll retries
            self.summary.errors.append(PollError("claim", code, message, operation=name))
        settled = {o.name for o in wanted if o.name not in claimed and o.name not in failed_claims}
        self.summary.claimed_elsewhere += len(settled)
        ours = [settlement for settlement in chunk if settlement.name in claimed]
        bodies = self._rest_bodies([s for s in ours if isinstance(s, Finished)])
        unread = {name for name, body in bodies.items() if body is _NOT_REACHED}
        if unread:  # the next poll reads them: released, they are pending records now
            self.store.release(sorted(unread), self.run_id)
            self.summary.not_reached += len(unread)
        to_publish: list[Event] = []
        for settlement in ours:
            detect_time = claimed[settlement.name].detect_time or now
            if isinstance(settlement, Expiry):
                to_publish.append(
                    events.build_expired_event(
                        settlement.operation, reason=settlement.reason, detect_time=detect_time
                    )
                )
            elif settlement.name not in unread:
                body = bodies.get(settlement.name)
                to_publish.append(
                    events.build_event(
                        settlement.operation,
                        detect_time=detect_time,
                        rest_body=body if isinstance(body, dict) else None,
                        lossy=body is _LOSSY,
                    )
                )
        if not to_publish:
            return settled
        self.summary.lossy_bodies += sum(1 for body in bodies.values() if body is _LOSSY)
        return settled | self._publish(to_publish)

    def _publish(self, to_publish: Sequence[Event]) -> set[str]:
        """Publish claimed events and record the outcome; returns the names published."""
        seconds_left = max((self.deadline - self.clock()).total_seconds(), MIN_PUBLISH_SECONDS)
        outcomes = self.publisher.publish(to_publish, seconds_left)
        published: list[Outcome] = []
        failed: list[str] = []
        recorded_at = self.clock()
        for event in to_publish:
            failure = outcomes.get(event.operation, CallError("UNKNOWN", "no publish outcome"))
            if failure is None:
                published.append(Outcome(event.operation, event.state, recorded_at))
                self.summary.published_events.append(PublishedEvent.of(event, recorded_at))
            else:
                failed.append(event.operation)
                self.summary.errors.append(
                    PollError("publish", failure.code, failure.message, operation=event.operation)
                )
        if published:
            self.store.mark_settled(published)
        if failed:
            self.store.release(failed, self.run_id)
        by_state = self.summary.published_by_state
        for outcome in published:
            self.summary.published += 1
            by_state[outcome.state] = by_state.get(outcome.state, 0) + 1
            if outcome.state == EXPIRED:
                self.summary.expired += 1
        return {outcome.name for outcome in published}


def fingerprint(name: str) -> int:
    """A stable 64-bit fingerprint of an operation name. A new operation would be taken for one
    of n settled ones with odds of about n / 2^64: 5e-15 for n = 100,000."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


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
