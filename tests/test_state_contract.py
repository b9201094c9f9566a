"""The ``StateStore`` contract, checked identically against every backend.

SQLite runs on a temporary file; Firestore on the official emulator with a fresh
collection per test (marked ``integration``); the in-memory fake the poll's unit
tests use (``tests/fakes.py``) runs it too, so it cannot drift from the real ones.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fakes import InMemoryStateStore
from google.api_core import exceptions
from google.cloud import firestore
from google.rpc import code_pb2

from devstack.gcloud_emulators import EMULATOR_PROJECT
from insights_poller.model import NewOperation, Outcome, TrackedOperation
from insights_poller.ports import IncompleteClaim, StateStore
from insights_poller.state import StateLocation, open_state_store
from insights_poller.state.firestore import FirestoreStateStore, _Write, document_id
from insights_poller.state.sqlite import SqliteStateStore

UTC = datetime.UTC
T0 = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[1]

StoreFactory = Callable[[], StateStore]


def at(minutes: float) -> datetime.datetime:
    """``minutes`` after T0."""
    return T0 + datetime.timedelta(minutes=minutes)


def op(number: int, create_time: datetime.datetime | None = None) -> NewOperation:
    """A realistic operation; names contain ``/`` like the real ones."""
    return NewOperation(
        name=f"projects/p/locations/us-central1/operations/{number}",
        location="us-central1",
        operation_type="BulkAnalyzeConversations",
        create_time=create_time,
    )


@pytest.fixture(
    params=["sqlite", pytest.param("firestore", marks=pytest.mark.integration), "memory"]
)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens store instances that all share one fresh backing store; closes them after.

    The in-memory fake's backing store is its one instance: every "instance" opened is
    that one, so what a test checks across instances it checks on the fake within one.
    """
    if request.param == "memory":
        fake = InMemoryStateStore()
        yield lambda: fake
        fake.close()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state' / 'poller.db'}"
    else:
        request.getfixturevalue("firestore_emulator")
        url = f"firestore:///ops-{uuid.uuid4().hex}"
    opened: list[StateStore] = []

    def factory() -> StateStore:
        store = open_state_store(StateLocation.parse(url), project=EMULATOR_PROJECT)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> StateStore:
    return open_store()


# --- watch_start -------------------------------------------------------------


def test_watch_start_is_stored_once_and_returned_ever_after(open_store: StoreFactory) -> None:
    first = open_store()
    assert first.watch_start(T0) == T0
    assert first.watch_start(at(60)) == T0
    assert open_store().watch_start(at(120)) == T0
    assert first.watch_start(at(180)).tzinfo == UTC


def test_watch_start_race_has_one_winner(open_store: StoreFactory) -> None:
    stores = [open_store() for _ in range(6)]
    barrier = threading.Barrier(len(stores))

    def start(index: int) -> datetime.datetime:
        barrier.wait()
        return stores[index].watch_start(at(index))

    with ThreadPoolExecutor(len(stores)) as pool:
        results = set(pool.map(start, range(len(stores))))
    assert len(results) == 1
    assert results <= {at(index) for index in range(len(stores))}


# --- history and its baselines -------------------------------------------------


def test_history_is_recorded_settled_and_never_over_a_tracked_record(store: StateStore) -> None:
    store.track([op(1)], T0)  # another poll tracked it meanwhile

    recorded = store.track([op(1), op(2)], at(1), history=True)

    assert recorded == 1
    records = store.get_many([op(1).name, op(2).name])
    assert records[op(1).name].status == "PENDING"
    assert (records[op(2).name].status, records[op(2).name].state) == ("SETTLED", "HISTORY")
    assert [record.name for record in store.pending()] == [op(1).name]
    # Never published: a poll that a request named it to may still claim and publish it.
    assert list(store.claim([op(2)], "poll-a", at(2), at(5))) == [op(2).name]


