"""A transform's output reaches the scheduler by one channel with one write policy: the
executor's upload stores only the blob, keyed by attempt (after the live-attempt check);
the partition counts only from its attempt's TASK_FINISHED (first write wins), and the
output dataset is made of the blobs of the attempts the partials name."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

from femto.engine import Engine
from femto.errors import Forbidden
from femto.jobs.wire import OutputMeta, TaskResult
from femto.store.sqlite import SqliteStore
from mesosapi.encoding import encode_data
from tests.framework.engine_helpers import engine_on, offer
from tests.waiting import wait_for

SPEC = {"name": "bits", "operation": "real2bin", "inputs": ["d"], "output": "bits"}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def finished(task_id: str) -> dict[str, Any]:
    result = TaskResult(output=OutputMeta(length=4, dtype="<i8", shape=[4]))
    return {"task_id": {"value": task_id}, "state": "TASK_FINISHED",
            "agent_id": {"value": "agent-1"}, "source": "SOURCE_EXECUTOR",
            "data": encode_data(result.to_bytes())}


def launched(store: SqliteStore) -> tuple[Engine, str]:
    """An engine that launched the transform's one task: (engine, the attempt's task id)."""
    engine, driver = engine_on(store, lambda: 1_000.0)
    job, _ = engine.submit(SPEC)
    engine.on_offers([offer("o1")])
    wait_for(lambda: "launch" in driver.names(), what="the launch")
    return engine, f"{job['id']}.0.1"


def test_the_upload_stores_a_blob_and_the_finished_update_makes_it_count(
    store: SqliteStore,
) -> None:
    engine, task_id = launched(store)
    job_id = task_id.split(".")[0]
    try:
        body = npy(np.array([0, 1, 0, 1]))
        with pytest.raises(Forbidden):  # another attempt's credential
            engine.accept_output(f"{job_id}.0.2", job_id, 0, body)
        engine.accept_output(task_id, job_id, 0, body)
        assert store.find("partials", job_id=job_id) == []  # the upload alone counts not
        assert engine.job(job_id)["state"] == "RUNNING"

        engine.on_status(finished(task_id))
        done = engine.job(job_id)
        assert done["state"] == "FINISHED" and done["result"] == {"dataset": "bits"}
        assert engine.datasets.get("bits")["partitions"][0]["blob"] == f"out/{job_id}/0/1"
        assert np.array_equal(np.load(io.BytesIO(engine.datasets.whole_npy("bits"))),
                              [0, 1, 0, 1])
    finally:
        engine.halt()


def test_a_finished_update_whose_attempt_uploaded_nothing_fails_the_job(
    store: SqliteStore,
) -> None:
    engine, task_id = launched(store)
    try:
        engine.on_status(finished(task_id))
        done = engine.job(task_id.split(".")[0])
        assert done["state"] == "FAILED"
        assert done["error"] == "the output of partition 0 (attempt 1) was reported but " \
                                "never uploaded"
        assert store.find("datasets", name="bits") == []
    finally:
        engine.halt()
