"""`femto operations`: what a job spec may name on this scheduler, from GET /v1/operations."""

from __future__ import annotations

import argparse
from typing import Any

from femto.cli.commands import connect, emit, emit_json
from femto.cli.render import table


def params_summary(schema: dict[str, Any]) -> str:
    """The params a spec gives, the optional ones marked `?`: `bins, range, where?`."""
    required = set(schema.get("required", []))
    names = list(schema.get("properties", {}))
    return ", ".join(name if name in required else f"{name}?" for name in names) or "-"


def operations_table(operations: list[dict[str, Any]]) -> list[str]:
    return table(["NAME", "KIND", "INPUTS", "PARAMS", "PACKAGE", "DESCRIPTION"], [
        [o["name"], o["kind"], o["arity"], params_summary(o["params"]),
         f"{o['package']} {o['version']}", o["description"]]
        for o in operations])


def operations(args: argparse.Namespace) -> int:
    with connect(args) as client:
        listed = client.json("GET", "/v1/operations")
    if args.json:
        emit_json(listed)
    else:
        emit(operations_table(listed))
    return 0
