"""Triggers on a live scheduler (embedded cluster): files dropped into a watched directory
each run one job with the right result, however they were written; a restart loses and
repeats nothing; dataset-name watches, pause and resume, and the refusals."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.api.triggers import TriggerObject
from femto.events import TriggerEvent, read_stream
from femto.store.sqlite import SqliteStore
from tests.framework.helpers import npy, running_service, upload, wait_done
from tests.waiting import wait_for

SUM = {"name": "total", "operation": "sum", "inputs": ["@new"]}


def trigger(api: httpx.Client, name: str, watch: dict[str, Any],
            submit: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post("/v1/triggers", json={"name": name, "watch": watch,
                                              "submit": submit or SUM})
    assert response.status_code == 201, response.text
    shown: dict[str, Any] = response.json()
    return shown


def fired(api: httpx.Client, name: str, count: int, timeout: float = 30.0) -> dict[str, Any]:
    def enough() -> dict[str, Any] | None:
        shown: dict[str, Any] = api.get(f"/v1/triggers/{name}").json()
        return shown if shown["fired"] >= count else None

    shown: dict[str, Any] = wait_for(enough, timeout, f"{name} to fire {count} times")
    return shown


def jobs_named(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    return [j for j in api.get("/v1/jobs", params={"limit": 10_000}).json() if j["name"] == name]


def results(api: httpx.Client, name: str) -> list[float]:
    return sorted(wait_done(api, j["id"])["result"]["value"] for j in jobs_named(api, name))


def write_slowly(path: Path, array: np.ndarray, pieces: int = 4, pause: float = 0.4) -> None:
    """As a detector's writer does: the header first, then the data in pieces."""
    data = npy(array)
    step = len(data) // pieces + 1
    with path.open("wb") as out:
        for start in range(0, len(data), step):
            out.write(data[start:start + step])
            out.flush()
            time.sleep(pause)


