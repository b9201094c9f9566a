"""SQLite state store: the embedded default for local runs and single-host deployments.

Every call is one transaction; writes take ``BEGIN IMMEDIATE`` so claims stay
atomic across processes sharing the file. WAL mode lets readers run alongside a
writer, and a busy timeout makes competing writers wait instead of failing.
Timestamps are stored as fixed-width UTC ISO-8601 strings (microseconds, ``+00:00``)
so they stay readable and sort correctly as text.
"""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from insights_poller.model import HISTORY, NewOperation, Outcome, TrackedOperation
from insights_poller.state.rules import (
    STORED_SETTLED,
    UTC,
    as_utc,
    by_name,
    claimable,
    initial_record,
    new_record,
    packed_fingerprints,
    record_status,
    stored_status,
    unique,
    unpacked_fingerprints,
    with_claim,
)

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a call waits for another process's write transaction before failing."""

_CURSOR_KEY = "listing_cursor:"
_BASELINE_KEY = "baselined:"
_FOLLOW_UPS_KEY = "follow_ups"
_CHUNK = 500  # names per IN (...) list, well below SQLite's bound-parameter limit

_COLUMNS = (
    "name",
    "location",
    "operation_type",
    "status",
    "first_seen",
    "create_time",
    "last_checked",
    "detect_time",
    "published_at",
    "state",
    "claim_owner",
    "claim_until",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM operations"

_SCHEMA = (
    f"""
CREATE TABLE IF NOT EXISTS operations (
    name TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', '{STORED_SETTLED}')),
    first_seen TEXT NOT NULL,
    create_time TEXT,
    last_checked TEXT,
    detect_time TEXT,
    published_at TEXT,
    state TEXT,
    claim_owner TEXT,
    claim_until TEXT
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS operations_pending"
    " ON operations (status, last_checked, first_seen)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS settled_fingerprints"
    " (location TEXT PRIMARY KEY, fingerprints BLOB NOT NULL) WITHOUT ROWID",
)


def _text(value: datetime.datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="microseconds")


def _time(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value).astimezone(UTC)


def _record(row: sqlite3.Row) -> TrackedOperation:
    first_seen = _time(row["first_seen"])
    assert first_seen is not None  # NOT NULL column
    return TrackedOperation(
        name=row["name"],
        location=row["location"],
        operation_type=row["operation_type"],
        status=record_status(row["status"]),
        first_seen=first_seen,
        create_time=_time(row["create_time"]),
        last_checked=_time(row["last_checked"]),
        detect_time=_time(row["detect_time"]),
        published_at=_time(row["published_at"]),
        state=row["state"],
        claim_owner=row["claim_owner"],
        claim_until=_time(row["claim_until"]),
    )


def _row(record: TrackedOperation) -> tuple[Any, ...]:
    """``record`` as values in ``_COLUMNS`` order."""
    return (
        record.name,
        record.location,
        record.operation_type,
        stored_status(record.status),
        _text(record.first_seen),
        _text(record.create_time),
        _text(record.last_checked),
        _text(record.detect_time),
        _text(record.published_at),
        record.state,
        record.claim_owner,
        _text(record.claim_until),
    )


def _chunks(names: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(names), _CHUNK):
        yield names[start : start + _CHUNK]


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying: the switch ignores the busy timeout when processes race on it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SqliteStateStore:
    """``StateStore`` on a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # ``timeout`` is SQLite's busy timeout. Autocommit mode (isolation_level=None):
        # transactions are explicit below.
        self._connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._connection.row_factory = sqlite3.Row
        # One connection serialised by a lock: SQLite serialises writers anyway.
        self._lock = threading.Lock()
        try:
            _enable_wal(self._connection)
            with self._transaction() as connection:
                for statement in _SCHEMA:  # not executescript(): it would commit our transaction
                    connection.execute(statement)
        except BaseException:
            self._connection.close()
            raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def _select(
        self, connection: sqlite3.Connection, names: Sequence[str]
    ) -> Iterator[sqlite3.Row]:
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            yield from connection.execute(f"{_SELECT} WHERE name IN ({marks})", chunk)

    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        """Store ``now`` unless a start is stored already; return the stored one.

        Read first: every poll asks, and only the first one needs the write lock.
        """
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE key = 'watch_start'"
            ).fetchone()
        if row is not None:
            stored = _time(row[0])
            assert stored is not None
            return stored
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('watch_start', ?) ON CONFLICT DO NOTHING",
                (_text(now),),
            )
            (value,) = connection.execute(
                "SELECT value FROM meta WHERE key = 'watch_start'"
            ).fetchone()
        start = _time(value)
        assert start is not None
        return start

    def listing_cursor(self, location: str) -> str:
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE key = ?", (_CURSOR_KEY + location,)
            ).fetchone()
        return str(row[0]) if row else ""

    def save_listing_cursor(self, location: str, page_token: str) -> None:
        with self._transaction() as connection:
            if page_token:
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (_CURSOR_KEY + location, page_token),
                )
            else:
                connection.execute("DELETE FROM meta WHERE key = ?", (_CURSOR_KEY + location,))

    def baselined_locations(self) -> frozenset[str]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT key FROM meta WHERE key LIKE ?", (_BASELINE_KEY + "%",)
            ).fetchall()
        return frozenset(str(row[0]).removeprefix(_BASELINE_KEY) for row in rows)

    def mark_baselined(self, location: str, now: datetime.datetime) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (_BASELINE_KEY + location, _text(as_utc(now))),
            )

    def settled_fingerprints(self, locations: Sequence[str]) -> dict[str, frozenset[int]]:
        wanted = list(dict.fromkeys(locations))
        marks = ", ".join("?" * len(wanted))
        with self._lock:
            rows = self._connection.execute(
                "SELECT location, fingerprints FROM settled_fingerprints"
                f" WHERE location IN ({marks})",
                wanted,
            ).fetchall()
        found = {str(row[0]): unpacked_fingerprints(bytes(row[1])) for row in rows}
        return {location: found.get(location, frozenset()) for location in wanted}

    def save_settled_fingerprints(self, location: str, fingerprints: frozenset[int]) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO settled_fingerprints (location, fingerprints) VALUES (?, ?)"
                " ON CONFLICT (location) DO UPDATE SET fingerprints = excluded.fingerprints",
                (location, packed_fingerprints(fingerprints)),
            )

    def take_follow_ups(self, run_id: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_FOLLOW_UPS_KEY, run_id),
            )

    def follow_up_owner(self) -> str | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE key = ?", (_FOLLOW_UPS_KEY,)
            ).fetchone()
        return None if row is None else str(row[0])

    def pending(self) -> list[TrackedOperation]:
        """PENDING records, never checked first, then by ``last_checked``, then ``first_seen``."""
        with self._lock:
            rows = self._connection.execute(
                f"{_SELECT} WHERE status = 'PENDING'"
                " ORDER BY last_checked IS NOT NULL, last_checked, first_seen, name"
            ).fetchall()
        return [_record(row) for row in rows]

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        """Existing records among ``names``, read in one transaction."""
        wanted = unique(names)
        with self._lock:
            self._connection.execute("BEGIN")  # one read snapshot across the chunks
            try:
                rows = list(self._select(self._connection, wanted))
            finally:
                self._connection.execute("COMMIT")
        return {row["name"]: _record(row) for row in rows}

    def all_records(self) -> list[TrackedOperation]:
        """Every record, in one statement (one read snapshot)."""
        with self._lock:
            rows = self._connection.execute(f"{_SELECT} ORDER BY first_seen, name").fetchall()
        return [_record(row) for row in rows]

    def track(
        self,
        operations: Sequence[NewOperation],
        now: datetime.datetime,
        *,
        history: bool = False,
        reopen_history: bool = False,
    ) -> int:
        """Insert absent operations (PENDING, or SETTLED as HISTORY); count the writes."""
        now = as_utc(now)
        rows = [_row(initial_record(operation, now, history=history)) for operation in operations]
        marks = ", ".join("?" * len(_COLUMNS))
        on_conflict = "DO NOTHING"
        if reopen_history:
            on_conflict = (
                "DO UPDATE SET status = 'PENDING', state = NULL, published_at = NULL"
                f" WHERE operations.status = '{STORED_SETTLED}' AND operations.state = '{HISTORY}'"
            )
        with self._transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                f"INSERT INTO operations ({', '.join(_COLUMNS)}) VALUES ({marks})"
                f" ON CONFLICT (name) {on_conflict}",
                rows,
            )
            return connection.total_changes - before

    def mark_checked(self, names: Sequence[str], now: datetime.datetime) -> None:
        """Set ``last_checked`` on the existing records among ``names``."""
        checked = _text(now)
        with self._transaction() as connection:
            connection.executemany(
                "UPDATE operations SET last_checked = ? WHERE name = ?",
                [(checked, name) for name in names],
            )

    def claim(
        self,
        operations: Sequence[NewOperation],
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> dict[str, TrackedOperation]:
        """Claim in one write transaction: read, decide, write, so no other claim interleaves."""
        now, lease_until = as_utc(now), as_utc(lease_until)
        wanted = by_name(operations)
        claimed: dict[str, TrackedOperation] = {}
        with self._transaction() as connection:
            existing = {row["name"]: _record(row) for row in self._select(connection, list(wanted))}
            for name, operation in wanted.items():
                record = existing.get(name) or new_record(operation, now)
                if claimable(record, owner, now):
                    claimed[name] = with_claim(record, owner, now, lease_until)
            marks = ", ".join("?" * len(_COLUMNS))
            connection.executemany(
                f"INSERT INTO operations ({', '.join(_COLUMNS)}) VALUES ({marks})"
                " ON CONFLICT (name) DO UPDATE SET claim_owner = excluded.claim_owner,"
                " claim_until = excluded.claim_until, detect_time = excluded.detect_time",
                [_row(record) for record in claimed.values()],
            )
        return claimed

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        """Set SETTLED with outcome and time, dropping the claim; absent records are ignored."""
        with self._transaction() as connection:
            connection.executemany(
                f"UPDATE operations SET status = '{STORED_SETTLED}', state = ?, published_at = ?,"
                " claim_owner = NULL, claim_until = NULL WHERE name = ?",
                [(o.state, _text(o.at), o.name) for o in outcomes],
            )

    def release(self, names: Sequence[str], owner: str) -> None:
        """Drop ``owner``'s claims on PENDING records; claims of others are left alone."""
        with self._transaction() as connection:
            connection.executemany(
                "UPDATE operations SET claim_owner = NULL, claim_until = NULL"
                " WHERE name = ? AND claim_owner = ? AND status = 'PENDING'",
                [(name, owner) for name in names],
            )

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._connection.close()
