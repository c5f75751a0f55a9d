"""`stream`: seconds from an append to its output being readable, through a standing
`sliding_mean`, at 10 appends/s of 10^5 float64 each; beside the NumPy work alone (the
sliding mean of one append, given its left tail).

An append's latency runs from just before its POST to the first poll of the output
dataset (GET /v1/datasets/NAME, every POLL_S) that counts its partition: it includes the
upload, the task's queueing, launch and run, the output's upload and its publication, and
up to one poll interval. The appends begin once the stream's empty start has been
processed, which starts the executors. The scheduler, its embedded Mesos and the client share this
process's machine (and the scheduler its GIL with the client)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import numpy as np

from bench.cluster import expect, femto, npy, submit, wait_done
from bench.stats import percentile
from femto.jobs.operations.window import sliding_mean

RATE = 10.0  # appends per second, as the issue fixes it
ROWS = 100_000  # float64 per append
WINDOW = 100
POLL_S = 0.005
WARM = 4
SEED = 16


def numpy_seconds(chunk: np.ndarray, left: np.ndarray, repeats: int = 20) -> float:
    """The median time of the work one task does on one append."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sliding_mean(chunk, WINDOW, left)
        times.append(time.perf_counter() - start)
    return median(times)


class Watcher(threading.Thread):
    """Polls the output dataset, and notes when each of its partitions became readable."""

    def __init__(self, url: str, name: str, expected: int) -> None:
        super().__init__(name="bench-stream-watcher", daemon=True)
        self.url, self.name, self.expected = url, name, expected
        self.readable: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set() and len(self.readable) < self.expected:
                response = client.get(f"/v1/datasets/{self.name}")
                seen = time.perf_counter()
                if response.status_code == 200:
                    count = response.json()["partitions"]
                    self.readable += [seen] * (count - len(self.readable))
                time.sleep(POLL_S)


def run_stream(appends: int, state_dir: Path) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    chunks = [rng.normal(size=ROWS) for _ in range(appends)]
    bodies = [npy(c) for c in chunks]
    with femto(state_dir) as client:
        # An empty start in WARM empty partitions: their tasks start both agents' executors.
        expect(client.put("/v1/datasets/stream", params={"partitions": WARM},
                          content=npy(np.empty(0))), 201)
        job_id = submit(client, {
            "name": "stream", "operation": "sliding_mean", "inputs": ["stream"],
            "output": "stream-out", "params": {"window": WINDOW}, "standing": True})
        # The appends begin once the empty start's outputs are readable: the executors are
        # up, as in a stream that has been running (their start-up is not the stream's).
        watcher = Watcher(str(client.base_url), "stream-out", appends + WARM)
        watcher.start()
        deadline = time.monotonic() + 60
        while len(watcher.readable) < WARM and time.monotonic() < deadline:
            time.sleep(POLL_S)
        sent: list[float] = []
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent.append(time.perf_counter())
            expect(client.post("/v1/datasets/stream/partitions", content=body,
                               params={"index": i + WARM}), 201)
        offered = appends / (time.perf_counter() - start)
        watcher.join(timeout=120)
        watcher.stop.set()
        expect(client.post("/v1/datasets/stream/close"), 200)
        wait_done(client, job_id, timeout=120.0)  # FINISHED, or it raises
        result = np.load(io.BytesIO(client.get("/v1/datasets/stream-out/data").content))
    if len(watcher.readable) != appends + WARM:
        raise RuntimeError(f"{len(watcher.readable)} of {appends + WARM} outputs seen")
    whole = np.concatenate(chunks)
    if not np.allclose(result, sliding_mean(whole, WINDOW), rtol=1e-12, atol=1e-14):
        raise RuntimeError("the stream's output differs from sliding_mean of the whole")
    latencies = [seen - at for seen, at in zip(watcher.readable[WARM:], sent, strict=True)]
    work = numpy_seconds(chunks[-1], chunks[-2][-(WINDOW - 1):])
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return {
        "appends": appends, "rows_per_append": ROWS, "window": WINDOW,
        "rate_per_s": RATE, "offered_per_s": offered, "poll_s": POLL_S,
        "p50_s": p50, "p99_s": p99, "max_s": max(latencies),
        "peer": {"name": "NumPy sliding_mean of one append", "seconds": work}
    }

