"""The public operation API, and every operation a job spec may name.

An operation is a `Query` (each partition mapped to a small partial, the partials reduced
to the job's result) or a `Transform` (each partition mapped to an output partition, with
the left context it declares). Packages register theirs under the `femto.operations`
entry-point group, as femto's own are (see `registry`)."""

from typing import Any

from femto.jobs.operations.base import Context, Operation, Query, Transform, Where
from femto.jobs.operations.registry import Package, registry

__all__ = [
    "Context",
    "Operation",
    "Package",
    "Query",
    "Transform",
    "UnknownOperation",
    "Where",
    "get_operation",
    "operation_names",
    "package_of",
]


class UnknownOperation(ValueError):
    def __init__(self, name: str) -> None:
        problem = registry().problems.get(name)
        super().__init__(
            problem or f"unknown operation {name!r}; valid operations: "
            f"{', '.join(operation_names())}"
        )
        self.name = name


def operation_names() -> list[str]:
    return registry().names()


def get_operation(name: str) -> Operation[Any]:
    try:
        return registry().operations[name].operation
    except KeyError:
        raise UnknownOperation(name) from None


def package_of(name: str) -> Package | None:
    """The package this environment has operation `name` from."""
    found = registry().operations.get(name)
    return found.package if found is not None else None
