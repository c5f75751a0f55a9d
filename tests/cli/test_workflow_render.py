"""A workflow's human output, pure: its steps in the order they run, its final steps, and
the lines a followed workflow prints as its events come."""

from __future__ import annotations

from typing import Any

from femto.cli.flow import WorkflowProgress
from femto.cli.render import final_steps, step_order, workflow_lines, workflows_table
from femto.events import JobEvent, ProgressEvent, TaskEvent, WorkflowEvent

DIAMOND = {"name": "d", "steps": {
    "total": {"operation": "sum", "inputs": ["@joined"]},
    "joined": {"operation": "add", "inputs": ["@smooth", "@parity"], "keep": False},
    "smooth": {"operation": "sliding_mean", "inputs": ["signal"], "params": {"window": 5}},
    "parity": {"operation": "real2bin", "inputs": ["signal"]},
}}


def workflow(state: str = "RUNNING", **steps: tuple[str, str | None]) -> dict[str, Any]:
    return {"id": "w1", "name": "d", "state": state, "owner": None, "spec": DIAMOND,
            "steps": {name: {"state": s, "job": j, "output": None}
                      for name, (s, j) in steps.items()},
            "created": "2026-12-02T06:00:00.000Z", "started": "2026-12-02T06:00:00.500Z",
            "finished": None, "error": None}


def test_steps_come_after_the_steps_they_read_and_the_final_ones_are_unread() -> None:
    assert step_order(DIAMOND) == ["smooth", "parity", "joined", "total"]
    assert final_steps(DIAMOND) == ["total"]
    two_ends = {"steps": {"a": {"inputs": ["x"]}, "b": {"inputs": ["@a"]},
                          "c": {"inputs": ["@a"]}}}
    assert final_steps(two_ends) == ["b", "c"]


def test_a_workflow_shows_its_state_and_a_row_per_step_in_order() -> None:
    shown = workflow("FAILED", total=("SKIPPED", None), joined=("FAILED", "j3"),
                     smooth=("FINISHED", "j1"), parity=("FINISHED", "j2"))
    shown.update(error="step joined failed: partition 0 failed 1 times",
                 finished="2026-12-02T06:00:03.000Z")
    lines = workflow_lines(shown)
    assert lines[:4] == [
        "workflow w1  d",
        "state    FAILED: step joined failed: partition 0 failed 1 times",
        "steps    4: 2 finished, 1 failed, 1 skipped",
        "created  2026-12-02 06:00:00, took 2.5s",
    ]
    assert [line.split()[:3] for line in lines[4:]] == [
        ["STEP", "STATE", "JOB"], ["smooth", "FINISHED", "j1"], ["parity", "FINISHED", "j2"],
        ["joined", "FAILED", "j3"], ["total", "SKIPPED", "-"]]
    assert lines[7].split()[3:] == ["add", "-", "@smooth,", "@parity"]
    assert workflows_table([shown])[1].split() == ["w1", "FAILED", "2/4", "2026-12-02",
                                                   "06:00:00", "d"]


def steps_event(state: str = "RUNNING", **steps: tuple[str, str | None]) -> WorkflowEvent:
    return WorkflowEvent(workflow="w1", state=state,
                         steps={n: {"state": s, "job": j} for n, (s, j) in steps.items()})


def test_a_followed_workflow_tells_each_step_and_its_tasks() -> None:
    p = WorkflowProgress(workflow(smooth=("WAITING", None), parity=("WAITING", None),
                                  joined=("WAITING", None), total=("WAITING", None)))
    assert p.headline() == ("workflow RUNNING: smooth WAITING, parity WAITING, "
                            "joined WAITING, total WAITING")
    # A step job's first task events come before the workflow's event naming its job.
    assert p.apply(TaskEvent(job="j1", partition=0, state="PENDING", attempt=0)) is None
    line = p.apply(steps_event(smooth=("PENDING", "j1"), parity=("WAITING", None),
                               joined=("WAITING", None), total=("WAITING", None)))
    assert line == "step smooth PENDING (job j1)"
    counts = {"total": 2, "pending": 1, "running": 1, "finished": 0, "failed": 0, "killed": 0}
    assert p.apply(JobEvent(job="j1", state="RUNNING", tasks=counts, attempts=1)) is None
    assert p.apply(TaskEvent(job="j1", partition=1, state="RUNNING", attempt=1,
                             host="agent-2")) == \
        "step smooth: task 1 RUNNING (attempt 1 on agent-2)"
    p.apply(ProgressEvent(job="j1", partition=1, attempt=1, progress=0.5))
    step_job = p.job("smooth")
    assert step_job is not None and step_job.fraction == 0.25
    other = WorkflowEvent(workflow="w2", state="FAILED", steps={})
    assert p.apply(other) is None and not p.done  # another workflow's event
    ended = p.apply(steps_event("FINISHED", smooth=("FINISHED", "j1"),
                                parity=("FINISHED", "j2"), joined=("FINISHED", "j3"),
                                total=("FINISHED", "j4")))
    assert ended == ("workflow FINISHED: smooth FINISHED, parity FINISHED, joined FINISHED, "
                     "total FINISHED")
    assert p.done
