"""The operation a task names, from this agent's own environment.

The scheduler and this executor each scan their own `femto.operations` entry points, so an
agent can lack an operation the scheduler accepted a job for. That is the work's fault (an
install to fix, not a machine to replace): the attempt fails, charged like any failure of
the work, with a message naming the package the scheduler has the operation from.
"""

from __future__ import annotations

from typing import Any

from femto.jobs.operations import Operation
from femto.jobs.operations.registry import registry, rescan
from femto.jobs.wire import TaskPayload


class MissingOperation(Exception):
    """This agent has no usable operation of the task's name."""


def find_operation(task: TaskPayload) -> Operation[Any]:
    name = task.operation
    # An executor lives long: a package installed on the agent since it started counts.
    found = registry().operations.get(name) or rescan().operations.get(name)
    if found is not None:
        return found.operation
    problem = registry().problems.get(name)
    if problem is not None:
        raise MissingOperation(f"on this agent, {problem}")
    if task.package is None:
        raise MissingOperation(f"operation {name!r} is not installed on this agent")
    package = task.package
    raise MissingOperation(
        f"operation {name!r} is not installed on this agent: the scheduler has it from "
        f"package {package}; install that on every agent "
        f"(pip install '{package.name}=={package.version}')"
    )
