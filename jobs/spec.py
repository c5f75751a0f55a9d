"""The job spec: what a user submits, validated down to each operation's params."""

import hashlib
import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from femto.jobs.arrays import MissingExtra, library
from femto.jobs.limits import Limits, check_limit
from femto.jobs.names import Name
from femto.jobs.operations import UnknownOperation, get_operation
from femto.jobs.operations.base import Operation

Positive = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class SpecError(ValueError):
    """A job spec that does not validate; `errors` is a list of {"loc", "msg", "type"}."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{e['loc'] or '(spec)'}: {e['msg']}" for e in errors)
        super().__init__(f"invalid job spec: {summary}")
        self.errors = errors


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpus: Positive = 0.25
    mem: Positive = 64.0

    @field_validator("cpus", "mem")
    @classmethod
    def _bounded(cls, value: float, info: ValidationInfo) -> float:
        check_limit(info, f"task_{info.field_name}", value)
        return value


# Added after specs were first stored, with their defaults (JobSpec._dump leaves them out).
LATER_FIELDS: dict[str, Any] = {"output_format": "npy", "standing": False}


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    name: Name
    operation: str
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[Name]
    output: Name | None = None
    # How a transform's output dataset is stored: .npy partitions, or one HDF5 file
    # (the array at /data) whose row ranges are the partitions.
    output_format: Literal["npy", "hdf5"] = "npy"
    resources: Resources = Field(default_factory=Resources)
    max_retries: int = Field(default=3, strict=True, ge=0, le=100)
    # A transform that stays open over a stream: a task per input partition, appended ones
    # too, until the input is closed (framework.engine.streams).
    standing: bool = Field(default=False, strict=True)
    # Kept from validation, so nothing after it looks the operation up or parses again.
    _operation: Operation[Any] = PrivateAttr()
    _params: BaseModel = PrivateAttr()

    @field_validator("id")
    @classmethod
    def _canonical_uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"id must be a UUID, got {value!r}") from None

    @model_validator(mode="after")
    def _fits_operation(self, info: ValidationInfo) -> "JobSpec":
        """Check operation, params, arity and output against the operation; store params
        in their normalised form so equal specs serialise (and fingerprint) equally."""
        try:
            op = get_operation(self.operation)
        except UnknownOperation as exc:
            raise _errors(("operation",), "unknown_operation", str(exc), self.operation) from None
        try:
            params = op.Params.model_validate(self.params, context=info.context)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                "JobSpec",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(e["type"], e["msg"]),
                        loc=("params", *e["loc"]),
                        input=e["input"],
                    )
                    for e in exc.errors()
                ],
            ) from None
        if len(self.inputs) != op.arity:
            raise _errors(
                ("inputs",),
                "arity",
                f"{op.name} takes {op.arity} input(s), got {len(self.inputs)}",
                self.inputs,
            )
        if op.kind == "query" and self.output is not None:
            raise _errors(
                ("output",),
                "query_output",
                f"{op.name} is a query: its result is not a dataset, so output must be null",
                self.output,
            )
        if self.standing and (op.kind != "transform" or op.arity != 1):
            raise _errors(
                ("standing",),
                "standing_operation",
                f"{op.name} cannot be standing: only a transform of one input runs over a "
                "stream (a query's result needs the whole input)",
                self.standing,
            )
        if self.standing and self.output_format != "npy":
            raise _errors(
                ("output_format",),
                "standing_output_format",
                "a standing job appends .npy partitions to its output as they come: "
                "output_format must be npy",
                self.output_format,
            )
        if self.output_format != "npy":
            _check_output_format(op, self.output_format)
        object.__setattr__(self, "params", params.model_dump(mode="json"))
        self._operation, self._params = op, params
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Fields added since specs were first stored are left out at their defaults: a
        # stored spec keeps its canonical form, and so its fingerprint (a resubmission of
        # it is still the same job).
        document: dict[str, Any] = handler(self)
        for name, default in LATER_FIELDS.items():
            if document.get(name) == default:
                document.pop(name, None)
        return document

    @property
    def operation_object(self) -> Operation[Any]:
        """The operation the spec names, as validation found it."""
        return self._operation

    def parsed_params(self) -> BaseModel:
        """The params as the operation's own Params model, as validation parsed them."""
        return self._params


def _errors(loc: tuple[str, ...], kind: str, message: str, value: Any) -> ValidationError:
    return ValidationError.from_exception_data(
        "JobSpec",
        [InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)],
    )


def parse_job_spec(data: Any, limits: Limits | None = None) -> JobSpec:
    """Validate a decoded JSON job spec, within `limits` if given (at admission);
    SpecError names every faulty field."""
    try:
        return JobSpec.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        raise SpecError(
            [
                {
                    "loc": ".".join(str(part) for part in e["loc"]),
                    "msg": _message(e["type"], e["msg"]),
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
        ) from None


def _check_output_format(op: Operation[Any], fmt: str) -> None:
    if op.kind == "query":
        raise _errors(("output_format",), "query_output",
                      f"{op.name} is a query: it writes no dataset, so it has no output_format",
                      fmt)
    try:
        library(fmt)
    except MissingExtra as exc:
        raise _errors(("output_format",), "missing_extra", str(exc), fmt) from None


def _message(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    return message.removeprefix("Value error, ")


def canonical_json(spec: JobSpec, *, with_id: bool = True) -> str:
    """The spec as compact JSON with sorted keys and every default spelled out."""
    document = spec.model_dump(mode="json", exclude=None if with_id else {"id"})
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def spec_fingerprint(spec: JobSpec) -> str:
    """A stable hash of everything but the id: equal for the same job submitted again."""
    return hashlib.sha256(canonical_json(spec, with_id=False).encode()).hexdigest()