def test_a_request_reopens_history_and_nothing_else(store: StateStore) -> None:
    store.track([op(1), op(2)], T0, history=True)
    store.track([op(3)], T0)
    store.claim([op(3)], "poll-a", at(1), at(5))
    store.mark_settled([Outcome(op(3).name, "SUCCEEDED", at(2))])

    written = store.track([op(1), op(3), op(4)], at(3), reopen_history=True)

    assert written == 2
    records = store.get_many([op(n).name for n in (1, 2, 3, 4)])
    assert [records[op(n).name].status for n in (1, 2, 3, 4)] == [
        "PENDING",
        "SETTLED",
        "SETTLED",
        "PENDING",
    ]
    assert (records[op(1).name].state, records[op(3).name].state) == (None, "SUCCEEDED")
    assert sorted(record.name for record in store.pending()) == [op(1).name, op(4).name]


def test_baselined_locations_are_kept(open_store: StoreFactory) -> None:
    store = open_store()
    assert store.baselined_locations() == frozenset()

    store.mark_baselined("us-central1", T0)
    store.mark_baselined("europe-west1", at(1))
    store.mark_baselined("us-central1", at(2))

    assert open_store().baselined_locations() == {"us-central1", "europe-west1"}


# --- listing cursors ----------------------------------------------------------


def test_listing_cursor_is_kept_per_location_until_cleared(open_store: StoreFactory) -> None:
    store = open_store()
    assert store.listing_cursor("us-central1") == ""

    store.save_listing_cursor("us-central1", "token-a")
    store.save_listing_cursor("europe-west1", "token-b")
    store.save_listing_cursor("us-central1", "token-c")

    other = open_store()
    assert other.listing_cursor("us-central1") == "token-c"
    assert other.listing_cursor("europe-west1") == "token-b"
    other.save_listing_cursor("us-central1", "")
    assert store.listing_cursor("us-central1") == ""
    assert store.listing_cursor("europe-west1") == "token-b"
    assert store.pending() == []


# --- track / get_many / pending / mark_checked -------------------------------


def test_track_creates_pending_records_and_counts_new_ones(store: StateStore) -> None:
    created = at(-30)
    assert store.track([op(1, created), op(2)], T0) == 2
    assert store.track([op(1), op(2), op(3)], at(5)) == 1
    assert store.track([op(4), op(4)], at(6)) == 1
    assert store.track([], at(7)) == 0

    records = store.get_many(op(n).name for n in (1, 2, 3, 4))
    assert records[op(1).name] == TrackedOperation(
        name=op(1).name,
        location="us-central1",
        operation_type="BulkAnalyzeConversations",
        status="PENDING",
        first_seen=T0,
        create_time=created,
    )
    assert records[op(3).name].first_seen == at(5)
    for record in records.values():
        assert record.first_seen.tzinfo == UTC
        assert record.claim_owner is None and record.detect_time is None


def test_timestamps_in_other_zones_come_back_as_utc(store: StateStore) -> None:
    elsewhere = T0.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    store.track([op(1, elsewhere)], elsewhere)
    record = store.get_many([op(1).name])[op(1).name]
    assert record.first_seen == T0 and record.first_seen.tzinfo == UTC
    assert record.create_time == T0 and record.create_time.tzinfo == UTC


def test_naive_timestamps_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.track([op(1)], T0.replace(tzinfo=None))


def test_get_many_returns_only_existing_records(store: StateStore) -> None:
    store.track([op(1), op(2)], T0)
    assert store.get_many([]) == {}
    found = store.get_many(iter([op(1).name, op(9).name, op(1).name]))
    assert list(found) == [op(1).name]
    assert found[op(1).name].name == op(1).name


def test_many_operations_cross_batch_boundaries(store: StateStore) -> None:
    operations = [op(n) for n in range(1201)]
    names = [operation.name for operation in operations]
    assert store.track(operations, T0) == 1201
    assert len(store.get_many(names)) == 1201
    store.mark_checked(names, at(1))
    assert len(store.claim(operations, "a", at(2), at(10))) == 1201
    store.mark_settled([Outcome(name, "SUCCEEDED", at(3)) for name in names])
    assert store.pending() == []


