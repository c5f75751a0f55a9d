"""Scheduler driver against a real HTTP peer (tests/mesosapi/fake_master.py)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from addict import Dict
from kazoo.client import KazooClient

from mesosapi.errors import NotConnected
from mesosapi.scheduler import MesosSchedulerDriver, Scheduler
from tests.mesosapi.fake_master import FakeMesos, wait_until
from tests.mesosapi.test_detector import register_master
from tests.services import ZooKeeperServer

FRAMEWORK = {"name": "test-framework", "user": "nobody"}


class Recorder(Scheduler):
    """Records every callback with the thread it ran on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[str] = set()
        self.raise_on_update = False

    def _note(self, name: str, value: Any = None) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((name, value))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def registered(self, driver: Any, framework_id: Dict, master_info: Dict) -> None:
        self._note("registered", framework_id.value)

    def reregistered(self, driver: Any, master_info: Dict) -> None:
        self._note("reregistered")

    def disconnected(self, driver: Any) -> None:
        self._note("disconnected")

    def resourceOffers(self, driver: Any, offers: list[Dict]) -> None:
        self._note("offers", [o.id.value for o in offers])

    def offerRescinded(self, driver: Any, offer_id: Dict) -> None:
        self._note("rescinded", offer_id.value)

    def statusUpdate(self, driver: Any, status: Dict) -> None:
        self._note("update", status.task_id.value)
        if self.raise_on_update:
            raise RuntimeError("scheduler bug")

    def frameworkMessage(self, driver: Any, executor_id: Dict, agent_id: Dict, data: bytes) -> None:
        self._note("message", (executor_id.value, agent_id.value, data))

    def agentLost(self, driver: Any, agent_id: Dict) -> None:
        self._note("agent_lost", agent_id.value)

    def executorLost(self, driver: Any, executor_id: Dict, agent_id: Dict, status: Any) -> None:
        self._note("executor_lost", (executor_id.value, agent_id.value, status))

    def error(self, driver: Any, message: str) -> None:
        self._note("error", message)


@pytest.fixture
def master() -> Iterator[FakeMesos]:
    server = FakeMesos().start()
    yield server
    server.stop()


def started(master: FakeMesos, recorder: Recorder, **kwargs: Any) -> MesosSchedulerDriver:
    driver = MesosSchedulerDriver(recorder, dict(FRAMEWORK), master.address, **kwargs)
    driver.start()
    assert driver.wait_connected(10)
    return driver


def test_subscribe_and_every_call_on_the_wire(master: FakeMesos) -> None:
    master.credentials = ("alice", "s3cret")
    recorder = Recorder()
    driver = started(master, recorder, principal="alice", secret="s3cret")
    try:
        wait_until(lambda: "registered" in recorder.names(), 5, "registered not called")
        assert driver.framework_id == "fw-1"
        subscribe = master.calls_of("SUBSCRIBE")[0]["body"]["subscribe"]
        assert subscribe["framework_info"]["failover_timeout"] == 604800
        assert subscribe["framework_info"]["principal"] == "alice"

        driver.launchTasks(["o1", {"value": "o2"}], [{"name": "t", "task_id": {"value": "t1"}}])
        driver.declineOffer(["o3"], {"refuse_seconds": 30})
        driver.acceptOffers(["o4"], [{"type": "LAUNCH_GROUP", "launch_group": {}}])
        driver.killTask({"value": "t1"}, {"value": "a1"})
        driver.reconcileTasks([{"task_id": {"value": "t1"}, "state": "TASK_RUNNING"}])
        driver.reconcileTasks([])
        driver.reviveOffers(["r"])
        driver.suppressOffers()
        driver.sendFrameworkMessage({"value": "e1"}, {"value": "a1"}, b"\x00hi")

        bodies = [c["body"] for c in master.calls[1:]]
        assert all(b["framework_id"] == {"value": "fw-1"} for b in bodies)
        headers = [c["headers"] for c in master.calls[1:]]
        assert all(h["mesos-stream-id"] == "stream-1" for h in headers)
        accept = bodies[0]["accept"]
        assert accept["offer_ids"] == [{"value": "o1"}, {"value": "o2"}]
        assert accept["operations"][0]["launch"]["task_infos"][0]["task_id"] == {"value": "t1"}
        assert bodies[1]["decline"] == {
            "offer_ids": [{"value": "o3"}],
            "filters": {"refuse_seconds": 30},
        }
        assert bodies[2]["accept"]["operations"][0]["type"] == "LAUNCH_GROUP"
        assert bodies[3]["kill"] == {"task_id": {"value": "t1"}, "agent_id": {"value": "a1"}}
        assert bodies[4]["reconcile"] == {"tasks": [{"task_id": {"value": "t1"}}]}
        assert bodies[5]["reconcile"] == {"tasks": []}
        assert bodies[6]["revive"] == {"roles": ["r"]}
        assert bodies[7] == {"type": "SUPPRESS", "framework_id": {"value": "fw-1"}}
        assert base64.b64decode(bodies[8]["message"]["data"]) == b"\x00hi"
    finally:
        driver.stop()
    assert master.calls[-1]["body"]["type"] == "TEARDOWN"
    with pytest.raises(NotConnected):
        driver.declineOffer(["o5"])


