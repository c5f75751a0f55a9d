"""A new leader takes workflows on from the store: an engine on a real SQLite store with a
recording stand-in for the Mesos driver (tests/framework/engine_helpers.py), so the test
decides when the old leader stops, where a live cluster would leave it to timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from femto.lifecycle import JobState
from femto.store.sqlite import SqliteStore
from femto.workflows.shell import Workflows
from tests.framework.engine_helpers import engine_on
from tests.framework.helpers import npy

WID = "5f0c1d2e-0000-4000-8000-000000000009"
BODY = {"name": "w", "id": WID, "steps": {
    "a": {"operation": "real2bin", "inputs": ["d"]},
    "b": {"operation": "sum", "inputs": ["@a"]}}}


def leader(store: SqliteStore) -> Workflows:
    """A scheduler taking the lead: its engine loads the jobs, then the workflows resume."""
    engine, _ = engine_on(store, clock=lambda: 100.0)
    workflows = Workflows(engine)
    workflows.resume()
    return workflows


def finish_as_the_old_leader_did(store: SqliteStore, workflows: Workflows, step: str) -> None:
    """Step `step`'s job FINISHED, its output written, as a leader records it before it
    dies: its workflow document is not told."""
    shown = workflows.get(WID)
    job = store.get("jobs", shown["steps"][step]["job"])
    assert job is not None
    workflows.engine.datasets.upload(shown["steps"][step]["output"], npy(np.zeros(4)), 2)
    store.put("jobs", job["id"], {**job, "state": JobState.FINISHED.value, "finished": 50.0})


def step_jobs(store: SqliteStore) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for job in store.find("jobs"):
        found.setdefault(job["step"], []).append(job)
    return found


def test_a_new_leader_submits_what_the_old_one_could_not_and_nothing_twice(
        tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "femto.db"))
    first = leader(store)
    first.engine.datasets.upload("d", npy(np.arange(4.0)), 2)
    assert first.submit(BODY, None)[1] is True
    assert list(step_jobs(store)) == ["a"]
    finish_as_the_old_leader_did(store, first, "a")
    first.engine.halt()  # deposed before it saw the job end

    second = leader(store)
    shown = second.get(WID)
    assert shown["state"] == "RUNNING"
    assert {n: s["state"] for n, s in shown["steps"].items()} == {
        "a": "FINISHED", "b": "PENDING"}
    second.engine.halt()

    third = leader(store)  # another change of leader: b's job exists, a's finished
    jobs = step_jobs(store)
    assert {step: len(found) for step, found in jobs.items()} == {"a": 1, "b": 1}
    assert jobs["b"][0]["id"] == shown["steps"]["b"]["job"]
    assert jobs["b"][0]["workflow"] == WID
    assert third.get(WID)["steps"]["b"]["state"] == "PENDING"
    # The same body again, to the third leader: the one workflow.
    assert third.submit(BODY, None) == (third.get(WID), False)
