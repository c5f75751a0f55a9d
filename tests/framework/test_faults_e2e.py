"""Failures are normal: every job ends finished once and correctly, or failed with a reason."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest

import femto.service as service_module
from localmesos import LocalMesos
from tests.framework.helpers import (
    fetch,
    running_service,
    start,
    submit,
    upload,
    wait_done,
    wait_for,
    wait_http,
)
from tests.services import MongoServer, free_port

DATA = np.arange(80, dtype=np.float64)
SLOW_CAT = {"argv": ["sh", "-c", "sleep 1.5; cat"]}


def running_hosts(api: httpx.Client, job_id: str) -> set[str]:
    tasks = api.get(f"/v1/jobs/{job_id}/tasks").json()
    return {t["attempts"][-1]["agent_id"] for t in tasks if t["state"] == "RUNNING"}


def attempts_by_partition(api: httpx.Client, job_id: str) -> dict[int, list[dict]]:
    return {t["partition"]: t["attempts"] for t in api.get(f"/v1/jobs/{job_id}/tasks").json()}


@contextmanager
def breakable_service(
    state_dir: Path, **cluster_options: Any
) -> Iterator[tuple[LocalMesos, httpx.Client]]:
    """A scheduler on an embedded cluster in this process, whose fault hooks the test uses
    (`femto serve --master local` runs its cluster in a child process, out of reach)."""
    with LocalMesos(agents=2, cpus=4.0, mem=4096.0, work_dir=state_dir / "mesos",
                    **cluster_options) as cluster, \
            running_service(state_dir / "femto", master=cluster.address) as (_, api):
        yield cluster, api


def test_executor_killed_mid_job(tmp_path: Path) -> None:
    with breakable_service(tmp_path) as (cluster, api):
        upload(api, "d", DATA, 8)
        job = submit(api, {"name": "k", "operation": "command", "inputs": ["d"],
                           "params": SLOW_CAT, "output": "k-out", "max_retries": 0})
        agent = sorted(wait_for(lambda: running_hosts(api, job["id"]), what="a running task"))[0]
        cluster.kill_executor(agent)
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "k-out"), DATA)
        retried = [a for a in attempts_by_partition(api, job["id"]).values() if len(a) > 1]
        assert retried, "the killed executor's tasks should have been retried"
        for attempts in retried:
            assert attempts[0]["agent_id"] == agent and attempts[0]["fault"] == "infra"
            # max_retries=0: infrastructure failures are not charged.
            assert attempts[-1]["state"] == "TASK_FINISHED"


def escaping_command(pid_dir: Path) -> dict[str, list[str]]:
    """`command` params whose program starts a grandchild in a session of its own and
    records its pid in `pid_dir`, in a file named after the agent it runs on."""
    pid_dir.mkdir()
    record = f"{pid_dir}/$MESOS_SLAVE_ID.$$"
    return {"argv": ["sh", "-c", f"setsid sleep 300 & echo $! > {record}.tmp; "
                                 f"mv {record}.tmp {record}; sleep 300; cat"]}


def escapees(pid_dir: Path, agent: str = "") -> list[psutil.Process]:
    found = []
    for record in pid_dir.glob(f"{agent}*"):
        if not record.name.endswith(".tmp"):
            with contextlib.suppress(psutil.NoSuchProcess):
                found.append(psutil.Process(int(record.read_text())))
    return found


def all_gone(processes: list[psutil.Process]) -> bool:
    def gone(p: psutil.Process) -> bool:
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(gone(p) for p in processes)


def test_what_commands_start_in_their_own_session_ends_with_the_executor_and_the_job(
    tmp_path: Path,
) -> None:
    pid_dir = tmp_path / "pids"
    with breakable_service(tmp_path) as (cluster, api):
        upload(api, "d", DATA, 2)
        job = submit(api, {"name": "esc", "operation": "command", "inputs": ["d"],
                           "params": escaping_command(pid_dir), "output": "esc-out"})
        agent = sorted(wait_for(lambda: running_hosts(api, job["id"]), what="a running task"))[0]
        killed = wait_for(lambda: escapees(pid_dir, agent), what="a grandchild on that agent")
        cluster.kill_executor(agent)
        wait_for(lambda: all_gone(killed), 30, "the killed executor's grandchildren to end")
        assert api.delete(f"/v1/jobs/{job['id']}").json()["state"] == "CANCELLED"
        wait_for(lambda: all_gone(escapees(pid_dir)), 30, "the cancelled job's grandchildren")


def test_agent_removed_mid_job(tmp_path: Path) -> None:
    with breakable_service(tmp_path) as (cluster, api):
        upload(api, "d", DATA, 8)
        job = submit(api, {"name": "r", "operation": "command", "inputs": ["d"],
                           "params": SLOW_CAT, "output": "r-out", "max_retries": 0})
        agent = sorted(wait_for(lambda: running_hosts(api, job["id"]), what="a running task"))[0]
        cluster.remove_agent(agent)
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "r-out"), DATA)
        for attempts in attempts_by_partition(api, job["id"]).values():
            assert attempts[-1]["agent_id"] != agent
            assert all(a["fault"] == "infra" for a in attempts[:-1])


def test_agent_partitioned_and_healed_mid_job(tmp_path: Path) -> None:
    """Its tasks go TASK_UNREACHABLE and run again elsewhere; when it comes back the old
    attempts, still running, are killed, and each partition counts once."""
    slow = {"argv": ["sh", "-c", "sleep 4; cat"]}  # still running when the agent is back
    with breakable_service(tmp_path, agent_ping_timeout=0.2, max_agent_ping_timeouts=3) as (
        cluster, api
    ):
        upload(api, "d", DATA, 8)
        job = submit(api, {"name": "p", "operation": "command", "inputs": ["d"],
                           "params": slow, "output": "p-out", "max_retries": 0})
        agent = sorted(wait_for(lambda: running_hosts(api, job["id"]), what="a running task"))[0]
        cluster.partition_agent(agent)

        def unreachable() -> list[int]:
            return [p for p, attempts in attempts_by_partition(api, job["id"]).items()
                    if attempts[0]["state"] == "TASK_UNREACHABLE"]

        cut_off = wait_for(unreachable, what="femto to hear of the unreachable tasks")
        cluster.heal_agent(agent)
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "p-out"), DATA)
        attempts = attempts_by_partition(api, job["id"])
        for partition in cut_off:
            assert attempts[partition][0]["fault"] == "infra"  # max_retries=0: not charged
            assert attempts[partition][-1]["state"] == "TASK_FINISHED"
        old_ids = {f"{job['id']}.{p}.1" for p in cut_off}

        def master_states() -> dict[str, str]:
            return {t["id"]: t["state"] for f in cluster.state()["frameworks"]
                    for t in f["completed_tasks"] if t["id"] in old_ids}

        wait_for(lambda: len(master_states()) == len(old_ids), what="the old attempts to end")
        assert set(master_states().values()) == {"TASK_KILLED"}, master_states()


FLAKY = """
import hashlib, io, sys, numpy as np
from pathlib import Path
data = sys.stdin.buffer.read()
counter = Path(sys.argv[1]) / hashlib.sha1(data).hexdigest()
runs = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(runs + 1))
if runs < 2:
    sys.exit(f"flaky failure number {runs + 1}")
