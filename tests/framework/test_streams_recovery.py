"""A standing job across a scheduler restart, on a real SQLite store: partitions appended
and a close made while no scheduler led (the leader stored them and died before its engine
heard) are each given one task by the next leader's load, however often it loads. The
Mesos driver is a recorder: only the engine's decisions are under test."""

from __future__ import annotations

import numpy as np

from femto import streams
from femto.datasets import Datasets
from femto.store.sqlite import SqliteStore
from tests.framework.engine_helpers import engine_on
from tests.framework.helpers import npy

SPEC = {"name": "smooth", "operation": "sliding_mean", "inputs": ["d"], "output": "out",
        "params": {"window": 3}, "standing": True}


def stored_append(store: SqliteStore, array: np.ndarray) -> None:
    body = npy(array)
    streams.append(Datasets(store), "d", body, streams.parse_append(body))


def test_appends_stored_while_no_leader_ran_get_one_task_each(store: SqliteStore) -> None:
    first, _ = engine_on(store, lambda: 1_000.0)
    job, _ = first.submit(SPEC)
    first.halt()
    stored_append(store, np.arange(3.0))
    stored_append(store, np.arange(0.0))
    for _ in range(2):  # two leaders in turn, each loading the same store
        engine, _ = engine_on(store, lambda: 2_000.0)
        try:
            tasks = engine.task_views(job["id"])
            assert [t["partition"] for t in tasks] == [0, 1, 2]
            assert engine.job(job["id"])["tasks"]["total"] == 3
        finally:
            engine.halt()
    assert sorted(d["partition"] for d in store.find("tasks", job_id=job["id"])) == [0, 1, 2]
    assert store.get("jobs", job["id"])["n_tasks"] == 3


def test_a_close_made_while_no_leader_ran_is_known_after_the_load(store: SqliteStore) -> None:
    first, _ = engine_on(store, lambda: 1_000.0)
    job, _ = first.submit(SPEC)
    first.halt()
    streams.close(Datasets(store), "d")
    engine, _ = engine_on(store, lambda: 2_000.0)
    try:
        assert engine.core.active[job["id"]].input_closed
    finally:
        engine.halt()