def test_pending_lists_never_checked_first_then_least_recently_checked(
    store: StateStore,
) -> None:
    for number, seen in ((1, 0), (2, 1), (3, 2), (4, 3), (5, 4)):
        store.track([op(number)], at(seen))
    store.mark_checked([op(1).name], at(20))
    store.mark_checked([op(3).name], at(10))
    store.mark_settled([Outcome(op(5).name, "SUCCEEDED", at(11))])

    assert [record.name for record in store.pending()] == [
        op(2).name,  # never checked, seen first
        op(4).name,  # never checked
        op(3).name,  # checked at 10
        op(1).name,  # checked at 20
    ]


def test_mark_checked_updates_existing_records_and_ignores_others(store: StateStore) -> None:
    store.track([op(1), op(2)], T0)
    store.mark_checked([op(1).name, op(9).name], at(3))
    records = store.get_many([op(1).name, op(2).name, op(9).name])
    assert records[op(1).name].last_checked == at(3)
    assert records[op(2).name].last_checked is None
    assert op(9).name not in records
    store.mark_checked([], at(4))


def test_all_records_lists_every_status_oldest_first_and_no_metadata(store: StateStore) -> None:
    assert store.all_records() == []
    store.watch_start(T0)  # metadata beside the records must not show up as one
    store.save_listing_cursor("us-central1", "token")
    store.track([op(3, at(-9))], at(2))
    store.track([op(2), op(1)], T0)
    store.mark_checked([op(1).name], at(4))
    store.claim([op(2)], "poll-a", at(5), at(9))
    store.mark_settled([Outcome(op(3).name, "FAILED", at(6))])

    records = store.all_records()

    assert [record.name for record in records] == [op(1).name, op(2).name, op(3).name]
    assert {r.name: r for r in records} == store.get_many(r.name for r in records)
    assert [(r.status, r.state) for r in records] == [
        ("PENDING", None),
        ("PENDING", None),
        ("SETTLED", "FAILED"),
    ]
    assert (records[0].last_checked, records[1].claim_owner) == (at(4), "poll-a")
    assert (records[2].create_time, records[2].published_at) == (at(-9), at(6))


# --- claim ---------------------------------------------------------------------


def test_claim_takes_unclaimed_pending_and_creates_absent_records(store: StateStore) -> None:
    store.track([op(1, at(-5))], T0)
    claimed = store.claim([op(1), op(2, at(-1))], "poll-a", at(1), at(6))

    assert set(claimed) == {op(1).name, op(2).name}
    existing, created = claimed[op(1).name], claimed[op(2).name]
    assert existing.first_seen == T0 and existing.create_time == at(-5)
    assert created.first_seen == at(1) and created.create_time == at(-1)
    for record in (existing, created):
        assert record.status == "PENDING"
        assert (record.claim_owner, record.claim_until, record.detect_time) == (
            "poll-a",
            at(6),
            at(1),
        )
    assert store.get_many([op(1).name, op(2).name]) == claimed


def test_claim_held_by_another_live_claim_is_not_taken(store: StateStore) -> None:
    store.claim([op(1)], "poll-a", T0, at(5))
    assert store.claim([op(1)], "poll-b", at(1), at(6)) == {}
    assert store.claim([op(1)], "poll-b", at(5), at(6)) == {}  # lease ends at 5, inclusive
    assert store.get_many([op(1).name])[op(1).name].claim_owner == "poll-a"


def test_expired_claim_can_be_taken_and_keeps_detect_time(store: StateStore) -> None:
    store.claim([op(1)], "poll-a", T0, at(5))
    claimed = store.claim([op(1)], "poll-b", at(6), at(11))
    record = claimed[op(1).name]
    assert (record.claim_owner, record.claim_until, record.detect_time) == ("poll-b", at(11), T0)
    assert store.get_many([op(1).name])[op(1).name] == record


def test_owner_can_claim_again_and_extend_its_lease(store: StateStore) -> None:
    store.claim([op(1)], "poll-a", T0, at(5))
    record = store.claim([op(1)], "poll-a", at(2), at(8))[op(1).name]
    assert (record.claim_owner, record.claim_until, record.detect_time) == ("poll-a", at(8), T0)


