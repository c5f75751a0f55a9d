from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from localmesos import LocalMesos
from tests.localmesos.raw_scheduler import RawScheduler, scalar

RAW_EXECUTOR = Path(__file__).with_name("raw_executor.py")


def assert_no_children_left(before: set[int], timeout: float = 5) -> None:
    """Every process this test started (directly or not) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        left = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
        ]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind: {[(p.pid, p.cmdline()) for p in left]}")
        time.sleep(0.05)


@contextmanager
def leak_checked(**options: Any) -> Iterator[LocalMesos]:
    """A started LocalMesos; on leaving it is stopped, and every process it started gone."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    mesos = LocalMesos(**options)
    mesos.start()
    try:
        yield mesos
    finally:
        mesos.stop()
        assert_no_children_left(before)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalMesos]:
    with leak_checked(agents=2, cpus=1.0, mem=512.0, work_dir=tmp_path,
                      heartbeat_interval=1.0, shutdown_grace=0.5) as mesos:
        yield mesos


@pytest.fixture
def scheduler(cluster: LocalMesos) -> Iterator[RawScheduler]:
    sched = RawScheduler(cluster.url)
    yield sched
    sched.stop()


def executor_info(executor_id: str, cpus: float = 0.1) -> dict[str, Any]:
    return {
        "executor_id": {"value": executor_id},
        "command": {"value": f"{sys.executable} {RAW_EXECUTOR}"},
        "resources": [scalar("cpus", cpus), scalar("mem", 32)],
    }
