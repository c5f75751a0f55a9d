"""CommandInfo.uris: localmesos fetches local files into the sandbox before the executor or
command starts, as docs/fetcher.md describes (copy, `extract`, `executable`, `output_file`)."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

from localmesos import LocalMesos
from tests.localmesos.raw_scheduler import RawScheduler, command_task, scalar
from tests.localmesos.test_executors import executor_task

HERE = Path(__file__).parent


def test_executor_from_an_extracted_tarball(
    scheduler: RawScheduler, cluster: LocalMesos, tmp_path: Path
) -> None:
    archive = tmp_path / "raw-executor.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("raw_executor.py", "raw_scheduler.py"):
            tar.add(HERE / name, arcname=f"pkg/{name}")
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    executor = {
        "executor_id": {"value": "fetched"},
        # Relative to the sandbox, where the fetcher unpacked the archive.
        "command": {"value": f"{sys.executable} pkg/raw_executor.py",
                    "uris": [{"value": archive.as_uri()}]},
        "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
    }
    scheduler.accept([offer], [executor_task("f1", offer, executor, sleep=0.1)])
    scheduler.wait_update("f1", "TASK_FINISHED")


def test_executable_output_file_for_a_command_task(
    scheduler: RawScheduler, cluster: LocalMesos, tmp_path: Path
) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho fetched > proof\n")
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    task = command_task("c1", offer, "./bin/run && test \"$(cat proof)\" = fetched")
    task["command"]["uris"] = [
        {"value": str(script), "executable": True, "output_file": "bin/run"}
    ]
    scheduler.accept([offer], [task])
    scheduler.wait_update("c1", "TASK_FINISHED")


def test_a_uri_that_cannot_be_fetched_fails_the_task(
    scheduler: RawScheduler, cluster: LocalMesos, tmp_path: Path
) -> None:
    scheduler.subscribe()
    offer = scheduler.offers()[0]
    task = command_task("c2", offer, "true")
    task["command"]["uris"] = [{"value": str(tmp_path / "missing.tar.gz")}]
    scheduler.accept([offer], [task])
    failed = scheduler.wait_update("c2", "TASK_FAILED")
    assert "Failed to fetch" in failed["message"] and "missing.tar.gz" in failed["message"]
