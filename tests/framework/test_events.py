"""GET /v1/events: what a client following jobs sees, on a live scheduler, and the rules
of the event window and of the stream's framing without one."""

from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from femto.engine.views import task_event
from femto.eventlog import EventLog
from femto.events import JobEvent, ProgressEvent, Received, ResetEvent, TaskEvent, read_stream
from femto.lifecycle import TaskState
from femto.model import Attempt, Task
from tests.framework.helpers import running_service, submit, upload, wait_done


class Follower:
    """A client reading the stream on its own thread, as `femto submit --wait` does."""

    def __init__(self, url: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(30.0, read=None))
        self.thread = threading.Thread(target=self._read, args=(params, headers), daemon=True)
        self.thread.start()
        assert self.status.get(timeout=30) == 200

    def _read(self, params: dict[str, str] | None, headers: dict[str, str] | None) -> None:
        try:
            with self.client.stream("GET", "/v1/events", params=params,
                                    headers=headers) as response:
                self.status.put(response.status_code)
                for received in read_stream(response.iter_lines()):
                    self.received.put(received)
        except httpx.HTTPError:
            pass  # closed by the test or by the scheduler stopping

    def until(self, done: Any, timeout: float = 60.0) -> list[Received]:
        """Everything received up to and including the first event `done` accepts."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"not seen after {timeout}s; got {got}")
            try:
                got.append(self.received.get(timeout=remaining))
            except queue.Empty:
                continue
            if done(got[-1].event):
                return got

    def close(self) -> None:
        self.client.close()
        self.thread.join(timeout=10)


@contextmanager
def following(url: str, **kwargs: Any) -> Iterator[Follower]:
    follower = Follower(url, **kwargs)
    try:
        yield follower
    finally:
        follower.close()


def finished(job_id: str) -> Any:
    return lambda e: isinstance(e, JobEvent) and e.job == job_id and e.state == "FINISHED"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, httpx.Client]]:
    with running_service(tmp_path_factory.mktemp("events")) as (service, api):
        upload(api, "x", np.arange(1000.0), 4)
        yield service, api


def test_a_follower_sees_its_job_start_and_finish_and_each_task_do_so(live: Any) -> None:
    service, api = live
    with following(service.url) as follower:
        job = submit(api, {"name": "sum", "operation": "sum", "inputs": ["x"]})
        got = follower.until(finished(job["id"]))
    jobs = [r.event for r in got if isinstance(r.event, JobEvent)]
    assert jobs[0].state == "PENDING" and jobs[0].tasks["total"] == 4
    assert "RUNNING" in [j.state for j in jobs]
    assert jobs[-1].tasks["finished"] == 4 and jobs[-1].finished is not None
    tasks = [r.event for r in got if isinstance(r.event, TaskEvent)]
    last = {t.partition: t for t in tasks}
    assert sorted(last) == [0, 1, 2, 3]
    assert all(t.state == "FINISHED" and t.attempt == 1 and t.host for t in last.values())
    assert {t.state for t in tasks} >= {"PENDING", "FINISHED"}
    # Ids name one term and count up without repeating.
    epochs = {r.id.rsplit("-", 1)[0] for r in got if r.id}
    numbers = [int(r.id.rsplit("-", 1)[1]) for r in got if r.id]
    assert len(epochs) == 1 and numbers == sorted(set(numbers))


def test_a_job_event_carries_its_counts_as_each_task_ends(live: Any) -> None:
    service, api = live
    # Partition 0 ends at once, partition 1 a few seconds later: in between, a follower
    # (the dashboard's job list) must see the job one task further on.
    upload(api, "naps", np.array([0.0, 3.0]), 2)
    program = ("import io, sys, time, numpy as np; "
               "a = np.load(io.BytesIO(sys.stdin.buffer.read())); "
               "time.sleep(float(a[0])); out = io.BytesIO(); np.save(out, a); "
               "sys.stdout.buffer.write(out.getvalue())")
    with following(service.url) as follower:
        job = submit(api, {"name": "naps", "operation": "command", "inputs": ["naps"],
                           "params": {"argv": [sys.executable, "-c", program]},
                           "max_retries": 0})
        got = follower.until(lambda e: isinstance(e, JobEvent) and e.job == job["id"]
                             and e.tasks["finished"] == 1, timeout=60)
    halfway = got[-1].event
    assert isinstance(halfway, JobEvent) and halfway.state == "RUNNING"
    assert halfway.tasks["running"] + halfway.tasks["pending"] == 1
    wait_done(api, job["id"])


def test_last_event_id_resumes_without_a_gap(live: Any) -> None:
    service, api = live
    with following(service.url) as first:
        job = submit(api, {"name": "mean", "operation": "mean", "inputs": ["x"]})
        seen = first.until(finished(job["id"]))
    assert len(seen) >= 3
    # Reconnect as a client that saw only the first event: the rest comes again, in order.
    with following(service.url, headers={"Last-Event-ID": seen[0].id or ""}) as again:
        replay = again.until(finished(job["id"]), timeout=10)
    assert [r.id for r in replay] == [r.id for r in seen[1:]]
    assert [r.event for r in replay] == [r.event for r in seen[1:]]


def test_an_id_that_cannot_be_resumed_from_gets_a_reset_first(live: Any) -> None:
    service, _ = live
    for stale in ("00000000-3", "garbage"):
        with following(service.url, headers={"Last-Event-ID": stale}) as follower:
            first = follower.until(lambda e: True, timeout=10)[0]
        assert isinstance(first.event, ResetEvent) and "re-read" in first.event.reason


def test_a_job_filter_shows_that_job_alone(live: Any) -> None:
    service, api = live
    with following(service.url) as everything:
        other = submit(api, {"name": "max", "operation": "max", "inputs": ["x"]})
        everything.until(lambda e: isinstance(e, JobEvent) and e.job == other["id"])
        # The client names the job, so it can follow it from before it exists.
        job_id = str(uuid.uuid4())
        with following(service.url, params={"job": job_id}) as only:
            submit(api, {"id": job_id, "name": "min", "operation": "min", "inputs": ["x"]})
            got = only.until(finished(job_id))
    assert {r.event.job for r in got if not isinstance(r.event, ResetEvent)} == {job_id}
    wait_done(api, other["id"])


def test_each_token_follows_only_the_jobs_it_may_see(tmp_path: Path) -> None:
    tokens = {"alice": "a" * 20, "bob": "b" * 20, "auditor": "c" * 20}
    token_file = tmp_path / "tokens"
    token_file.write_text("alice submit aaaaaaaaaaaaaaaaaaaa\nbob submit bbbbbbbbbbbbbbbbbbbb\n"
                          "auditor read cccccccccccccccccccc\n")
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with running_service(tmp_path / "state", token_file=token_file) as (service, api):
        assert api.get("/v1/events").status_code == 401
        api.headers.update(auth["alice"])
        upload(api, "x", np.arange(10.0), 2)
        with following(service.url, headers=auth["bob"]) as bob, \
                following(service.url, headers=auth["auditor"]) as auditor:
            theirs = submit(api, {"name": "sum", "operation": "sum", "inputs": ["x"]})
            auditor.until(finished(theirs["id"]))
            api.headers.update(auth["bob"])
            mine = submit(api, {"name": "sum", "operation": "sum", "inputs": ["x"]})
            got = bob.until(finished(mine["id"]))
        assert {r.event.job for r in got} == {mine["id"]}  # none of alice's
        # Nor does he see one of hers by naming it: the stream stays as if it did not exist.
        hers = str(uuid.uuid4())
        with following(service.url, params={"job": hers}, headers=auth["bob"]) as peek, \
                following(service.url, params={"job": hers}, headers=auth["auditor"]) as seen:
            api.headers.update(auth["alice"])
            submit(api, {"id": hers, "name": "sum", "operation": "sum", "inputs": ["x"]})
            seen.until(finished(hers))
            time.sleep(1.0)  # what the auditor got, bob would have got by now
        assert peek.received.empty()


def test_a_stopping_scheduler_ends_open_streams(tmp_path: Path) -> None:
    with running_service(tmp_path) as (service, _):
        follower = Follower(service.url)
    follower.thread.join(timeout=10)  # stop() returned, and the stream has ended
    assert not follower.thread.is_alive()
    follower.close()


# ----- the window, without a scheduler ---------------------------------------------


def job_event(job: str, state: str = "RUNNING") -> tuple[JobEvent, str, None]:
    return JobEvent(job=job, state=state, tasks={"total": 1}, attempts=0), job, None


def test_the_window_resumes_what_it_holds_and_refuses_what_it_lost() -> None:
    log = EventLog(window=3)
    log.publish([job_event(f"j{i}") for i in range(5)])  # seqs 1..5; 3..5 kept
    assert [e.seq for e in log.after(log.resume_point(f"{log.epoch}-2") or 0)] == [3, 4, 5]
    assert log.resume_point(f"{log.epoch}-1") is None  # 2 fell out: a gap
    assert log.resume_point(f"{log.epoch}-9") is None  # from the future
    assert log.resume_point(None) == 5  # a new client starts from now
    assert log.missed(1) and not log.missed(2)
    epoch = log.epoch
    log.new_term()
    assert log.epoch != epoch and log.resume_point(f"{epoch}-5") is None


def test_a_task_event_reads_back_as_the_task_was_when_it_changed() -> None:
    # Kept as the task's values, made into the event when read: it must say what the
    # task was at the change, with every field of a TaskEvent.
    retrying = Task(job_id="j", partition=3, waiting_since=0.0, not_before=12.0)
    retrying.attempts = (Attempt(n=2, agent_id="a1", host="h1", launched=1.0,
                                 state="TASK_FAILED", message="boom", fault="work"),)
    queued = Task(job_id="j", partition=4, waiting_since=0.0, not_before=5.0)
    log = EventLog()
    log.publish([(task_event(retrying, 10.0), "j", None), (task_event(queued, 10.0), "j", None)])
    retrying.state, retrying.attempts[0].state = TaskState.LAUNCHING, "TASK_STAGING"
    first, second = log.after(0)
    assert (first.type, second.type) == ("task", "task")
    assert json.loads(first.json) == {
        "type": "task", "job": "j", "partition": 3, "state": "PENDING", "attempt": 2,
        "host": "h1", "mesos_state": "TASK_FAILED", "message": "boom", "fault": "work",
        "not_before": "1970-01-01T00:00:12.000Z"}
    assert first.event == TaskEvent.model_validate_json(first.json)
    assert second.event == TaskEvent(job="j", partition=4, state="PENDING", attempt=0)


def test_a_waiting_reader_wakes_on_a_publish_from_another_thread() -> None:
    log = EventLog()

    async def wait() -> float:
        start = time.monotonic()
        threading.Timer(0.05, log.publish, args=([job_event("j")],)).start()
        await log.wait(0, timeout=30)
        return time.monotonic() - start

    assert asyncio.run(wait()) < 20  # woken by the publish, long before the timeout


def test_the_stream_reader_skips_comments_and_kinds_it_does_not_know() -> None:
    lines = [": ping", "", "event: wobble", "data: {}", "", "id: e-1", "event: progress",
             'data: {"job": "j", "partition": 2, "attempt": 1, "progress": 0.5}', ""]
    assert list(read_stream(lines)) == [
        Received("e-1", ProgressEvent(job="j", partition=2, attempt=1, progress=0.5))]