def test_events_reach_callbacks_in_order_on_the_callback_thread(master: FakeMesos) -> None:
    recorder = Recorder()
    driver = started(master, recorder)
    try:
        offer = {"id": {"value": "o1"}, "agent_id": {"value": "a1"}, "hostname": "h"}
        master.push({"type": "OFFERS", "offers": {"offers": [offer]}})
        master.push({"type": "RESCIND", "rescind": {"offer_id": {"value": "o1"}}})
        data = base64.b64encode(b"progress").decode()
        message = {"agent_id": {"value": "a1"}, "executor_id": {"value": "e1"}, "data": data}
        master.push({"type": "MESSAGE", "message": message})
        master.push({"type": "FAILURE", "failure": {"agent_id": {"value": "a1"}}})
        failure = {"agent_id": {"value": "a2"}, "executor_id": {"value": "e2"}, "status": 9}
        master.push({"type": "FAILURE", "failure": failure})
        wait_until(lambda: len(recorder.events) >= 6, 5, f"callbacks missing: {recorder.events}")
        assert recorder.events[1:] == [
            ("offers", ["o1"]),
            ("rescinded", "o1"),
            ("message", ("e1", "a1", b"progress")),
            ("agent_lost", "a1"),
            ("executor_lost", ("e2", "a2", 9)),
        ]
        assert recorder.threads == {"mesos-scheduler-callbacks"}
    finally:
        driver.stop(failover=True)
    assert not master.calls_of("TEARDOWN")


def test_implicit_acknowledgement_only_after_statusupdate_returns(master: FakeMesos) -> None:
    recorder = Recorder()
    driver = started(master, recorder)
    try:
        status = {"task_id": {"value": "t1"}, "agent_id": {"value": "a1"}, "state": "TASK_RUNNING"}
        master.push({"type": "UPDATE", "update": {"status": status}})  # no uuid: no ack
        master.push({"type": "UPDATE", "update": {"status": {**status, "uuid": "dXVpZDE="}}})
        wait_until(lambda: master.calls_of("ACKNOWLEDGE"), 5, "no ACKNOWLEDGE")
        recorder.raise_on_update = True
        master.push({"type": "UPDATE", "update": {"status": {**status, "uuid": "dXVpZDI="}}})
        wait_until(lambda: recorder.names().count("update") == 3, 5, "third update missing")
        master.push({"type": "HEARTBEAT"})
        acks = [c["body"]["acknowledge"] for c in master.calls_of("ACKNOWLEDGE")]
        assert acks == [
            {"agent_id": {"value": "a1"}, "task_id": {"value": "t1"}, "uuid": "dXVpZDE="}
        ]
    finally:
        driver.stop(failover=True)


def test_slow_callback_does_not_stall_the_stream(master: FakeMesos) -> None:
    release = threading.Event()

    class Slow(Recorder):
        def resourceOffers(self, driver: Any, offers: list[Dict]) -> None:
            release.wait(10)
            super().resourceOffers(driver, offers)

    recorder = Slow()
    driver = started(master, recorder, heartbeat_misses=2)
    try:
        master.push({"type": "OFFERS", "offers": {"offers": [{"id": {"value": "o1"}}]}})
        # Blocked for 5x the dead-stream limit (2 x 0.2 s): heartbeats are still read.
        blocked = threading.Event()
        blocked.wait(2.0)
        assert driver.connected
        assert len(master.calls_of("SUBSCRIBE")) == 1
        release.set()
        wait_until(lambda: "offers" in recorder.names(), 5, "offer callback never ran")
    finally:
        release.set()
        driver.stop(failover=True)