def rename_in(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(npy(array))
    os.rename(temporary, path)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    directory = tmp_path / "root" / "in"
    directory.mkdir(parents=True)
    return directory


def test_each_dropped_file_runs_one_job_with_its_result(tmp_path: Path, inbox: Path) -> None:
    arrays = {name: np.random.default_rng(i).random(500 + i) for i, name in
              enumerate(["slow.npy", "renamed.npy", "plain.npy"])}
    # A long locality wait: each task waits for agent-1's offer, however slow the machine.
    with running_service(tmp_path / "state", data_roots=[tmp_path / "root"],
                         locality_wait=30.0) as (_, api):
        trigger(api, "sums", {"directory": str(inbox), "pattern": "*.npy", "host": "agent-1"})
        events: list[TriggerEvent] = []
        reader = threading.Thread(target=follow_triggers, args=(api.base_url, events, 3),
                                  daemon=True)
        reader.start()
        time.sleep(0.5)  # the stream subscribed
        writer = threading.Thread(target=write_slowly,
                                  args=(inbox / "slow.npy", arrays["slow.npy"]))
        writer.start()
        rename_in(inbox / "renamed.npy", arrays["renamed.npy"])
        np.save(inbox / "plain.npy", arrays["plain.npy"])
        (inbox / "notes.txt").write_text("not an array")
        np.save(inbox / ".hidden.npy", np.ones(3))
        (inbox / "half.npy.tmp").write_bytes(npy(np.ones(3)))
        writer.join()
        shown = fired(api, "sums", 3)
        assert results(api, "total") == pytest.approx(sorted(a.sum() for a in arrays.values()))
        time.sleep(1.5)  # three settle intervals: anything else would have fired by now
        assert api.get("/v1/triggers/sums").json()["fired"] == 3
        assert len(jobs_named(api, "total")) == 3
        assert shown["errors"] == []
        # Registered in place, in up to 8 row ranges (the default), on the agent the
        # trigger names: its tasks ran there.
        last = shown["last_event"]
        assert api.get(f"/v1/datasets/{last['dataset']}").json()["partitions"] == 8
        tasks = api.get(f"/v1/jobs/{last['job']}/tasks").json()
        assert {t["attempts"][-1]["host"] for t in tasks} == {"agent-1"}
        reader.join(timeout=30)
        assert sorted(e.item for e in events if e.state == "fired") == sorted(arrays)


def follow_triggers(url: httpx.URL, events: list[TriggerEvent], wanted: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client, \
            client.stream("GET", "/v1/events") as response:
        for received in read_stream(response.iter_lines()):
            if isinstance(received.event, TriggerEvent) and received.event.state == "fired":
                events.append(received.event)
                if len(events) == wanted:
                    return


def test_a_restart_between_drop_and_firing_loses_nothing_and_repeats_nothing(
        tmp_path: Path, inbox: Path) -> None:
    state, roots = tmp_path / "state", [tmp_path / "root"]
    with running_service(state, data_roots=roots) as (_, api):
        shown = trigger(api, "sums", {"directory": str(inbox)})
        np.save(inbox / "a.npy", np.arange(10.0))
        fired(api, "sums", 1)
    # While no scheduler runs: a file lands, and the firing on a.npy looks as a leader
    # killed between recording it and marking it submitted leaves it.
    np.save(inbox / "b.npy", np.arange(20.0))
    store = SqliteStore(str(state / "femto.db"))
    try:
        record = store.get("fired", f"{shown['id']}/a.npy")
        assert record is not None
        store.put("fired", f"{shown['id']}/a.npy", {**record, "state": "recorded"})
    finally:
        store.close()
    with running_service(state, data_roots=roots) as (_, api):
        fired(api, "sums", 2)
        time.sleep(1.5)
        assert results(api, "total") == [45.0, 190.0]
        assert api.get("/v1/triggers/sums").json()["fired"] == 2


def test_dataset_watches_pause_resume_and_delete(tmp_path: Path) -> None:
    with running_service(tmp_path / "state") as (_, api):
        upload(api, "raw-0", np.arange(4.0), 2)  # there before the trigger: it counts too
        trigger(api, "raws", {"datasets": "raw-*"},
                {"name": "bins", "operation": "real2bin", "inputs": ["@new"],
                 "output": "@new-bin"})
        upload(api, "raw-1", np.arange(6.0), 3)
        upload(api, "other", np.arange(6.0), 3)
        fired(api, "raws", 2)
        paused = api.post("/v1/triggers/raws/pause")
        assert paused.status_code == 200 and paused.json()["state"] == "PAUSED"
        upload(api, "raw-2", np.arange(8.0), 2)
        time.sleep(1.0)
        assert api.get("/v1/triggers/raws").json()["fired"] == 2
        assert api.post("/v1/triggers/raws/resume").json()["state"] == "ACTIVE"
        fired(api, "raws", 3)
        for job in jobs_named(api, "bins"):
            assert wait_done(api, job["id"])["state"] == "FINISHED"
        names = {d["name"] for d in api.get("/v1/datasets").json()}
        assert {"raw-0-bin", "raw-1-bin", "raw-2-bin"} <= names
        assert "other-bin" not in names and not any(n.endswith("-bin-bin") for n in names)
        assert [t["name"] for t in api.get("/v1/triggers").json()] == ["raws"]
        assert api.delete("/v1/triggers/raws").status_code == 200
        assert api.get("/v1/triggers/raws").status_code == 404
        upload(api, "raw-3", np.arange(2.0), 1)
        time.sleep(1.0)
        assert len(jobs_named(api, "bins")) == 3


@pytest.fixture
def served(tmp_path: Path, inbox: Path) -> Iterator[httpx.Client]:
    with running_service(tmp_path / "state", data_roots=[inbox.parent]) as (_, api):
        yield api


def test_bad_triggers_are_refused_and_nothing_is_kept(served: httpx.Client, inbox: Path,
                                                      tmp_path: Path) -> None:
    api = served
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    refused = api.post("/v1/triggers", json={"name": "t", "watch": {"directory": str(outside)},
                                             "submit": SUM})
    assert refused.status_code == 403, refused.text
    assert refused.json()["details"][0]["loc"] == "watch.directory"
    missing = api.post("/v1/triggers", json={
        "name": "t", "watch": {"directory": str(inbox / "nope")}, "submit": SUM})
    assert missing.status_code == 422
    wrong = api.post("/v1/triggers", json={"name": "t", "watch": {"directory": str(inbox)},
                                           "submit": {**SUM, "operation": "nope"}})
    assert wrong.status_code == 422 and "submit" in wrong.json()["error"]
    assert api.get("/v1/triggers").json() == []
    TriggerObject.model_validate(trigger(api, "t", {"directory": str(inbox)}))
    TriggerObject.model_validate(api.get("/v1/triggers").json()[0])
    taken = api.post("/v1/triggers", json={"name": "t", "watch": {"datasets": "x"},
                                           "submit": SUM})
    assert taken.status_code == 409
    assert api.get("/v1/triggers/none").status_code == 404


TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}


def test_a_submitter_sees_only_its_own_triggers_and_their_jobs(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("".join(f"{name} submit {token}\n" for name, token in TOKENS.items()))
    alice, bob = ({"Authorization": f"Bearer {TOKENS[n]}"} for n in ("alice", "bob"))
    with running_service(tmp_path / "state", token_file=tokens) as (_, api):
        made = api.post("/v1/triggers", headers=alice, json={
            "name": "hers", "watch": {"datasets": "raw-*"}, "submit": SUM})
        assert made.status_code == 201 and made.json()["owner"] == "alice"
        assert api.get("/v1/triggers", headers=bob).json() == []
        for response in (api.get("/v1/triggers/hers", headers=bob),
                         api.post("/v1/triggers/hers/pause", headers=bob),
                         api.delete("/v1/triggers/hers", headers=bob)):
            assert response.status_code == 404, response.text
        uploaded = api.put("/v1/datasets/raw-1", headers=bob, content=npy(np.ones(4)))
        assert uploaded.status_code == 201
        wait_for(lambda: api.get("/v1/triggers/hers", headers=alice).json()["fired"] == 1,
                 30, "her trigger to fire")
        job = api.get("/v1/triggers/hers", headers=alice).json()["last_event"]["job"]
        assert api.get(f"/v1/jobs/{job}", headers=alice).json()["owner"] == "alice"
        assert api.get(f"/v1/jobs/{job}", headers=bob).status_code == 404


def test_a_trigger_may_start_a_workflow_on_each_new_dataset(tmp_path: Path) -> None:
    steps = {"bin": {"operation": "real2bin", "inputs": ["@new"], "keep": False},
             "ones": {"operation": "sum", "inputs": ["@bin"]}}
    with running_service(tmp_path / "state") as (_, api):
        trigger(api, "flows", {"datasets": "wf-*"}, {"name": "parity", "steps": steps})
        upload(api, "wf-1", np.arange(9.0), 3)
        flow = fired(api, "flows", 1)["last_event"]["workflow"]

        def finished() -> dict[str, Any] | None:
            shown: dict[str, Any] = api.get(f"/v1/workflows/{flow}").json()
            return shown if shown["state"] in ("FINISHED", "FAILED") else None

        done = wait_for(finished, 60, "the workflow to end")
        assert done["state"] == "FINISHED", done
        total = wait_done(api, done["steps"]["ones"]["job"])["result"]["value"]
        assert total == (np.floor(np.arange(9.0)).astype(np.int64) % 2).sum()
