"""What `GET /v1/operations` and `femto operations` show of each operation: enough to
write a job spec for it (its kind, its inputs, its params' JSON Schema) and to know
which package it comes from."""

from __future__ import annotations

import inspect
from typing import Any

from femto.jobs.operations.registry import Registered, Registry
from femto.jobs.schemas import model_schema


def description(entry: Registered) -> str:
    """The first paragraph of the operation class's own docstring, on one line."""
    doc = type(entry.operation).__doc__
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else ""


def catalogue(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "kind": entry.operation.kind,
            "arity": entry.operation.arity,
            "description": description(entry),
            "package": entry.package.name,
            "version": entry.package.version,
            "params": model_schema(entry.operation.Params),
        }
        for name, entry in sorted(registry.operations.items())
    ]
