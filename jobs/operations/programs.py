"""What an operation that runs an external program asks of the host that runs it.

The domain stays pure: an operation says which program to run on what input, and what it
makes of the output; the executor (`executor/programs.py`) owns the processes and hands a
`ProgramRunner` to `map`. The errors are part of the contract: the runner raises them, and
the task's failure names them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class CommandError(RuntimeError):
    """The program failed; carries its exit status (None: it never started) and the tail of
    its stderr."""

    def __init__(self, message: str, returncode: int | None, stderr: str) -> None:
        super().__init__(f"{message}: {stderr}" if stderr else message)
        self.returncode = returncode
        self.stderr = stderr


class CommandTimeout(CommandError):
    pass


class CommandCancelled(CommandError):
    pass


@dataclass(frozen=True)
class ProgramOutput:
    stdout: bytes
    stderr: str  # the tail of what the program wrote to its stderr


class ProgramRunner(Protocol):
    def run(self, argv: Sequence[str], stdin: bytes, timeout: float | None) -> ProgramOutput:
        """Run `argv` with `stdin` as its standard input, leaving no process behind; its output
        if it exits with status 0, else CommandError (CommandTimeout after `timeout` seconds,
        CommandCancelled when the task is killed)."""
        ...
