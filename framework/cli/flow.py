"""Following one workflow through the event stream (GET /v1/events?workflow=ID) until it
ends: its steps' states from `workflow` events, and the progress of its steps' jobs from
their job, task and progress events, which the same filter sends."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from femto.cli.follow import DONE, JobProgress, track
from femto.cli.render import steps_summary
from femto.client import Client
from femto.events import Event, JobEvent, ProgressEvent, TaskEvent, WorkflowEvent

UNSUBMITTED = frozenset({"WAITING", "SKIPPED"})


@dataclass
class WorkflowProgress:
    workflow: dict[str, Any]
    jobs: dict[str, JobProgress] = field(default_factory=dict)  # by the step job's id
    watched_since: float = field(default_factory=time.time)

    @classmethod
    def load(cls, client: Client, workflow_id: str) -> WorkflowProgress:
        progress = cls(client.json("GET", f"/v1/workflows/{workflow_id}"))
        for step in progress.workflow["steps"].values():
            if step["job"] and step["state"] not in UNSUBMITTED | DONE:
                progress.jobs[step["job"]] = JobProgress.load(client, step["job"])
        return progress

    @property
    def done(self) -> bool:
        return self.workflow["state"] in DONE

    def headline(self) -> str:
        error = f" ({self.workflow['error']})" if self.workflow.get("error") else ""
        return f"workflow {self.workflow['state']}{error}: " \
               f"{steps_summary(self.workflow['steps'])}"

    def step_of(self, job_id: str) -> str | None:
        for name, step in self.workflow["steps"].items():
            if step["job"] == job_id:
                return name
        return None

    def job(self, step: str) -> JobProgress | None:
        job_id = self.workflow["steps"][step]["job"]
        return self.jobs.get(job_id) if job_id else None

    def apply(self, event: Event) -> str | None:
        """Take in one event; a line saying what changed state, if something did: the
        workflow, a step, or a task of a step's job."""
        if isinstance(event, WorkflowEvent):
            if event.workflow != self.workflow["id"]:
                return None
            before = self.workflow["steps"]
            steps = {name: {**before.get(name, {}), **s} for name, s in event.steps.items()}
            changed = event.state != self.workflow["state"]
            self.workflow.update(state=event.state, steps=steps, error=event.error)
            if changed:
                return self.headline()
            moved = [f"step {name} {step['state']}"
                     + (f" (job {step['job']})" if step["job"] and not before.get(name, {})
                        .get("job") else "")
                     for name, step in steps.items()
                     if before.get(name, {}).get("state") != step["state"]]
            return "; ".join(moved) or None
        if isinstance(event, JobEvent | TaskEvent | ProgressEvent):
            job = self.jobs.get(event.job)
            if job is None:  # the step's first event: its job was submitted since the load
                job = self.jobs[event.job] = JobProgress(
                    {"id": event.job, "state": "PENDING", "tasks": {"total": 0},
                     "error": None, "started": None})
            line = job.apply(event)
            step = self.step_of(event.job)
            # A step's own state comes with the workflow's events: of its job's, only the
            # tasks' are told, once the workflow has said which step the job runs (its
            # first tasks' events come before that).
            if isinstance(event, TaskEvent) and line is not None and step is not None:
                return f"step {step}: {line}"
        return None


def follow_workflow(client: Client, workflow_id: str,
                    show: Callable[[WorkflowProgress, str | None], None]) -> WorkflowProgress:
    """Follow the workflow until it ends, calling `show` with what is known and what
    changed: the workflow as read at first (and after a reset), then each change."""
    return track(client, {"workflow": workflow_id},
                 lambda: WorkflowProgress.load(client, workflow_id), show,
                 f"workflow {workflow_id}", f"femto workflow watch {workflow_id}")