def test_stalled_stream_is_detected_and_the_framework_resubscribes(master: FakeMesos) -> None:
    recorder = Recorder()
    driver = started(master, recorder, heartbeat_misses=3)
    try:
        master.stall = True
        master.push({"type": "HEARTBEAT"})  # the stream is now open but silent
        wait_until(lambda: "disconnected" in recorder.names(), 5, "stall not detected")
        master.stall = False
        wait_until(lambda: "reregistered" in recorder.names(), 10, "no re-subscription")
        assert recorder.names()[:3] == ["registered", "disconnected", "reregistered"]
        again = master.calls_of("SUBSCRIBE")[-1]["body"]
        assert again["framework_id"] == {"value": "fw-1"}
        assert again["subscribe"]["framework_info"]["id"] == {"value": "fw-1"}
        assert again["subscribe"]["force"] is False
        assert driver.connected
    finally:
        driver.stop(failover=True)


def test_calls_while_disconnected_raise(master: FakeMesos) -> None:
    recorder = Recorder()
    driver = started(master, recorder)
    master.stop()  # the master is gone and does not come back
    try:
        wait_until(lambda: not driver.connected, 5, "disconnection not noticed")
        with pytest.raises(NotConnected, match="KILL"):
            driver.killTask({"value": "t1"})
    finally:
        driver.stop(failover=True)


def test_follows_redirect_to_the_leading_master(master: FakeMesos) -> None:
    standby = FakeMesos().start()
    standby.redirect_to = f"//{master.address}/api/v1/scheduler"
    recorder = Recorder()
    try:
        driver = started(standby, recorder)
        try:
            assert master.calls_of("SUBSCRIBE")
            driver.reviveOffers()
            assert master.calls_of("REVIVE")
            assert not standby.calls_of("REVIVE")
        finally:
            driver.stop(failover=True)
    finally:
        standby.stop()


def test_failover_subscribes_with_the_framework_id(master: FakeMesos) -> None:
    recorder = Recorder()
    framework = {**FRAMEWORK, "id": {"value": "fw-old"}, "failover_timeout": 60}
    driver = MesosSchedulerDriver(recorder, framework, master.url)
    driver.start()
    try:
        wait_until(lambda: "reregistered" in recorder.names(), 10, "not re-registered")
        body = master.calls_of("SUBSCRIBE")[0]["body"]
        assert body["framework_id"] == {"value": "fw-old"}
        assert body["subscribe"]["force"] is True
        assert body["subscribe"]["framework_info"]["failover_timeout"] == 60
    finally:
        driver.stop(failover=True)


def test_master_error_aborts_the_driver(master: FakeMesos) -> None:
    recorder = Recorder()
    driver = started(master, recorder)
    master.push({"type": "ERROR", "error": {"message": "Framework has been removed"}})
    driver.join(10)
    assert ("error", "Framework has been removed") in recorder.events
    assert not driver.connected
    assert len(master.calls_of("SUBSCRIBE")) == 1
    driver.stop()


def test_rejected_credentials_are_reported_not_retried(master: FakeMesos) -> None:
    master.credentials = ("alice", "right")
    recorder = Recorder()
    driver = MesosSchedulerDriver(
        recorder, FRAMEWORK, master.address, principal="alice", secret="wrong"
    )
    driver.start()
    driver.join(10)
    assert recorder.names() == ["error"]
    assert "401" in recorder.events[0][1]
    assert len(master.calls_of("SUBSCRIBE")) == 1
    driver.stop()


def test_zk_master_follows_the_leader(zookeeper: ZooKeeperServer, master: FakeMesos) -> None:
    second = FakeMesos().start()
    client = KazooClient(hosts=zookeeper.hosts)
    client.start(timeout=15)
    recorder = Recorder()
    try:
        leader = register_master(client, "/mesos", master.port)
        register_master(client, "/mesos", second.port)
        driver = MesosSchedulerDriver(recorder, FRAMEWORK, f"zk://{zookeeper.hosts}/mesos")
        driver.start()
        try:
            assert driver.wait_connected(15)
            assert master.calls_of("SUBSCRIBE")
            client.delete(leader)  # the leading master's session ends
            wait_until(lambda: second.calls_of("SUBSCRIBE"), 10, "did not follow the leader")
            wait_until(lambda: "reregistered" in recorder.names(), 10, "not re-registered")
            body = second.calls_of("SUBSCRIBE")[0]["body"]
            assert body["framework_id"] == {"value": "fw-1"}
            driver.reviveOffers()
            assert second.calls_of("REVIVE")
        finally:
            driver.stop(failover=True)
    finally:
        client.stop()
        client.close()
        second.stop()
