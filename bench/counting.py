"""A ``StateStore`` proxy that counts the documents a poll reads and writes.

Why at the store interface rather than in Firestore: it is exact about what the poll asked
for, whatever the backend, and costs nothing measurable. A write is one record the poll asked
the store to create or change; a read is one record the store handed back (for ``claim``, each
record it had to read to decide).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from insights_poller.model import NewOperation, Outcome, TrackedOperation
from insights_poller.ports import StateStore

_T = TypeVar("_T")


@dataclasses.dataclass
class StoreCounts:
    """What the store did since the last ``take``; ``seconds`` is the time spent inside it."""

    documents_read: int = 0
    documents_written: int = 0
    write_calls: int = 0
    seconds: float = 0.0


class CountingStore:
    """Forwards every call to ``inner`` and counts it."""

    def __init__(self, inner: StateStore) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._counts = StoreCounts()

    def take(self) -> StoreCounts:
        """The counts so far, and start counting afresh."""
        with self._lock:
            counts, self._counts = self._counts, StoreCounts()
        return counts

    def _timed(
        self, call: Callable[[], _T], read: Callable[[_T], int], written: Callable[[_T], int]
    ) -> _T:
        started = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - started
        reads, writes = read(result), written(result)
        with self._lock:
            self._counts.seconds += elapsed
            self._counts.documents_read += reads
            self._counts.documents_written += writes
            self._counts.write_calls += 1 if writes else 0
        return result

    def watch_start(self, now: datetime) -> datetime:
        return self._timed(lambda: self._inner.watch_start(now), lambda _: 1, lambda _: 0)

    def listing_cursor(self, location: str) -> str:
        return self._timed(lambda: self._inner.listing_cursor(location), lambda _: 1, lambda _: 0)

    def save_listing_cursor(self, location: str, page_token: str) -> None:
        self._timed(
            lambda: self._inner.save_listing_cursor(location, page_token),
            lambda _: 0,
            lambda _: 1,
        )

    def pending(self) -> list[TrackedOperation]:
        return self._timed(self._inner.pending, len, lambda _: 0)

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        return self._timed(lambda: self._inner.get_many(names), len, lambda _: 0)

    def all_records(self) -> list[TrackedOperation]:
        return self._timed(self._inner.all_records, len, lambda _: 0)

    def track(self, operations: Sequence[NewOperation], now: datetime, **flags: bool) -> int:
        """``flags`` (history, reopen_history) pass through: their defaults stay the store's."""
        return self._timed(
            lambda: self._inner.track(operations, now, **flags),
            lambda _: 0,
            lambda _: len(operations),
        )

    def baselined_locations(self) -> frozenset[str]:
        return self._timed(self._inner.baselined_locations, lambda _: 1, lambda _: 0)

    def mark_baselined(self, location: str, now: datetime) -> None:
        self._timed(lambda: self._inner.mark_baselined(location, now), lambda _: 0, lambda _: 1)

    def settled_fingerprints(self, locations: Sequence[str]) -> dict[str, frozenset[int]]:
        return self._timed(lambda: self._inner.settled_fingerprints(locations), len, lambda _: 0)

    def save_settled_fingerprints(self, location: str, fingerprints: frozenset[int]) -> None:
        self._timed(
            lambda: self._inner.save_settled_fingerprints(location, fingerprints),
            lambda _: 0,
            lambda _: 1,
        )

    def take_follow_ups(self, run_id: str) -> None:
        self._timed(lambda: self._inner.take_follow_ups(run_id), lambda _: 0, lambda _: 1)

    def follow_up_owner(self) -> str | None:
        return self._timed(self._inner.follow_up_owner, lambda _: 1, lambda _: 0)

    def mark_checked(self, names: Sequence[str], now: datetime) -> None:
        self._timed(lambda: self._inner.mark_checked(names, now), lambda _: 0, lambda _: len(names))

    def claim(
        self, operations: Sequence[NewOperation], owner: str, now: datetime, lease_until: datetime
    ) -> dict[str, TrackedOperation]:
        return self._timed(
            lambda: self._inner.claim(operations, owner, now, lease_until),
            lambda _: len(operations),
            len,
        )

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        self._timed(
            lambda: self._inner.mark_settled(outcomes),
            lambda _: 0,
            lambda _: len(outcomes),
        )

    def release(self, names: Sequence[str], owner: str) -> None:
        self._timed(lambda: self._inner.release(names, owner), lambda _: 0, lambda _: len(names))

    def close(self) -> None:
        self._inner.close()
