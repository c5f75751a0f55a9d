"""High availability: schedulers elected through a real ZooKeeper, sharing a
MongoDB-wire store and one embedded Mesos; leaders crash, freeze and lose
ZooKeeper, and every job still finishes once, with the right result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from kazoo.client import KazooClient

from tests.framework.helpers import fetch, npy, start, wait_done, wait_for, wait_http
from tests.services import MongoServer, ZooKeeperServer, free_port

SESSION_TIMEOUT = 4.0
DATA = np.arange(64, dtype=np.float64)


class Cluster:
    def __init__(self, tmp_path: Path, zookeeper: ZooKeeperServer, mongo: MongoServer) -> None:
        self.tmp = tmp_path
        self.zk = zookeeper
        self.mongo = mongo
        self.mesos_port = free_port()
        self.mesos = start([sys.executable, "-m", "localmesos", "--listen",
                            f"127.0.0.1:{self.mesos_port}", "--agents", "2"],
                           tmp_path / "mesos.log")
        wait_http(f"http://127.0.0.1:{self.mesos_port}/health", self.mesos)
        self.schedulers: list[tuple[subprocess.Popen[bytes], str]] = []
        self.master = f"127.0.0.1:{self.mesos_port}"
        self.publisher: KazooClient | None = None

    def publish_master_in_zookeeper(self) -> None:
        """Write the embedded master's MasterInfo where Mesos masters write theirs, so
        the schedulers find it through `--master zk://` on the same ensemble."""
        self.publisher = KazooClient(hosts=self.zk.hosts)
        self.publisher.start(timeout=15)
        info = {"id": "local", "hostname": "127.0.0.1", "port": self.mesos_port,
                "address": {"ip": "127.0.0.1", "hostname": "127.0.0.1",
                            "port": self.mesos_port}}
        self.publisher.create("/mesos/json.info_", json.dumps(info).encode(), ephemeral=True,
                              sequence=True, makepath=True)
        self.master = f"zk://{self.zk.hosts}/mesos"

    def add_scheduler(self, *extra: str) -> str:
        i, port = len(self.schedulers), free_port()
        proc = start([
            sys.executable, "-m", "femto", "serve",
            "--master", self.master, "--zk", f"{self.zk.hosts}/femto",
            "--zk-session-timeout", str(SESSION_TIMEOUT), "--store", self.mongo.url,
            "--listen", f"127.0.0.1:{port}", "--state-dir", str(self.tmp / f"s{i}"),
            "--retry-backoff", "0.2", *extra,
        ], self.tmp / f"femto-{i}.log")
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", proc)
        self.schedulers.append((proc, url))
        return url

    def leaders(self) -> list[str]:
        found = []
        for proc, url in self.schedulers:
            if proc.poll() is not None:
                continue
            try:
                if httpx.get(f"{url}/v1/leader", timeout=2).json()["is_leader"]:
                    found.append(url)
            except httpx.HTTPError:
                pass
        return found

    def leader(self, timeout: float = 30.0) -> str:
        leaders: list[str] = wait_for(self.leaders, timeout, "a leader")
        assert len(leaders) == 1, f"two leaders at once: {leaders}"
        return leaders[0]

    def proc(self, url: str) -> subprocess.Popen[bytes]:
        return next(p for p, u in self.schedulers if u == url)

    def master_tasks(self) -> list[dict[str, Any]]:
        state = httpx.get(f"http://127.0.0.1:{self.mesos_port}/master/state", timeout=5).json()
        frameworks = state["frameworks"]
        return [t for f in frameworks for t in f["tasks"] + f["completed_tasks"]]

    def stop(self) -> None:
        """Stop every process this cluster started, even when one is slow to go."""
        executors = psutil.Process(self.mesos.pid).children(recursive=True)
        procs = [p for p, _ in self.schedulers] + [self.mesos]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        stubborn = []
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stubborn.append(proc.args)
                proc.kill()
                proc.wait()
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher.close()
        _, alive = psutil.wait_procs(executors, timeout=10)
        assert not alive, f"left behind: {alive}"
        assert not stubborn, f"ignored SIGTERM for 30 s: {stubborn}"


@pytest.fixture
def cluster(tmp_path: Path, zookeeper: ZooKeeperServer,
            mongo: MongoServer) -> Iterator[Cluster]:
    ha = Cluster(tmp_path, zookeeper, mongo)
    try:
        yield ha
    finally:
        ha.stop()


def submit_slow_job(url: str, name: str, seconds: float) -> str:
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as api:
        response = api.put("/v1/datasets/d", params={"partitions": 8}, content=npy(DATA))
        assert response.status_code in (201, 409), response.text
        response = api.post("/v1/jobs", json={
            "name": name, "operation": "command", "inputs": ["d"], "output": f"{name}-out",
            "params": {"argv": ["sh", "-c", f"sleep {seconds}; cat"]},
        })
        assert response.status_code == 201, response.text
        job_id: str = response.json()["id"]
        return job_id


def tasks(url: str, job_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/v1/jobs/{job_id}/tasks", timeout=10)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def femto_attempt_ids(url: str, job_id: str) -> set[str]:
    return {a["task_id"] for t in tasks(url, job_id) for a in t["attempts"]}


def test_standby_serves_reads_and_redirects_writes(cluster: Cluster) -> None:
    cluster.publish_master_in_zookeeper()  # --master zk:// beside --zk, one ensemble
    first, second = cluster.add_scheduler(), cluster.add_scheduler()
    leader = cluster.leader()
    standby = second if leader == first else first
    answer = httpx.get(f"{standby}/v1/leader").json()
    assert answer == {"leader": leader.removeprefix("http://"), "is_leader": False}
    job_id = submit_slow_job(standby, "via-standby", 0.1)  # follows the 307
    redirect = httpx.post(f"{standby}/v1/jobs", json={"name": "x", "operation": "count",
                                                      "inputs": ["d"]})
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{leader}/v1/jobs"
    # Only the leader has events: a follower is sent there, query kept.
    events = httpx.get(f"{standby}/v1/events", params={"job": job_id})
    assert events.status_code == 307
    assert events.headers["location"] == f"{leader}/v1/events?job={job_id}"
    with httpx.Client(base_url=standby, timeout=30) as api:
        done = wait_done(api, job_id)  # reads are served by the standby itself
        assert done["state"] == "FINISHED"
        np.testing.assert_array_equal(fetch(api, "via-standby-out"), DATA)


def test_leader_killed_mid_job(cluster: Cluster) -> None:
    cluster.add_scheduler()
    cluster.add_scheduler()
    leader = cluster.leader()
    job_id = submit_slow_job(leader, "survivor", 4)
    wait_for(lambda: sum(t["state"] == "RUNNING" for t in tasks(leader, job_id)) >= 2, 30,
             "tasks running")
    running = {t["partition"] for t in tasks(leader, job_id) if t["state"] == "RUNNING"}
    killed_at = time.monotonic()
    cluster.proc(leader).send_signal(signal.SIGKILL)
    new_leader = cluster.leader(timeout=SESSION_TIMEOUT + 20)
    assert new_leader != leader

    def accepts_a_job() -> bool:
        response = httpx.post(f"{new_leader}/v1/jobs", timeout=10, json={
            "name": "after-failover", "operation": "count", "inputs": ["d"]})
        return response.status_code == 201

    wait_for(accepts_a_job, 30, "the new leader to accept a job")
    failover = time.monotonic() - killed_at
    print(f"failover: {failover:.2f}s from SIGKILL to a job accepted "
          f"(ZooKeeper session timeout {SESSION_TIMEOUT}s)")
    assert failover < SESSION_TIMEOUT + 10
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        done = wait_done(api, job_id)
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "survivor-out"), DATA)
        for task in tasks(new_leader, job_id):
            if task["partition"] in running:
                assert len(task["attempts"]) == 1, task  # reconciled, not relaunched
    master_ids = {t["id"] for t in cluster.master_tasks() if t["id"].startswith(job_id)}
    assert master_ids == femto_attempt_ids(new_leader, job_id)


def test_zookeeper_down_longer_than_the_session(cluster: Cluster) -> None:
    cluster.add_scheduler()
    cluster.add_scheduler()
    leader = cluster.leader()
    job_id = submit_slow_job(leader, "zk-outage", 2)
    wait_for(lambda: any(t["state"] == "RUNNING" for t in tasks(leader, job_id)), 30,
             "a running task")
    cluster.zk.stop()
    # Without ZooKeeper no scheduler may act as leader.
    wait_for(lambda: not cluster.leaders(), SESSION_TIMEOUT + 5, "the leader to step down")
    time.sleep(SESSION_TIMEOUT + 1)
    assert not cluster.leaders()
    cluster.zk.start()
    new_leader = cluster.leader(timeout=60)
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        done = wait_done(api, job_id)
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "zk-outage-out"), DATA)
    # The master launched exactly what femto recorded: nothing from a second leader.
    master_ids = {t["id"] for t in cluster.master_tasks() if t["id"].startswith(job_id)}
    assert master_ids == femto_attempt_ids(new_leader, job_id)
    assert len({t["framework_id"] for t in cluster.master_tasks()}) == 1


def test_frozen_leader_launches_nothing_after_it_is_deposed(cluster: Cluster) -> None:
    cluster.add_scheduler()
    cluster.add_scheduler()
    leader = cluster.leader()
    job_id = submit_slow_job(leader, "frozen", 3)
    wait_for(lambda: any(t["state"] == "RUNNING" for t in tasks(leader, job_id)), 30,
             "a running task")
    frozen = cluster.proc(leader)
    frozen.send_signal(signal.SIGSTOP)  # alive, but its ZooKeeper session expires
    new_leader = wait_for(lambda: [u for u in cluster.leaders() if u != leader],
                          SESSION_TIMEOUT + 20, "a new leader")[0]
    frozen.send_signal(signal.SIGCONT)
    wait_for(lambda: leader not in cluster.leaders(), 15, "the old leader to step down")
    with httpx.Client(base_url=new_leader, timeout=30) as api:
        done = wait_done(api, job_id)
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "frozen-out"), DATA)
    assert cluster.leaders() == [new_leader]
    master_ids = {t["id"] for t in cluster.master_tasks() if t["id"].startswith(job_id)}
    assert master_ids == femto_attempt_ids(new_leader, job_id)


def test_the_cluster_view_names_the_leader_and_the_standby(cluster: Cluster) -> None:
    first, second = cluster.add_scheduler(), cluster.add_scheduler()
    leader = cluster.leader()
    standby = second if leader == first else first
    expected = [{"url": leader, "leader": True}, {"url": standby, "leader": False}]
    on_leader = httpx.get(f"{leader}/v1/cluster", timeout=10).json()
    assert on_leader["schedulers"] == expected
    assert on_leader["master"]["url"] == f"http://{cluster.master}"
    assert len(on_leader["agents"]) == 2 and on_leader["error"] is None
    on_standby = httpx.get(f"{standby}/v1/cluster", timeout=10).json()
    assert on_standby["schedulers"] == expected
    assert on_standby["master"] is None and "stands by" in on_standby["error"]
