"""Appends during a leader failover: two schedulers, a real ZooKeeper and the MongoDB-wire
store. The leader is SIGKILLed while partitions are appended to a standing sliding_mean's
input; every append (retried with its index until a leader stores it) is processed exactly
once and the output equals NumPy's over the whole stream."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter

import httpx
import numpy as np

from tests.framework.helpers import fetch, npy, wait_done
from tests.framework.test_ha import SESSION_TIMEOUT, Cluster, cluster
from tests.framework.test_streams_e2e import assert_close, sliding_mean

__all__ = ["cluster"]  # the fixture, used by name

WINDOW = 5


def append_until_stored(cluster: Cluster, index: int, chunk: np.ndarray,
                        timeout: float = SESSION_TIMEOUT + 40) -> int:
    """What a client does across a failover: send the append, as partition `index`, to
    whichever scheduler leads, again until one answers that it is stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for url in cluster.leaders() or []:
            try:
                response = httpx.post(f"{url}/v1/datasets/s/partitions", content=npy(chunk),
                                      params={"index": index}, timeout=10)
            except httpx.HTTPError:
                continue  # the leader died under the call; it may have stored it
            if response.status_code in (200, 201):
                return response.status_code
            assert response.status_code in (307, 503), response.text
        time.sleep(0.1)
    raise AssertionError(f"append {index} not stored after {timeout}s")


def test_appends_during_a_leader_failover_are_each_processed_once(cluster: Cluster) -> None:
    cluster.add_scheduler()
    cluster.add_scheduler()
    leader = cluster.leader()
    rng = np.random.default_rng(7)
    chunks = [np.arange(6.0)] + [rng.normal(size=int(n)) for n in rng.integers(0, 12, 24)]
    job_id = str(uuid.uuid4())
    with httpx.Client(base_url=leader, timeout=30) as api:
        assert api.put("/v1/datasets/s", params={"partitions": 1},
                       content=npy(chunks[0])).status_code == 201
        response = api.post("/v1/jobs", json={
            "id": job_id, "name": "live", "operation": "sliding_mean", "inputs": ["s"],
            "output": "live-out", "params": {"window": WINDOW}, "standing": True})
        assert response.status_code == 201, response.text
    codes = []
    for index, chunk in enumerate(chunks[1:], 1):
        codes.append(append_until_stored(cluster, index, chunk))
        if index == 8:
            cluster.proc(leader).send_signal(signal.SIGKILL)
    new_leader = cluster.leader(timeout=SESSION_TIMEOUT + 20)
    assert new_leader != leader
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        closed = api.post("/v1/datasets/s/close")
        assert closed.status_code == 200, closed.text
        assert closed.json()["partitions"] == len(chunks)
        done = wait_done(api, job_id, timeout=120)
        assert done["state"] == "FINISHED", done
        assert done["tasks"]["total"] == done["tasks"]["finished"] == len(chunks)
        out = api.get("/v1/datasets/live-out").json()
        assert out["partitions"] == len(chunks) and out["closed"] is True
        assert_close(fetch(api, "live-out"), sliding_mean(np.concatenate(chunks), WINDOW))
    # Each partition's task launched once: the new leader took the running ones over by
    # reconciliation, and made a task for no partition twice.
    launched = [t["id"] for t in cluster.master_tasks() if t["id"].startswith(job_id)]
    per_partition = Counter(task_id.rsplit(".", 1)[0] for task_id in launched)
    assert len(per_partition) == len(chunks)
    assert set(per_partition.values()) == {1}, per_partition
