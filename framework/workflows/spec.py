"""The workflow spec (POST /v1/workflows) and every check made before anything is stored.

Pure: what exists (datasets, outputs that running jobs will write) comes in as functions,
so the checks are tested without a store. Every problem is reported at once, each naming
"steps.<step>.<field>"."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from femto.engine.admission import Admitted, admit, check_inputs
from femto.errors import Invalid
from femto.jobs.limits import Limits
from femto.jobs.names import NAME_PATTERN
from femto.jobs.operations import UnknownOperation, get_operation

REF = "@"
UNRESOLVED = "unresolved"
MAX_STEPS = 1000  # each step is a job, with a task per partition
SUMMARISED = 5  # problems spelled out in the error message (`details` has them all)
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class Step:
    """One step as the workflow runs it."""

    name: str
    job: str  # the step job's id: uuid5(workflow id, step), the same on every leader
    job_spec: dict[str, Any]  # what is submitted, inputs resolved to dataset names
    needs: tuple[str, ...]  # the steps whose outputs it reads
    output: str | None  # None for a query
    keep: bool


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    document: dict[str, Any]  # the canonical spec, as stored and returned
    fingerprint: str  # of everything but the id: equal for the same body again
    steps: dict[str, Step]
    admitted: dict[str, Admitted]  # each step's job spec, as admission parsed it


def step_job_id(workflow_id: str, step: str) -> str:
    return str(uuid.uuid5(uuid.UUID(workflow_id), step))


def consumers(steps: dict[str, Step], name: str) -> list[str]:
    return [s.name for s in steps.values() if name in s.needs]


class _Errors:
    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, loc: str, msg: str) -> None:
        self.details.append({"loc": loc, "msg": msg})

    def raise_any(self) -> None:
        if self.details:
            told = "; ".join(f"{d['loc']}: {d['msg']}" for d in self.details[:SUMMARISED])
            more = len(self.details) - SUMMARISED
            raise Invalid(f"invalid workflow: {told}" + (f"; and {more} more" if more > 0
                                                         else ""), self.details)


def plan_workflow(
    body: Any, limits: Limits, *, new_id: Callable[[], str]) -> Plan:
    """The plan of a submitted workflow, or Invalid naming every faulty field: its shape,
    its @refs, and each step's job spec (admission, as for POST /v1/jobs)."""
    errors = _Errors()
    if not isinstance(body, dict):
        raise Invalid("invalid workflow: the body must be a JSON object",
                      [{"loc": "(body)", "msg": "not an object"}])
    for key in sorted(set(body) - {"name", "id", "steps"}):
        errors.add(key, "unknown field")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        errors.add("name", f"a name matching {NAME_PATTERN} is required")
    workflow_id = _workflow_id(body.get("id"), errors) or new_id()
    raw = body.get("steps")
    if not isinstance(raw, dict) or not 1 <= len(raw) <= MAX_STEPS:
        errors.add("steps", f"an object of 1 to {MAX_STEPS} steps is required")
        errors.raise_any()
        raise AssertionError("unreachable")
    for step, spec in raw.items():
        if not _NAME.match(step):
            errors.add(f"steps.{step}", f"a step name must match {NAME_PATTERN}")
        if not isinstance(spec, dict):
            errors.add(f"steps.{step}", "a step is a job spec (an object)")
    errors.raise_any()
    wf_name = str(name)
    kinds = {step: _kind(spec.get("operation")) for step, spec in raw.items()}
    outputs = {step: _output(wf_name, workflow_id, step, spec, kinds[step])
               for step, spec in raw.items()}
    needs = {step: _refs(step, spec, kinds, errors) for step, spec in raw.items()}
    _check_cycles(needs, errors)
    steps: dict[str, Step] = {}
    admitted: dict[str, Admitted] = {}
    document: dict[str, Any] = {"name": wf_name, "steps": {}}
    for step, spec in raw.items():
        built = _step(wf_name, workflow_id, step, spec, outputs, limits, errors)
        if built is None:
            continue
        admitted[step], canonical = built
        steps[step] = Step(step, admitted[step].document["id"], admitted[step].document,
                           needs[step], outputs[step], canonical["keep"])
        document["steps"][step] = canonical
    errors.raise_any()
    fingerprint = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return Plan(workflow_id, wf_name, document, fingerprint, steps, admitted)


def _workflow_id(value: Any, errors: _Errors) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        errors.add("id", f"id must be a UUID, got {value!r}")
        return None


def _kind(operation: Any) -> str | None:
    """"transform", "query", or None for what admission will report as unknown."""
    try:
        return get_operation(operation).kind if isinstance(operation, str) else None
    except UnknownOperation:
        return None


def _output(wf_name: str, workflow_id: str, step: str, spec: dict[str, Any],
            kind: str | None) -> str | None:
    if kind != "transform":
        return None
    given = spec.get("output")
    return given if isinstance(given, str) else f"{wf_name}-{step}-{workflow_id[:8]}"


