"""The operation interface, and the pieces several operation families share.

A job runs one task per input partition: `map` turns a partition into a
partial result. For a query the partial is a small JSON-serialisable dict and
`reduce` combines the partials (in partition order) into the job's result; for
a transform the partial is the output partition itself. Besides the partition and
its params, `map` gets the task's `Context`: the left tail it declared, a runner for
external programs and a progress callback. This is the API that packages implement
and register under the `femto.operations` entry points (see `registry.py`); femto's
own operations are registered there too, and get nothing more.
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from femto.jobs.operations.programs import ProgramRunner

P = TypeVar("P", bound=BaseModel)

Kind = Literal["query", "transform"]

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]

NUMERIC_KINDS = "biuf"


def _no_progress(fraction: float) -> None:
    """Where nobody follows a task's progress (a test, a benchmark)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a task hands its operation's `map` besides the partition and the params.

    - `left`: the trailing elements of the preceding partitions, as many as
      `left_context(params)` asks (fewer near the array's start; None when it asks
      none or nothing precedes the partition).
    - `programs`: runs external programs, leaving nothing behind (see `ProgramRunner`).
    - `progress`: how much of this partition's computation is done, 0..1; the executor
      sends it to the scheduler (at most twice a second), where the task's `progress`
      shows it. Calling it is optional and cheap.
    """

    left: np.ndarray | None = None
    programs: ProgramRunner | None = None
    progress: Callable[[float], None] = field(default=_no_progress)


class Operation(ABC, Generic[P]):
    name: ClassVar[str]
    kind: ClassVar[Kind]
    arity: ClassVar[int] = 1
    # Whether `map` computes in this interpreter (NumPy) or waits on another process.
    computes_in_process: ClassVar[bool] = True
    # Whether the inputs are read element by element together (`a + b`), so must have one
    # shape and be partitioned alike; `check_inputs` then refuses them otherwise.
    aligned: ClassVar[bool] = False
    Params: type[P]

    def parse_params(self, raw: Mapping[str, Any]) -> P:
        return self.Params.model_validate(raw)

    def left_context(self, params: P) -> int:
        """How many trailing elements of the preceding partitions a task needs."""
        return 0

    def check_inputs(
        self,
        params: P,
        dtypes: list[str],
        shapes: list[tuple[int, ...]],
        partition_lengths: list[list[int]],
    ) -> None:
        """Reject, at submission time, inputs this operation cannot process (ValueError)."""
        if not len(dtypes) == len(shapes) == len(partition_lengths) == self.arity:
            raise ValueError(f"{self.name} takes {self.arity} input(s), got {len(dtypes)}")
        for position, dtype in enumerate(dtypes):
            self.check_dtype(position, _dtype(dtype))
        if self.aligned:
            for shape, lengths in zip(shapes[1:], partition_lengths[1:], strict=True):
                if tuple(shape) != tuple(shapes[0]):
                    raise ValueError(f"{self.name} needs inputs of equal shape, got "
                                     f"{tuple(shapes[0])} and {tuple(shape)}")
                if list(lengths) != list(partition_lengths[0]):
                    raise ValueError(f"{self.name} needs inputs partitioned alike, got "
                                     f"partition lengths {partition_lengths[0]} and {lengths}")

    def check_dtype(self, position: int, dtype: np.dtype) -> None:
        if dtype.kind not in NUMERIC_KINDS:
            raise ValueError(
                f"{self.name} needs numeric input, input {position} has dtype {dtype}"
            )

    @abstractmethod
    def map(self, inputs: list[np.ndarray], params: P, context: Context) -> Any:
        """The partial result of one partition (`inputs` holds one partition of each input
        dataset, `arity` of them)."""


class Query(Operation[P]):
    kind: ClassVar[Kind] = "query"

    @abstractmethod
    def map(self, inputs: list[np.ndarray], params: P, context: Context) -> dict[str, Any]:
        """A small JSON-serialisable partial result (NumPy scalars and arrays in it become
        numbers and lists)."""

    @abstractmethod
    def reduce(self, partials: list[dict[str, Any]], params: P) -> dict[str, Any]:
        """Combine the partials of every partition, given in partition order."""


class Transform(Operation[P]):
    kind: ClassVar[Kind] = "transform"

    @abstractmethod
    def map(self, inputs: list[np.ndarray], params: P, context: Context) -> np.ndarray:
        """The output partition (at least 1-D; its rows are the output dataset's)."""


def _dtype(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError as exc:
        raise ValueError(f"unknown dtype {name!r}") from exc


class Where(BaseModel):
    """Keep the elements x with `min <= x < max`; an absent bound does not filter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Finite | None = None
    max: Finite | None = None

    @model_validator(mode="after")
    def _non_empty_interval(self) -> "Where":
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"where.min must be < where.max, got {self.min} and {self.max}")
        return self

    def mask(self, values: np.ndarray) -> np.ndarray:
        """True where an element is kept (to keep what goes with it: a weight, a row)."""
        keep = np.ones(values.shape, dtype=bool)
        if self.min is not None:
            keep &= values >= self.min
        if self.max is not None:
            keep &= values < self.max
        return keep

    def select(self, values: np.ndarray) -> np.ndarray:
        """The kept elements, flattened."""
        kept: np.ndarray = values[self.mask(values)]
        return kept


def selected(values: np.ndarray, where: Where | None) -> np.ndarray:
    return values.ravel() if where is None else where.select(values)


def exact_total(values: Sequence[float]) -> float:
    """The correctly rounded sum of partition totals.

    math.fsum refuses inf - inf and overflows where IEEE arithmetic gives
    nan or inf; those cases fall back to NumPy so the result is NumPy's.
    """
    try:
        return math.fsum(values)
    except (ValueError, OverflowError):
        with np.errstate(invalid="ignore", over="ignore"):
            return float(np.sum(np.asarray(values, dtype=np.float64)))
