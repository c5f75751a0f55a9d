"""What users and executors read of jobs: from memory while this scheduler runs them, else
from the store (a finished job, or a standby answering for the leader)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from femto.engine import waiting
from femto.engine.core import Core
from femto.engine.views import job_view, task_view
from femto.errors import Forbidden, NotFound
from femto.model import Job, Task, parse_mesos_task_id
from femto.store import Store


class JobReads:
    """The read side of the Engine (framework.engine.shell), which provides these."""

    store: Store
    lock: threading.RLock
    core: Core
    clock: Callable[[], float]

    def _job(self, job_id: str) -> Job | None:
        """The job in memory, else as stored (call with the lock)."""
        active = self.core.active.get(job_id)
        if active is not None:
            return active.job
        doc = self.store.get("jobs", job_id)
        if doc is None:
            return None
        job = Job.from_doc(doc)
        if job.finished is None:
            # Another scheduler runs it (this one stands by): count its tasks now.
            tasks = [Task.from_doc(d) for d in self.store.find("tasks", job_id=job_id)]
            job.counts = dict(Counter(t.state for t in tasks))
            job.attempts = sum(len(t.attempts) for t in tasks)
        return job

    def job(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        """The job's view; `owner` given: only if it is that owner's."""
        with self.lock:
            job = self._job(job_id)
        if job is None or (owner is not None and job.owner != owner):
            raise NotFound(f"job {job_id} not found", [{"loc": "id", "msg": "unknown job"}])
        return job_view(job)

    def list_jobs(
        self, state: str | None = None, owner: str | None = None, *, limit: int = 100,
        before: int | None = None,
    ) -> tuple[list[dict[str, Any]], int, int | None]:
        """One page of the jobs, newest first, without their results (a list of large
        histograms ran to megabytes); how many jobs match in all; and the store position
        the next page starts below (None: this is the last)."""
        equals: dict[str, Any] = {"state": state} if state else {}
        if owner is not None:
            equals["owner"] = owner
        page, following = self.store.find_newest("jobs", limit, before, **equals)
        total = self.store.count("jobs", **equals)
        with self.lock:
            jobs = [(self._job(d["id"]) or Job.from_doc(d)) if d["finished"] is None
                    else Job.from_doc(d) for d in page]
        return [job_view(job, with_result=False) for job in jobs], total, following

    def task_views(self, job_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        if owner is not None:
            self.job(job_id, owner)  # NotFound unless it is the owner's
        with self.lock:
            active = self.core.active.get(job_id)
            now = self.clock()
            if active is not None:
                return [task_view(t, now) for t in active.tasks]
        if self.store.get("jobs", job_id) is None:
            raise NotFound(f"job {job_id} not found", [{"loc": "id", "msg": "unknown job"}])
        docs = self.store.find("tasks", job_id=job_id)
        return [task_view(Task.from_doc(d), now)
                for d in sorted(docs, key=lambda d: d["partition"])]

    def queue(self, job_id: str | None = None, owner: str | None = None
              ) -> list[dict[str, Any]]:
        """The tasks waiting to launch and why each waits (this scheduler's, so the
        leader's), the longest waiting first; `owner` given: only that owner's jobs."""
        if job_id is not None:
            self.job(job_id, owner)  # NotFound unless it exists and is the owner's
        with self.lock:
            found = waiting.waits(self.core, self.clock(), job_id)
            mine = [w for w in found
                    if owner is None or self.core.active[w.job].job.owner == owner]
        return [w.view() for w in mine]

    def check_input(self, task_id: str, dataset: str) -> None:
        """Forbidden unless attempt `task_id` (from its credential) belongs to an unfinished
        job that reads `dataset`. A standby answers too, from the store."""
        parsed = parse_mesos_task_id(task_id)
        with self.lock:
            job = self._job(parsed[0]) if parsed else None
        if job is None or job.finished is not None or dataset not in job.spec["inputs"]:
            raise Forbidden(
                f"attempt {task_id} may not read dataset {dataset!r}: it is not an input of "
                "an unfinished job of that attempt",
                [{"loc": "Authorization", "msg": "not an input of the attempt's job"}])
