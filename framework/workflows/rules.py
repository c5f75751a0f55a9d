"""The workflow state machine and its decisions, pure: given a workflow and what its step
jobs are doing, what to do next (submit, cancel, delete) and its new states.

A workflow is re-decided from its step jobs' states whenever one changes, on a user's
DELETE, and by a new leader for every unfinished workflow; a decision depends only on
those states, so deciding twice asks for nothing twice that could hurt (a step job's id is
fixed, and the engine's submit of the same id and spec is a no-op)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from femto.lifecycle import InvalidTransition, JobState
from femto.workflows.spec import Step, consumers


class WorkflowState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepState(StrEnum):
    WAITING = "WAITING"  # inputs not all FINISHED: not submitted
    PENDING = "PENDING"  # from here on, its job's state
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"  # never submitted: an upstream step failed, or the workflow ended


WORKFLOW_TRANSITIONS: dict[WorkflowState, frozenset[WorkflowState]] = {
    WorkflowState.PENDING: frozenset(
        {WorkflowState.RUNNING, WorkflowState.FAILED, WorkflowState.CANCELLED}),
    WorkflowState.RUNNING: frozenset(
        {WorkflowState.FINISHED, WorkflowState.FAILED, WorkflowState.CANCELLED}),
    WorkflowState.FINISHED: frozenset(),
    WorkflowState.FAILED: frozenset(),
    WorkflowState.CANCELLED: frozenset(),
}

_JOB_STATES = frozenset({StepState.PENDING, StepState.RUNNING, StepState.FINISHED,
                         StepState.FAILED, StepState.CANCELLED})

STEP_TRANSITIONS: dict[StepState, frozenset[StepState]] = {
    # A job may be seen first in any state: a new leader finds it where the old one left it.
    StepState.WAITING: _JOB_STATES | {StepState.SKIPPED},
    StepState.PENDING: frozenset({StepState.RUNNING, StepState.FINISHED, StepState.FAILED,
                                  StepState.CANCELLED}),
    StepState.RUNNING: frozenset({StepState.FINISHED, StepState.FAILED, StepState.CANCELLED}),
    StepState.FINISHED: frozenset(),
    StepState.FAILED: frozenset(),
    StepState.CANCELLED: frozenset(),
    StepState.SKIPPED: frozenset(),
}

TERMINAL_WORKFLOW_STATES = frozenset(s for s, n in WORKFLOW_TRANSITIONS.items() if not n)
TERMINAL_STEP_STATES = frozenset(s for s, n in STEP_TRANSITIONS.items() if not n)
LIVE_STEP_STATES = frozenset({StepState.PENDING, StepState.RUNNING})


def workflow_transition(current: WorkflowState, new: WorkflowState) -> WorkflowState:
    if new not in WORKFLOW_TRANSITIONS[current]:
        raise InvalidTransition(f"workflow cannot go from {current} to {new}")
    return new


def step_transition(current: StepState, new: StepState) -> StepState:
    if new is not current and new not in STEP_TRANSITIONS[current]:
        raise InvalidTransition(f"step cannot go from {current} to {new}")
    return new


@dataclass(frozen=True, slots=True)
class JobFact:
    """What a step's job is doing, as the engine or the store knows it."""

    state: JobState
    error: str | None = None


@dataclass(slots=True)
class StepRecord:
    state: StepState = StepState.WAITING
    submitted: bool = False  # its job id is shown from then on
    deleted: bool = False  # its keep:false output is gone


@dataclass(slots=True)
class Workflow:
    id: str
    name: str
    owner: str | None
    spec: dict[str, Any]
    fingerprint: str
    plan: dict[str, Step]
    created: float
    state: WorkflowState = WorkflowState.PENDING
    steps: dict[str, StepRecord] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        for name in self.plan:
            self.steps.setdefault(name, StepRecord())

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_WORKFLOW_STATES


