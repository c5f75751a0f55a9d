"""A small custom executor written with mesosapi's MesosExecutorDriver.

localmesos launches it in the end-to-end tests as `python echo_executor.py`.
A task's `data` is base64 JSON: {"sleep": seconds} finishes it after that long;
without it the task runs until killed, or until a framework message
`finish <task id>` finishes it. TASK_RUNNING carries JSON {"pid": ...} in its
message. When a checkpointing executor loses its agent it sends another
TASK_RUNNING for each task at once: the driver must keep it and deliver it
when it re-subscribes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading

from addict import Dict

from mesosapi import Executor, MesosExecutorDriver

AWAY_MESSAGE = "sent while the agent was away"


class EchoExecutor(Executor):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, threading.Timer | None] = {}

    def launchTask(self, driver: MesosExecutorDriver, task: Dict) -> None:
        task_id = task.task_id.value
        params = json.loads(base64.b64decode(task.get("data") or "") or b"{}")
        timer = None
        if "sleep" in params:
            timer = threading.Timer(params["sleep"], self._end, (driver, task_id, "TASK_FINISHED"))
            timer.daemon = True
        with self._lock:
            self._running[task_id] = timer
        self._running_update(driver, task_id, "")
        if timer is not None:
            timer.start()

    def killTask(self, driver: MesosExecutorDriver, task_id: Dict) -> None:
        self._end(driver, task_id.value, "TASK_KILLED")

    def frameworkMessage(self, driver: MesosExecutorDriver, data: bytes) -> None:
        verb, _, task_id = data.decode().partition(" ")
        if verb == "finish":
            self._end(driver, task_id, "TASK_FINISHED")

    def disconnected(self, driver: MesosExecutorDriver) -> None:
        if driver.environment.checkpoint:
            with self._lock:
                running = list(self._running)
            for task_id in running:
                self._running_update(driver, task_id, AWAY_MESSAGE)

    def shutdown(self, driver: MesosExecutorDriver) -> None:
        with self._lock:
            running = list(self._running)
        for task_id in running:
            self._end(driver, task_id, "TASK_KILLED")

    def _running_update(self, driver: MesosExecutorDriver, task_id: str, note: str) -> None:
        message = json.dumps({"pid": os.getpid(), "note": note})
        driver.sendStatusUpdate(
            {"task_id": {"value": task_id}, "state": "TASK_RUNNING", "message": message}
        )

    def _end(self, driver: MesosExecutorDriver, task_id: str, state: str) -> None:
        with self._lock:
            if task_id not in self._running:
                return
            timer = self._running.pop(task_id)
        if timer is not None:
            timer.cancel()
        driver.sendStatusUpdate({"task_id": {"value": task_id}, "state": state})


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return MesosExecutorDriver(EchoExecutor()).run()


if __name__ == "__main__":
    sys.exit(main())
