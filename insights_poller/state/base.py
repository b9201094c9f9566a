"""The state store contract: what the poller remembers between polls.

A record exists for every operation the poller tracks. It starts ``PENDING`` and
ends ``PUBLISHED`` once its one event went out. Publishing is guarded by a claim
(owner + lease expiry) taken atomically, so overlapping polls never both publish
the same operation; a claim whose lease ran out (a poll that died) can be taken
again, and the re-publish then carries the same event id.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

RecordStatus = Literal["PENDING", "PUBLISHED"]


@dataclasses.dataclass(frozen=True)
class TrackedOperation:
    """One operation as the state store knows it."""

    name: str
    location: str
    operation_type: str
    status: RecordStatus
    first_seen: datetime.datetime
    create_time: datetime.datetime | None = None
    last_checked: datetime.datetime | None = None
    detect_time: datetime.datetime | None = None
    published_at: datetime.datetime | None = None
    state: str | None = None
    claim_owner: str | None = None
    claim_until: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class NewOperation:
    """An operation seen for the first time: what is worth remembering about it."""

    name: str
    location: str
    operation_type: str
    create_time: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Publication:
    """The outcome recorded once an operation's event was published."""

    name: str
    state: str
    published_at: datetime.datetime


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

    Timestamps are timezone-aware UTC datetimes in and out.
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

        As PENDING; or with ``history``, as settled ``HISTORY`` (ended before the watch
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
        claim); operations held by another live claim, or already PUBLISHED, are
        left out. Never raises because another poll won a race.

        Raises ``IncompleteClaim`` when a claim failed for any other reason while
        others applied (a store whose claim is all-or-nothing never does: it applies
        or raises its own error). The exception carries the claims that applied, which
        the caller then holds and must publish or release, and the ones that failed.
        """
        ...

    def mark_published(self, publications: Sequence[Publication]) -> None:
        """Record the publications as PUBLISHED and drop their claims.

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
