"""Rules every state store applies the same way, kept in one place so backends agree."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable

from insights_poller.model import (
    HISTORY,
    PENDING,
    SETTLED,
    NewOperation,
    RecordStatus,
    TrackedOperation,
)

UTC = datetime.UTC

STORED_SETTLED = "PUBLISHED"
"""How SETTLED is written in SQLite and Firestore: the spelling of the first versions, kept so
that every version reads every version's records right (the first versions read any status but
theirs as PENDING, and would publish a settled record again)."""


def stored_status(status: RecordStatus) -> str:
    return STORED_SETTLED if status == SETTLED else PENDING


def record_status(stored: str) -> RecordStatus:
    return SETTLED if stored == STORED_SETTLED else PENDING


def as_utc(value: datetime.datetime) -> datetime.datetime:
    """``value`` in UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def unique(names: Iterable[str]) -> list[str]:
    """``names`` without repeats, first occurrence order kept."""
    return list(dict.fromkeys(names))


def by_name(operations: Iterable[NewOperation]) -> dict[str, NewOperation]:
    """Operations keyed by name; the first of several with one name wins."""
    result: dict[str, NewOperation] = {}
    for operation in operations:
        result.setdefault(operation.name, operation)
    return result


def new_record(operation: NewOperation, now: datetime.datetime) -> TrackedOperation:
    """The PENDING record of an operation seen for the first time at ``now``."""
    return TrackedOperation(
        name=operation.name,
        location=operation.location,
        operation_type=operation.operation_type,
        status=PENDING,
        first_seen=now,
        create_time=as_utc(operation.create_time) if operation.create_time else None,
    )


def initial_record(
    operation: NewOperation, now: datetime.datetime, *, history: bool
) -> TrackedOperation:
    """What ``track`` writes: a PENDING record, or with ``history`` one SETTLED as HISTORY."""
    record = new_record(operation, now)
    if not history:
        return record
    return dataclasses.replace(
        record, status=SETTLED, state=HISTORY, published_at=record.first_seen
    )


def claimable(record: TrackedOperation, owner: str, now: datetime.datetime) -> bool:
    """Whether ``owner`` may claim ``record`` at ``now`` (see ``ports.StateStore.claim``).

    A lease is live up to and including ``claim_until``: it has expired only once
    ``claim_until`` is strictly before ``now``. A HISTORY record was never published: a
    request may still claim and publish it.
    """
    if record.status != PENDING and record.state != HISTORY:
        return False
    if record.claim_owner is None or record.claim_owner == owner:
        return True
    return record.claim_until is None or record.claim_until < now


def with_claim(
    record: TrackedOperation, owner: str, now: datetime.datetime, lease_until: datetime.datetime
) -> TrackedOperation:
    """``record`` claimed by ``owner``; the first claim's ``detect_time`` is kept."""
    return dataclasses.replace(
        record,
        claim_owner=owner,
        claim_until=lease_until,
        detect_time=record.detect_time or now,
    )


MAX_FINGERPRINTS = 120_000
"""Fingerprints kept per location: 8 bytes each, within a Firestore document's 1 MiB."""


def packed_fingerprints(fingerprints: frozenset[int]) -> bytes:
    """Sorted 8-byte big-endian fingerprints, at most ``MAX_FINGERPRINTS`` (dropping some
    only means more record reads later, never a missed operation)."""
    kept = sorted(fingerprints)[:MAX_FINGERPRINTS]
    return b"".join(fingerprint.to_bytes(8, "big") for fingerprint in kept)


def unpacked_fingerprints(packed: bytes) -> frozenset[int]:
    return frozenset(
        int.from_bytes(packed[start : start + 8], "big") for start in range(0, len(packed), 8)
    )


def pending_order(
    record: TrackedOperation,
) -> tuple[bool, datetime.datetime, datetime.datetime, str]:
    """Sort key for ``pending()``: never checked first, then least recently checked."""
    checked = record.last_checked
    return (checked is not None, checked or record.first_seen, record.first_seen, record.name)
