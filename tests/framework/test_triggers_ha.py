"""A trigger through a leader failover: two schedulers elected through a real ZooKeeper
share a MongoDB-wire store and one directory; the leader is killed while files land, and
every file still runs exactly one job."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.framework.helpers import wait_done
from tests.framework.test_ha import SESSION_TIMEOUT, Cluster
from tests.services import MongoServer, ZooKeeperServer
from tests.waiting import wait_for


@pytest.fixture
def ha(tmp_path: Path, zookeeper: ZooKeeperServer, mongo: MongoServer) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, zookeeper, mongo)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_files_landing_through_a_failover_fire_once_each(ha: Cluster, tmp_path: Path) -> None:
    inbox = tmp_path / "root" / "in"
    inbox.mkdir(parents=True)
    for _ in range(2):
        ha.add_scheduler("--data-root", str(tmp_path / "root"))
    leader = ha.leader()
    created = httpx.post(f"{leader}/v1/triggers", timeout=30, json={
        "name": "sums", "watch": {"directory": str(inbox)},
        "submit": {"name": "total", "operation": "sum", "inputs": ["@new"]}})
    assert created.status_code == 201, created.text
    arrays = [np.random.default_rng(i).random(100 + i) for i in range(8)]
    for i, array in enumerate(arrays[:4]):
        np.save(inbox / f"f{i}.npy", array)
        time.sleep(0.3)
    ha.proc(leader).send_signal(signal.SIGKILL)  # with firings of the last files in flight
    for i, array in enumerate(arrays[4:], start=4):  # while no leader watches
        np.save(inbox / f"f{i}.npy", array)
        time.sleep(0.3)
    new_leader = ha.leader(timeout=SESSION_TIMEOUT + 20)
    assert new_leader != leader
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        wait_for(lambda: api.get("/v1/triggers/sums").json()["fired"] == len(arrays), 60,
                 "every file fired")
        time.sleep(2)  # a second firing of any file would show by now
        jobs = [j for j in api.get("/v1/jobs").json() if j["name"] == "total"]
        assert len(jobs) == len(arrays)
        sums = sorted(wait_done(api, j["id"])["result"]["value"] for j in jobs)
        assert sums == pytest.approx(sorted(a.sum() for a in arrays))
        assert api.get("/v1/triggers/sums").json()["fired"] == len(arrays)
