"""Request bodies: read within a size limit, and JSON parsed strictly (no duplicate keys,
bounded nesting), each fault an error naming it."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from femto.errors import BadRequest, Invalid, TooLarge

MAX_SPEC_BYTES = 1 << 20
NPY = "application/octet-stream"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body of {declared} bytes is over the limit of {limit}", [{"loc": "body"}])
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is over the limit of {limit} bytes", [{"loc": "body"}])
        chunks.append(chunk)
    return b"".join(chunks)


MAX_JSON_DEPTH = 32  # a job spec or dataset registration needs 5; deeper is an attack


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all distinct: with duplicates, which one "wins" is a guess."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BadRequest(f"malformed JSON: duplicate key {key!r}",
                             [{"loc": "body", "msg": f"duplicate key {key!r}"}])
        obj[key] = value
    return obj


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (the value may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1)
                         for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(body: bytes) -> Any:
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", [{"loc": "body", "msg": str(exc)}]) from exc
    except RecursionError:
        value = None  # nested past the interpreter's limit: certainly past ours
    else:
        if _depth(value) <= MAX_JSON_DEPTH:
            return value
    raise Invalid(f"JSON is nested deeper than the limit of {MAX_JSON_DEPTH}",
                  [{"loc": "body", "msg": f"nesting depth over {MAX_JSON_DEPTH}"}])



def json_body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that parses its JSON body itself (parse_json, then a
    model): the model's schema, so that clients and fuzzers see what the route reads."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


NPY_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    NPY: {"schema": {"type": "string", "format": "binary"}}}}}
