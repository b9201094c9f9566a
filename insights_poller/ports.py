"""The collaborators the poll needs, as small Protocols: the Insights reader, the event
publisher and the state store. Adapters (``adapters/``, ``state/``) implement them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from google.longrunning import operations_pb2

from insights_poller.model import Event, NewOperation, Outcome, TrackedOperation


class CallError(Exception):
    """A failed call to an external service; ``code`` is the gRPC status name when known."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BudgetExhausted(Exception):
    """A call was not started: it could not begin within the time the poll has left."""


class OperationsReader(Protocol):
    """Reads Insights long-running operations.

    Each call finishes (retries included) within ``timeout_seconds``; failures raise
    ``CallError``, and a call that could not even start in time raises ``BudgetExhausted``.
    """

    def list_page(
        self, location: str, page_token: str, timeout_seconds: float
    ) -> tuple[Sequence[operations_pb2.Operation], str]:
        """One page of a location's operations and the next page token ("" after the last)."""
        ...

    def get_operation(self, name: str, timeout_seconds: float) -> operations_pb2.Operation | None:
        """One operation; None when the API answers NOT_FOUND."""
        ...

    def read_operation_json(self, name: str, timeout_seconds: float) -> dict[str, Any] | None:
        """One operation as the REST API renders it (JSON field names, every field the service
        returned, whatever the installed library knows); None when NOT_FOUND."""
        ...


class EventPublisher(Protocol):
    def publish(
        self, events: Sequence[Event], timeout_seconds: float
    ) -> Mapping[str, CallError | None]:
        """Publish all and wait for every one, retries included, at most ``timeout_seconds``.

        Returns the outcome per operation name (None = published). Once it returns, no
        message it reported as failed can still be sent by a background retry.
        """
        ...


class IncompleteClaim(Exception):
    """``StateStore.claim`` failed to apply some claims, other than by losing a race.

    ``claimed``: the claims that did apply, as ``claim`` returns them; the caller holds
    them and must publish or release them. ``failed``: operation name -> (gRPC code
    name, message) of each claim that failed; these are not the caller's to publish.
    """

    def __init__(
        self, claimed: dict[str, TrackedOperation], failed: dict[str, tuple[str, str]]
    ) -> None:
        codes = ", ".join(sorted({code for code, _ in failed.values()}))
        super().__init__(f"{len(failed)} claim(s) failed ({codes}), {len(claimed)} applied")
        self.claimed = claimed
        self.failed = failed


class StateStore(Protocol):
    """Persistent state shared by every poll (and every instance) of one deployment.

    A record exists for every operation the poller tracks. It starts PENDING and ends SETTLED
    with its outcome, once its one event went out (or it needs none). Publishing is guarded by
    a claim (owner + lease expiry) taken atomically, so overlapping polls never both publish
    the same operation; a claim whose lease ran out (a poll that died) can be taken again, and
    the re-publish then carries the same event id. Timestamps are timezone-aware UTC
    datetimes in and out.
    """

    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        """The time the poller started watching: stored by the first call, returned ever after."""
        ...

    def listing_cursor(self, location: str) -> str:
        """The page token where the last cut-short listing of ``location`` stopped ("" if none)."""
        ...

    def save_listing_cursor(self, location: str, page_token: str) -> None:
        """Remember where to resume listing ``location``; "" forgets it."""
        ...

    def pending(self) -> list[TrackedOperation]:
        """Every PENDING record, least recently checked first (never checked first of all)."""
        ...

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        """The records among ``names`` that exist, keyed by name."""
        ...

    def all_records(self) -> list[TrackedOperation]:
        """Every record, whatever its status, by ``first_seen`` then name: for reports.

        Reads the whole store: meant for an operator's command, never for a poll.
        """
        ...

    def track(
        self,
        operations: Sequence[NewOperation],
        now: datetime.datetime,
        *,
        history: bool = False,
        reopen_history: bool = False,
    ) -> int:
        """Record operations where no record exists yet; returns how many were written.

        As PENDING; or with ``history``, as SETTLED with outcome ``HISTORY`` (ended before the watch
        started: never published). Never overwrites a record, so history never hides an
        operation another poll tracked meanwhile; except that ``reopen_history`` turns a
        HISTORY record back into PENDING (a request named it: it is to be published).
        """
        ...

    def baselined_locations(self) -> frozenset[str]:
        """The locations one complete listing has seen since the watch started."""
        ...

    def mark_baselined(self, location: str, now: datetime.datetime) -> None:
        """Remember that a listing of ``location`` was complete (its history baseline is set)."""
        ...

    def settled_fingerprints(self, locations: Sequence[str]) -> dict[str, frozenset[int]]:
        """Per location, the fingerprints of the finished operations its listings showed and a
        poll settled: a later poll passes them by without reading their records. A few
        documents, however many operations Insights still lists."""
        ...

    def save_settled_fingerprints(self, location: str, fingerprints: frozenset[int]) -> None:
        """Replace ``location``'s fingerprints (a store may keep fewer: it only costs reads)."""
        ...

    def take_follow_ups(self, run_id: str) -> None:
        """Make ``run_id`` the poll that follows up, taking over from any poll before it."""
        ...

    def follow_up_owner(self) -> str | None:
        """The poll that follows up now (None before the first): another stops its own."""
        ...

    def mark_checked(self, names: Sequence[str], now: datetime.datetime) -> None:
        """Set ``last_checked`` on existing records (others are ignored)."""
        ...

    def claim(
        self,
        operations: Sequence[NewOperation],
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> dict[str, TrackedOperation]:
        """Take the right to publish, atomically per operation.

        An operation is claimed when it has no record yet (one is created), or its
        record is PENDING (or HISTORY: never published, which a request may still publish)
        and unclaimed, or its claim expired before ``now``, or
        ``owner`` already holds it. ``detect_time`` is set to ``now`` on the first
        claim and kept on later ones. Returns the claimed records (after the
        claim); operations held by another live claim, or already SETTLED (other than
        HISTORY), are left out. Never raises because another poll won a race.

        Raises ``IncompleteClaim`` when a claim failed for any other reason while
        others applied (a store whose claim is all-or-nothing never does: it applies
        or raises its own error). The exception carries the claims that applied, which
        the caller then holds and must publish or release, and the ones that failed.
        """
        ...

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        """Record the outcomes as SETTLED and drop their claims; absent records are ignored.

        Unconditional: once an event went out, saying so is always true, even if
        the publishing poll's lease ran out meanwhile.
        """
        ...

    def release(self, names: Sequence[str], owner: str) -> None:
        """Give back claims ``owner`` holds without publishing, so a later poll retries."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
