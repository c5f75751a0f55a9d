"""femto's scheduler puts all its executor needs into CommandInfo (an agent gives executors
only the Mesos variables and CommandInfo.environment), and `--executor-command` /
`--executor-uri` start it where femto is installed elsewhere."""

from __future__ import annotations

import shlex
import sys
import tarfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from femto.cli import build_parser
from femto.launch import ExecutorSpec, executor_info
from femto.service import Options, executor_environment
from tests.framework.helpers import running_service, submit, upload, wait_done

OFFER = {"agent_id": {"value": "a1"}, "resources": []}


def test_default_command_is_this_interpreter_by_absolute_path() -> None:
    command = Options().executor_command
    argv = shlex.split(command)
    assert Path(argv[0]).is_absolute() and argv[0] == sys.executable
    assert argv[1:] == ["-m", "femto.executor"]


def test_executor_info_carries_environment_and_uris() -> None:
    spec = ExecutorSpec(command="sh run.sh", environment=(("FEMTO_LOG_LEVEL", "DEBUG"),),
                        uris=("https://example.org/femto.tar.gz",))
    command = executor_info(spec, "a1", "fw", OFFER)["command"]
    assert command["value"] == "sh run.sh" and command["shell"] is True
    assert command["environment"]["variables"] == [
        {"type": "VALUE", "name": "FEMTO_LOG_LEVEL", "value": "DEBUG"}]
    assert command["uris"] == [{"value": "https://example.org/femto.tar.gz", "extract": True}]
    plain = executor_info(ExecutorSpec(command="x"), "a1", "fw", OFFER)["command"]
    assert "environment" not in plain and "uris" not in plain


def test_only_what_the_executor_reads_is_passed_on() -> None:
    env = {"FEMTO_LOG_LEVEL": "INFO", "HOME": "/root", "PATH": "/venv/bin", "LANG": "C"}
    assert executor_environment(env) == (("FEMTO_LOG_LEVEL", "INFO"),)
    assert executor_environment({}) == ()


def test_serve_flags() -> None:
    args = build_parser().parse_args(
        ["serve", "--executor-command", "sh run.sh", "--executor-uri", "file:///a.tgz",
         "--executor-uri", "/b.whl"])
    assert args.executor_command == "sh run.sh"
    assert args.executor_uri == ["file:///a.tgz", "/b.whl"]


def agent_executors(master: str) -> list[dict[str, Any]]:
    base = master if master.startswith("http") else f"http://{master}"
    slaves = httpx.get(f"{base}/master/state", timeout=5).json()["slaves"]
    executors = []
    for slave in slaves:
        state = httpx.get(f"http://127.0.0.1:{slave['port']}/state", timeout=5).json()
        for framework in state["frameworks"]:
            executors.extend(framework["executors"])
    return executors


def test_executor_fetched_by_uri_runs_jobs(tmp_path: Path) -> None:
    launcher = tmp_path / "femto-launcher"
    launcher.mkdir()
    (launcher / "run.sh").write_text(f"exec {shlex.quote(sys.executable)} -m femto.executor\n")
    archive = tmp_path / "femto-launcher.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(launcher, arcname="femto-launcher")
    with running_service(
        tmp_path / "state",
        executor_command="sh femto-launcher/run.sh",
        executor_uris=[archive.as_uri()],
        executor_environment=(("FEMTO_LOG_LEVEL", "DEBUG"),),
    ) as (service, client):
        data = np.arange(1000, dtype=np.float64)
        upload(client, "x", data, 4)
        job = wait_done(client, submit(client, {"name": "fetched", "operation": "sum",
                                                "inputs": ["x"]})["id"])
        assert job["state"] == "FINISHED", job
        assert job["result"]["value"] == data.sum()
        executors = agent_executors(service.master)
        assert executors
        for executor in executors:
            sandbox = Path(executor["directory"])
            assert (sandbox / "femto-launcher" / "run.sh").exists()
            # FEMTO_LOG_LEVEL reached the executor through CommandInfo.environment.
            assert " DEBUG " in (sandbox / "stderr").read_text()
