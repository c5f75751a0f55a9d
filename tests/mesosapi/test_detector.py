from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from mesosapi.detector import (
    MasterDetector,
    leader_node,
    master_info_url,
    parse_master_spec,
    redirect_target,
)
from tests.mesosapi.fake_master import wait_until
from tests.services import ZooKeeperServer


def test_master_specs() -> None:
    assert parse_master_spec("10.0.0.1:5050").url == "http://10.0.0.1:5050"
    assert parse_master_spec("https://m.example:5050/").url == "https://m.example:5050"
    zk = parse_master_spec("zk://u:p@h1:2181,h2:2181/mesos")
    assert (zk.zk_hosts, zk.zk_path, zk.zk_auth) == ("h1:2181,h2:2181", "/mesos", "u:p")


@pytest.mark.parametrize("spec", ["localhost", "zk://h1:2181", "ftp://h:1", "h:notaport", ":5050"])
def test_bad_master_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_master_spec(spec)


def test_redirect_locations() -> None:
    current = "http://a:5050"
    assert redirect_target("//b:5051/api/v1/scheduler", current) == "http://b:5051"
    assert redirect_target("b:5051", current) == "http://b:5051"
    assert redirect_target("https://c:1/api/v1/scheduler", current) == "https://c:1"


def test_lowest_sequence_leads() -> None:
    children = ["json.info_0000000012", "log_replicas", "json.info_0000000003", "info_0000000001"]
    assert leader_node(children) == "json.info_0000000003"
    assert leader_node(["log_replicas"]) is None


def test_master_info_address() -> None:
    assert master_info_url({"address": {"ip": "10.1.1.1", "port": 5050}}) == "http://10.1.1.1:5050"
    info = {"address": {"hostname": "m1", "ip": "10.1.1.1", "port": 5050}}
    assert master_info_url(info) == "http://m1:5050"
    with pytest.raises(ValueError, match="no usable address"):
        master_info_url({"id": "x"})


@pytest.fixture
def zk_client(zookeeper: ZooKeeperServer) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zookeeper.hosts)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def register_master(client: KazooClient, path: str, port: int) -> str:
    """Write a contender znode the way a Mesos master does."""
    info = {"id": f"m-{port}", "address": {"ip": "127.0.0.1", "port": port}, "port": port}
    return str(
        client.create(
            f"{path}/json.info_",
            json.dumps(info).encode(),
            ephemeral=True,
            sequence=True,
            makepath=True,
        )
    )


def test_zk_detector_follows_leader_changes(
    zookeeper: ZooKeeperServer, zk_client: KazooClient
) -> None:
    changes: list[str | None] = []
    detector = MasterDetector(f"zk://{zookeeper.hosts}/mesos", on_change=changes.append)
    detector.start()
    try:
        # No master has created the path yet: the detector waits for it.
        assert detector.wait_for_leader(0.3) is None
        first = register_master(zk_client, "/mesos", 5051)
        register_master(zk_client, "/mesos", 5052)
        assert detector.wait_for_leader(10) == "http://127.0.0.1:5051"

        zk_client.delete(first)  # the leader's session ends: the next contender leads
        wait_until(lambda: detector.leader() == "http://127.0.0.1:5052", 10, "no failover")
        assert changes == ["http://127.0.0.1:5051", "http://127.0.0.1:5052"]
    finally:
        detector.stop()
