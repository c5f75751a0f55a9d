"""`command`: run an external program on each partition.

The program reads the partition as a .npy file on stdin and writes the output partition as
a .npy file on stdout. This module says what to run and what the output means; the
`ProgramRunner` that `map` is given (the executor's) runs the program.
"""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from femto.jobs.datasets import load_npy, npy_bytes
from femto.jobs.operations.base import Context, Transform
from femto.jobs.operations.programs import CommandError


class CommandParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    argv: list[str] = Field(min_length=1)
    timeout: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)


class Command(Transform[CommandParams]):
    """Runs an external program per partition: `.npy` on its stdin, `.npy` from its stdout."""

    name = "command"
    Params = CommandParams
    computes_in_process = False  # the program runs in its own process

    def check_dtype(self, position: int, dtype: np.dtype) -> None:
        if dtype.hasobject:
            raise ValueError(f"command cannot pass input {position} of dtype {dtype} as .npy")

    def map(
        self, inputs: list[np.ndarray], params: CommandParams, context: Context
    ) -> np.ndarray:
        if context.programs is None:
            raise CommandError("command runs a program, and was given no program runner",
                               None, "")
        output = context.programs.run(params.argv, npy_bytes(inputs[0]), params.timeout)
        try:
            return load_npy(output.stdout)
        except ValueError as exc:
            raise CommandError(
                f"{params.argv[0]!r} wrote no usable .npy to stdout ({exc})", 0, output.stderr
            ) from exc
