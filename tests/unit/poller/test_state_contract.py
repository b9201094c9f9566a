"""The ``StateStore`` contract (``tests/state_contract.py``) on SQLite and the in-memory fake,
and what only SQLite does: claims across processes, its URLs, its stored layout."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import InMemoryStateStore
from state_contract import *  # noqa: F403  (the contract's tests run here)
from state_contract import T0, StoreFactory, assert_one_winner_each, at, op

from insights_poller.model import Outcome
from insights_poller.ports import StateStore
from insights_poller.state import StateLocation, open_state_store
from insights_poller.state.firestore import document_id
from insights_poller.state.sqlite import SqliteStateStore

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["sqlite", "memory"])
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
    location = StateLocation.parse(f"sqlite:///{tmp_path / 'state' / 'poller.db'}")
    opened: list[StateStore] = []

    def factory() -> StateStore:
        store = open_state_store(location)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


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
        assert_one_winner_each(store, operations, won)
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
