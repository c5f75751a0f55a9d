"""One contract, two backends: what the engine relies on from any store."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from femto.store import Fenced, KeyConflict, Store
from tests.store.conftest import Backend


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# -- documents -------------------------------------------------------------


def test_insert_get_and_key_conflict(store: Store) -> None:
    job = {"id": "j1", "state": "PENDING", "spec": {"bins": [1, 2.5]}, "result": None}
    store.insert("jobs", "j1", job)
    assert store.get("jobs", "j1") == job
    assert store.get("jobs", "missing") is None
    with pytest.raises(KeyConflict):
        store.insert("jobs", "j1", {"id": "j1", "state": "RUNNING"})
    assert store.get("jobs", "j1") == job


def test_put_upserts_and_put_many_writes_all(store: Store) -> None:
    store.put("datasets", "events", {"name": "events", "partitions": 2})
    store.put("datasets", "events", {"name": "events", "partitions": 4})
    assert store.get("datasets", "events") == {"name": "events", "partitions": 4}
    store.put_many("datasets", {f"d{i}": {"name": f"d{i}"} for i in range(50)})
    store.put_many("datasets", {})
    assert [d["name"] for d in store.find("datasets")] == ["events"] + [f"d{i}" for i in range(50)]


def test_find_on_indexed_fields_follows_updates(store: Store) -> None:
    tasks = {
        f"j{j}.{p}": {"job_id": f"j{j}", "partition": p, "state": "PENDING"}
        for j in range(3)
        for p in range(4)
    }
    store.put_many("tasks", tasks)
    assert [t["partition"] for t in store.find("tasks", job_id="j1")] == [0, 1, 2, 3]
    assert len(store.find("tasks", state="PENDING")) == 12

    store.put("tasks", "j1.2", {**tasks["j1.2"], "state": "RUNNING"})
    store.put_many("tasks", {k: {**tasks[k], "state": "FINISHED"} for k in ("j0.0", "j2.3")})
    assert store.find("tasks", state="RUNNING") == [{**tasks["j1.2"], "state": "RUNNING"}]
    assert [t["job_id"] for t in store.find("tasks", state="FINISHED")] == ["j0", "j2"]
    assert len(store.find("tasks", state="PENDING")) == 9
    # An update keeps the document's place in insertion order.
    assert [t["partition"] for t in store.find("tasks", job_id="j1")] == [0, 1, 2, 3]
    assert [t["partition"] for t in store.find("tasks", job_id="j1", state="PENDING")] == [0, 1, 3]

    store.put_many("jobs", {"a": {"state": "RUNNING"}, "b": {"state": "FINISHED"}})
    store.put("jobs", "a", {"state": "FINISHED"})
    assert store.find("jobs", state="RUNNING") == []
    assert len(store.find("jobs", state="FINISHED")) == 2

    store.put("partials", "j1.0", {"job_id": "j1", "partition": 0, "result": {"value": 3}})
    store.put("partials", "j2.0", {"job_id": "j2", "partition": 0, "result": {"value": 4}})
    assert store.find("partials", job_id="j2") == [
        {"job_id": "j2", "partition": 0, "result": {"value": 4}}
    ]


def test_find_matches_values_by_json_type(store: Store) -> None:
    store.put_many(
        "meta",
        {
            "int": {"v": 1},
            "float": {"v": 1.5},
            "true": {"v": True},
            "str": {"v": "1"},
            "null": {"v": None},
            "missing": {"other": 1},
        },
    )
    keys = {"int": 1, "float": 1.5, "true": True, "str": "1"}
    for name, value in keys.items():
        assert store.find("meta", v=value) == [{"v": value}], name
    assert store.find("meta", v=1.0) == [{"v": 1}]
    assert store.find("meta", v=False) == []
    assert store.find("meta", v=None) == [{"v": None}, {"other": 1}]
    assert store.find("meta", v=1, other=1) == []
    assert store.find("meta", other=1) == [{"other": 1}]
    # The same on an indexed field (the jobs' state).
    store.put_many("jobs", {"int": {"state": 1}, "true": {"state": True},
                            "str": {"state": "1"}, "null": {"state": None}})
    assert store.find("jobs", state="1") == [{"state": "1"}]
    assert store.find("jobs", state=1) == [{"state": 1}]
    assert store.find("jobs", state=True) == [{"state": True}]
    assert store.count("jobs", state="1") == 1


def test_find_newest_pages_backwards_and_count(store: Store) -> None:
    store.put_many("jobs", {f"j{i}": {"id": f"j{i}", "state": "PENDING" if i % 2 else "FINISHED",
                                      "owner": "alice" if i < 6 else None}
                            for i in range(10)})
    store.put("jobs", "j3", {"id": "j3", "state": "RUNNING", "owner": "alice"})  # keeps place
    pages, before = [], None
    while True:
        page, before = store.find_newest("jobs", 4, before)
        pages.append([d["id"] for d in page])
        if before is None:
            break
    assert pages == [["j9", "j8", "j7", "j6"], ["j5", "j4", "j3", "j2"], ["j1", "j0"]]
    first, rest = store.find_newest("jobs", 2, state="PENDING", owner="alice")
    assert [d["id"] for d in first] == ["j5", "j1"] and rest is None
    assert [d["id"] for d in store.find_newest("jobs", 10, owner=None)[0]] == [
        "j9", "j8", "j7", "j6"]
    exact, more = store.find_newest("jobs", 4, owner=None)
    assert len(exact) == 4 and more is None  # no empty page after a full last one
    assert store.count("jobs") == 10
    assert store.count("jobs", state="PENDING") == 4
    assert store.count("jobs", state="PENDING", owner="alice") == 2
    assert store.count("tasks") == 0


def test_delete_and_delete_where(store: Store) -> None:
    store.put_many("tasks", {f"t{i}": {"job_id": "j" if i < 5 else "k"} for i in range(8)})
    assert store.delete("tasks", "t0") is True
    assert store.delete("tasks", "t0") is False
    assert store.delete_where("tasks", job_id="j") == 4
    assert store.delete_where("tasks", job_id="j") == 0
    assert [t["job_id"] for t in store.find("tasks")] == ["k"] * 3
    assert store.delete_where("tasks") == 3
    assert store.find("tasks") == []


def test_insert_if_absent_first_write_wins_across_threads(store: Store) -> None:
    writers = 8
    barrier = threading.Barrier(writers)

    def attempt(writer: int) -> list[bool]:
        barrier.wait()
        return [
            store.insert_if_absent("partials", f"job.{p}", {"job_id": "job", "by": writer})
            for p in range(20)
        ]

    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(attempt, range(writers)))
    for p in range(20):
        winners = [w for w in range(writers) if outcomes[w][p]]
        assert len(winners) == 1, f"partition {p} written by {winners}"
        assert store.get("partials", f"job.{p}") == {"job_id": "job", "by": winners[0]}
    assert len(store.find("partials", job_id="job")) == 20


def test_concurrent_batches_from_many_threads(store: Store) -> None:
    def write(thread: int) -> None:
        for batch in range(5):
            doc = {"job_id": f"j{thread}", "state": "PENDING"}
            store.put_many("tasks", {f"{thread}.{batch}.{i}": doc for i in range(50)})
            store.find("tasks", job_id=f"j{thread}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert len(store.find("tasks", state="PENDING")) == 1000
    assert all(len(store.find("tasks", job_id=f"j{t}")) == 250 for t in range(4))


def test_bad_input_is_rejected_with_a_clear_error(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown collection 'job'"):
        store.put("job", "x", {})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.put("jobs", "x", {"when": object()})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        store.put_many("jobs", {"ok": {"state": "PENDING"}, "bad": {"v": float("nan")}})
    with pytest.raises(ValueError, match="non-empty string"):
        store.insert("jobs", "", {})
    with pytest.raises(ValueError, match="top-level field"):
        store.find("jobs", **{"spec.name": "x"})
    with pytest.raises(ValueError, match="must be a str, number, bool or None"):
        store.find("jobs", state=["PENDING"])
    assert store.find("jobs") == []


# -- blobs -----------------------------------------------------------------


def test_blob_round_trip_replace_and_delete(store: Store) -> None:
    with pytest.raises(KeyError):
        store.get_blob("events/0")
    assert store.blob_path("events/0") is None
    assert not store.has_blob("events/0")
    assert store.delete_blob("events/0") is False
    store.put_blob("events/0", b"first")
    store.put_blob("events/0", b"second")
    assert store.has_blob("events/0")
    assert store.get_blob("events/0") == b"second"
    assert store.delete_blob("events/0") is True
    assert not store.has_blob("events/0")
    with pytest.raises(KeyError):
        store.get_blob("events/0")


def test_a_blob_opened_reads_in_part_from_where_it_seeks(store: Store) -> None:
    with pytest.raises(KeyError):
        store.open_blob("events/2")
    data = bytes(range(256)) * 4_000  # 1 MB: several GridFS chunks
    store.put_blob("events/2", b"old")
    store.put_blob("events/2", data)
    with store.open_blob("events/2") as file:
        file.seek(700_000)
        assert file.read(10) == data[700_000:700_010]
        assert file.tell() == 700_010
        file.seek(5)
        assert file.read(3) == data[5:8]


def test_blob_keys_of_any_length_and_characters(backend: Backend, store: Store) -> None:
    keys = ["x" * 300, "x" * 301, "../escape", "a/b c?d#e%41"]
    for i, key in enumerate(keys):
        store.put_blob(key, bytes([i]) * 10)
    for i, key in enumerate(keys):
        assert store.get_blob(key) == bytes([i]) * 10
        path = store.blob_path(key)
        if backend.local_blobs:
            assert path is not None
            assert Path(path).read_bytes() == bytes([i]) * 10
        else:
            assert path is None
    assert store.delete_blob("x" * 300) is True
    assert store.get_blob("x" * 301) == bytes([1]) * 10


def test_blob_larger_than_16_mb_and_local_path(backend: Backend, store: Store) -> None:
    array = np.random.default_rng(1).random(2_200_000)  # 17.6 MB of float64
    data = npy_bytes(array)
    assert len(data) > 16 * 1024 * 1024
    store.put_blob("events/1", data)
    assert store.get_blob("events/1") == data
    path = store.blob_path("events/1")
    if backend.local_blobs:
        assert path is not None
        np.testing.assert_array_equal(np.load(path, mmap_mode="r"), array)
    else:
        assert path is None


def test_blob_readers_see_old_or_whole_new(store: Store) -> None:
    versions = [bytes([v]) * 3_000_000 for v in range(3)]
    store.put_blob("p", versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(store.get_blob("p"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(6):
            store.put_blob("p", versions[round_ % 3])
    finally:
        stop.set()
        reader.join(timeout=30)
    assert seen
    assert all(blob in versions for blob in seen)


# -- fencing ---------------------------------------------------------------


def test_deposed_leader_is_fenced(backend: Backend, store: Store) -> None:
    old = store
    old.set_fence("leader", 1)
    old.fence(1)
    old.put("jobs", "j1", {"state": "RUNNING"})
    old.put_blob("b", b"old")

    new = backend.open()
    new.set_fence("leader", 2)
    new.fence(2)

    writes = [
        lambda: old.insert("jobs", "j2", {"state": "PENDING"}),
        lambda: old.insert_if_absent("partials", "j1.0", {"job_id": "j1"}),
        lambda: old.put("jobs", "j1", {"state": "FAILED"}),
        lambda: old.put_many("jobs", {"j1": {"state": "FAILED"}}),
        lambda: old.delete("jobs", "j1"),
        lambda: old.delete_where("jobs", state="RUNNING"),
        lambda: old.put_blob("b", b"stale"),
        lambda: old.delete_blob("b"),
    ]
    for write in writes:
        with pytest.raises(Fenced):
            write()
    assert old.get("jobs", "j1") == {"state": "RUNNING"}
    assert old.find("jobs") == [{"state": "RUNNING"}]
    assert new.get_blob("b") == b"old"
    assert new.get("partials", "j1.0") is None

    with pytest.raises(Fenced):
        old.set_fence("leader", 1)
    new.set_fence("leader", 2)
    new.put("jobs", "j1", {"state": "FINISHED"})
    assert old.get("jobs", "j1") == {"state": "FINISHED"}
    old.fence(None)
    old.put("meta", "unfenced", {"ok": True})
    assert new.get("meta", "unfenced") == {"ok": True}
    # Fences are independent by name.
    old.set_fence("compactor", 7)
    with pytest.raises(Fenced, match="compactor"):
        new.set_fence("compactor", 3)


# -- durability and throughput ---------------------------------------------


def test_data_survives_reopening(backend: Backend, store: Store) -> None:
    store.put_many("tasks", {f"t{i}": {"job_id": "j", "state": "PENDING"} for i in range(10)})
    store.put_blob("d/0", b"\x93NUMPY")
    store.set_fence("leader", 3)
    store.close()
    backend.opened.remove(store)

    again = backend.open()
    assert len(again.find("tasks", job_id="j")) == 10
    assert again.get_blob("d/0") == b"\x93NUMPY"
    with pytest.raises(Fenced):
        again.set_fence("leader", 2)


def test_put_many_throughput(
    backend: Backend, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = {
        f"job.{p}": {"job_id": "job", "partition": p, "state": "PENDING", "attempts": []}
        for p in range(5000)
    }
    keys = list(docs)
    start = time.perf_counter()
    for i in range(0, len(keys), 100):
        store.put_many("tasks", {k: docs[k] for k in keys[i : i + 100]})
    elapsed = time.perf_counter() - start
    found_start = time.perf_counter()
    assert len(store.find("tasks", job_id="job")) == 5000
    found = time.perf_counter() - found_start
    with capsys.disabled():
        print(
            f"\n[store throughput] {backend.name}: put_many 5000 task docs in batches of 100: "
            f"{elapsed:.2f} s, {elapsed / 5000 * 1e6:.0f} us/doc, {5000 / elapsed:.0f} docs/s; "
            f"find by job_id: {found * 1000:.0f} ms"
        )