def _refs(step: str, spec: dict[str, Any], kinds: dict[str, str | None],
          errors: _Errors) -> tuple[str, ...]:
    inputs = spec.get("inputs")
    if not isinstance(inputs, list):
        return ()  # admission names it
    found: list[str] = []
    for i, value in enumerate(inputs):
        if not (isinstance(value, str) and value.startswith(REF)):
            continue
        other = value[len(REF):]
        loc = f"steps.{step}.inputs.{i}"
        if other not in kinds:
            errors.add(loc, f"unknown step {other!r}")
        elif other == step:
            errors.add(loc, f"cycle: {step} -> {step}")
        elif kinds[other] == "query":
            errors.add(loc, f"step {other!r} is a query: its result is not a dataset, "
                            "so it cannot be an input")
        elif other not in found:
            found.append(other)
    return tuple(found)


def _check_cycles(needs: dict[str, tuple[str, ...]], errors: _Errors) -> None:
    """Names one cycle through the @refs, if there is any (iterative: a chain of
    thousands of steps is no stack overflow)."""
    on_path, done = 1, 2
    seen: dict[str, int] = {}
    for root in needs:
        if root in seen:
            continue
        path, pending = [root], [iter(needs[root])]
        seen[root] = on_path
        while pending:
            other = next(pending[-1], None)
            if other is None:
                seen[path.pop()] = done
                pending.pop()
            elif seen.get(other) == on_path:
                # Written in data order: each step reads the one before it.
                order = list(reversed([*path[path.index(other):], other]))
                errors.add(f"steps.{order[0]}.inputs", "cycle: " + " -> ".join(order))
                return
            elif other not in seen:
                seen[other] = on_path
                path.append(other)
                pending.append(iter(needs[other]))


def _step(
    wf_name: str, workflow_id: str, step: str, spec: dict[str, Any],
    outputs: dict[str, str | None], limits: Limits, errors: _Errors,
) -> tuple[Admitted, dict[str, Any]] | None:
    """(the job spec to submit, admitted; the step as the canonical spec keeps it)."""
    keep = spec.get("keep", True)
    if not isinstance(keep, bool):
        errors.add(f"steps.{step}.keep", "keep must be true or false")
        return None
    body = {k: v for k, v in spec.items() if k != "keep"}
    if "id" in body:
        errors.add(f"steps.{step}.id", "a step's job id is the workflow's to choose")
        return None
    body.setdefault("name", f"{wf_name}-{step}")
    if outputs[step] is not None and body.get("output") is None:
        body["output"] = outputs[step]  # a bad one given is admission's to report
    inputs = body.get("inputs")
    if isinstance(inputs, list):
        body["inputs"] = [_resolve(v, outputs) for v in inputs]
    body["id"] = step_job_id(workflow_id, step)
    try:
        admitted = admit(body, limits)
    except Invalid as exc:
        for d in exc.details:
            errors.add(f"steps.{step}.{d['loc']}" if d["loc"] else f"steps.{step}", d["msg"])
        return None
    if outputs[step] is None and not keep:
        errors.add(f"steps.{step}.keep", "a query has no output dataset to delete")
        return None
    canonical = {k: v for k, v in admitted.document.items() if k != "id"}
    canonical["inputs"] = list(spec["inputs"])
    canonical["keep"] = keep
    return admitted, canonical


def _resolve(value: Any, outputs: dict[str, str | None]) -> Any:
    if isinstance(value, str) and value.startswith(REF):
        # A ref to no transform is reported as such; admission is not to report it again.
        return outputs.get(value[len(REF):]) or UNRESOLVED
    return value


def check_data(
    plan: Plan, dataset: Callable[[str], dict[str, Any] | None],
    output_taken: Callable[[str], bool],
) -> None:
    """Invalid unless every plain input exists and suits its step, and no output is taken:
    `dataset` gives an existing dataset's document (None: there is none), `output_taken`
    whether a running job will write a dataset of that name."""
    errors = _Errors()
    steps, admitted = plan.steps, plan.admitted
    written: dict[str, str] = {}
    for step in steps.values():
        if step.output is not None:
            if step.output in written:
                errors.add(f"steps.{step.name}.output",
                           f"step {written[step.output]!r} writes {step.output!r} too")
            elif dataset(step.output) is not None or output_taken(step.output):
                errors.add(f"steps.{step.name}.output",
                           f"dataset {step.output!r} exists")
            written[step.output] = step.name
        if not step.keep and not consumers(steps, step.name):
            errors.add(f"steps.{step.name}.keep",
                       "no step reads this output, so keep: false would delete it at once")
    for step in steps.values():
        docs = []
        for i, name in enumerate(step.job_spec["inputs"]):
            if name in written:
                continue
            doc = dataset(name)
            if doc is None:
                errors.add(f"steps.{step.name}.inputs.{i}", f"unknown dataset {name!r}")
            docs.append(doc)
        if len(docs) == len(step.job_spec["inputs"]) and all(d is not None for d in docs):
            try:
                check_inputs(admitted[step.name], [d for d in docs if d])
            except Invalid as exc:
                errors.add(f"steps.{step.name}.inputs", exc.message)
    errors.raise_any()