@dataclass(frozen=True, slots=True)
class Decision:
    submit: tuple[str, ...] = ()  # steps whose jobs to submit now
    cancel: tuple[str, ...] = ()  # job ids to cancel
    delete: tuple[str, ...] = ()  # datasets to delete (keep: false, consumers finished)


def decide(wf: Workflow, facts: dict[str, JobFact], now: float, *,
           cancel: bool = False) -> Decision:
    """Bring `wf` up to date with its step jobs (`facts`, by step; a step without one has
    no job yet) and say what to do. `cancel`: the user asked for the workflow to end."""
    for name, fact in facts.items():
        record = wf.steps[name]
        record.submitted = True
        if record.state not in TERMINAL_STEP_STATES:
            record.state = step_transition(record.state, StepState(fact.state.value))
    if not wf.done:
        if cancel:
            _end(wf, WorkflowState.CANCELLED, now, "cancelled by user")
        else:
            failed = next((n for n in wf.plan if wf.steps[n].state in
                           (StepState.FAILED, StepState.CANCELLED)), None)
            if failed is not None:
                seen = facts.get(failed)
                reason = seen.error if seen is not None and seen.error else "no reason given"
                verb = "failed" if wf.steps[failed].state is StepState.FAILED else "was cancelled"
                _end(wf, WorkflowState.FAILED, now, f"step {failed} {verb}: {reason}")
    submit: list[str] = []
    cancels: list[str] = []
    if wf.done:
        # Nothing more is submitted; what runs can no longer serve the workflow's result.
        for name, record in wf.steps.items():
            if record.state is StepState.WAITING:
                record.state = step_transition(record.state, StepState.SKIPPED)
            live = facts.get(name)
            if record.state in LIVE_STEP_STATES or (
                    live is not None and live.state in (JobState.PENDING, JobState.RUNNING)):
                cancels.append(wf.plan[name].job)
    else:
        for name, step in wf.plan.items():
            record = wf.steps[name]
            ready = all(wf.steps[n].state is StepState.FINISHED for n in step.needs)
            # PENDING without a fact: submitted, then lost before its job was stored.
            unsubmitted = record.state is StepState.WAITING or (
                record.state is StepState.PENDING and name not in facts)
            if ready and unsubmitted:
                record.state = step_transition(record.state, StepState.PENDING)
                record.submitted = True
                submit.append(name)
        if submit and wf.state is WorkflowState.PENDING:
            wf.state = workflow_transition(wf.state, WorkflowState.RUNNING)
            wf.started = now
        if all(r.state is StepState.FINISHED for r in wf.steps.values()):
            if wf.state is WorkflowState.PENDING:  # every job finished before it was seen
                wf.state = workflow_transition(wf.state, WorkflowState.RUNNING)
                wf.started = wf.started or now
            _end(wf, WorkflowState.FINISHED, now, None)
    return Decision(tuple(submit), tuple(cancels), tuple(_deletable(wf)))


def _end(wf: Workflow, state: WorkflowState, now: float, error: str | None) -> None:
    wf.state = workflow_transition(wf.state, state)
    wf.finished, wf.error = now, error


def _deletable(wf: Workflow) -> list[str]:
    """keep: false outputs whose every consumer has FINISHED (marked deleted here: the
    shell deletes them before it stores the workflow)."""
    found = []
    for name, step in wf.plan.items():
        record = wf.steps[name]
        if step.keep or step.output is None or record.deleted \
                or record.state is not StepState.FINISHED:
            continue
        readers = consumers(wf.plan, name)
        if readers and all(wf.steps[r].state is StepState.FINISHED for r in readers):
            record.deleted = True
            found.append(step.output)
    return found


def step_failed(wf: Workflow, step: str, reason: str, now: float) -> None:
    """The step's job could not even be submitted (its inputs, made by earlier steps, do
    not suit its operation): the workflow fails as if the job had."""
    wf.steps[step].state = StepState.FAILED
    if not wf.done:
        _end(wf, WorkflowState.FAILED, now, f"step {step} failed: {reason}")
