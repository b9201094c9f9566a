"""The ``StateStore`` contract (``tests/state_contract.py``) on Firestore (the official
emulator, a fresh collection per test), and what only Firestore does: writes that fail, its
URLs, its stored layout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import pytest
from google.api_core import exceptions
from google.cloud import firestore
from google.rpc import code_pb2
from state_contract import *  # noqa: F403  (the contract's tests run here)
from state_contract import T0, StoreFactory, at, op

from devstack.gcloud_emulators import EMULATOR_PROJECT
from insights_poller.model import Outcome
from insights_poller.ports import IncompleteClaim, StateStore
from insights_poller.state import StateLocation, open_state_store
from insights_poller.state.firestore import FirestoreStateStore, _Write, document_id


@pytest.fixture
def open_store(firestore_emulator: str) -> Iterator[StoreFactory]:
    """Opens store instances on one fresh collection; closes them after."""
    location = StateLocation.parse(f"firestore:///ops-{uuid.uuid4().hex}")
    opened: list[StateStore] = []

    def factory() -> StateStore:
        store = open_state_store(location, project=EMULATOR_PROJECT)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


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
