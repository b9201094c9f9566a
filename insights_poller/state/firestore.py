"""Firestore state store: shared state for every instance of a deployed poller.

Layout, all in one collection:

* one document per operation, id = :func:`document_id` of the operation name
  (``/`` becomes ``~``, so ``projects~p~locations~l~operations~123``), holding
  the ``TrackedOperation`` fields under their own names (timestamps as Firestore
  timestamps; fields whose value is None are left out, which is cheaper to encode; SETTLED is
  written ``rules.STORED_SETTLED``);
* one metadata document with the reserved id ``_watch`` (field ``watch_start``).
  Operation ids never start with ``_``, and the metadata document has no
  ``status`` so the PENDING query never sees it.

Reads go through ``get_all`` in chunks; writes through non-atomic batch writes
(``BulkWriteBatch``, up to 500 per RPC) whose per-write statuses let a failed
precondition mean "someone else got there first" instead of failing the batch.
Claims and releases use optimistic concurrency: read, decide, then write with a
precondition (``create`` for absent documents, last-update-time for existing
ones), re-reading only the documents whose precondition failed; a claim whose
write fails for any other reason (even a transient one, after the retries) raises
``IncompleteClaim``, naming it and carrying the claims that did apply. ``pending()``
is a single equality query on ``status`` (served by the automatic single-field
index) and is ordered in Python, so no composite index is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from google.api_core import exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.bulk_batch import BulkWriteBatch
from google.cloud.firestore_v1.document import DocumentReference
from google.rpc import code_pb2

from insights_poller.model import (
    HISTORY,
    PENDING,
    SETTLED,
    NewOperation,
    Outcome,
    TrackedOperation,
)
from insights_poller.ports import IncompleteClaim
from insights_poller.state.rules import (
    STORED_SETTLED,
    UTC,
    as_utc,
    by_name,
    claimable,
    initial_record,
    new_record,
    packed_fingerprints,
    pending_order,
    record_status,
    stored_status,
    unique,
    unpacked_fingerprints,
    with_claim,
)

_T = TypeVar("_T")
_R = TypeVar("_R")

WATCH_DOCUMENT_ID = "_watch"
"""Id of the metadata document; operation document ids never start with ``_``."""
CURSORS_DOCUMENT_ID = "_listing_cursors"
"""Per location (one field each), where a listing cut short by the poll's budget resumes."""
BASELINES_DOCUMENT_ID = "_history_baselines"
"""Per location (one field each), when its first complete listing set its history baseline."""
FINGERPRINTS_DOCUMENT_PREFIX = "_settled~"
"""Per location, document ``_settled~LOCATION`` holds its settled fingerprints (bytes)."""
FOLLOW_UPS_DOCUMENT_ID = "_follow_ups"
"""Which poll follows up now (field ``run_id``)."""

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each Firestore RPC."""

_READ_CHUNK = 500  # documents per BatchGetDocuments call
_WRITE_CHUNK = 500  # the BatchWrite limit
_PARALLEL_RPCS = 8  # chunks of one call sent at once
_WRITE_ATTEMPTS = 4  # tries for writes failing with a transient per-write status
_CONDITIONAL_ROUNDS = 5  # read-decide-write rounds for claim/release under contention
_TRANSIENT = frozenset(
    {
        code_pb2.ABORTED,
        code_pb2.UNAVAILABLE,
        code_pb2.RESOURCE_EXHAUSTED,
        code_pb2.INTERNAL,
        code_pb2.DEADLINE_EXCEEDED,
    }
)
# Per-write statuses meaning another writer changed the document since we read it.
_LOST_RACE = frozenset({code_pb2.ALREADY_EXISTS, code_pb2.FAILED_PRECONDITION, code_pb2.NOT_FOUND})


def document_id(name: str) -> str:
    """A readable, collision-free Firestore document id for an operation name.

    ``%`` and ``~`` are percent-escaped first, then ``/`` becomes ``~``; a
    leading ``_`` (reserved for metadata and Firestore's ``__*__`` ids) and the
    ids ``.``/``..`` are escaped too.
    """
    if not name:
        raise ValueError("operation name must not be empty")
    encoded = name.replace("%", "%25").replace("~", "%7E").replace("/", "~")
    if encoded.startswith("_"):
        encoded = "%5F" + encoded[1:]
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


def _time(value: Any) -> datetime.datetime | None:
    """A Firestore timestamp as a plain tz-aware UTC datetime."""
    if value is None:
        return None
    utc: datetime.datetime = value.astimezone(UTC)
    return datetime.datetime.combine(utc.date(), utc.time(), tzinfo=UTC)


def _record(data: Mapping[str, Any]) -> TrackedOperation:
    first_seen = _time(data["first_seen"])
    assert first_seen is not None
    return TrackedOperation(
        name=data["name"],
        location=data["location"],
        operation_type=data["operation_type"],
        status=record_status(data["status"]),
        first_seen=first_seen,
        create_time=_time(data.get("create_time")),
        last_checked=_time(data.get("last_checked")),
        detect_time=_time(data.get("detect_time")),
        published_at=_time(data.get("published_at")),
        state=data.get("state"),
        claim_owner=data.get("claim_owner"),
        claim_until=_time(data.get("claim_until")),
    )


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parallel(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``function`` over ``items``, in threads when there are several, so RPC waits overlap."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(_PARALLEL_RPCS, len(items))) as pool:
        return list(pool.map(function, items))


@dataclasses.dataclass(frozen=True)
class _Write:
    """One document write: a ``create`` (must not exist) or an ``update`` (must exist).

    An update with ``update_time`` also requires the document to be unchanged
    since it was read at that time.
    """

    reference: DocumentReference
    data: dict[str, Any]
    create: bool = False
    update_time: datetime.datetime | None = None


# Given a name and its snapshot, the write to attempt and the record it would produce.
_Decision = Callable[
    [str, DocumentSnapshot[DocumentReference]], tuple[_Write, TrackedOperation] | None
]


class FirestoreStateStore:
    """``StateStore`` on a Firestore collection; takes ownership of ``client``."""

    def __init__(
        self, client: firestore.Client, collection: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._client = client
        self._collection = client.collection(collection)
        self._timeout = timeout
        self._watch_start: datetime.datetime | None = None

    def _reference(self, name: str) -> DocumentReference:
        return self._collection.document(document_id(name))

    def _read(self, names: Sequence[str]) -> dict[str, DocumentSnapshot[DocumentReference]]:
        """Snapshots (existing or not) of ``names``' documents, fetched in parallel chunks."""
        by_id = {document_id(name): name for name in names}

        def fetch(chunk: Sequence[str]) -> list[DocumentSnapshot[DocumentReference]]:
            references = [self._reference(name) for name in chunk]
            return list(self._client.get_all(references, timeout=self._timeout))

        return {
            by_id[snapshot.id]: snapshot
            for snapshots in _parallel(fetch, list(_chunks(names, _READ_CHUNK)))
            for snapshot in snapshots
        }

    def _commit(self, writes: Sequence[_Write]) -> list[tuple[int, str]]:
        """Apply ``writes`` non-atomically; each write's final (status code, message).

        Writes failing with a transient status are retried with backoff; any
        other status is returned for the caller to judge.
        """
        results: list[tuple[int, str]] = [(code_pb2.OK, "")] * len(writes)

        def send(chunk: Sequence[int]) -> list[tuple[int, int, str]]:
            batch = BulkWriteBatch(self._client)
            for index in chunk:
                self._add(batch, writes[index])
            response = batch.commit(timeout=self._timeout)
            statuses = zip(chunk, response.status, strict=True)
            return [(index, status.code, status.message) for index, status in statuses]

        todo = list(range(len(writes)))
        for attempt in range(_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(0.1 * 2**attempt)
            retry: list[int] = []
            for outcomes in _parallel(send, list(_chunks(todo, _WRITE_CHUNK))):
                for index, code, message in outcomes:
                    results[index] = (code, message)
                    if code in _TRANSIENT:
                        retry.append(index)
            todo = retry
            if not todo:
                break
        return results

    def _add(self, batch: BulkWriteBatch, write: _Write) -> None:
        if write.create:
            batch.create(write.reference, write.data)
        elif write.update_time is not None:
            option = self._client.write_option(last_update_time=write.update_time)
            batch.update(write.reference, write.data, option=option)
        else:
            batch.update(write.reference, write.data)

    def _commit_ignoring(self, writes: Sequence[_Write], *ignored: int) -> list[bool]:
        """Commit; per write, whether it applied. Statuses other than ``ignored`` raise."""
        applied = []
        for code, message in self._commit(writes):
            if code != code_pb2.OK and code not in ignored:
                raise _status_error(code, message)
            applied.append(code == code_pb2.OK)
        return applied

    def _conditional(
        self, names: Sequence[str], decide: _Decision
    ) -> tuple[dict[str, TrackedOperation], dict[str, tuple[int, str]]]:
        """Optimistic read-decide-write; a document changed meanwhile is re-read and re-decided.

        Returns the records whose write applied, and by name the final (status code,
        message) of every write that failed otherwise than by a lost race, a transient
        status still failing after ``_commit``'s retries included. A document still
        contended after the last round lost every race: it is in neither.
        """
        done: dict[str, TrackedOperation] = {}
        failed: dict[str, tuple[int, str]] = {}
        remaining = list(names)
        for _ in range(_CONDITIONAL_ROUNDS):
            if not remaining:
                break
            snapshots = self._read(remaining)
            attempts = [
                decision
                for name in remaining
                if (decision := decide(name, snapshots[name])) is not None
            ]
            remaining = []
            outcomes = self._commit([write for write, _ in attempts])
            for (_, record), (code, message) in zip(attempts, outcomes, strict=False):
                if code == code_pb2.OK:
                    done[record.name] = record
                elif code in _LOST_RACE:
                    remaining.append(record.name)
                else:
                    failed[record.name] = (code, message)
        return done, failed

    def watch_start(self, now: datetime.datetime) -> datetime.datetime:
        """Create the metadata document if absent, then return what it holds."""
        if self._watch_start is None:
            reference = self._collection.document(WATCH_DOCUMENT_ID)
            snapshot = reference.get(timeout=self._timeout)
            if not snapshot.exists:
                # Another poll may store it first: theirs is the one.
                with contextlib.suppress(exceptions.AlreadyExists):
                    reference.create({"watch_start": as_utc(now)}, timeout=self._timeout)
                snapshot = reference.get(timeout=self._timeout)
            self._watch_start = _time(snapshot.get("watch_start"))
        assert self._watch_start is not None
        return self._watch_start

    def listing_cursor(self, location: str) -> str:
        snapshot = self._collection.document(CURSORS_DOCUMENT_ID).get(timeout=self._timeout)
        cursors = (snapshot.to_dict() or {}) if snapshot.exists else {}
        return str(cursors.get(location, ""))

    def save_listing_cursor(self, location: str, page_token: str) -> None:
        reference = self._collection.document(CURSORS_DOCUMENT_ID)
        value = page_token if page_token else firestore.DELETE_FIELD
        reference.set({location: value}, merge=True, timeout=self._timeout)

    def baselined_locations(self) -> frozenset[str]:
        snapshot = self._collection.document(BASELINES_DOCUMENT_ID).get(timeout=self._timeout)
        return frozenset((snapshot.to_dict() or {}) if snapshot.exists else {})

    def mark_baselined(self, location: str, now: datetime.datetime) -> None:
        reference = self._collection.document(BASELINES_DOCUMENT_ID)
        reference.set({location: as_utc(now)}, merge=True, timeout=self._timeout)

    def settled_fingerprints(self, locations: Sequence[str]) -> dict[str, frozenset[int]]:
        wanted = list(dict.fromkeys(locations))
        references = [
            self._collection.document(FINGERPRINTS_DOCUMENT_PREFIX + location)
            for location in wanted
        ]
        found: dict[str, frozenset[int]] = {}
        for snapshot in self._client.get_all(references, timeout=self._timeout):
            if snapshot.exists:
                packed = (snapshot.to_dict() or {}).get("fingerprints", b"")
                found[snapshot.id.removeprefix(FINGERPRINTS_DOCUMENT_PREFIX)] = (
                    unpacked_fingerprints(bytes(packed))
                )
        return {location: found.get(location, frozenset()) for location in wanted}

    def save_settled_fingerprints(self, location: str, fingerprints: frozenset[int]) -> None:
        reference = self._collection.document(FINGERPRINTS_DOCUMENT_PREFIX + location)
        reference.set({"fingerprints": packed_fingerprints(fingerprints)}, timeout=self._timeout)

    def take_follow_ups(self, run_id: str) -> None:
        reference = self._collection.document(FOLLOW_UPS_DOCUMENT_ID)
        reference.set({"run_id": run_id}, timeout=self._timeout)

    def follow_up_owner(self) -> str | None:
        snapshot = self._collection.document(FOLLOW_UPS_DOCUMENT_ID).get(timeout=self._timeout)
        owner = (snapshot.to_dict() or {}).get("run_id") if snapshot.exists else None
        return None if owner is None else str(owner)

    def pending(self) -> list[TrackedOperation]:
        """One query on ``status == PENDING``, ordered here rather than by an index."""
        query = self._collection.where(filter=FieldFilter("status", "==", PENDING))
        records = [
            _record(snapshot.to_dict() or {}) for snapshot in query.stream(timeout=self._timeout)
        ]
        return sorted(records, key=pending_order)

    def get_many(self, names: Iterable[str]) -> dict[str, TrackedOperation]:
        """Existing records among ``names``, via chunked ``get_all``."""
        snapshots = self._read(unique(names))
        return {
            name: _record(snapshot.to_dict() or {})
            for name, snapshot in snapshots.items()
            if snapshot.exists
        }

    def all_records(self) -> list[TrackedOperation]:
        """One query over the collection, skipping the metadata documents (ids starting ``_``)."""
        records = [
            _record(snapshot.to_dict() or {})
            for snapshot in self._collection.stream(timeout=self._timeout)
            if not snapshot.id.startswith("_")
        ]
        return sorted(records, key=lambda record: (record.first_seen, record.name))

    def track(
        self,
        operations: Sequence[NewOperation],
        now: datetime.datetime,
        *,
        history: bool = False,
        reopen_history: bool = False,
    ) -> int:
        """Create-if-absent each record; the count is the writes that applied. Reopening
        history reads the records that exist and updates the HISTORY ones, conditionally."""
        now = as_utc(now)
        wanted = by_name(operations)
        writes = [
            _Write(
                self._reference(name),
                _fields(initial_record(operation, now, history=history)),
                create=True,
            )
            for name, operation in wanted.items()
        ]
        created = self._commit_ignoring(writes, code_pb2.ALREADY_EXISTS)
        written = sum(created)
        existing = [name for name, applied in zip(wanted, created, strict=True) if not applied]
        if reopen_history and existing:

            def decide(
                name: str, snapshot: DocumentSnapshot[DocumentReference]
            ) -> tuple[_Write, TrackedOperation] | None:
                current = _record(snapshot.to_dict() or {}) if snapshot.exists else None
                if current is None or current.state != HISTORY or current.status != SETTLED:
                    return None
                record = dataclasses.replace(current, status=PENDING, state=None, published_at=None)
                data = {"status": PENDING, "state": None, "published_at": None}
                return _Write(snapshot.reference, data, update_time=snapshot.update_time), record

            reopened, _ = self._conditional(existing, decide)
            written += len(reopened)
        return written

    def mark_checked(self, names: Sequence[str], now: datetime.datetime) -> None:
        """Update ``last_checked`` where the document exists."""
        data = {"last_checked": as_utc(now)}
        writes = [_Write(self._reference(name), data) for name in unique(names)]
        self._commit_ignoring(writes, code_pb2.NOT_FOUND)

    def claim(
        self,
        operations: Sequence[NewOperation],
        owner: str,
        now: datetime.datetime,
        lease_until: datetime.datetime,
    ) -> dict[str, TrackedOperation]:
        """Claim with preconditions, so exactly one of several racing polls wins each record.

        A claim lost to another poll is left out; one whose write failed otherwise raises
        ``IncompleteClaim`` once every other claim was tried.
        """
        now, lease_until = as_utc(now), as_utc(lease_until)
        wanted = by_name(operations)

        def decide(
            name: str, snapshot: DocumentSnapshot[DocumentReference]
        ) -> tuple[_Write, TrackedOperation] | None:
            if not snapshot.exists:
                record = with_claim(new_record(wanted[name], now), owner, now, lease_until)
                return _Write(snapshot.reference, _fields(record), create=True), record
            current = _record(snapshot.to_dict() or {})
            if not claimable(current, owner, now):
                return None
            record = with_claim(current, owner, now, lease_until)
            data = {
                "claim_owner": owner,
                "claim_until": lease_until,
                "detect_time": record.detect_time,
            }
            return _Write(snapshot.reference, data, update_time=snapshot.update_time), record

        claimed, failed = self._conditional(list(wanted), decide)
        if failed:
            raise IncompleteClaim(
                claimed,
                {name: (_code_name(code), message) for name, (code, message) in failed.items()},
            )
        return claimed

    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        """Unconditional update to SETTLED; absent documents are ignored."""
        latest = {outcome.name: outcome for outcome in outcomes}
        writes = [
            _Write(
                self._reference(outcome.name),
                {
                    "status": STORED_SETTLED,
                    "state": outcome.state,
                    "published_at": as_utc(outcome.at),
                    "claim_owner": firestore.DELETE_FIELD,
                    "claim_until": firestore.DELETE_FIELD,
                },
            )
            for outcome in latest.values()
        ]
        self._commit_ignoring(writes, code_pb2.NOT_FOUND)

    def release(self, names: Sequence[str], owner: str) -> None:
        """Drop ``owner``'s claims, conditional on the document not having changed since read."""

        def decide(
            name: str, snapshot: DocumentSnapshot[DocumentReference]
        ) -> tuple[_Write, TrackedOperation] | None:
            if not snapshot.exists:
                return None
            current = _record(snapshot.to_dict() or {})
            if current.status != PENDING or current.claim_owner != owner:
                return None
            record = dataclasses.replace(current, claim_owner=None, claim_until=None)
            data = {"claim_owner": firestore.DELETE_FIELD, "claim_until": firestore.DELETE_FIELD}
            return _Write(snapshot.reference, data, update_time=snapshot.update_time), record

        _, failed = self._conditional(unique(names), decide)
        # A release whose write still fails with a transient status after the retries is
        # dropped on purpose: the claim then holds until its lease runs out, and a later poll
        # takes the operation over. Any other status is a fault, raised as before.
        for code, message in failed.values():
            if code not in _TRANSIENT:
                raise _status_error(code, message)

    def close(self) -> None:
        """Close the client's gRPC channel (``Client.close()`` alone closes only HTTP)."""
        api = getattr(self._client, "_firestore_api_internal", None)
        if api is not None:
            api.transport.close()
        self._client.close()


def _code_name(code: int) -> str:
    """The gRPC name of a status code (``UNAVAILABLE``); the number if it has none."""
    try:
        name: str = code_pb2.Code.Name(code)
    except ValueError:
        return str(code)
    return name


def _status_error(code: int, message: str) -> exceptions.GoogleAPICallError:
    """The API exception matching a per-write status, as a failed RPC would raise it."""
    error: exceptions.GoogleAPICallError = exceptions.from_grpc_status(code, message)
    return error


def _fields(record: TrackedOperation) -> dict[str, Any]:
    """A record as a Firestore document; absent values are left out (cheaper to encode/decode)."""
    fields = {field: value for field, value in vars(record).items() if value is not None}
    return {**fields, "status": stored_status(record.status)}
