"""The embedded master's memory as jobs go by: it must level off once its completed-task
buffer (`--max-completed-tasks-per-framework`, 1,000 as on the real master) is full.

`python -m localmesos` runs on its own beside `femto serve --master` and thousands of
one-task noop jobs; its RSS is read once the first 1,000 tasks are done (the buffer
full) and again after all of them. The peer is the same process's growth over those
first 1,000, the cost of filling the buffer: the figure is the growth per 1,000 jobs
afterwards, as a ratio of it (0 if flat, 1 if every task were kept, as before).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.cluster import expect, npy
from bench.memory import rss
from bench.processes import child, free_port, wait_http, wait_leading
from bench.stats import ratio

BUFFER = 1_000  # the master's default --max-completed-tasks-per-framework
BATCH = 250  # jobs submitted before waiting for them: a queue of that many, not thousands


def run_jobs(client: httpx.Client, count: int) -> None:
    """`count` one-task noop jobs, in batches, each batch waited for."""
    for start in range(0, count, BATCH):
        ids = [expect(client.post("/v1/jobs", json={"name": "m", "operation": "noop",
                                                    "inputs": ["d"]}), 201)["id"]
               for _ in range(min(BATCH, count - start))]
        for job_id in ids:
            while expect(client.get(f"/v1/jobs/{job_id}"), 200)["state"] != "FINISHED":
                time.sleep(0.02)


def run_master_memory(n: int, workdir: Path) -> dict[str, Any]:
    if n <= 2 * BUFFER:
        raise ValueError(f"needs more than {2 * BUFFER} jobs to see past the buffer, not {n}")
    workdir.mkdir(parents=True, exist_ok=True)
    mesos_port, api_port = free_port(), free_port()
    url = f"http://127.0.0.1:{api_port}"
    mesos = [sys.executable, "-m", "localmesos", "--listen", f"127.0.0.1:{mesos_port}",
             "--agents", "2"]
    serve = [sys.executable, "-m", "femto", "serve", "--master",
             f"127.0.0.1:{mesos_port}", "--listen", f"127.0.0.1:{api_port}",
             "--state-dir", str(workdir / "state")]
    with child(mesos, workdir / "localmesos.log") as master, \
            child(serve, workdir / "femto-serve.log") as proc:
        wait_http(f"http://127.0.0.1:{mesos_port}/master/state", master,
                  workdir / "localmesos.log")
        wait_leading(url, proc, workdir / "femto-serve.log")
        with httpx.Client(base_url=url, timeout=120.0) as client:
            expect(client.put("/v1/datasets/d", params={"partitions": 1},
                              content=npy(np.zeros(1))), 201)
            run_jobs(client, BUFFER // 10)  # warm-up: executors up, code paths taken
            start = rss(master.pid)
            run_jobs(client, BUFFER - BUFFER // 10)
            full = rss(master.pid)
            run_jobs(client, n - BUFFER)
            end = rss(master.pid)
    filling = (full - start) / (BUFFER - BUFFER // 10) * 1000
    after = (end - full) / (n - BUFFER) * 1000
    return {
        "jobs": n, "rss_start": start, "rss_buffer_full": full, "rss_end": end,
        "bytes_per_1000_jobs_after": after,
        "includes": "RSS of python -m localmesos (master and 2 agents) running one-task noop "
                    f"jobs: growth per 1,000 jobs after the first {BUFFER}, beside the growth "
                    f"per 1,000 while those first {BUFFER} filled the completed-task buffer",
        "peer": {"bytes_per_1000_jobs": filling,
                 "what": f"the same process's growth per 1,000 jobs over its first {BUFFER}"},
        "ratio": ratio(after, filling),
    }