a = np.load(io.BytesIO(data))
out = io.BytesIO(); np.save(out, a + 1); sys.stdout.buffer.write(out.getvalue())
"""


def test_operation_that_fails_twice_then_succeeds(tmp_path: Path) -> None:
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY)
    counters = tmp_path / "counters"
    counters.mkdir()
    with running_service(tmp_path / "state") as (_, api):
        upload(api, "d", DATA, 7)
        job = submit(api, {"name": "flaky", "operation": "command", "inputs": ["d"],
                           "params": {"argv": [sys.executable, str(script), str(counters)]},
                           "output": "flaky-out", "max_retries": 3})
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        assert done["attempts"] == 7 * 3
        np.testing.assert_array_equal(fetch(api, "flaky-out"), DATA + 1)
        for task in api.get(f"/v1/jobs/{job['id']}/tasks").json():
            states = [a["state"] for a in task["attempts"]]
            assert states == ["TASK_FAILED", "TASK_FAILED", "TASK_FINISHED"]
            assert task["charged_failures"] == 2
            assert "flaky failure number 1" in task["attempts"][0]["message"]


def test_command_that_always_fails(tmp_path: Path) -> None:
    with running_service(tmp_path) as (_, api):
        upload(api, "d", DATA, 8)
        job = submit(api, {"name": "doomed", "operation": "command", "inputs": ["d"],
                           "params": {"argv": ["sh", "-c", "echo boom >&2; exit 3"]},
                           "max_retries": 1, "output": "never"})
        done = wait_done(api, job["id"])
        assert done["state"] == "FAILED"
        assert "boom" in done["error"] and "max_retries=1" in done["error"]
        tasks = api.get(f"/v1/jobs/{job['id']}/tasks").json()
        failed = [t for t in tasks if t["state"] == "FAILED"]
        assert len(failed) == 1
        assert [a["state"] for a in failed[0]["attempts"]] == ["TASK_FAILED", "TASK_FAILED"]
        assert all(a["fault"] == "work" for a in failed[0]["attempts"])
        assert all(t["state"] in ("FAILED", "KILLED") for t in tasks)
        assert api.get("/v1/datasets/never").status_code == 404


def test_scheduler_restarted_mid_job_on_the_same_store(tmp_path: Path) -> None:
    mesos_port, api_port = free_port(), free_port()
    mesos = start([sys.executable, "-m", "localmesos", "--listen", f"127.0.0.1:{mesos_port}",
                   "--agents", "2"], tmp_path / "mesos.log")
    femto = [sys.executable, "-m", "femto", "serve", "--master",
             f"127.0.0.1:{mesos_port}", "--listen", f"127.0.0.1:{api_port}",
             "--store", f"sqlite:///{tmp_path}/femto.db", "--state-dir", str(tmp_path),
             "--retry-backoff", "0.2"]
    scheduler = start(femto, tmp_path / "femto-1.log")
    executors: list[psutil.Process] = []
    try:
        wait_http(f"http://127.0.0.1:{mesos_port}/health", mesos)
        url = f"http://127.0.0.1:{api_port}"
        wait_http(f"{url}/health", scheduler)
        with httpx.Client(base_url=url, timeout=30) as api:
            upload(api, "d", DATA, 8)
            job = submit(api, {"name": "restart", "operation": "command", "inputs": ["d"],
                               "params": {"argv": ["sh", "-c", "sleep 3; cat"]},
                               "output": "restart-out"})
            wait_for(lambda: len(running_hosts(api, job["id"])) == 2, what="tasks running")
            running = {p for p, a in attempts_by_partition(api, job["id"]).items()
                       if a and a[-1]["running"]}
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
        scheduler = start(femto, tmp_path / "femto-2.log")
        wait_http(f"{url}/health", scheduler)
        with httpx.Client(base_url=url, timeout=30) as api:
            done = wait_done(api, job["id"])
            assert done["state"] == "FINISHED", done
            np.testing.assert_array_equal(fetch(api, "restart-out"), DATA)
            attempts = attempts_by_partition(api, job["id"])
            for partition in running:
                # Tasks running across the restart were reconciled, not relaunched.
                assert len(attempts[partition]) == 1, attempts[partition]
        executors = psutil.Process(mesos.pid).children(recursive=True)
        assert executors, "the agents should run femto's executors"
    finally:
        for proc in (scheduler, mesos):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    _, alive = psutil.wait_procs(executors, timeout=10)
    assert not alive, f"left behind: {alive}"


def test_launch_timeout_kills_and_retries(tmp_path: Path) -> None:
    # An executor that never subscribes: its tasks never reach TASK_RUNNING.
    with running_service(tmp_path, executor_command="sleep 600", launch_timeout=1.0) as (
        _, api
    ):
        upload(api, "d", DATA, 1)
        job = submit(api, {"name": "stuck", "operation": "count", "inputs": ["d"],
                           "max_retries": 0})

        def timed_out_and_killed() -> list[dict] | None:
            attempts = attempts_by_partition(api, job["id"])[0]
            return attempts if len(attempts) >= 2 and attempts[0]["ended"] else None

        attempts = wait_for(timed_out_and_killed, 30, "a timed-out attempt and a retry")
        first = attempts[0]
        assert first["fault"] == "infra" and "not running after 1.0s" in first["message"]
        # The kill is confirmed by the master (repeated until it is).
        wait_for(lambda: attempts_by_partition(api, job["id"])[0][0]["state"] == "TASK_KILLED",
                 30, "the kill of the timed-out attempt to be confirmed")
        assert api.get(f"/v1/jobs/{job['id']}").json()["state"] == "RUNNING"  # uncharged
        assert api.delete(f"/v1/jobs/{job['id']}").json()["state"] == "CANCELLED"


def test_a_killed_femto_serve_takes_its_embedded_cluster_along(tmp_path: Path) -> None:
    api_port = free_port()
    scheduler = start([sys.executable, "-m", "femto", "serve", "--listen",
                       f"127.0.0.1:{api_port}", "--state-dir", str(tmp_path)],
                      tmp_path / "femto.log")
    try:
        url = f"http://127.0.0.1:{api_port}"
        wait_http(f"{url}/health", scheduler)
        with httpx.Client(base_url=url, timeout=30) as api:
            wait_for(lambda: api.get("/v1/leader").json()["is_leader"], what="leading")
            upload(api, "d", DATA, 4)
            job = submit(api, {"name": "orphans", "operation": "command", "inputs": ["d"],
                               "params": {"argv": ["sh", "-c", "sleep 60; cat"]},
                               "output": "orphans-out"})
            wait_for(lambda: running_hosts(api, job["id"]), what="a running task")
        # The embedded cluster, its watchdog, the executors and their commands.
        descendants = psutil.Process(scheduler.pid).children(recursive=True)
        assert any(p.cmdline()[1:3] == ["-m", "localmesos"] for p in descendants), descendants
        assert any("sleep" in p.cmdline() for p in descendants), descendants
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
        _, alive = psutil.wait_procs(descendants, timeout=30)
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()


def test_the_embedded_cluster_is_restarted_when_it_dies(tmp_path: Path) -> None:
    with running_service(tmp_path) as (service, api):
        embedded = service.local_mesos
        assert embedded is not None and embedded.pid is not None
        wait_for(lambda: api.get("/health").status_code == 200, what="a healthy scheduler")
        upload(api, "d", DATA, 4)
        job = submit(api, {"name": "e", "operation": "command", "inputs": ["d"],
                           "params": SLOW_CAT, "output": "e-out", "max_retries": 0})
        wait_for(lambda: running_hosts(api, job["id"]), what="a running task")
        first = psutil.Process(embedded.pid)
        first.send_signal(signal.SIGKILL)
        down = wait_for(lambda: (r := api.get("/health")).status_code == 503 and r.json(),
                        what="/health to report the dead cluster")
        assert "embedded Mesos" in down["problem"], down
        wait_for(lambda: api.get("/health").status_code == 200, timeout=60,
                 what="/health once the cluster is back")
        assert embedded.restarts == 1 and embedded.pid != first.pid
        done = wait_done(api, job["id"])
        # Its tasks died with the cluster: infrastructure faults, not charged to max_retries=0.
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "e-out"), DATA)


def test_what_commands_start_in_their_own_session_dies_with_the_embedded_cluster(
    tmp_path: Path,
) -> None:
    pid_dir = tmp_path / "pids"
    with running_service(tmp_path / "femto") as (service, api):
        embedded = service.local_mesos
        assert embedded is not None and embedded.pid is not None
        upload(api, "d", DATA, 2)
        job = submit(api, {"name": "esc", "operation": "command", "inputs": ["d"],
                           "params": escaping_command(pid_dir), "output": "esc-out"})
        first = wait_for(lambda: escapees(pid_dir), what="a grandchild")
        psutil.Process(embedded.pid).send_signal(signal.SIGKILL)
        # Its watchdog ends them; the restarted cluster may run the tasks again.
        wait_for(lambda: all_gone(first), 30, "the dead cluster's grandchildren to end")
        assert api.delete(f"/v1/jobs/{job['id']}").json()["state"] == "CANCELLED"
        wait_for(lambda: all_gone(escapees(pid_dir)), 60, "the cancelled job's grandchildren")


def test_health_names_an_unreachable_master(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_module, "FIRST_SUBSCRIBE_WAIT", 0.5)  # nothing answers there
    nowhere = f"127.0.0.1:{free_port()}"
    with running_service(tmp_path, master=nowhere) as (_, api):
        health = api.get("/health")
        assert health.status_code == 503
        assert health.json()["problem"] == f"not connected to the Mesos master at {nowhere}"


def test_a_store_outage_is_a_prompt_503_and_running_jobs_still_answer(
        tmp_path: Path, mongo: MongoServer) -> None:
    with running_service(tmp_path, store=mongo.url) as (_, api):
        upload(api, "d", DATA, 2)
        job = submit(api, {"name": "s", "operation": "command", "inputs": ["d"],
                           "params": {"argv": ["sh", "-c", "sleep 3; cat"]},
                           "output": "s-out"})
        wait_for(lambda: running_hosts(api, job["id"]), what="a running task")
        mongo.stop()
        took = {}
        for what, call, status in (
            ("first POST", lambda: api.post("/v1/jobs", json={**job_spec(), "name": "a"}), 503),
            ("GET", lambda: api.get(f"/v1/jobs/{job['id']}"), 200),
            ("second POST", lambda: api.post("/v1/jobs", json={**job_spec(), "name": "b"}), 503),
        ):
            started = time.monotonic()
            response = call()
            took[what] = time.monotonic() - started
            assert response.status_code == status, (what, response.text)
        print("\n[store outage] answer times: " +
              ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items()))
        # Generous bounds (a loaded machine); before the breaker these took 6-12 s.
        assert max(took.values()) < 3.0, took
        mongo.start()
        done = wait_done(api, job["id"])
        assert done["state"] == "FINISHED", done
        np.testing.assert_array_equal(fetch(api, "s-out"), DATA)
        jobs = {j["name"] for j in api.get("/v1/jobs").json()}
        assert not {"a", "b"} & jobs  # the refused submissions left nothing behind


def job_spec() -> dict:
    return {"operation": "count", "inputs": ["d"]}
