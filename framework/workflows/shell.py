"""The workflows' I/O shell: stores each workflow, asks the engine for its step jobs'
states, and carries out what the rules (femto.workflows.rules) decide.

Order of writes, so that a leader killed at any point leaves a workflow its successor can
finish without running a step twice: step jobs are submitted (and datasets deleted,
jobs cancelled) before the workflow document that records it; a successor re-decides
from the jobs themselves, and resubmitting a step's job (its id fixed by the workflow) is
a no-op in the engine."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import Any

from femto.engine import Engine, Halted
from femto.engine.views import iso
from femto.errors import Conflict, FemtoError, Invalid, NotFound, Unavailable
from femto.events import WorkflowEvent
from femto.lifecycle import JobState
from femto.store import KeyConflict
from femto.workflows.rules import (
    JobFact,
    StepRecord,
    StepState,
    Workflow,
    WorkflowState,
    decide,
    step_failed,
)
from femto.workflows.spec import Step, check_data, plan_workflow

log = logging.getLogger(__name__)

COLLECTION = "workflows"
ROUNDS = 4  # decisions in a row at most: a cancel or failed submit asks for one more


class Workflows:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.lock = threading.RLock()
        self.active: dict[str, Workflow] = {}  # unfinished, this leader's
        self._touched: set[str] = set()
        self._touched_lock = threading.Lock()
        engine.on_step_job = self.touch

    # ----- what users call ------------------------------------------------

    def submit(self, body: Any, owner: str | None) -> tuple[dict[str, Any], bool]:
        """Check and store a workflow, then submit the steps it can start with; (view,
        created). Idempotent for a given id, body and owner."""
        plan = plan_workflow(body, self.engine.config.limits, new_id=lambda: str(uuid.uuid4()))
        with self.lock:
            self._check_leading()
            existing = self.store.get(COLLECTION, plan.id)
            if existing is not None:
                if existing["fingerprint"] != plan.fingerprint or existing["owner"] != owner:
                    raise Conflict(f"workflow {plan.id} exists with another spec",
                                   [{"loc": "id", "msg": "taken"}])
                return view(from_doc(existing)), False
            with self.engine.lock:  # the engine's jobs, as its threads change them
                check_data(plan, lambda name: self.store.get("datasets", name),
                           self.engine.core.output_taken)
            wf = Workflow(plan.id, plan.name, owner, plan.document, plan.fingerprint,
                          plan.steps, self.engine.clock())
            try:
                self.store.insert(COLLECTION, wf.id, to_doc(wf))
            except KeyConflict as exc:
                raise Conflict(f"workflow {wf.id} exists", [{"loc": "id"}]) from exc
            self._publish(wf)  # before its step jobs' events, for a follower of the id
            self.active[wf.id] = wf
            self._advance(wf)
            log.info("workflow %s (%s) submitted with %d steps", wf.id, wf.name, len(wf.plan))
            return view(wf), True

    def cancel(self, workflow_id: str, owner: str | None) -> dict[str, Any]:
        with self.lock:
            self._check_leading()
            wf = self.active.get(workflow_id)
            if wf is None or (owner is not None and wf.owner != owner):
                return self.get(workflow_id, owner)  # over already, or not theirs: NotFound
            self._advance(wf, cancel=True)
            return view(wf)

    def get(self, workflow_id: str, owner: str | None = None) -> dict[str, Any]:
        doc = self.store.get(COLLECTION, workflow_id)
        if doc is None or (owner is not None and doc["owner"] != owner):
            raise NotFound(f"workflow {workflow_id} not found",
                           [{"loc": "id", "msg": "unknown workflow"}])
        return view(from_doc(doc))

    def list_workflows(self, state: str | None, owner: str | None, *, limit: int,
             before: int | None) -> tuple[list[dict[str, Any]], int, int | None]:
        """A page, newest first; how many match; where the next page starts (or None)."""
        equals: dict[str, Any] = {"state": state} if state else {}
        if owner is not None:
            equals["owner"] = owner
        page, following = self.store.find_newest(COLLECTION, limit, before, **equals)
        return ([view(from_doc(d)) for d in page], self.store.count(COLLECTION, **equals),
                following)

    # ----- the engine and the leader --------------------------------------

    def touch(self, workflow_id: str) -> None:
        """A step job of this workflow changed (called by the engine, under its lock: so
        only noted here, and decided on the next tick)."""
        with self._touched_lock:
            self._touched.add(workflow_id)

    def tick(self) -> None:
        with self._touched_lock:
            touched, self._touched = self._touched, set()
        with self.lock:
            for workflow_id in touched:
                wf = self.active.get(workflow_id)
                if wf is None:
                    continue
                try:
                    self._advance(wf)
                except (Unavailable, Halted):
                    return  # deposed: the next leader resumes every workflow
                except Exception:
                    # The store failed it midway: decide again next tick (a step recorded
                    # as submitted whose job is not found is submitted again).
                    log.exception("workflow %s: deciding failed; retrying", workflow_id)
                    self.touch(workflow_id)

    def resume(self) -> None:
        """Take every unfinished workflow from the store (a new leader) and re-decide it
        from its step jobs as they are now."""
        with self.lock:
            for state in (WorkflowState.PENDING, WorkflowState.RUNNING):
                for doc in self.store.find(COLLECTION, state=state.value):
                    wf = from_doc(doc)
                    self.active[wf.id] = wf
                    self._advance(wf)
            log.info("resumed %d unfinished workflows", len(self.active))

    def _check_leading(self) -> None:
        if self.engine.halted:
            raise Unavailable("this scheduler is not the leader; retry against the leader")

    # ----- deciding and acting --------------------------------------------

    def _advance(self, wf: Workflow, *, cancel: bool = False) -> None:
        before = to_doc(wf)
        for _ in range(ROUNDS):
            now = self.engine.clock()
            decision = decide(wf, self._facts(wf), now, cancel=cancel)
            cancel = False
            for job_id in decision.cancel:
                with contextlib.suppress(NotFound):  # submitted, then lost with its leader
                    self.engine.cancel(job_id)
            failed = False
            for name in decision.submit:
                failed |= not self._submit(wf, wf.plan[name], now)
            for dataset in decision.delete:
                self._delete(wf, dataset)
            if not (decision.cancel or failed):
                break
        if to_doc(wf) != before:
            self.store.put(COLLECTION, wf.id, to_doc(wf))
            self._publish(wf)
        if wf.done:
            self.active.pop(wf.id, None)

    def _facts(self, wf: Workflow) -> dict[str, JobFact]:
        facts = {}
        for name, step in wf.plan.items():
            try:
                job = self.engine.job(step.job)
            except NotFound:
                continue
            facts[name] = JobFact(JobState(job["state"]), job["error"])
        return facts

    def _submit(self, wf: Workflow, step: Step, now: float) -> bool:
        try:
            self.engine.submit(step.job_spec, wf.owner, workflow=wf.id, step=step.name)
        except (Invalid, Conflict, NotFound) as exc:
            # Its inputs, made by earlier steps, do not suit it (or a name was taken since).
            log.warning("workflow %s: step %s not submitted: %s", wf.id, step.name, exc.message)
            step_failed(wf, step.name, exc.message, now)
            return False
        return True

    def _delete(self, wf: Workflow, dataset: str) -> None:
        try:
            self.engine.delete_dataset(dataset)
        except NotFound:
            pass  # deleted already (by a leader before this one, or by a user)
        except FemtoError as exc:  # read by some other running job: next time
            log.info("workflow %s: keeping %s for now: %s", wf.id, dataset, exc.message)
            for name, step in wf.plan.items():
                if step.output == dataset:
                    wf.steps[name].deleted = False
        else:
            log.info("workflow %s: deleted intermediate dataset %s", wf.id, dataset)

    def _publish(self, wf: Workflow) -> None:
        shown = view(wf)
        event = WorkflowEvent(workflow=wf.id, state=wf.state.value, error=wf.error,
                              steps={n: {"state": s["state"], "job": s["job"]}
                                     for n, s in shown["steps"].items()})
        self.engine.events.publish([(event, wf.id, wf.owner)])


# ----- documents and views ------------------------------------------------


def view(wf: Workflow) -> dict[str, Any]:
    """The workflow object of the HTTP API contract."""
    return {
        "id": wf.id, "name": wf.name, "state": wf.state.value, "owner": wf.owner,
        "spec": wf.spec,
        "steps": {name: {"state": wf.steps[name].state.value,
                         "job": step.job if wf.steps[name].submitted else None,
                         "output": step.output}
                  for name, step in wf.plan.items()},
        "created": iso(wf.created), "started": iso(wf.started),
        "finished": iso(wf.finished), "error": wf.error,
    }


def to_doc(wf: Workflow) -> dict[str, Any]:
    return {
        "id": wf.id, "name": wf.name, "owner": wf.owner, "spec": wf.spec,
        "fingerprint": wf.fingerprint, "created": wf.created, "state": wf.state.value,
        "started": wf.started, "finished": wf.finished, "error": wf.error,
        "plan": {name: {"job": s.job, "job_spec": s.job_spec, "needs": list(s.needs),
                        "output": s.output, "keep": s.keep} for name, s in wf.plan.items()},
        "steps": {name: {"state": r.state.value, "submitted": r.submitted,
                         "deleted": r.deleted} for name, r in wf.steps.items()},
    }


def from_doc(doc: dict[str, Any]) -> Workflow:
    plan = {name: Step(name, s["job"], s["job_spec"], tuple(s["needs"]), s["output"],
                       s["keep"]) for name, s in doc["plan"].items()}
    steps = {name: StepRecord(StepState(r["state"]), r["submitted"], r["deleted"])
             for name, r in doc["steps"].items()}
    return Workflow(doc["id"], doc["name"], doc["owner"], doc["spec"], doc["fingerprint"],
                    plan, doc["created"], WorkflowState(doc["state"]), steps, doc["started"],
                    doc["finished"], doc["error"])

