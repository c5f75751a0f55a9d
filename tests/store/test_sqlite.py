"""SQLite specifics: one-transaction batches, indexes, locks, in-memory stores."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from femto.store import Fenced, StoreError, StoreUnavailable, open_store
from femto.store.sqlite import SqliteStore, where_clause


def test_put_many_is_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "femto.db"
    store = SqliteStore(str(db))
    store.put_many("tasks", {f"t{i}": {"job_id": "j", "state": "PENDING"} for i in range(10)})
    # A trigger (installed through a second, plain connection) makes the
    # database itself refuse one document in the middle of the next batch.
    with sqlite3.connect(db) as raw:
        raw.execute(
            "CREATE TRIGGER poison BEFORE UPDATE ON tasks "
            "WHEN json_extract(NEW.doc, '$.poison') BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    batch: dict[str, dict[str, Any]] = {
        f"t{i}": {"job_id": "j", "state": "RUNNING"} for i in range(10)
    }
    batch["t5"] = {"job_id": "j", "state": "RUNNING", "poison": True}
    batch["new"] = {"job_id": "j", "state": "RUNNING"}
    with pytest.raises(StoreError, match="poisoned"):
        store.put_many("tasks", batch)
    assert [t["state"] for t in store.find("tasks", job_id="j")] == ["PENDING"] * 10
    assert store.get("tasks", "new") is None
    store.close()


def test_a_batch_commits_its_writes_together_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "femto.db"
    store = SqliteStore(str(db))
    other = SqliteStore(str(db))  # another connection sees only what is committed
    with store.batch():
        store.put_many("tasks", {"t1": {"job_id": "j", "state": "PENDING"}})
        store.insert("jobs", "j", {"state": "PENDING"})
        assert store.get("jobs", "j") == {"state": "PENDING"}  # the batch sees its writes
        assert other.get("jobs", "j") is None
    assert other.get("jobs", "j") == {"state": "PENDING"}
    assert other.get("tasks", "t1") is not None

    # A write that fails (a taken key) undoes the batch's earlier writes too.
    with pytest.raises(StoreError), store.batch():
        store.put_many("tasks", {"t2": {"job_id": "k", "state": "PENDING"}})
        store.insert("jobs", "j", {"state": "RUNNING"})
    assert other.get("tasks", "t2") is None
    assert store.get("tasks", "t2") is None
    assert other.get("jobs", "j") == {"state": "PENDING"}

    # So does any error that leaves the batch.
    with pytest.raises(RuntimeError), store.batch():
        store.put("tasks", "t3", {"job_id": "k", "state": "PENDING"})
        raise RuntimeError("the caller failed")
    assert store.get("tasks", "t3") is None
    other.close()
    store.close()


@pytest.mark.parametrize(
    ("collection", "field"),
    [("tasks", "job_id"), ("tasks", "state"), ("jobs", "state"), ("partials", "job_id")],
)
def test_find_on_engine_fields_uses_an_index(tmp_path: Path, collection: str, field: str) -> None:
    SqliteStore(str(tmp_path / "femto.db")).close()
    where, params = where_clause(collection, {field: "x"})
    with sqlite3.connect(tmp_path / "femto.db") as raw:
        plan = raw.execute(
            f"EXPLAIN QUERY PLAN SELECT doc FROM {collection}{where} ORDER BY rowid", params
        ).fetchall()
    assert f"USING INDEX {collection}_{field}" in str(plan)


def test_blocked_database_is_unavailable_not_hanging(tmp_path: Path) -> None:
    db = tmp_path / "femto.db"
    store = SqliteStore(str(db), busy_timeout=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.put("jobs", "j", {"state": "PENDING"})
        assert time.monotonic() - started < 3
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.put("jobs", "j", {"state": "PENDING"})
    assert store.get("jobs", "j") == {"state": "PENDING"}
    store.close()


def test_blob_writes_leave_only_npy_files(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "femto.db"))
    store.put_blob("events/0", b"a")
    store.put_blob("events/0", b"b")
    store.set_fence("leader", 2)
    store.fence(1)
    with pytest.raises(Fenced):
        store.put_blob("events/1", b"c")
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == ["events%2F0.npy"]
    assert store.blob_path("events/0") == str(tmp_path / "blobs" / "events%2F0.npy")
    store.close()


def test_memory_store_keeps_blobs_until_closed() -> None:
    store = open_store("sqlite:///:memory:")
    store.put("jobs", "j", {"state": "PENDING"})
    store.put_blob("b", b"data")
    path = store.blob_path("b")
    assert path is not None
    assert Path(path).read_bytes() == b"data"
    assert open_store("sqlite:///:memory:").get("jobs", "j") is None
    store.close()
    assert not Path(path).parent.exists()
