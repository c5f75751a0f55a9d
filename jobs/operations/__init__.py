"""The operation registry: every operation a job spec may name."""

from typing import Any

from femto.jobs.operations.aggregates import Count, Max, Mean, Min, Sum
from femto.jobs.operations.base import Operation, Query, Transform
from femto.jobs.operations.command import Command
from femto.jobs.operations.elementwise import Add, Clip, Real2Bin
from femto.jobs.operations.histogram import Histogram
from femto.jobs.operations.noop import Noop
from femto.jobs.operations.window import SlidingMean

__all__ = [
    "Operation",
    "Query",
    "Transform",
    "UnknownOperation",
    "get_operation",
    "operation_names",
]

_REGISTRY: dict[str, Operation[Any]] = {
    op.name: op
    for op in (
        Count(),
        Sum(),
        Mean(),
        Min(),
        Max(),
        Histogram(),
        Noop(),
        Real2Bin(),
        Clip(),
        Add(),
        SlidingMean(),
        Command(),
    )
}


class UnknownOperation(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown operation {name!r}; valid operations: {', '.join(operation_names())}"
        )
        self.name = name


def operation_names() -> list[str]:
    return sorted(_REGISTRY)


def get_operation(name: str) -> Operation[Any]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownOperation(name) from None
