"""WorkerPool: workers start on demand, are reused when idle, and never exceed the limit."""

from __future__ import annotations

import threading

from femto.executor.pool import WorkerPool


def test_idle_workers_are_reused() -> None:
    pool = WorkerPool(limit=4)
    try:
        for _ in range(5):
            done = threading.Event()
            pool.submit(done.set)
            assert done.wait(5)
        assert pool.size == 1
    finally:
        pool.close(5)


def test_jobs_beyond_the_limit_wait_for_a_free_worker() -> None:
    pool = WorkerPool(limit=2)
    release = threading.Event()
    started = threading.Semaphore(0)
    third = threading.Event()

    def blocker() -> None:
        started.release()
        release.wait(10)

    try:
        pool.submit(blocker)
        pool.submit(blocker)
        assert started.acquire(timeout=5) and started.acquire(timeout=5)
        pool.submit(third.set)
        assert not third.wait(0.2)  # both workers are busy
        assert pool.size == 2
        release.set()
        assert third.wait(5)
        assert pool.size == 2
    finally:
        release.set()
        pool.close(5)


def test_a_job_that_raises_does_not_kill_its_worker() -> None:
    pool = WorkerPool(limit=1)
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    try:
        pool.submit(boom)
        pool.submit(done.set)
        assert done.wait(5)
    finally:
        pool.close(5)
