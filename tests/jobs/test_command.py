"""The `command` operation as the domain describes it: its params, what it asks the program
runner to run, and what it makes of the program's output. No process runs here: the runner
is a stand-in (the executor's real one is tested in tests/executor/test_programs.py)."""

from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from femto.jobs.datasets import load_npy, npy_bytes
from femto.jobs.operations import Context, Transform, get_operation
from femto.jobs.operations.programs import CommandError, CommandTimeout, ProgramOutput


class Recorder:
    """A ProgramRunner that records what it is asked to run and answers with `answer`."""

    def __init__(self, answer: ProgramOutput | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[list[str], bytes, float | None]] = []

    def run(self, argv: Sequence[str], stdin: bytes, timeout: float | None) -> ProgramOutput:
        self.calls.append((list(argv), stdin, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def command() -> Transform:
    op = get_operation("command")
    assert isinstance(op, Transform)
    return op


def test_the_partition_goes_in_as_npy_and_the_output_comes_back_from_npy() -> None:
    x = np.arange(6.0).reshape(3, 2)
    runner = Recorder(ProgramOutput(npy_bytes(x * 2), ""))
    params = command().parse_params({"argv": ["double", "-v"], "timeout": 2.5})
    np.testing.assert_array_equal(command().map([x], params, Context(programs=runner)), x * 2)
    [(argv, stdin, timeout)] = runner.calls
    assert argv == ["double", "-v"] and timeout == 2.5
    np.testing.assert_array_equal(load_npy(stdin), x)


def test_output_that_is_no_npy_fails_naming_the_program_and_its_stderr() -> None:
    runner = Recorder(ProgramOutput(b"hello", "complaint"))
    params = command().parse_params({"argv": ["prog"]})
    with pytest.raises(CommandError, match=r"'prog' wrote no usable \.npy.*complaint") as caught:
        command().map([np.arange(3.0)], params, Context(programs=runner))
    assert caught.value.returncode == 0


def test_the_runners_failure_is_the_operations() -> None:
    runner = Recorder(CommandTimeout("'prog' timed out after 1.0 s", -15, ""))
    params = command().parse_params({"argv": ["prog"], "timeout": 1.0})
    with pytest.raises(CommandTimeout):
        command().map([np.arange(3.0)], params, Context(programs=runner))


def test_without_a_runner_it_cannot_run() -> None:
    params = command().parse_params({"argv": ["prog"]})
    with pytest.raises(CommandError, match="no program runner"):
        command().map([np.arange(3.0)], params, Context())


@pytest.mark.parametrize(
    "params",
    [{}, {"argv": []}, {"argv": ["p"], "timeout": 0}, {"argv": ["p"], "timeout": "1"},
     {"argv": ["p"], "timeout": float("inf")}, {"argv": ["p"], "shell": True}],
)
def test_params_are_checked(params: dict) -> None:
    with pytest.raises(ValidationError):
        command().parse_params(params)


def test_object_inputs_are_refused_at_submission() -> None:
    op = command()
    params = op.parse_params({"argv": ["p"]})
    op.check_inputs(params, ["float64"], [(3,)], [[3]])
    with pytest.raises(ValueError, match=r"as \.npy"):
        op.check_inputs(params, ["object"], [(3,)], [[3]])
