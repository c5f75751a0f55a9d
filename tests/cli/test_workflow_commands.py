"""`femto workflow ...` and `femto workflows` against a live scheduler: the id at once,
the workflow followed step by step (a line per change off a terminal), Ctrl-C detaching,
tables for people and the API's JSON with --json."""

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
    a_mistake,
    client_env,
    femto,
    femto_json,
    on_a_terminal,
    save,
)
from tests.waiting import wait_for

DATA = np.arange(400.0)
CLOCK = re.compile(r"\d\d:\d\d:\d\d ")


@pytest.fixture(scope="module")
def data(served: Service, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = save(tmp_path_factory.mktemp("data") / "d.npy", DATA)
    femto(served, "dataset", "put", "wf-data", str(path), "--partitions", "2")
    return "wf-data"


def api(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=30)


def pipeline(path: Path, data: str, seconds: float, name: str = "pipe",
             **first: Any) -> Path:
    """copy (a program that sleeps, then copies) -> total (the sum of the copy)."""
    path.write_text(json.dumps({"name": name, "steps": {
        "copy": {"operation": "command", "inputs": [data],
                 "params": {"argv": ["sh", "-c", f"sleep {seconds}; cat"]}, **first},
        "total": {"operation": "sum", "inputs": ["@copy"]},
    }}))
    return path


def wait_workflow(client: httpx.Client, workflow_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        workflow: dict[str, Any] = client.get(f"/v1/workflows/{workflow_id}").json()
        return workflow if workflow["state"] in ("FINISHED", "FAILED", "CANCELLED") else None

    found: dict[str, Any] = wait_for(ended, 90, "the workflow to end")
    return found


def test_submit_wait_prints_the_id_then_a_line_per_change(served: Service, data: str,
                                                         tmp_path: Path) -> None:
    done = femto(served, "workflow", "submit", "--wait",
                 str(pipeline(tmp_path / "w.json", data, 0.5)))
    lines = done.stdout.splitlines()
    workflow_id = lines[0].split()[1]
    assert lines[0] == f"workflow {workflow_id} submitted"
    changes = [line[9:] for line in lines if CLOCK.match(line)]
    assert changes[0].startswith("workflow "), changes  # as first read
    total_job = r"step total PENDING \(job [0-9a-f-]{36}\)"
    assert any(re.search(total_job, c) for c in changes), changes  # submitted once copied
    copied = [c for c in changes
              if re.fullmatch(r"step copy: task \d FINISHED \(attempt 1 on .+\)", c)]
    assert len(copied) == 2, changes
    assert changes[-1] == "workflow FINISHED: copy FINISHED, total FINISHED"
    summary = lines[len(changes) + 1:]
    assert summary[0] == f"workflow {workflow_id}  pipe"
    assert summary[1] == "state    FINISHED"
    assert summary[-1] == f"result   step total: {float(DATA.sum())!r}"
    assert femto(served, "workflow", "status", workflow_id).stdout.splitlines() == summary


def test_a_terminal_gets_a_live_panel_with_a_row_per_step(served: Service, data: str,
                                                          tmp_path: Path) -> None:
    shown = on_a_terminal(served, "workflow", "submit", "--wait",
                          str(pipeline(tmp_path / "w.json", data, 2, name="pipe-tty")))
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "pipe-tty RUNNING  elapsed" in text
    # The first step running, its tasks counted, while the second waits for its output.
    assert re.search(r"copy\s+RUNNING\s+\S*\s+\d+%\s+0 pending, 2 running", text), text
    assert re.search(r"total\s+WAITING\s+\S*\s+0%", text), text
    assert "state    FINISHED" in text and f"step total: {float(DATA.sum())!r}" in text


def test_json_gives_the_workflow_objects(served: Service, data: str, tmp_path: Path) -> None:
    submitted = femto_json(served, "workflow", "submit",
                           str(pipeline(tmp_path / "w.json", data, 0, name="pipe-json")))
    assert submitted["name"] == "pipe-json" and set(submitted["steps"]) == {"copy", "total"}
    with api(served) as client:
        ended = wait_workflow(client, submitted["id"])
    assert ended["state"] == "FINISHED"
    assert femto_json(served, "workflow", "status", submitted["id"]) == ended
    listed = femto_json(served, "workflows", "--state", "FINISHED")
    assert ended in listed and all(w["state"] == "FINISHED" for w in listed)
    table = femto(served, "workflows").stdout.splitlines()
    assert table[0].split() == ["ID", "STATE", "STEPS", "CREATED", "NAME"]
    row = next(line.split() for line in table if line.startswith(submitted["id"]))
    assert row[1:3] == ["FINISHED", "2/2"] and row[-1] == "pipe-json"
    waited = femto(served, "--json", "workflow", "submit", "--wait",
                   str(pipeline(tmp_path / "w2.json", data, 0, name="pipe-json-wait")))
    workflow = json.loads(waited.stdout)
    assert workflow["state"] == "FINISHED" and workflow["name"] == "pipe-json-wait"
    assert waited.stderr == f"femto: workflow {workflow['id']} submitted\n"


def test_a_failed_step_is_exit_1_and_its_dependents_skipped(served: Service, data: str,
                                                            tmp_path: Path) -> None:
    spec = pipeline(tmp_path / "f.json", data, 0, name="pipe-fails", max_retries=0)
    body = json.loads(spec.read_text())
    body["steps"]["copy"]["params"]["argv"] = ["sh", "-c", "exit 3"]
    spec.write_text(json.dumps(body))
    done = femto(served, "workflow", "submit", "--wait", str(spec), check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"^state    FAILED: step copy failed: ", done.stdout, re.M), done.stdout
    assert re.search(r"^  total +SKIPPED ", done.stdout, re.M), done.stdout


def test_ctrl_c_detaches_and_cancel_ends_it(served: Service, data: str, tmp_path: Path) -> None:
    waiter = subprocess.Popen(
        [FEMTO, "workflow", "submit", "--wait", str(pipeline(tmp_path / "w.json", data, 60))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env(served))
    assert waiter.stdout is not None and waiter.stderr is not None
    workflow_id = waiter.stdout.readline().split()[1]  # the id comes at once
    assert re.match(r"\d\d:\d\d:\d\d workflow (PENDING|RUNNING): copy ",
                    waiter.stdout.readline())  # as first read: the waiter follows it now
    with api(served) as client:
        wait_for(lambda: client.get(f"/v1/workflows/{workflow_id}").json()["steps"]["copy"]
                 ["state"] == "RUNNING", 60, "the first step to run")
        waiter.send_signal(signal.SIGINT)
        assert waiter.wait(timeout=30) == 130
        assert waiter.stderr.read() == (
            f"femto: detached from workflow {workflow_id}, which goes on; follow it again "
            f"with: femto workflow watch {workflow_id}\n")
        assert client.get(f"/v1/workflows/{workflow_id}").json()["state"] == "RUNNING"
        cancelled = femto(served, "workflow", "cancel", workflow_id).stdout.splitlines()
        assert cancelled[0] == f"workflow {workflow_id}  pipe"
        assert wait_workflow(client, workflow_id)["state"] == "CANCELLED"
    watched = femto(served, "workflow", "watch", workflow_id, check=False)
    assert watched.returncode == 1, watched.stderr
    assert "state    CANCELLED" in watched.stdout
    assert re.search(r"^  total +SKIPPED ", watched.stdout, re.M), watched.stdout


def test_mistakes_are_one_line(served: Service, data: str, tmp_path: Path) -> None:
    a_mistake(femto(served, "workflow", "status", "no-such-workflow", check=False),
              "no-such-workflow")
    a_mistake(femto(served, "workflow", "submit", str(tmp_path / "none.json"), check=False),
              "cannot read workflow")
    dangling = tmp_path / "dangling.json"
    dangling.write_text(json.dumps({"name": "bad", "steps": {
        "total": {"operation": "sum", "inputs": ["@nowhere"]}}}))
    a_mistake(femto(served, "workflow", "submit", str(dangling), check=False),
              "HTTP 422", "steps.total.inputs")