def test_published_records_are_never_claimed(store: StateStore) -> None:
    store.claim([op(1)], "poll-a", T0, at(5))
    store.mark_settled([Outcome(op(1).name, "SUCCEEDED", at(1))])

    record = store.get_many([op(1).name])[op(1).name]
    assert record.status == "SETTLED"
    assert (record.state, record.published_at, record.detect_time) == ("SUCCEEDED", at(1), T0)
    assert record.claim_owner is None and record.claim_until is None
    assert store.claim([op(1)], "poll-a", at(2), at(7)) == {}
    assert store.claim([op(1)], "poll-b", at(60), at(65)) == {}
    assert store.pending() == []


def test_mark_settled_is_unconditional_and_ignores_absent_records(store: StateStore) -> None:
    store.claim([op(1)], "poll-a", T0, at(5))
    store.claim([op(1)], "poll-b", at(6), at(11))  # poll-a's lease ran out meanwhile
    store.mark_settled(
        [
            Outcome(op(1).name, "FAILED", at(7)),
            Outcome(op(9).name, "SUCCEEDED", at(7)),
        ]
    )
    assert store.get_many([op(1).name])[op(1).name].status == "SETTLED"
    assert op(9).name not in store.get_many([op(9).name])
    store.mark_settled([])


def test_release_lets_another_owner_claim(store: StateStore) -> None:
    store.claim([op(1), op(2)], "poll-a", T0, at(5))
    store.release([op(1).name, op(2).name, op(9).name], "poll-b")  # not poll-b's: no effect
    assert store.claim([op(1)], "poll-b", at(1), at(6)) == {}

    store.release([op(1).name], "poll-a")
    record = store.get_many([op(1).name])[op(1).name]
    assert record.claim_owner is None and record.claim_until is None
    assert [r.name for r in store.pending()] == [op(1).name, op(2).name]

    claimed = store.claim([op(1), op(2)], "poll-b", at(1), at(6))
    assert set(claimed) == {op(1).name}
    assert claimed[op(1).name].detect_time == T0
    store.release([], "poll-b")


# --- concurrency ---------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "instance-per-thread"])
def test_concurrent_claims_have_exactly_one_winner(open_store: StoreFactory, shared: bool) -> None:
    single = open_store()
    if not shared and isinstance(single, InMemoryStateStore):
        pytest.skip(
            "the in-memory fake has no separate instances over one shared backing store: "
            "each instance-per-thread would be the same object as in one-instance"
        )
    operations = [op(n) for n in range(50)]
    owners = [f"poll-{index}" for index in range(8)]
    stores = [single if shared else open_store() for _ in owners]
    store_of = dict(zip(owners, stores, strict=False))
    single.track(operations[:25], T0)  # half known already, half created by the claim
    barrier = threading.Barrier(len(owners))

    def claim(owner: str) -> set[str]:
        barrier.wait()
        return set(store_of[owner].claim(operations, owner, at(1), at(6)))

    with ThreadPoolExecutor(len(owners)) as pool:
        won = dict(zip(owners, pool.map(claim, owners), strict=False))

    _assert_one_winner_each(single, operations, won)


_CLAIM_SCRIPT = """
import datetime, json, sys, time
from insights_poller.model import NewOperation
from insights_poller.state.sqlite import SqliteStateStore
path, owner, start_at, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
store = SqliteStateStore(path)
ops = [NewOperation(f"projects/p/locations/us-central1/operations/{n}", "us-central1",
                    "BulkAnalyzeConversations") for n in range(count)]
now = datetime.datetime(2025, 1, 1, 12, 1, tzinfo=datetime.UTC)
time.sleep(max(0.0, start_at - time.time()))
won = store.claim(ops, owner, now, now + datetime.timedelta(minutes=5))
print(json.dumps(sorted(won)))
"""


