"""`--master local`'s embedded Mesos: a real `python -m localmesos` child process."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from femto.embedded import EmbeddedMesos


def test_it_serves_the_master_api_and_stops_without_leftovers(tmp_path: Path) -> None:
    before = set(psutil.Process().children())
    mesos = EmbeddedMesos(3, 1.0, 256.0, tmp_path, update_retry=10.0)
    mesos.start()
    try:
        address = mesos.wait_ready()
        [child] = set(psutil.Process().children()) - before
        state = httpx.get(f"http://{address}/master/state", timeout=10).json()
        assert len(state["slaves"]) == 3
        assert {s["resources"]["cpus"] for s in state["slaves"]} == {1.0}
    finally:
        mesos.stop()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_a_cluster_that_cannot_start_says_so(tmp_path: Path) -> None:
    mesos = EmbeddedMesos(2, 0.0, 256.0, tmp_path, update_retry=10.0)
    mesos.start()
    try:
        with pytest.raises(RuntimeError, match="exited with 1 on start"):
            mesos.wait_ready()
    finally:
        mesos.stop()
