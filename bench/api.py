"""POST /v1/jobs and GET /v1/jobs/{id} at a fixed request rate against `femto serve`,
beside the same client against a constant-JSON FastAPI app on uvicorn (bench/floor.py).

Open loop: request i is due at start + i/rate whatever happened before, and its
latency runs from when it was due, so a server that falls behind is charged for the
queueing it causes (no coordinated omission).
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.cluster import expect, npy, run_job
from bench.processes import child, free_port, wait_http, wait_leading
from bench.stats import latency_summary, ratio

# Requests/s and the p99 the issue sets, per endpoint.
RATE = {"post_jobs": 200.0, "get_job": 500.0}
TARGET_P99_MS = {"post_jobs": 10.0, "get_job": 5.0}
CLIENT_THREADS = 32
SPEC = {"name": "bench-count", "operation": "count", "inputs": ["one"],
        "resources": {"cpus": 0.01, "mem": 1}}

Call = Callable[[httpx.Client, int], httpx.Response]


def fixed_rate(url: str, call: Call, rate: float, seconds: float) -> dict[str, Any]:
    """Issue int(rate*seconds) calls on schedule from CLIENT_THREADS threads."""
    # Clients are made and connected before the clock starts: making an httpx.Client
    # costs milliseconds (its SSL context), which would be charged to the server.
    idle: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
    clients = [httpx.Client(base_url=url, timeout=30.0) for _ in range(CLIENT_THREADS)]
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def one(index: int, due: float) -> None:
        client = idle.get()
        try:
            response = call(client, index)
            ok = response.status_code < 300
            problem = f"{response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            ok, problem = False, repr(exc)
        finally:
            idle.put(client)
        took = time.perf_counter() - due
        with lock:
            if ok:
                latencies.append(took)
            else:
                failures.append(problem)

    total = int(rate * seconds)
    # The client's own collector must not pause it: a full collection stopped every client
    # thread for ~50 ms, and the requests due meanwhile were charged to the server.
    gc.disable()
    try:
        for client in clients:
            client.get("/health").raise_for_status()
            idle.put(client)
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            start = time.perf_counter()
            for i in range(total):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(one, i, due)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
        for client in clients:
            client.close()
    if failures:
        raise RuntimeError(f"{len(failures)} of {total} requests failed, first: {failures[0]}")
    return {**latency_summary(latencies, elapsed), "offered_rps": rate}


def endpoints(url: str, seconds: float) -> dict[str, Any]:
    """POSTs, then GETs of the jobs just created, each at its RATE."""
    ids: list[str] = []

    def post(client: httpx.Client, index: int) -> httpx.Response:
        response = client.post("/v1/jobs", json=SPEC)
        if response.status_code == 201:
            ids.append(response.json()["id"])
        return response

    def get(client: httpx.Client, index: int) -> httpx.Response:
        return client.get(f"/v1/jobs/{ids[index % len(ids)]}")

    posts = fixed_rate(url, post, RATE["post_jobs"], seconds)
    return {"post_jobs": posts, "get_job": fixed_rate(url, get, RATE["get_job"], seconds)}


@contextmanager
def femto_serve(workdir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "femto-serve.log"
    argv = [sys.executable, "-m", "femto", "serve", "--listen", f"127.0.0.1:{port}",
            "--state-dir", str(workdir / "state")]
    with child(argv, log) as proc:
        wait_leading(url, proc, log)
        for name, partitions in (("one", 1), ("warm", 4)):
            expect(httpx.put(f"{url}/v1/datasets/{name}", params={"partitions": partitions},
                             content=npy(np.arange(4.0))), 201)
        # As in the other benchmarks, a warm-up job starts the executors first: their
        # start-up (two interpreters importing NumPy on two cores) is not API latency.
        # Four tasks, spread over both agents: one task started only one executor, and
        # the first POSTed jobs waited ~350 ms for the other.
        with httpx.Client(base_url=url, timeout=120.0) as client:
            run_job(client, {**SPEC, "name": "bench-warm-up", "inputs": ["warm"]}, 120.0)
        yield url


@contextmanager
def floor_app(workdir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "floor.log"
    argv = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]
    with child(argv, log) as proc:
        wait_http(f"{url}/health", proc, log)
        yield url


def run_api(seconds: float, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    with femto_serve(workdir) as url:
        result = endpoints(url, seconds)
    with floor_app(workdir) as url:
        peer = endpoints(url, seconds)
    return {
        **result, "seconds_per_endpoint": seconds, "client_threads": CLIENT_THREADS,
        "includes": "latency from when each request was due (open loop) to its response; "
                    "femto serve in a subprocess on the embedded cluster, POSTed jobs "
                    "(count over a 1-partition dataset) run while the GETs go on; executors "
                    "started by a warm-up job before",
        "peer": {**peer, "what": "constant JSON from FastAPI on uvicorn (bench/floor.py)"},
        "ratio": {e: ratio(result[e]["p99_ms"], peer[e]["p99_ms"]) for e in result},
        "ratio_of": "p99 latency femto / floor, per endpoint",
        "target": {"p99_ms": TARGET_P99_MS, "rps": RATE,
                   "met": all(result[e]["p99_ms"] <= TARGET_P99_MS[e] for e in result)},
    }
