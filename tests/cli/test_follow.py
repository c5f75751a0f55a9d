"""`femto submit --wait` and `femto watch`: the job id at once, then the job followed through
the event stream, live on a terminal and a line per change otherwise; Ctrl-C detaches."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.service import Service
from tests.cli.helpers import (
    FEMTO,
    TOKEN,
    client_env,
    femto,
    femto_json,
    on_a_terminal,
    save,
    write_spec,
)
from tests.framework.helpers import running_service, wait_done
from tests.services import free_port
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def data(served: Service, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = save(tmp_path_factory.mktemp("data") / "d.npy", np.arange(400.0))
    femto(served, "dataset", "put", "follow", str(path), "--partitions", "4")
    return "follow"


def api(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=30)


def spec(tmp_path: Path, data: str, seconds: float, **extra: Any) -> Path:
    return write_spec(tmp_path / "job.json", name="sleepy", operation="command",
                      inputs=[data], params={"argv": ["sh", "-c", f"sleep {seconds}; cat"]},
                      **extra)


def test_submit_wait_prints_the_id_then_a_line_per_change(served: Service, data: str,
                                                         tmp_path: Path) -> None:
    done = femto(served, "submit", "--wait", str(spec(tmp_path, data, 0.5)))
    lines = done.stdout.splitlines()
    job_id = lines[0].split()[1]
    assert lines[0] == f"job {job_id} submitted"
    changes = [line.split(" ", 1)[1] for line in lines[1:] if re.match(r"\d\d:\d\d:\d\d ", line)]
    finished = [c for c in changes if re.fullmatch(r"task \d FINISHED \(attempt 1 on .+\)", c)]
    assert len(finished) == 4, changes
    assert changes[-1].startswith("job FINISHED: 0 pending, 0 running, 4 finished, 0 failed")
    summary = lines[len(changes) + 1:]
    assert summary[0].split() == ["job", job_id, "sleepy", "command"]
    assert summary[1] == "state    FINISHED"


def test_submit_wait_json_prints_only_the_ended_job(served: Service, data: str,
                                                   tmp_path: Path) -> None:
    done = femto(served, "--json", "submit", "--wait", str(spec(tmp_path, data, 0.1)))
    job = json.loads(done.stdout)
    assert job["state"] == "FINISHED" and job["result"] == {"dataset": f"sleepy-{job['id'][:8]}"}
    assert done.stderr == f"femto: job {job['id']} submitted\n"


def test_a_failed_job_waited_for_exits_1(served: Service, data: str, tmp_path: Path) -> None:
    failing = write_spec(tmp_path / "f.json", name="f", operation="command", inputs=[data],
                         params={"argv": ["false"]}, max_retries=0)
    done = femto(served, "submit", "--wait", str(failing), check=False)
    assert done.returncode == 1, done.stderr
    assert "state    FAILED" in done.stdout and "Traceback" not in done.stderr
    assert re.search(r"state    FAILED: partition \d failed 1 times", done.stdout)


def test_ctrl_c_detaches_and_says_how_to_follow_again(served: Service, data: str,
                                                      tmp_path: Path) -> None:
    waiter = subprocess.Popen([FEMTO, "submit", "--wait", str(spec(tmp_path, data, 60))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=client_env(served))
    assert waiter.stdout is not None and waiter.stderr is not None
    job_id = waiter.stdout.readline().split()[1]  # the id comes at once
    # The job as first read: the waiter follows it now.
    assert re.match(r"\d\d:\d\d:\d\d job (PENDING|RUNNING): ", waiter.stdout.readline())
    with api(served) as client:
        wait_for(lambda: client.get(f"/v1/jobs/{job_id}").json()["state"] == "RUNNING",
                 what="the job to run")
    waiter.send_signal(signal.SIGINT)
    assert waiter.wait(timeout=30) == 130
    assert waiter.stderr.read() == (f"femto: detached from job {job_id}, which goes on; "
                                    f"follow it again with: femto watch {job_id}\n")
    with api(served) as client:
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "RUNNING"
        client.delete(f"/v1/jobs/{job_id}")
        assert wait_done(client, job_id)["state"] == "CANCELLED"
    watched = femto(served, "watch", job_id, check=False)
    assert watched.returncode == 1 and "state    CANCELLED" in watched.stdout


def test_a_terminal_gets_a_live_display(served: Service, data: str, tmp_path: Path) -> None:
    # Two tasks at a time (one of 2.5 cpus on each agent of 4), so the first two finish
    # while the others wait: there is a pace, hence an ETA.
    job = spec(tmp_path, data, 1.5, resources={"cpus": 2.5, "mem": 64})
    shown = on_a_terminal(served, "submit", "--wait", str(job))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "sleepy RUNNING" in text and "elapsed" in text
    assert re.search(r"2 pending\s+2 running\s+0 finished", text), text
    assert re.search(r"ETA \d", text), text[-3000:]
    assert re.search(r"\d\s+1\s+agent-\d\s+RUNNING", text)  # a task's own row
    assert "state    FINISHED" in text


def test_watch_a_job_that_has_ended_prints_it(served: Service, data: str,
                                             tmp_path: Path) -> None:
    job = femto_json(served, "submit", str(spec(tmp_path, data, 0)))
    with api(served) as client:
        wait_done(client, job["id"])
    watched = femto(served, "watch", job["id"]).stdout.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d job FINISHED: 0 pending, 0 running, 4 finished.*",
                        watched[0])
    assert watched[1:] == femto(served, "status", job["id"]).stdout.splitlines()


def test_watch_rides_out_a_scheduler_restart(tmp_path: Path) -> None:
    """The stream ends with the scheduler; the watcher reconnects, is told to re-read the
    state (another process wrote the events it had), and follows the job to its end."""
    port = free_port()
    state = tmp_path / "state"
    with running_service(state, api_token=TOKEN, listen=f"127.0.0.1:{port}") as (first, _):
        femto(first, "dataset", "put", "r", str(save(tmp_path / "d.npy", np.arange(4.0))),
              "--partitions", "2")
        job = femto_json(first, "submit", str(spec(tmp_path, "r", 4)))
        watcher = subprocess.Popen([FEMTO, "watch", job["id"]], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=client_env(first))
        assert watcher.stdout is not None
        assert re.match(r"\d\d:\d\d:\d\d job (PENDING|RUNNING): ", watcher.stdout.readline())
    with running_service(state, api_token=TOKEN, listen=f"127.0.0.1:{port}") as (second, _):
        out, err = watcher.communicate(timeout=120)
        assert watcher.returncode == 0, err
        assert "state    FINISHED" in out and err == ""
        # Its tasks died with the first scheduler's embedded cluster: retried, and seen so.
        assert re.search(r"task \d RUNNING \(attempt 2 on ", out), out
        assert femto_json(second, "status", job["id"])["state"] == "FINISHED"
