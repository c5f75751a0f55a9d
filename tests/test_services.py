"""The real-service fixtures work: ZooKeeper elects, MongoDB-wire stores arrays."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import psutil
from bson.binary import Binary
from kazoo.client import KazooClient
from pymongo import MongoClient

from tests.services import MongoServer, ZooKeeperServer
from tests.waiting import wait_for


def test_zookeeper_elects_exactly_one_of_two_contenders(zookeeper: ZooKeeperServer) -> None:
    clients = [KazooClient(hosts=zookeeper.hosts) for _ in range(2)]
    leaders: list[str] = []
    leading = threading.Event()
    release = threading.Event()

    def lead(name: str) -> None:
        leaders.append(name)
        leading.set()
        release.wait(10)

    try:
        elections = []
        for i, client in enumerate(clients):
            client.start(timeout=15)
            election = client.Election("/femto-test/election", identifier=f"c{i}")
            elections.append(election)
            threading.Thread(target=election.run, args=(lead, f"c{i}"), daemon=True).start()
        assert leading.wait(10), "no leader was elected"
        # The first contender may lead before the second has entered the election.
        contenders = wait_for(lambda: len(c := elections[0].contenders()) == 2 and c,
                              timeout=10, what="both contenders to enter the election")
        assert sorted(contenders) == ["c0", "c1"]
        assert leaders == [contenders[0]]
        # The first leader steps down: the other contender takes over.
        leading.clear()
        release.set()
        assert leading.wait(10), "the second contender never led"
        assert sorted(leaders) == ["c0", "c1"]
    finally:
        release.set()
        for client in clients:
            client.stop()
            client.close()


def test_zookeeper_restart_keeps_data(zookeeper: ZooKeeperServer) -> None:
    client = KazooClient(hosts=zookeeper.hosts)
    client.start(timeout=15)
    client.create("/kept", b"value", makepath=True)
    client.stop()
    zookeeper.stop()
    zookeeper.start()
    client = KazooClient(hosts=zookeeper.hosts)
    client.start(timeout=15)
    try:
        assert client.get("/kept")[0] == b"value"
    finally:
        client.stop()
        client.close()


def test_mongo_round_trips_a_numpy_array_as_bson_binary(mongo: MongoServer) -> None:
    array = np.random.default_rng(7).normal(size=(1000, 3))
    buffer = io.BytesIO()
    np.save(buffer, array)
    with MongoClient(mongo.url, serverSelectionTimeoutMS=10_000) as client:
        collection = client["femto_test"]["arrays"]
        collection.insert_one({"_id": "a", "npy": Binary(buffer.getvalue())})
        stored = collection.find_one({"_id": "a"})
    assert stored is not None
    loaded = np.load(io.BytesIO(stored["npy"]))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_servers_leave_no_process_behind(tmp_path: Path) -> None:
    zk = ZooKeeperServer(tmp_path / "zk")
    db = MongoServer(tmp_path / "db")
    zk.start()
    db.start()
    pids = [zk.proc.pid, db.proc.pid]  # type: ignore[union-attr]
    zk.stop()
    db.stop()
    assert not [pid for pid in pids if psutil.pid_exists(pid)]
