"""Element-by-element transforms: `real2bin`, `clip` and `add`."""

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from femto.jobs.operations.base import Context, Finite, Transform

INT64_BOUND = 2.0**63


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Real2Bin(Transform[NoParams]):
    """`numpy.floor(x).astype(int64) % 2`: the parity of each value's floor."""

    name = "real2bin"
    Params = NoParams

    def map(
        self, inputs: list[np.ndarray], params: NoParams, context: Context
    ) -> np.ndarray:
        floors = np.floor(inputs[0])
        # Casting NaN, inf or values beyond int64 gives platform-dependent garbage.
        unrepresentable = ~((floors >= -INT64_BOUND) & (floors < INT64_BOUND))
        if unrepresentable.any():
            first = floors[unrepresentable].flat[0]
            raise ValueError(
                f"real2bin: {int(unrepresentable.sum())} value(s) have no int64 floor "
                f"(NaN, inf or out of range), e.g. {first}"
            )
        result: np.ndarray = floors.astype(np.int64) % 2
        return result


class ClipParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: Finite
    max: Finite

    @model_validator(mode="after")
    def _ordered(self) -> "ClipParams":
        if self.min > self.max:
            raise ValueError(f"min must not exceed max, got min {self.min} and max {self.max}")
        return self


class Clip(Transform[ClipParams]):
    """`numpy.clip(x, min, max)`: outliers pulled in to the bounds, e.g. to clean a
    signal before it is smoothed."""

    name = "clip"
    Params = ClipParams

    def map(
        self, inputs: list[np.ndarray], params: ClipParams, context: Context
    ) -> np.ndarray:
        result: np.ndarray = np.clip(inputs[0], params.min, params.max)
        return result


class Add(Transform[NoParams]):
    """`a + b` of two datasets partitioned alike."""

    name = "add"
    arity = 2
    aligned = True
    Params = NoParams

    def map(
        self, inputs: list[np.ndarray], params: NoParams, context: Context
    ) -> np.ndarray:
        a, b = inputs
        if a.shape != b.shape:
            raise ValueError(f"add: partitions differ in shape, {a.shape} and {b.shape}")
        result: np.ndarray = a + b
        return result
