"""zookeeper.service, run: its command and the configuration provision/zookeeper.sh
writes make a standalone server that answers (the box's data dir and port moved into
the temporary root and onto a free port, as nothing else may be)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.services import free_port, wait_for_port, zookeeper_available
from tests.vagrant.provisioning import exec_start, provision
from tests.waiting import wait_for


def four_letter(port: int, word: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(word)
        return sock.recv(1024)


def test_the_zookeeper_unit_serves_standalone(tmp_path: Path) -> None:
    if not zookeeper_available():
        pytest.fail("ZooKeeper is not installed: run `bash tests/run`, which installs it")
    root = tmp_path / "root"
    provision("zookeeper.sh", root)
    config = root / "etc/femto/zoo.cfg"
    port = free_port()
    lines = config.read_text().splitlines()
    assert "dataDir=/var/lib/zookeeper" in lines and "clientPort=2181" in lines
    assert "clientPortAddress=127.0.0.1" in lines
    config.write_text("\n".join(
        f"dataDir={root}/var/lib/zookeeper" if line.startswith("dataDir=") else
        f"clientPort={port}" if line.startswith("clientPort=") else line
        for line in lines) + "\n")
    log = tmp_path / "zookeeper.log"
    with log.open("wb") as out:
        server = subprocess.Popen(exec_start(root, "zookeeper.service"), stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, 60, server, log)
        assert four_letter(port, b"ruok") == b"imok"
        # Listening comes before serving: srvr says so until the database is loaded.
        wait_for(lambda: b"Mode: standalone" in four_letter(port, b"srvr"), 30,
                 "ZooKeeper to serve")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 143  # SIGTERM: the clean stop SuccessExitStatus= names