def test_sqlite_claims_from_several_processes_have_exactly_one_winner(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    operations = [op(n) for n in range(50)]
    owners = [f"process-{index}" for index in range(6)]
    start_at = time.time() + 3.0  # all children open the file, then claim together
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    children = {
        owner: subprocess.Popen(
            [sys.executable, "-c", _CLAIM_SCRIPT, path, owner, str(start_at), "50"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for owner in owners
    }
    won: dict[str, set[str]] = {}
    for owner, child in children.items():
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        won[owner] = set(json.loads(out))

    store = SqliteStateStore(path)
    try:
        _assert_one_winner_each(store, operations, won)
    finally:
        store.close()


def _assert_one_winner_each(
    store: StateStore, operations: list[NewOperation], won: dict[str, set[str]]
) -> None:
    """Every operation was claimed by exactly one owner, and the store agrees."""
    names = [operation.name for operation in operations]
    winners = {name: [owner for owner, claimed in won.items() if name in claimed] for name in names}
    assert all(len(owners) == 1 for owners in winners.values()), winners
    records = store.get_many(names)
    assert {name: record.claim_owner for name, record in records.items()} == {
        name: owners[0] for name, owners in winners.items()
    }


# --- Firestore: a write that fails ----------------------------------------------


class _FailingWrites(FirestoreStateStore):
    """Firestore on the emulator, except that the writes to the documents in ``failing``
    end with the given status, as if it were still failing after ``_commit``'s retries."""

    def __init__(self, client: firestore.Client, collection: str) -> None:
        super().__init__(client, collection)
        self.failing: dict[str, int] = {}  # document id -> status code

    def _commit(self, writes: Sequence[_Write]) -> list[tuple[int, str]]:
        outcomes = super()._commit(writes)
        return [
            (self.failing[write.reference.id], "injected failure")
            if write.reference.id in self.failing
            else outcome
            for write, outcome in zip(writes, outcomes, strict=True)
        ]


@pytest.mark.integration
@pytest.mark.parametrize(
    "code", [code_pb2.UNAVAILABLE, code_pb2.PERMISSION_DENIED], ids=["transient", "permanent"]
)
def test_firestore_claim_whose_write_fails_raises_incomplete_claim(
    firestore_emulator: str, code: int
) -> None:
    client = firestore.Client(project=EMULATOR_PROJECT)
    store = _FailingWrites(client, f"ops-{uuid.uuid4().hex}")
    try:
        store.track([op(1), op(2)], T0)
        store.claim([op(4)], "poll-b", T0, at(5))  # a live claim of another poll: no write
        store.failing = {document_id(op(2).name): code}

        with pytest.raises(IncompleteClaim) as raised:
            store.claim([op(1), op(2), op(3), op(4)], "poll-a", at(1), at(6))

        incomplete = raised.value
        assert incomplete.failed == {op(2).name: (code_pb2.Code.Name(code), "injected failure")}
        assert set(incomplete.claimed) == {op(1).name, op(3).name}
        assert store.get_many([op(1).name, op(3).name]) == incomplete.claimed
        assert all(record.claim_owner == "poll-a" for record in incomplete.claimed.values())
    finally:
        store.close()


@pytest.mark.integration
def test_firestore_release_lets_a_transient_failure_go_and_raises_any_other(
    firestore_emulator: str,
) -> None:
    client = firestore.Client(project=EMULATOR_PROJECT)
    store = _FailingWrites(client, f"ops-{uuid.uuid4().hex}")
    try:
        store.claim([op(1)], "poll-a", T0, at(5))
        store.failing = {document_id(op(1).name): code_pb2.UNAVAILABLE}
        store.release([op(1).name], "poll-a")  # the lease runs out instead
        store.failing = {}
        store.claim([op(1)], "poll-a", T0, at(5))  # the emulator did apply that release
        store.failing = {document_id(op(1).name): code_pb2.PERMISSION_DENIED}
        with pytest.raises(exceptions.PermissionDenied):
            store.release([op(1).name], "poll-a")
    finally:
        store.close()


# --- opening by URL ------------------------------------------------------------


def test_sqlite_url_paths_are_relative_or_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_state_store(StateLocation.parse("sqlite:///.state/poller.db"))
    absolute = open_state_store(StateLocation.parse(f"sqlite:///{tmp_path / 'abs' / 'poller.db'}"))
    try:
        assert isinstance(relative, SqliteStateStore) and isinstance(absolute, SqliteStateStore)
        assert (tmp_path / ".state" / "poller.db").is_file()
        assert (tmp_path / "abs" / "poller.db").is_file()
    finally:
        relative.close()
        absolute.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "poller.db",
        "sqlite://",
        "sqlite:///",
        "sqlite:////",
        "sqlite://host/poller.db",
        "firestore://",
        "firestore:///",
        "firestore://db/",
        "firestore:///a/b",
        "redis://localhost/0",
    ],
)
def test_unsupported_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError, match="state store URL"):
        StateLocation.parse(url)


