"""Real servers for the tests: a private ZooKeeper and a MongoDB-wire server.

Each runs as a child process on a free 127.0.0.1 port with a temporary data
directory, and can be stopped and started again on the same port and data
(for restart tests). Only the process this module started is ever signalled.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ZOOKEEPER_CLASSPATH = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class ServerProcess:
    """A child server process that can be stopped and restarted in place."""

    def __init__(self, workdir: Path, name: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"{name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None, f"{self.name} already running"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        wait_for_port(self.port, timeout, self.proc, self.log)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class ZooKeeperServer(ServerProcess):
    """ZooKeeper from Debian's `zookeeper` package, standalone.

    A short tick keeps session timeouts (2..20 ticks) small for failover tests.
    """

    def __init__(self, workdir: Path, tick_ms: int = 250) -> None:
        super().__init__(workdir, "zookeeper")
        self.tick_ms = tick_ms
        self.data_dir = workdir / "zk-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        java = shutil.which("java") or "/usr/bin/java"
        return [
            java,
            "-Xmx256m",
            "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.4lw.commands.whitelist=ruok,srvr",
            "-cp",
            ZOOKEEPER_CLASSPATH,
            "org.apache.zookeeper.server.ZooKeeperServerMain",
            str(self.port),
            str(self.data_dir),
            str(self.tick_ms),
        ]


class MongoServer(ServerProcess):
    """SecantusDB, a MongoDB-wire server on WiredTiger (test-only dependency)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "secantusdb")
        self.data_dir = workdir / "mongo-data"

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("secantusd-py")
        return [
            str(exe),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir),
            "--log-level",
            "WARNING",
        ]


def zookeeper_available() -> bool:
    return os.path.exists("/usr/share/java/zookeeper.jar") and shutil.which("java") is not None
