"""The workflow state machine's decisions, events in and instructions out: no sockets."""

from __future__ import annotations

import uuid

import pytest

from femto.jobs.limits import Limits
from femto.lifecycle import InvalidTransition, JobState
from femto.workflows.rules import (
    Decision,
    JobFact,
    StepState,
    Workflow,
    WorkflowState,
    decide,
    step_failed,
    step_transition,
    workflow_transition,
)
from femto.workflows.spec import plan_workflow

WID = "5f0c1d2e-0000-4000-8000-000000000001"
FINISHED, RUNNING, FAILED = JobFact(JobState.FINISHED), JobFact(JobState.RUNNING), None


def diamond(keep_clean: bool = True) -> Workflow:
    """signal -> clean, signal -> smooth; add(clean, smooth) -> joined; sum(joined)."""
    plan = plan_workflow({"name": "d", "id": WID, "steps": {
        "clean": {"operation": "real2bin", "inputs": ["signal"], "keep": keep_clean},
        "smooth": {"operation": "sliding_mean", "params": {"window": 3},
                   "inputs": ["signal"]},
        "joined": {"operation": "add", "inputs": ["@clean", "@smooth"]},
        "total": {"operation": "sum", "inputs": ["@joined"]},
    }}, Limits(), new_id=lambda: str(uuid.uuid4()))
    return Workflow(plan.id, plan.name, None, plan.document, plan.fingerprint, plan.steps,
                    created=1.0)


def job(wf: Workflow, step: str) -> str:
    return wf.plan[step].job


def test_independent_steps_start_together_and_dependents_wait() -> None:
    wf = diamond()
    decision = decide(wf, {}, now=2.0)
    assert decision == Decision(submit=("clean", "smooth"))
    assert wf.state is WorkflowState.RUNNING and wf.started == 2.0
    assert wf.steps["joined"].state is StepState.WAITING


def test_a_step_is_submitted_once_all_its_inputs_finished() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    assert decide(wf, {"clean": FINISHED, "smooth": RUNNING}, 3.0).submit == ()
    decision = decide(wf, {"clean": FINISHED, "smooth": FINISHED}, 4.0)
    assert decision.submit == ("joined",)
    assert wf.steps["smooth"].state is StepState.FINISHED


def test_the_workflow_finishes_when_every_step_did() -> None:
    wf = diamond()
    every = {s: FINISHED for s in wf.plan}
    decide(wf, {}, 2.0)
    assert decide(wf, every, 9.0) == Decision()
    assert wf.state is WorkflowState.FINISHED and wf.finished == 9.0 and wf.error is None


def test_a_failed_step_fails_the_workflow_skips_dependents_and_cancels_siblings() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    decision = decide(wf, {"clean": JobFact(JobState.FAILED, "partition 0 exited 1"),
                           "smooth": RUNNING}, 3.0)
    assert decision.cancel == (job(wf, "smooth"),) and decision.submit == ()
    assert wf.state is WorkflowState.FAILED
    assert wf.error == "step clean failed: partition 0 exited 1"
    assert wf.steps["joined"].state is wf.steps["total"].state is StepState.SKIPPED


def test_a_user_cancelling_a_step_job_fails_the_workflow() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    decide(wf, {"clean": JobFact(JobState.CANCELLED, "cancelled by user"),
                "smooth": FINISHED}, 3.0)
    assert wf.error == "step clean was cancelled: cancelled by user"


def test_cancel_cancels_live_jobs_and_skips_the_rest() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    decision = decide(wf, {"clean": RUNNING, "smooth": FINISHED}, 3.0, cancel=True)
    assert decision.cancel == (job(wf, "clean"),)
    assert wf.state is WorkflowState.CANCELLED and wf.error == "cancelled by user"
    assert wf.steps["joined"].state is StepState.SKIPPED
    after = decide(wf, {"clean": JobFact(JobState.CANCELLED), "smooth": FINISHED}, 4.0)
    assert after == Decision()
    assert wf.steps["clean"].state is StepState.CANCELLED


def test_cancelling_a_finished_workflow_changes_nothing() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    decide(wf, {s: FINISHED for s in wf.plan}, 3.0)
    assert decide(wf, {s: FINISHED for s in wf.plan}, 4.0, cancel=True) == Decision()
    assert wf.state is WorkflowState.FINISHED


def test_a_new_leader_resubmits_nothing_it_finds_a_job_for() -> None:
    """The old leader submitted clean and smooth but died before storing the workflow."""
    wf = diamond()  # as stored: nothing submitted
    decision = decide(wf, {"clean": FINISHED, "smooth": RUNNING}, 5.0)
    assert decision.submit == ()
    assert wf.steps["clean"].state is StepState.FINISHED and wf.steps["clean"].submitted


def test_a_step_submitted_but_never_stored_is_submitted_again() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)  # clean and smooth PENDING, their jobs not found after
    assert decide(wf, {}, 3.0).submit == ("clean", "smooth")


def test_keep_false_output_goes_once_every_consumer_finished() -> None:
    wf = diamond(keep_clean=False)
    decide(wf, {}, 2.0)
    name = wf.plan["clean"].output
    assert decide(wf, {"clean": FINISHED, "smooth": FINISHED}, 3.0).delete == ()
    decision = decide(wf, {"clean": FINISHED, "smooth": FINISHED, "joined": FINISHED}, 4.0)
    assert decision.delete == (name,)
    again = decide(wf, {"clean": FINISHED, "smooth": FINISHED, "joined": FINISHED}, 5.0)
    assert again.delete == ()


def test_kept_outputs_are_never_deleted() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    assert decide(wf, {s: FINISHED for s in wf.plan}, 3.0).delete == ()


def test_a_step_that_cannot_be_submitted_fails_the_workflow() -> None:
    wf = diamond()
    decide(wf, {}, 2.0)
    step_failed(wf, "clean", "add needs inputs of equal shape", 3.0)
    assert wf.state is WorkflowState.FAILED
    assert wf.error == "step clean failed: add needs inputs of equal shape"
    assert decide(wf, {"smooth": RUNNING}, 4.0).cancel == (job(wf, "smooth"),)


def test_transition_tables_refuse_what_cannot_happen() -> None:
    with pytest.raises(InvalidTransition):
        workflow_transition(WorkflowState.FINISHED, WorkflowState.RUNNING)
    with pytest.raises(InvalidTransition):
        step_transition(StepState.SKIPPED, StepState.PENDING)
    assert step_transition(StepState.WAITING, StepState.FINISHED) is StepState.FINISHED
