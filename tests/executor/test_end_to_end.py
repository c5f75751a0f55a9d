"""The executor under the embedded Mesos: real master and agents, real executor processes."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from addict import Dict

from femto.jobs.wire import Progress, parse_progress, parse_task_result
from localmesos import LocalMesos
from mesosapi.encoding import decode_data, encode_data
from mesosapi.scheduler import MesosSchedulerDriver, Scheduler
from tests.waiting import wait_for

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}


def scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


class PlacingScheduler(Scheduler):
    """Launches each queued task on the agent it was queued for, through the femto executor."""

    def __init__(self) -> None:
        self.pending: dict[str, list[tuple[str, bytes]]] = {}
        self.updates: dict[str, list[Dict]] = {}
        self.progress: list[Progress] = []
        self._lock = threading.Lock()

    def queue(self, agent_id: str, task_id: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.pending.setdefault(agent_id, []).append((task_id, json.dumps(payload).encode()))

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[Dict]) -> None:
        for offer in offers:
            agent_id = offer.agent_id.value
            with self._lock:
                batch = self.pending.pop(agent_id, [])
            if not batch:
                driver.declineOffer([offer.id], {"refuse_seconds": 0.2})
                continue
            executor = {
                "executor_id": {"value": f"femto-{agent_id}"},
                "command": {"value": f"{sys.executable} -m femto.executor"},
                "resources": [scalar("cpus", 0.1), scalar("mem", 64)],
            }
            tasks = [
                {
                    "name": task_id,
                    "task_id": {"value": task_id},
                    "agent_id": {"value": agent_id},
                    "resources": [scalar("cpus", 0.1), scalar("mem", 16)],
                    "executor": executor,
                    "data": encode_data(data),
                }
                for task_id, data in batch
            ]
            driver.launchTasks([offer.id], tasks)

    def statusUpdate(self, driver: MesosSchedulerDriver, status: Dict) -> None:
        with self._lock:
            self.updates.setdefault(status.task_id.value, []).append(status)

    def frameworkMessage(
        self, driver: MesosSchedulerDriver, executor_id: Dict, agent_id: Dict, data: bytes
    ) -> None:
        with self._lock:
            self.progress.append(parse_progress(data))

    def states(self, task_id: str) -> list[str]:
        with self._lock:
            return [u.state for u in self.updates.get(task_id, [])]

    def final(self, task_id: str, timeout: float = 30) -> Dict:
        wait_for(lambda: set(self.states(task_id)) & TERMINAL, timeout, f"{task_id} to end")
        with self._lock:
            return self.updates[task_id][-1]



def executor_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.cmdline()[-2:] == ["-m", "femto.executor"] and proc.status() != "zombie":
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def sleeping_commands() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "time.sleep(120)" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def partition(tmp_path: Path, name: str, values: np.ndarray) -> dict[str, Any]:
    path = tmp_path / f"{name}.npy"
    np.save(path, values)
    return {"uri": path.as_uri(), "url": None, "length": len(values), "dtype": "float64"}


def query(task_id: str, operation: str, ref: dict[str, Any]) -> dict[str, Any]:
    job, part, attempt = task_id.split(".")
    return {
        "job_id": job,
        "partition": int(part),
        "attempt": int(attempt),
        "operation": operation,
        "params": {},
        "inputs": [ref],
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalMesos]:
    mesos = LocalMesos(agents=2, cpus=2.0, mem=1024.0, work_dir=tmp_path / "mesos")
    mesos.start()
    try:
        yield mesos
    finally:
        mesos.stop()


def subscribe(mesos: LocalMesos, scheduler: PlacingScheduler) -> MesosSchedulerDriver:
    driver = MesosSchedulerDriver(scheduler, {"name": "femto-executor-test"}, mesos.address)
    driver.start()
    assert driver.wait_connected(15)
    return driver


def test_tasks_share_one_executor_per_agent_and_kill_and_shutdown_leave_nothing(
    tmp_path: Path, cluster: LocalMesos
) -> None:
    scheduler = PlacingScheduler()
    driver = subscribe(cluster, scheduler)
    try:
        agents = cluster.agent_ids
        data = np.random.default_rng(3).uniform(0, 100, 40_000)
        parts = np.array_split(data, 4)
        for i, part in enumerate(parts):
            ref = partition(tmp_path, f"p{i}", part)
            scheduler.queue(agents[i % 2], f"sum.{i}.0", query(f"sum.{i}.0", "sum", ref))
        sleeper = query("cmd.0.0", "command", partition(tmp_path, "c", np.ones(3)))
        sleeper["params"] = {"argv": [sys.executable, "-c", "import time; time.sleep(120)"]}
        sleeper["output"] = {"url": "http://127.0.0.1:9/unused"}
        scheduler.queue(agents[0], "cmd.0.0", sleeper)
        driver.reviveOffers()

        partials = []
        for i in range(4):
            status = scheduler.final(f"sum.{i}.0")
            assert status.state == "TASK_FINISHED", status.to_dict()
            assert scheduler.states(f"sum.{i}.0") == ["TASK_FINISHED"]  # quick: no RUNNING
            partials.append(parse_task_result(decode_data(status.data)).result["value"])
        assert sum(partials) == pytest.approx(float(np.sum(data)), rel=1e-12)
        # Quick tasks send no progress messages through the master.
        assert not [m for m in scheduler.progress if m.task_id.startswith("sum.")]

        # One long-lived executor per agent ran all of that agent's tasks, and stays up.
        executors = executor_processes()
        assert len(executors) == 2
        scheduler.queue(
            agents[1], "max.0.0", query("max.0.0", "max", partition(tmp_path, "p0", parts[0]))
        )
        driver.reviveOffers()
        assert scheduler.final("max.0.0").state == "TASK_FINISHED"
        assert {p.pid for p in executor_processes()} == {p.pid for p in executors}

        # KILL of a running command: TASK_KILLED, and its process is gone.
        [command] = wait_for(sleeping_commands, 20, "the command to start")
        wait_for(lambda: scheduler.states("cmd.0.0"), 20, "the command to be reported running")
        driver.killTask({"value": "cmd.0.0"})
        assert scheduler.final("cmd.0.0").state == "TASK_KILLED"
        assert scheduler.states("cmd.0.0") == ["TASK_RUNNING", "TASK_KILLED"]
        assert not command.is_running()
    finally:
        driver.stop()  # TEARDOWN: the master shuts the executors down
    _, alive = psutil.wait_procs(executors, timeout=10)
    assert alive == []


def test_executor_kills_its_tasks_and_exits_when_mesos_stops(tmp_path: Path) -> None:
    mesos = LocalMesos(agents=1, work_dir=tmp_path / "mesos")
    mesos.start()
    scheduler = PlacingScheduler()
    driver = subscribe(mesos, scheduler)
    try:
        task = query("cmd.0.0", "command", partition(tmp_path, "c", np.ones(3)))
        task["params"] = {"argv": [sys.executable, "-c", "import time; time.sleep(120)"]}
        task["output"] = {"url": "http://127.0.0.1:9/unused"}
        scheduler.queue(mesos.agent_ids[0], "cmd.0.0", task)
        driver.reviveOffers()
        [command] = wait_for(sleeping_commands, 20, "the command to start")
        [executor] = executor_processes()
    finally:
        mesos.stop()
        driver.stop(failover=True)
    _, alive = psutil.wait_procs([executor, command], timeout=10)
    assert alive == []


def test_sigterm_to_the_executor_ends_it_and_its_commands(
    tmp_path: Path, cluster: LocalMesos
) -> None:
    scheduler = PlacingScheduler()
    driver = subscribe(cluster, scheduler)
    try:
        task = query("cmd.0.0", "command", partition(tmp_path, "c", np.ones(3)))
        task["params"] = {"argv": [sys.executable, "-c", "import time; time.sleep(120)"]}
        task["output"] = {"url": "http://127.0.0.1:9/unused"}
        scheduler.queue(cluster.agent_ids[0], "cmd.0.0", task)
        driver.reviveOffers()
        [command] = wait_for(sleeping_commands, 20, "the command to start")
        [executor] = executor_processes()
        executor.terminate()
        _, alive = psutil.wait_procs([executor, command], timeout=10)
        assert alive == []
        # The agent reports the task as ended once its executor is gone.
        assert scheduler.final("cmd.0.0").state != "TASK_FINISHED"
    finally:
        driver.stop()


def test_the_executor_itself_ends_what_its_commands_started_in_their_own_session(
    tmp_path: Path, cluster: LocalMesos
) -> None:
    # The grandchild drops the container's sandbox from its environment, so the agent
    # cannot find it (as a real agent with the posix launcher cannot): only the executor
    # can end it, as it must at shutdown.
    pid_file = tmp_path / "escapee"
    scheduler = PlacingScheduler()
    driver = subscribe(cluster, scheduler)
    try:
        task = query("cmd.0.0", "command", partition(tmp_path, "c", np.ones(3)))
        task["params"] = {"argv": [
            "sh", "-c",
            f"env -u MESOS_SANDBOX setsid sleep 300 & echo $! > {pid_file}.tmp; "
            f"mv {pid_file}.tmp {pid_file}; exec {sys.executable} -c 'import time; "
            "time.sleep(120)'",
        ]}
        task["output"] = {"url": "http://127.0.0.1:9/unused"}
        scheduler.queue(cluster.agent_ids[0], "cmd.0.0", task)
        driver.reviveOffers()
        wait_for(pid_file.exists, 20, "the command to start its grandchild")
        escapee = psutil.Process(int(pid_file.read_text()))
        # `$!` is the pid while it is still `env`, before it execs setsid and then sleep:
        # only the sleep's environment is the one without the sandbox.
        wait_for(lambda: escapee.name() == "sleep", 20, "the grandchild to become sleep")
        assert "MESOS_SANDBOX" not in escapee.environ()
        [executor] = executor_processes()
        executor.terminate()
        _, alive = psutil.wait_procs([executor, escapee], timeout=15)
        assert alive == []
    finally:
        driver.stop()
