"""Black-box probes of `python -m localmesos`, written from the Apache Mesos docs.

Sources: docs/scheduler-http-api.md, docs/executor-http-api.md,
docs/reconciliation.md, docs/endpoints/files/*.md, the v1 protos, the master's
/master/state writer (src/master/http.cpp), executorEnvironment
(src/slave/containerizer/containerizer.cpp) and ../shared/real-mesos.md. The
cluster runs as a subprocess on a free port and is reached over raw HTTP only.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesosapi.recordio import Decoder

Event = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
EXECUTOR_SCRIPT = Path(__file__).with_name("probe_executor.py")
WAIT = 20.0
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
# stout's stringify(Duration): a number and one of its units.
DURATION = re.compile(r"^\d+(\.\d+)?(ns|us|ms|secs|mins|hrs|days|weeks)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, url: str, process: subprocess.Popen[str], marker: Path) -> None:
        self.url = url
        self.process = process
        self.path_marker = marker

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/master/state", timeout=10)
        assert response.status_code == 200
        return dict(response.json())

    def agent_url(self) -> str:
        pid = self.state()["slaves"][0]["pid"]
        return "http://" + pid.split("@", 1)[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("probes")
    marker = work / "launcher-only-bin"
    marker.mkdir()
    port = free_port()
    env = dict(os.environ)
    env["PROBE_LAUNCHER_SECRET"] = "must-not-leak"
    env["PATH"] = f"{marker}:{env.get('PATH', '')}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localmesos",
            "--listen",
            f"127.0.0.1:{port}",
            "--agents",
            "1",
            "--cpus",
            "4",
            "--mem",
            "4096",
            "--work-dir",
            str(work / "agents"),
            "--heartbeat-interval",
            "1",
            "--executor-environment-variables",
            json.dumps({"PROBE_AGENT_VAR": "from-agent-flag"}),
            "--stop-on-eof",
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"127.0.0.1:{port}" in line, line
        yield Cluster(f"http://127.0.0.1:{port}", process, marker)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Scheduler:
    """A raw v1 scheduler: one subscription stream, calls on other connections."""

    def __init__(self, url: str, name: str, **framework: Any) -> None:
        self.endpoint = f"{url}/api/v1/scheduler"
        self.info: dict[str, Any] = {"user": "probe", "name": name, **framework}
        self.client = httpx.Client(timeout=10)
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.backlog: list[Event] = []
        self.framework_id: dict[str, str] | None = None
        self.stream_id = ""
        self.ack_answers: list[int] = []
        self.auto_ack = True
        self._response: httpx.Response | None = None
        self._stream_client: httpx.Client | None = None

    def subscribe(self) -> Event:
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": self.info}}
        if self.framework_id:
            self.info["id"] = self.framework_id
            body["framework_id"] = self.framework_id
        self.events = queue.Queue()
        self.backlog = []
        self._stream_client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        request = self._stream_client.build_request(
            "POST", self.endpoint, content=json.dumps(body), headers=JSON
        )
        response = self._stream_client.send(request, stream=True)
        assert response.status_code == 200, response.read()
        self._response = response
        self.stream_id = response.headers["Mesos-Stream-Id"]
        threading.Thread(target=self._read, args=(response,), daemon=True).start()
        event = self.next(lambda e: True)
        assert event["type"] == "SUBSCRIBED", event
        self.framework_id = event["subscribed"]["framework_id"]
        return event

    def _read(self, response: httpx.Response) -> None:
        decoder = Decoder()
        try:
            for chunk in response.iter_bytes():
                for record in decoder.feed(chunk):
                    event = json.loads(record)
                    if event["type"] == "HEARTBEAT":
                        continue
                    if self.auto_ack and event["type"] == "UPDATE":
                        self.ack(event["update"]["status"])
                    self.events.put(event)
        except (httpx.HTTPError, RuntimeError):
            pass
        self.events.put(None)

    def ack(self, status: dict[str, Any]) -> None:
        if "uuid" not in status:
            return
        answer = self.call(
            "ACKNOWLEDGE",
            acknowledge={
                "agent_id": status["agent_id"],
                "task_id": status["task_id"],
                "uuid": status["uuid"],
            },
        )
        self.ack_answers.append(answer.status_code)

    def call(self, kind: str, **fields: Any) -> httpx.Response:
        body = {"type": kind, "framework_id": self.framework_id, **fields}
        headers = JSON | {"Mesos-Stream-Id": self.stream_id}
        return self.client.post(self.endpoint, content=json.dumps(body), headers=headers)

    def next(self, match: Callable[[Event], bool], timeout: float = WAIT) -> Event:
        """The first matching event not yet taken; the others wait for their turn."""
        for index, event in enumerate(self.backlog):
            if match(event):
                return self.backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching event in time")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                self.events.put(None)
                raise AssertionError("subscription stream ended")
            if match(event):
                return event
            self.backlog.append(event)

    def quiet(self, match: Callable[[Event], bool], seconds: float) -> bool:
        """True if no matching event arrives within `seconds` (a bounded negative check)."""
        try:
            self.next(match, timeout=seconds)
        except AssertionError:
            return True
        return False

    def offer(self) -> Event:
        return dict(self.next(lambda e: e["type"] == "OFFERS")["offers"]["offers"][0])

    def update(self, task: str, state: str) -> dict[str, Any]:
        def match(event: Event) -> bool:
            if event["type"] != "UPDATE":
                return False
            status = event["update"]["status"]
            return bool(status["task_id"]["value"] == task and status["state"] == state)

        return dict(self.next(match)["update"]["status"])

    def launch(self, offer: Event, *tasks: dict[str, Any]) -> None:
        for task in tasks:
            task["agent_id"] = offer["agent_id"]
        answer = self.call(
            "ACCEPT",
            accept={
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
                "filters": {"refuse_seconds": 0},
            },
        )
        assert answer.status_code == 202, answer.text

    def drop_stream(self) -> None:
        if self._response is not None:
            self._response.close()
        if self._stream_client is not None:
            self._stream_client.close()

    def stop(self) -> None:
        if self.framework_id:
            self.call("TEARDOWN")
        self.drop_stream()
        self.client.close()


@pytest.fixture
def scheduler(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Scheduler]:
    sched = Scheduler(cluster.url, request.node.name)
    yield sched
    sched.stop()


def scalars(cpus: float, mem: float) -> list[dict[str, Any]]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


def command_task(name: str, shell: str) -> dict[str, Any]:
    return {
        "name": name,
        "task_id": {"value": name},
        "resources": scalars(0.1, 32),
        "command": {"value": shell},
    }


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(url, content=content, headers=headers or JSON, timeout=10)


# --- scheduler API: the documented answers to mistakes ---------------------------------


def test_get_is_405(cluster: Cluster) -> None:
    assert httpx.get(f"{cluster.url}/api/v1/scheduler").status_code == 405


def test_malformed_json_is_400(cluster: Cluster) -> None:
    answer = post(f"{cluster.url}/api/v1/scheduler", "{not json")
    assert answer.status_code == 400 and "Failed to parse body into JSON" in answer.text


def test_content_type_answers(cluster: Cluster) -> None:
    url = f"{cluster.url}/api/v1/scheduler"
    body = json.dumps(
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "p", "name": "ct"}}}
    )
    missing = httpx.post(url, content=body, headers={"Accept": "application/json"})
    assert missing.status_code == 400
    assert "Expecting 'Content-Type' to be present" in missing.text
    plain = httpx.post(url, content=body, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    # Accept is looked at for SUBSCRIBE: neither JSON nor protobuf is a 406.
    html = httpx.post(
        url, content=body, headers={"Content-Type": "application/json", "Accept": "text/html"}
    )
    assert html.status_code == 406


def test_subscribe_without_framework_info_is_400(cluster: Cluster) -> None:
    answer = post(f"{cluster.url}/api/v1/scheduler", {"type": "SUBSCRIBE", "subscribe": {}})
    assert answer.status_code == 400
    answer = post(f"{cluster.url}/api/v1/scheduler", {"type": "SUBSCRIBE"})
    assert answer.status_code == 400


def test_call_for_unknown_framework_is_400(cluster: Cluster) -> None:
    body = {"type": "REVIVE", "framework_id": {"value": "no-such-framework"}}
    headers = JSON | {"Mesos-Stream-Id": str(uuid.uuid4())}
    answer = post(f"{cluster.url}/api/v1/scheduler", body, headers)
    assert answer.status_code == 400
    assert "Framework cannot be found" in answer.text


def test_subscribe_with_stream_id_is_400(cluster: Cluster) -> None:
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "p", "name": "p"}}}
    headers = JSON | {"Mesos-Stream-Id": str(uuid.uuid4())}
    answer = post(f"{cluster.url}/api/v1/scheduler", body, headers)
    assert answer.status_code == 400
    assert "Mesos-Stream-Id" in answer.text
    assert not any(f["name"] == "p" for f in cluster.state()["frameworks"])


def test_stream_id_mistakes_are_400(scheduler: Scheduler) -> None:
    scheduler.subscribe()
    scheduler.stream_id = str(uuid.uuid4())
    wrong = scheduler.call("REVIVE")
    assert wrong.status_code == 400
    assert (
        f"The stream ID '{scheduler.stream_id}' included in this request didn't match" in wrong.text
    )
    body = {"type": "REVIVE", "framework_id": scheduler.framework_id}
    missing = post(scheduler.endpoint, body)
    assert missing.status_code == 400
    assert "All non-subscribe calls should include the 'Mesos-Stream-Id' header" in missing.text


def test_non_subscribe_without_framework_id_is_400(scheduler: Scheduler) -> None:
    scheduler.subscribe()
    headers = JSON | {"Mesos-Stream-Id": scheduler.stream_id}
    answer = post(scheduler.endpoint, {"type": "REVIVE"}, headers)
    assert answer.status_code == 400
    assert (
        "Failed to validate scheduler::Call: Expecting 'framework_id' to be present" in answer.text
    )


def test_resubscribe_framework_id_must_match_info_id(scheduler: Scheduler) -> None:
    scheduler.subscribe()
    info = scheduler.info | {"id": scheduler.framework_id}
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    assert post(scheduler.endpoint, body).status_code == 400
    body["framework_id"] = {"value": "something-else"}
    answer = post(scheduler.endpoint, body)
    assert answer.status_code == 400
    assert "'framework_id' differs from 'subscribe.framework_info.id'" in answer.text


def test_acknowledge_with_bad_uuid_is_400(scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    answer = scheduler.call(
        "ACKNOWLEDGE",
        acknowledge={
            "agent_id": offer["agent_id"],
            "task_id": {"value": "t"},
            "uuid": base64.b64encode(b"not a uuid").decode(),
        },
    )
    assert answer.status_code == 400 and "Not a valid UUID" in answer.text


def test_disconnected_framework_gets_403(cluster: Cluster) -> None:
    sched = Scheduler(cluster.url, "disconnects", failover_timeout=60)
    try:
        sched.subscribe()
        sched.drop_stream()
        fid = sched.framework_id

        def disconnected() -> dict[str, Any] | None:
            for framework in cluster.state()["frameworks"]:
                if framework["id"] == fid["value"] and not framework["connected"]:
                    return dict(framework)
            return None

        deadline = time.monotonic() + WAIT
        while (framework := disconnected()) is None:
            assert time.monotonic() < deadline, "framework never shown disconnected"
            time.sleep(0.05)
        assert framework["active"] is False
        answer = sched.call("REVIVE")
        assert answer.status_code == 403 and "Framework is not subscribed" in answer.text
        old_stream = sched.stream_id
        sched.subscribe()
        assert sched.framework_id == fid
        assert sched.stream_id != old_stream
        assert sched.call("REVIVE").status_code == 202
        sched.stream_id, new_stream = old_stream, sched.stream_id
        assert sched.call("REVIVE").status_code == 400
        sched.stream_id = new_stream
    finally:
        sched.stop()


# --- offers: decline filters, suppress, revive, teardown -------------------------------


def test_decline_filter_suppress_revive(cluster: Cluster, scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    assert offer["framework_id"] == scheduler.framework_id
    assert offer["agent_id"]["value"] in [a["id"] for a in cluster.state()["slaves"]]
    assert offer["hostname"] and offer["id"]["value"]
    names = {r["name"] for r in offer["resources"]}
    assert {"cpus", "mem"} <= names
    decline = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 3600}}
    assert scheduler.call("DECLINE", decline=decline).status_code == 202
    assert scheduler.quiet(lambda e: e["type"] == "OFFERS", 1.5)
    assert scheduler.call("REVIVE").status_code == 202
    offer = scheduler.offer()
    # Declining an offer that is not (or no longer) valid is accepted and ignored.
    bogus = {"offer_ids": [{"value": "no-such-offer"}]}
    assert scheduler.call("DECLINE", decline=bogus).status_code == 202

    assert scheduler.call("SUPPRESS").status_code == 202
    decline = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}}
    assert scheduler.call("DECLINE", decline=decline).status_code == 202
    assert scheduler.quiet(lambda e: e["type"] == "OFFERS", 1.5)
    mine = [f for f in cluster.state()["frameworks"] if f["id"] == scheduler.framework_id["value"]]
    # Suppression is not deactivation: `active` changes only on (de)activation.
    assert mine[0]["active"] is True and mine[0]["connected"] is True
    assert scheduler.call("REVIVE").status_code == 202
    scheduler.offer()


def test_teardown_removes_framework(cluster: Cluster) -> None:
    sched = Scheduler(cluster.url, "tears-down")
    sched.subscribe()
    fid = sched.framework_id
    assert sched.call("TEARDOWN").status_code == 202
    with pytest.raises(AssertionError, match="stream ended"):
        sched.next(lambda e: False, timeout=WAIT)
    state = cluster.state()
    assert fid["value"] not in [f["id"] for f in state["frameworks"]]
    assert fid["value"] in [f["id"] for f in state["completed_frameworks"]]
    answer = sched.call("REVIVE")
    assert answer.status_code == 400 and "Framework cannot be found" in answer.text
    # A removed framework cannot come back (master.cpp: "Framework has been removed").
    try:
        event: Event | None = sched.subscribe()
    except AssertionError:
        event = None
    if event is not None:
        raise AssertionError(f"a torn-down framework re-subscribed: {event}")
    sched.framework_id = None
    sched.drop_stream()
    sched.client.close()


# --- command tasks, acknowledgements, kills, reconciliation ----------------------------


def test_command_tasks_kill_and_reconcile(cluster: Cluster, scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    scheduler.launch(
        offer,
        command_task("echo", "echo hello-command; echo oops-command >&2"),
        command_task("sleeper", "sleep 60"),
    )
    finished = scheduler.update("echo", "TASK_FINISHED")
    assert finished["source"] == "SOURCE_EXECUTOR"
    assert len(base64.b64decode(finished["uuid"])) == 16
    running = scheduler.update("sleeper", "TASK_RUNNING")
    agent_id = running["agent_id"]

    # Explicit: the latest state, from the master, with no uuid (not to be acknowledged).
    tasks = [{"task_id": {"value": "sleeper"}, "agent_id": agent_id}]
    assert scheduler.call("RECONCILE", reconcile={"tasks": tasks}).status_code == 202
    status = scheduler.update("sleeper", "TASK_RUNNING")
    assert status["reason"] == "REASON_RECONCILIATION" and "uuid" not in status
    # Unknown to Mesos: TASK_LOST (this framework is not PARTITION_AWARE).
    tasks = [{"task_id": {"value": "never-launched"}}]
    assert scheduler.call("RECONCILE", reconcile={"tasks": tasks}).status_code == 202
    status = scheduler.update("never-launched", "TASK_LOST")
    assert status["reason"] == "REASON_RECONCILIATION"
    # Finished and acknowledged, on a registered agent: unknown to it (TASK_LOST here).
    tasks = [{"task_id": {"value": "echo"}, "agent_id": agent_id}]
    assert scheduler.call("RECONCILE", reconcile={"tasks": tasks}).status_code == 202
    status = scheduler.update("echo", "TASK_LOST")
    assert status["reason"] == "REASON_RECONCILIATION" and "uuid" not in status
    # Implicit: every non-terminal task, and no terminal one.
    scheduler.backlog.clear()
    assert scheduler.call("RECONCILE", reconcile={"tasks": []}).status_code == 202
    status = scheduler.update("sleeper", "TASK_RUNNING")
    assert status["reason"] == "REASON_RECONCILIATION"
    assert scheduler.quiet(
        lambda e: e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == "echo",
        0.5,
    )

    kill = {"task_id": {"value": "sleeper"}, "agent_id": agent_id}
    assert scheduler.call("KILL", kill=kill).status_code == 202
    scheduler.update("sleeper", "TASK_KILLED")
    # A kill of a task Mesos does not know gives TASK_LOST.
    kill = {"task_id": {"value": "ghost"}, "agent_id": agent_id}
    assert scheduler.call("KILL", kill=kill).status_code == 202
    scheduler.update("ghost", "TASK_LOST")
    assert scheduler.ack_answers and set(scheduler.ack_answers) == {202}

    # The command task's output is in its sandbox (stdout and stderr of the command executor).
    agent = cluster.agent_url()
    state = httpx.get(f"{agent}/state", timeout=10).json()
    executors = [
        e
        for f in state["frameworks"] + state.get("completed_frameworks", [])
        if f["id"] == scheduler.framework_id["value"]
        for e in f.get("executors", []) + f.get("completed_executors", [])
        if e["id"] == "echo"
    ]
    assert executors, "the agent's /state does not show the command task's executor"
    directory = executors[0]["directory"]
    out = httpx.get(f"{agent}/files/download", params={"path": f"{directory}/stdout"})
    assert out.status_code == 200 and "hello-command" in out.text
    err = httpx.get(f"{agent}/files/download", params={"path": f"{directory}/stderr"})
    assert "oops-command" in err.text


# --- a custom executor: its API, its environment, /master/state, the sandbox files -----


@pytest.fixture(scope="module")
def executor_run(cluster: Cluster) -> Iterator[dict[str, Any]]:
    """One custom-executor task, launched, inspected while running, killed."""
    sched = Scheduler(cluster.url, "custom-executor", checkpoint=True)
    try:
        sched.subscribe()
        offer = sched.offer()
        executor = {
            "executor_id": {"value": "probe-executor"},
            "name": "probe executor",
            "command": {
                "value": f"{sys.executable} {EXECUTOR_SCRIPT}",
                "environment": {
                    "variables": [
                        {"name": "PYTHONPATH", "value": str(REPO)},
                        {"name": "PROBE_COMMAND_VAR", "value": "from-command-info"},
                    ]
                },
            },
            "resources": scalars(0.2, 64),
            "shutdown_grace_period": {"nanoseconds": 3_000_000_000},
        }
        task = {
            "name": "custom",
            "task_id": {"value": "custom"},
            "resources": scalars(0.5, 128),
            "executor": executor,
        }
        sched.launch(offer, task)
        running = sched.update("custom", "TASK_RUNNING")
        run: dict[str, Any] = {
            "framework_id": sched.framework_id["value"],
            "agent_id": running["agent_id"]["value"],
            "report": json.loads(base64.b64decode(running["data"])),
            "state_while_running": cluster.state(),
        }
        agent = cluster.agent_url()
        env = None
        run["agent_state_while_running"] = httpx.get(f"{agent}/state", timeout=10).json()
        for framework in run["agent_state_while_running"]["frameworks"]:
            for executor_state in framework["executors"]:
                if executor_state["id"] == "probe-executor":
                    directory = executor_state["directory"]
                    env = httpx.get(
                        f"{agent}/files/download", params={"path": f"{directory}/env.json"}
                    )
        assert env is not None and env.status_code == 200
        run["env"] = env.json()
        run["agent"] = agent
        from_executor = sched.next(lambda e: e["type"] == "MESSAGE")["message"]
        run["message_from_executor"] = from_executor
        message = {
            "agent_id": running["agent_id"],
            "executor_id": {"value": "probe-executor"},
            "data": base64.b64encode(b"hello-from-scheduler").decode(),
        }
        run["message_answer"] = sched.call("MESSAGE", message=message).status_code
        kill = {"task_id": {"value": "custom"}, "agent_id": running["agent_id"]}
        assert sched.call("KILL", kill=kill).status_code == 202
        killed = sched.update("custom", "TASK_KILLED")
        run["after_kill"] = json.loads(base64.b64decode(killed["data"]))
        run["ack_answers"] = list(sched.ack_answers)
        shutdown = {"executor_id": {"value": "probe-executor"}, "agent_id": running["agent_id"]}
        run["shutdown_answer"] = sched.call("SHUTDOWN", shutdown=shutdown).status_code
        run["failure"] = sched.next(lambda e: e["type"] == "FAILURE")["failure"]
        run["state_after_shutdown"] = cluster.state()
    finally:
        # Stopped before the probes run, so that later tests get the offers.
        sched.stop()
    yield run


def test_executor_api_mistakes(executor_run: dict[str, Any]) -> None:
    report = executor_run["report"]
    assert report["starting"][0] == 202
    for mistake in ("bad_uuid", "short_uuid"):
        code, text = report[mistake]
        assert code == 400 and "Failed to validate Executor::Call: Not a valid UUID" in text
    assert report["staging"][0] == 400 and "TASK_STAGING" in report["staging"][1]
    assert report["wrong_source"][0] == 400
    assert report["unknown_framework"] == [400, "Framework cannot be found"]
    assert report["unknown_executor"] == [400, "Executor cannot be found"]
    assert report["malformed"][0] == 400
    assert report["no_type"][0] == 400
    assert report["get"][0] == 405
    assert report["before"] == [403, "Executor is not subscribed"]


def test_executor_resubscribes(executor_run: dict[str, Any]) -> None:
    report = executor_run["report"]
    assert report["resubscribed"] is True
    # One subscription per executor: the agent closes the earlier connection.
    assert report["first_stream_closed"] is True
    after = executor_run["after_kill"]
    assert after["running"][0] == 202
    assert after["acknowledged_running"] is True
    assert set(executor_run["ack_answers"]) == {202}


def test_executor_environment(cluster: Cluster, executor_run: dict[str, Any]) -> None:
    env = executor_run["env"]
    assert env["MESOS_FRAMEWORK_ID"] == executor_run["framework_id"]
    assert env["MESOS_EXECUTOR_ID"] == "probe-executor"
    assert os.path.isabs(env["MESOS_DIRECTORY"])
    assert env["MESOS_SANDBOX"] == env["MESOS_DIRECTORY"]
    assert executor_run["agent"] == "http://" + env["MESOS_AGENT_ENDPOINT"]
    assert env["MESOS_SLAVE_ID"] == executor_run["agent_id"]
    assert env["MESOS_CHECKPOINT"] == "1"
    # ExecutorInfo.shutdown_grace_period overrides the agent's flag.
    assert env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "3secs"
    for name in (
        "MESOS_RECOVERY_TIMEOUT",
        "MESOS_SUBSCRIPTION_BACKOFF_MAX",
    ):
        assert DURATION.match(env[name]), (name, env[name])
    assert env["PROBE_AGENT_VAR"] == "from-agent-flag"
    assert env["PROBE_COMMAND_VAR"] == "from-command-info"
    assert "PROBE_LAUNCHER_SECRET" not in env
    assert str(cluster.path_marker) not in env.get("PATH", "")
    assert "VIRTUAL_ENV" not in env and "PYTEST_CURRENT_TEST" not in env


def test_master_state_while_running(executor_run: dict[str, Any]) -> None:
    state = executor_run["state_while_running"]
    # Fields the master's /master/state writer always emits (src/master/http.cpp).
    assert {
        "version",
        "id",
        "pid",
        "hostname",
        "start_time",
        "activated_slaves",
        "deactivated_slaves",
        "unreachable_slaves",
        "slaves",
        "frameworks",
        "completed_frameworks",
        "orphan_tasks",
        "unregistered_frameworks",
    } <= set(state)
    assert isinstance(state["unreachable_slaves"], int)
    assert isinstance(state["activated_slaves"], int) and state["activated_slaves"] >= 1
    slave = next(s for s in state["slaves"] if s["id"] == executor_run["agent_id"])
    assert slave["active"] is True and "used_resources" in slave
    framework = next(f for f in state["frameworks"] if f["id"] == executor_run["framework_id"])
    assert framework["active"] is True and framework["connected"] is True
    assert {
        "id",
        "name",
        "user",
        "active",
        "connected",
        "recovered",
        "failover_timeout",
        "checkpoint",
        "capabilities",
        "hostname",
        "registered_time",
        "used_resources",
        "offered_resources",
        "resources",
        "tasks",
        "unreachable_tasks",
        "completed_tasks",
        "offers",
        "executors",
    } <= set(framework)
    assert framework["checkpoint"] is True
    assert {
        "id",
        "pid",
        "hostname",
        "port",
        "resources",
        "used_resources",
        "offered_resources",
        "attributes",
        "active",
        "registered_time",
    } <= set(slave)
    assert isinstance(framework["completed_tasks"], list)
    [executor] = framework["executors"]
    assert executor["executor_id"] == "probe-executor"
    assert executor["slave_id"] == executor_run["agent_id"]
    assert executor["framework_id"] == executor_run["framework_id"]
    # The task's 0.5 cpus and 128 MB plus the executor's 0.2 and 64.
    assert framework["used_resources"]["cpus"] == pytest.approx(0.7)
    assert framework["used_resources"]["mem"] == pytest.approx(192)
    [task] = framework["tasks"]
    assert task["id"] == "custom" and task["state"] == "TASK_RUNNING"
    assert task["slave_id"] == executor_run["agent_id"]
    assert task["executor_id"] == "probe-executor"


def test_sandbox_files(executor_run: dict[str, Any]) -> None:
    agent, directory = executor_run["agent"], executor_run["env"]["MESOS_DIRECTORY"]
    files = f"{agent}/files"

    listing = httpx.get(f"{files}/browse", params={"path": directory})
    assert listing.status_code == 200
    entries = {Path(e["path"]).name: e for e in listing.json()}
    assert {"stdout", "stderr", "env.json"} <= set(entries)
    for field in ("path", "size", "mode", "mtime", "nlink", "uid", "gid"):
        assert field in entries["stdout"], field
    assert entries["stdout"]["path"] == f"{directory}/stdout"

    whole = httpx.get(f"{files}/download", params={"path": f"{directory}/stdout"})
    assert whole.status_code == 200
    assert "probe-executor-stdout" in whole.text
    size = len(whole.content)
    assert entries["stdout"]["size"] == size

    part = httpx.get(
        f"{files}/read", params={"path": f"{directory}/stdout", "offset": 2, "length": 5}
    )
    assert part.status_code == 200
    assert part.json() == {"offset": 2, "data": whole.text[2:7]}
    end = httpx.get(f"{files}/read", params={"path": f"{directory}/stdout", "offset": -1})
    assert end.json() == {"offset": size, "data": ""}
    past = httpx.get(f"{files}/read", params={"path": f"{directory}/stdout", "offset": size + 10})
    # Past the end: the offset asked for, no data (files.cpp, FilesProcess::read).
    assert past.json() == {"offset": size + 10, "data": ""}
    err = httpx.get(f"{files}/read", params={"path": f"{directory}/stderr", "offset": 0})
    assert "probe-executor-stderr" in err.json()["data"]

    assert httpx.get(f"{files}/read").status_code == 400
    assert httpx.get(f"{files}/browse").status_code == 400
    assert httpx.get(f"{files}/read", params={"path": directory}).status_code == 400
    assert httpx.get(f"{files}/download", params={"path": directory}).status_code == 400
    missing = {"path": f"{directory}/no-such-file"}
    assert httpx.get(f"{files}/read", params=missing).status_code == 404
    assert httpx.get(f"{files}/download", params=missing).status_code == 404
    # Outside the attached sandbox: resolve() refuses ("... is inaccessible").
    outside = {"path": directory + "/.." * 30 + "/etc/passwd", "offset": 0}
    assert httpx.get(f"{files}/read", params=outside).status_code == 400

    # FilesProcess::__read: no offset is offset=-1, the file's size and no data;
    # offsets and lengths below -1 are refused; a length of 0 reads nothing.
    stdout = f"{directory}/stdout"
    bare = httpx.get(f"{files}/read", params={"path": stdout})
    assert bare.json() == {"offset": size, "data": ""}
    negative = httpx.get(f"{files}/read", params={"path": stdout, "offset": -5})
    assert negative.status_code == 400 and "Negative offset provided: -5" in negative.text
    negative = httpx.get(f"{files}/read", params={"path": stdout, "offset": 0, "length": -5})
    assert negative.status_code == 400 and "Negative length provided: -5" in negative.text
    garbage = httpx.get(f"{files}/read", params={"path": stdout, "offset": "abc"})
    assert garbage.status_code == 400 and "Failed to parse offset" in garbage.text
    nothing = httpx.get(f"{files}/read", params={"path": stdout, "offset": 0, "length": 0})
    assert nothing.json() == {"offset": 0, "data": ""}
    to_end = httpx.get(f"{files}/read", params={"path": stdout, "offset": 0, "length": -1})
    assert to_end.json() == {"offset": 0, "data": whole.text}

    virtual = f"/frameworks/{executor_run['framework_id']}/executors/probe-executor/runs/latest"
    latest = httpx.get(f"{files}/read", params={"path": f"{virtual}/stdout", "offset": 0})
    assert latest.status_code == 200 and "probe-executor-stdout" in latest.json()["data"]
    listing = httpx.get(f"{files}/browse", params={"path": virtual})
    assert listing.status_code == 200
    # Listed paths are joined to the path asked for, here the virtual one.
    assert f"{virtual}/stdout" in [e["path"] for e in listing.json()]


def test_messages_and_shutdown(executor_run: dict[str, Any]) -> None:
    message = executor_run["message_from_executor"]
    assert base64.b64decode(message["data"]) == b"hello-from-executor"
    assert message["executor_id"] == {"value": "probe-executor"}
    assert message["agent_id"] == {"value": executor_run["agent_id"]}
    assert executor_run["after_kill"]["message"][0] == 202
    assert executor_run["message_answer"] == 202
    assert executor_run["after_kill"]["messages"] == ["hello-from-scheduler"]

    # SHUTDOWN: the executor exits; the master says so with a FAILURE event.
    assert executor_run["shutdown_answer"] == 202
    failure = executor_run["failure"]
    assert failure["executor_id"] == {"value": "probe-executor"}
    assert failure["agent_id"] == {"value": executor_run["agent_id"]}
    state = executor_run["state_after_shutdown"]
    framework = next(f for f in state["frameworks"] if f["id"] == executor_run["framework_id"])
    assert framework["executors"] == [] and framework["tasks"] == []
    [task] = framework["completed_tasks"]
    assert task["id"] == "custom" and task["state"] == "TASK_KILLED"
    assert framework["used_resources"]["cpus"] == pytest.approx(0)


def test_subscribed_event_and_heartbeats(cluster: Cluster) -> None:
    sched = Scheduler(cluster.url, "heartbeats")
    try:
        sched.auto_ack = False
        subscribed = sched.subscribe()["subscribed"]
        assert subscribed["heartbeat_interval_seconds"] > 0
        assert uuid.UUID(sched.stream_id)
        assert sched._response is not None
        assert sched._response.headers["Content-Type"].startswith("application/json")
        # The reader drops HEARTBEAT events; read the raw stream of a second subscription.
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "p", "name": "hb"}}}
        with (
            httpx.Client(timeout=httpx.Timeout(10.0, read=WAIT)) as client,
            client.stream(
                "POST", sched.endpoint, content=json.dumps(body), headers=JSON
            ) as response,
        ):
            decoder = Decoder()
            kinds: list[str] = []
            for chunk in response.iter_bytes():
                kinds += [json.loads(r)["type"] for r in decoder.feed(chunk)]
                if "HEARTBEAT" in kinds:
                    break
            assert kinds[0] == "SUBSCRIBED" and "HEARTBEAT" in kinds
        # Its connection is gone and its failover_timeout is 0: the master removes it.
        deadline = time.monotonic() + WAIT
        while any(f["name"] == "hb" for f in cluster.state()["frameworks"]):
            assert time.monotonic() < deadline, "a framework with failover_timeout 0 stayed"
            time.sleep(0.05)
        assert any(f["name"] == "hb" for f in cluster.state()["completed_frameworks"])
    finally:
        sched.stop()


def test_invalid_tasks_and_offers(cluster: Cluster, scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    both = command_task("both", "true") | {
        "executor": {"executor_id": {"value": "x"}, "command": {"value": "true"}}
    }
    greedy = command_task("greedy", "true") | {"resources": scalars(1000, 32)}
    neither = {"name": "neither", "task_id": {"value": "neither"}, "resources": scalars(0.1, 32)}
    scheduler.launch(offer, both, greedy, neither)
    for name in ("both", "greedy", "neither"):
        status = scheduler.update(name, "TASK_ERROR")
        assert status["reason"] == "REASON_TASK_INVALID", status
        assert status["source"] == "SOURCE_MASTER"

    # An offer that is no longer valid: TASK_LOST with REASON_INVALID_OFFERS.
    scheduler.launch(offer, command_task("late", "true"))
    status = scheduler.update("late", "TASK_LOST")
    assert status["reason"] == "REASON_INVALID_OFFERS"


def test_reconcile_partition_aware(cluster: Cluster) -> None:
    sched = Scheduler(cluster.url, "partition-aware", capabilities=[{"type": "PARTITION_AWARE"}])
    try:
        sched.subscribe()
        offer = sched.offer()
        sched.launch(offer, command_task("done", "true"))
        finished = sched.update("done", "TASK_FINISHED")
        tasks = [{"task_id": {"value": "never-launched"}}]
        assert sched.call("RECONCILE", reconcile={"tasks": tasks}).status_code == 202
        assert sched.update("never-launched", "TASK_UNKNOWN")["reason"] == "REASON_RECONCILIATION"
        # A finished task on a registered agent is gone (reconcile step (3) in master.cpp).
        tasks = [{"task_id": {"value": "done"}, "agent_id": finished["agent_id"]}]
        assert sched.call("RECONCILE", reconcile={"tasks": tasks}).status_code == 202
        assert sched.update("done", "TASK_GONE")["reason"] == "REASON_RECONCILIATION"
    finally:
        sched.stop()


def test_teardown_kills_running_tasks(cluster: Cluster) -> None:
    sched = Scheduler(cluster.url, "teardown-kills")
    sched.subscribe()
    offer = sched.offer()
    sched.launch(offer, command_task("long", "sleep 60"))
    sched.update("long", "TASK_RUNNING")
    fid = sched.framework_id["value"]
    sched.stop()
    sched.framework_id = None
    deadline = time.monotonic() + WAIT
    while True:
        done = [f for f in cluster.state()["completed_frameworks"] if f["id"] == fid]
        if done:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [task] = done[0]["completed_tasks"]
    assert task["id"] == "long" and task["state"] == "TASK_KILLED"


def test_command_task_environment(cluster: Cluster, scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    scheduler.launch(offer, command_task("env-dump", "env"))
    scheduler.update("env-dump", "TASK_FINISHED")
    agent = cluster.agent_url()
    state = httpx.get(f"{agent}/state", timeout=10).json()
    [directory] = [
        e["directory"]
        for f in state["frameworks"] + state.get("completed_frameworks", [])
        if f["id"] == scheduler.framework_id["value"]
        for e in f.get("executors", []) + f.get("completed_executors", [])
        if e["id"] == "env-dump"
    ]
    out = httpx.get(f"{agent}/files/download", params={"path": f"{directory}/stdout"}).text
    env = dict(
        line.split("=", 1) for line in out.splitlines() if re.match(r"^[A-Z_][A-Z0-9_]*=", line)
    )
    assert env["MESOS_EXECUTOR_ID"] == "env-dump"
    assert env["MESOS_FRAMEWORK_ID"] == scheduler.framework_id["value"]
    assert env["MESOS_CHECKPOINT"] == "0"
    assert "MESOS_RECOVERY_TIMEOUT" not in env and "MESOS_SUBSCRIPTION_BACKOFF_MAX" not in env
    assert env["MESOS_SANDBOX"] == env["MESOS_DIRECTORY"] == directory
    assert "PROBE_LAUNCHER_SECRET" not in env
    assert env["PROBE_AGENT_VAR"] == "from-agent-flag"


def test_command_executor_states(cluster: Cluster) -> None:
    """What the command executor reports (docs/high-availability-framework-guide.md)."""
    sched = Scheduler(cluster.url, "killing-state", capabilities=[{"type": "TASK_KILLING_STATE"}])
    try:
        sched.subscribe()
        offer = sched.offer()
        argv = command_task("argv", "") | {
            "command": {"shell": False, "value": "/bin/echo", "arguments": ["echo", "argv-ok"]}
        }
        sched.launch(
            offer,
            command_task("fails", "exit 3"),
            command_task("slow", "sleep 60"),
            argv,
        )
        failed = sched.update("fails", "TASK_FAILED")
        assert failed["source"] == "SOURCE_EXECUTOR"
        assert "exited with status 3" in failed.get("message", "")
        sched.update("argv", "TASK_FINISHED")
        running = sched.update("slow", "TASK_RUNNING")
        kill = {"task_id": {"value": "slow"}, "agent_id": running["agent_id"]}
        assert sched.call("KILL", kill=kill).status_code == 202
        # With TASK_KILLING_STATE the executor says it is killing before it has killed.
        sched.update("slow", "TASK_KILLING")
        sched.update("slow", "TASK_KILLED")

        agent = cluster.agent_url()
        state = httpx.get(f"{agent}/state", timeout=10).json()
        [directory] = [
            e["directory"]
            for f in state["frameworks"] + state.get("completed_frameworks", [])
            if f["id"] == sched.framework_id["value"]
            for e in f.get("executors", []) + f.get("completed_executors", [])
            if e["id"] == "argv"
        ]
        out = httpx.get(f"{agent}/files/download", params={"path": f"{directory}/stdout"})
        assert "argv-ok" in out.text
    finally:
        sched.stop()


def test_no_killing_state_without_the_capability(cluster: Cluster, scheduler: Scheduler) -> None:
    scheduler.subscribe()
    offer = scheduler.offer()
    scheduler.launch(offer, command_task("plain-kill", "sleep 60"))
    running = scheduler.update("plain-kill", "TASK_RUNNING")
    scheduler.backlog.clear()
    kill = {"task_id": {"value": "plain-kill"}, "agent_id": running["agent_id"]}
    assert scheduler.call("KILL", kill=kill).status_code == 202
    scheduler.update("plain-kill", "TASK_KILLED")
    states = [e["update"]["status"]["state"] for e in scheduler.backlog if e["type"] == "UPDATE"]
    assert "TASK_KILLING" not in states


def test_failover_closes_the_old_subscription(cluster: Cluster) -> None:
    """A second SUBSCRIBE with the framework's id takes over (Disconnections, force)."""
    first = Scheduler(cluster.url, "fails-over", failover_timeout=60)
    second = Scheduler(cluster.url, "fails-over", failover_timeout=60)
    try:
        first.auto_ack = second.auto_ack = False
        first.subscribe()
        second.framework_id = first.framework_id
        second.info["id"] = first.framework_id
        body = {
            "type": "SUBSCRIBE",
            "framework_id": first.framework_id,
            "subscribe": {"framework_info": second.info, "force": True},
        }
        client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        response = client.send(
            client.build_request("POST", second.endpoint, content=json.dumps(body), headers=JSON),
            stream=True,
        )
        assert response.status_code == 200
        second._response, second._stream_client = response, client
        second.stream_id = response.headers["Mesos-Stream-Id"]
        threading.Thread(target=second._read, args=(response,), daemon=True).start()
        subscribed = second.next(lambda e: e["type"] == "SUBSCRIBED")
        assert subscribed["subscribed"]["framework_id"] == first.framework_id
        # master.cpp failoverFramework: the old connection hears why, then is closed.
        error = first.next(lambda e: e["type"] == "ERROR")
        assert "failed over" in error["error"]["message"]
        with pytest.raises(AssertionError, match="stream ended"):
            first.next(lambda e: False)
        assert first.call("REVIVE").status_code == 400  # its stream id is stale
        assert second.call("REVIVE").status_code == 202
    finally:
        first.framework_id = None
        first.drop_stream()
        first.client.close()
        second.stop()


def test_agent_state_while_running(executor_run: dict[str, Any]) -> None:
    """The agent's /state (src/slave/http.cpp): its frameworks, executors and tasks."""
    state = executor_run["agent_state_while_running"]
    assert state["id"] == executor_run["agent_id"]
    assert {"id", "pid", "hostname", "frameworks", "completed_frameworks"} <= set(state)
    framework = next(f for f in state["frameworks"] if f["id"] == executor_run["framework_id"])
    executor = next(e for e in framework["executors"] if e["id"] == "probe-executor")
    assert {
        "id",
        "name",
        "source",
        "directory",
        "resources",
        "tasks",
        "queued_tasks",
        "completed_tasks",
        "container",
    } <= set(executor)
    assert executor["directory"] == executor_run["env"]["MESOS_DIRECTORY"]
    [task] = executor["tasks"]
    assert task["id"] == "custom" and task["state"] == "TASK_RUNNING"
