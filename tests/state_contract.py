"""The ``StateStore`` contract: tests that every backend must pass alike.

A tier's test module imports them all and defines the ``open_store`` fixture for its backends:
``tests/unit/poller/test_state_contract.py`` for SQLite and the in-memory fake the poll's unit
tests use (``tests/fakes.py``, so it cannot drift from the real stores), and
``tests/integration/poller/test_state_contract_firestore.py`` for Firestore on the official
emulator, a fresh collection per test.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fakes import InMemoryStateStore

from insights_poller.model import NewOperation, Outcome, TrackedOperation
from insights_poller.ports import StateStore

UTC = datetime.UTC
T0 = datetime.datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

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

    assert_one_winner_each(single, operations, won)


def assert_one_winner_each(
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


def test_the_latest_poll_to_take_the_follow_ups_owns_them(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    assert first.follow_up_owner() is None

    first.take_follow_ups("run-a")
    assert second.follow_up_owner() == "run-a"
    second.take_follow_ups("run-b")
    assert (first.follow_up_owner(), second.follow_up_owner()) == ("run-b", "run-b")


def test_settled_fingerprints_are_kept_per_location_and_replaced(
    open_store: StoreFactory,
) -> None:
    first, second = open_store(), open_store()
    big = frozenset(range(2**63, 2**63 + 5000))  # 64-bit values, many of them
    assert first.settled_fingerprints(["us-central1", "europe-west1"]) == {
        "us-central1": frozenset(),
        "europe-west1": frozenset(),
    }

    first.save_settled_fingerprints("us-central1", big)
    first.save_settled_fingerprints("europe-west1", frozenset({1, 2**64 - 1}))
    assert second.settled_fingerprints(["us-central1", "europe-west1"]) == {
        "us-central1": big,
        "europe-west1": frozenset({1, 2**64 - 1}),
    }
    second.save_settled_fingerprints("us-central1", frozenset({7}))
    assert first.settled_fingerprints(["us-central1"]) == {"us-central1": frozenset({7})}