@pytest.mark.integration
def test_firestore_url_selects_database_and_collection(firestore_emulator: str) -> None:
    collection = f"ops-{uuid.uuid4().hex}"
    default = open_state_store(StateLocation.parse(f"firestore:///{collection}"), EMULATOR_PROJECT)
    named = open_state_store(
        StateLocation.parse(f"firestore://other-db/{collection}"), EMULATOR_PROJECT
    )
    try:
        assert isinstance(named, FirestoreStateStore)
        named.track([op(1)], T0)
        assert op(1).name in named.get_many([op(1).name])
        assert default.get_many([op(1).name]) == {}
    finally:
        default.close()
        named.close()


def test_document_ids_are_readable_and_distinct() -> None:
    assert document_id(op(7).name) == "projects~p~locations~us-central1~operations~7"
    tricky = ["a/b", "a~b", "a%7Eb", "a%2Fb", "_watch", "__x__", ".", "..", "~", "%"]
    ids = [document_id(name) for name in tricky]
    assert len(set(ids)) == len(ids)
    assert all("/" not in i and not i.startswith("_") and i not in (".", "..") for i in ids)
    with pytest.raises(ValueError):
        document_id("")


# --- the stored layout, across versions ----------------------------------------------------


def test_sqlite_stores_settled_as_published_so_every_version_reads_it(tmp_path: Path) -> None:
    """Versions before SETTLED wrote PUBLISHED and read anything else as PENDING: a settled
    record written as SETTLED would be published again by a rollback, and theirs unread here."""
    path = tmp_path / "poller.db"
    store = SqliteStateStore(str(path))
    try:
        store.track([op(1), op(2)], T0)
        store.mark_settled([Outcome(op(1).name, "SUCCEEDED", at(1))])
        with sqlite3.connect(path) as raw:
            stored = dict(raw.execute("SELECT name, status FROM operations").fetchall())
            raw.execute(
                "UPDATE operations SET status = 'PUBLISHED', state = 'FAILED' WHERE name = ?",
                (op(2).name,),
            )  # as an earlier version records it
        assert stored == {op(1).name: "PUBLISHED", op(2).name: "PENDING"}
        records = store.get_many([op(1).name, op(2).name])
        assert [records[op(n).name].outcome for n in (1, 2)] == ["SUCCEEDED", "FAILED"]
        assert store.pending() == []
    finally:
        store.close()


@pytest.mark.integration
def test_firestore_stores_settled_as_published_so_every_version_reads_it(
    firestore_emulator: str,
) -> None:
    client = firestore.Client(project=EMULATOR_PROJECT)
    collection = f"ops-{uuid.uuid4().hex}"
    store = FirestoreStateStore(client, collection)
    try:
        store.track([op(1), op(2)], T0)
        store.mark_settled([Outcome(op(1).name, "SUCCEEDED", at(1))])
        documents = client.collection(collection)
        assert documents.document(document_id(op(1).name)).get().get("status") == "PUBLISHED"
        documents.document(document_id(op(2).name)).update(
            {"status": "PUBLISHED", "state": "FAILED"}  # as an earlier version records it
        )
        records = store.get_many([op(1).name, op(2).name])
        assert [records[op(n).name].outcome for n in (1, 2)] == ["SUCCEEDED", "FAILED"]
        assert store.pending() == []
    finally:
        store.close()
        client.close()
