"""The femto part of the box, run for real: provisioning into a temporary root, the
commands its units would run (read from the unit files, box paths mapped into the root)
started against ZooKeeper, a MongoDB-wire server and `python -m localmesos`, and
vagrant/demo.sh run against them to its end, leader kill included."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import MongoServer, ZooKeeperServer, free_port, wait_for_port
from tests.vagrant.provisioning import VAGRANT, directive, exec_start, provision, require
from tests.waiting import wait_for


class Units:
    """Processes started from units' ExecStart lines, each ended by its pid."""

    def __init__(self, root: Path, logs: Path) -> None:
        self.root = root
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        logs.mkdir()
        # Only what systemd would give a service: not this test run's FEMTO_* settings.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FEMTO_")}

    def start(self, unit: str) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        for assignment in directive(self.root, unit, "Environment"):
            name, _, value = assignment.partition("=")
            env[name] = value
        with (self.logs / f"{unit}.log").open("wb") as log:
            proc = subprocess.Popen(exec_start(self.root, unit), env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[unit] = proc
        return proc

    def log(self, unit: str) -> Path:
        return self.logs / f"{unit}.log"

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def units(tmp_path: Path) -> Iterator[Units]:
    started = Units(tmp_path / "root", tmp_path / "logs")
    try:
        yield started
    finally:
        started.stop_all()


def leader_known(url: str, token: str) -> bool:
    try:
        answer = httpx.get(f"{url}/v1/leader", headers={"Authorization": f"Bearer {token}"},
                           timeout=2)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json()["leader"] is not None


def test_demo_runs_to_its_end_against_the_provisioned_units(
        tmp_path: Path, zookeeper: ZooKeeperServer, mongo: MongoServer, units: Units) -> None:
    require("curl")
    root = units.root
    mesos_port = free_port()
    ports = [free_port(), free_port()]
    settings = dict(
        FEMTO_MESOS="embedded", FEMTO_MESOS_LISTEN=f"127.0.0.1:{mesos_port}",
        FEMTO_MASTER=f"127.0.0.1:{mesos_port}", FEMTO_ZK=f"{zookeeper.hosts}/femto",
        FEMTO_STORE=f"mongodb://127.0.0.1:{mongo.port}/femto?directConnection=true",
        FEMTO_LISTEN_HOST="127.0.0.1", FEMTO_PORTS=" ".join(map(str, ports)),
    )
    provision("mesos.sh", root, **settings)
    provision("femto.sh", root, **settings)
    token_file = root / "etc/femto/token"
    token = token_file.read_text().strip()

    localmesos = units.start("femto-localmesos.service")
    wait_for_port(mesos_port, 60, localmesos, units.log("femto-localmesos.service"))
    pids = tmp_path / "pids"
    pids.mkdir()
    for port in ports:
        proc = units.start(f"femto-{port}.service")
        (pids / f"{port}.pid").write_text(str(proc.pid))
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    for url in urls:
        wait_for(lambda url=url: leader_known(url, token), 90, f"{url} to know its leader")

    demo_env = {k: v for k, v in os.environ.items() if not k.startswith("FEMTO_")}
    demo_env.update(FEMTO_URLS=" ".join(urls), FEMTO_TOKEN_FILE=str(token_file),
                    FEMTO_PYTHON=sys.executable, FEMTO_DEMO_PID_DIR=str(pids),
                    FEMTO_DEMO_TIMEOUT="120")
    started = time.monotonic()
    demo = subprocess.run(["bash", str(VAGRANT / "demo.sh")], env=demo_env,
                          capture_output=True, text=True, timeout=400)
    took = time.monotonic() - started
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in units.logs.iterdir())
    assert demo.returncode == 0, f"{demo.stdout}\n{demo.stderr}\n{logs}"
    out = demo.stdout
    print(out, f"demo took {took:.1f} s", sep="\n")

    # Every example job and the failover job: femto's result beside NumPy's, equal.
    # Every example job; the example workflows are for `femto run` (tests/cli).
    examples = sorted(p.stem for p in (VAGRANT.parent / "jobs/examples").glob("*.json")
                      if "steps" not in json.loads(p.read_text()))
    for name in [*examples, "failover-slow-copy"]:
        assert re.search(rf"^{re.escape(name)} \(\w+\): FINISHED", out, re.M), name
    assert out.count("  equal: ") == len(examples) + 1
    assert "DIFFERENT" not in out
    assert "#token=" in out  # the dashboard URL
    # The leader was killed (a process this test started), and the other one took over.
    killed = [u for u in (f"femto-{p}.service" for p in ports) if units.procs[u].poll() is not None]
    assert len(killed) == 1, "exactly the leader is dead"
    assert units.procs[killed[0]].returncode == -9
    assert re.search(r"leads, \d+ s after the kill", out)
    finished = re.search(r"(\d+)/(\d+) tasks finished, (\d+) attempts", out)
    assert finished and finished[1] == finished[2] == "8"
    assert int(finished[3]) >= 8
