"""Admission: a job spec (raw JSON) becomes a typed, validated job spec, or a clear error.

The spec is parsed and validated once, here, into an `Admitted` that carries its operation
object and parsed params; nothing downstream looks the operation up by name or validates
its params again. A spec reloaded from the store is admitted once too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from femto.errors import Invalid
from femto.jobs.limits import Limits
from femto.jobs.operations import Package, package_of
from femto.jobs.operations.base import Operation
from femto.jobs.spec import JobSpec, SpecError, parse_job_spec, spec_fingerprint


@dataclass(frozen=True, slots=True)
class Admitted:
    spec: JobSpec
    document: dict[str, Any]  # the canonical spec, as stored
    fingerprint: str

    @property
    def operation(self) -> Operation[Any]:
        return self.spec.operation_object

    @property
    def package(self) -> Package | None:
        """Where this scheduler has the operation from (the task payload names it)."""
        return package_of(self.spec.operation)

    @property
    def params(self) -> BaseModel:
        return self.spec.parsed_params()

    @property
    def is_transform(self) -> bool:
        return self.operation.kind == "transform"

    def left_context(self) -> int:
        """How many trailing elements of the preceding partitions each task reads."""
        return self.operation.left_context(self.params)


def _admitted(spec: JobSpec) -> Admitted:
    return Admitted(spec, spec.model_dump(mode="json"), spec_fingerprint(spec))


def admit(body: Any, limits: Limits) -> Admitted:
    """A submitted spec, within this scheduler's limits; Invalid naming every bad field."""
    try:
        return _admitted(parse_job_spec(body, limits))
    except SpecError as exc:
        raise Invalid("invalid job spec", exc.errors) from exc


def readmit(document: dict[str, Any]) -> Admitted:
    """A spec the store holds (admitted before, perhaps under other limits or by an older
    femto); SpecError if this femto can no longer run it."""
    return _admitted(parse_job_spec(document))


def check_inputs(admitted: Admitted, inputs: list[dict[str, Any]]) -> None:
    """Invalid unless the operation can process these input datasets (dtypes, shapes,
    partitioning)."""
    try:
        admitted.operation.check_inputs(
            admitted.params,
            [d["dtype"] for d in inputs],
            [tuple(d["shape"]) for d in inputs],
            [[p["length"] for p in d["partitions"]] for d in inputs],
        )
    except ValueError as exc:
        raise Invalid(str(exc), [{"loc": "inputs", "msg": str(exc)}]) from exc
