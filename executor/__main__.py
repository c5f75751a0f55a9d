"""`python -m femto.executor`: the command femto's scheduler puts in ExecutorInfo.

Logs go to stderr, which the agent keeps in the sandbox; quiet unless FEMTO_LOG_LEVEL says.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from femto.executor.service import FemtoExecutor, shutdown_wait
from femto.jobs.operations.registry import registry
from mesosapi.executor import MesosExecutorDriver

log = logging.getLogger("femto.executor")


def main() -> int:
    level = os.environ.get("FEMTO_LOG_LEVEL", "WARNING").upper()
    known = level in logging.getLevelNamesMapping()
    logging.basicConfig(
        stream=sys.stderr,
        level=level if known else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )
    if not known:
        log.warning("FEMTO_LOG_LEVEL=%s is not a log level", level)
    # Now rather than in the first task, which would wait on every plugin's imports; a
    # plugin that cannot be loaded is only logged (its tasks fail naming it).
    registry()
    executor = FemtoExecutor()
    try:
        driver = MesosExecutorDriver(executor)
    except ValueError as exc:
        log.error("cannot start the femto executor: %s", exc)
        executor.close(0)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        # The agent (or an operator) asks us to go: stop the driver, off the signal handler
        # (stop joins the driver's threads); the tasks are killed below.
        log.info("signal %d: stopping", signum)
        threading.Thread(target=driver.stop, name="stop-on-signal").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        status = driver.run()
    finally:
        # Whatever ended the driver, no task (nor a child process of one) outlives us.
        executor.close(shutdown_wait(driver.environment.shutdown_grace_period))
    return status


if __name__ == "__main__":
    sys.exit(main())
