"""JSON Schemas of the request bodies, for the OpenAPI document: self-contained (an OpenAPI
document resolves `#/...` against itself, not against the schema a `$ref` sits in), and as
exact as the models allow, so clients and fuzzers send what femto reads."""

from typing import Any

from pydantic import BaseModel

from femto.jobs.datasets import RegisterArray, RegisterDataset
from femto.jobs.operations import get_operation, operation_names
from femto.jobs.spec import JobSpec


def inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with each `#/$defs/NAME` reference replaced by that definition (the models
    are not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: inline(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [inline(value, defs) for value in node]
    return node


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    result: dict[str, Any] = inline(schema, schema.get("$defs", {}))
    return result


def job_spec_schema() -> dict[str, Any]:
    """A JobSpec, one variant per operation: JobSpec's `params` is a free object that the
    named operation's own Params model validates, and `inputs` must match its arity."""
    base = model_schema(JobSpec)
    base["properties"]["id"] = {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}],
                                "default": None}
    variants = []
    for name in operation_names():
        operation = get_operation(name)
        properties = dict(base["properties"])
        properties["operation"] = {"const": name, "type": "string"}
        properties["params"] = model_schema(operation.Params)
        properties["inputs"] = {**properties["inputs"], "minItems": operation.arity,
                                "maxItems": operation.arity}
        if operation.kind == "query":
            properties["output"] = {"type": "null", "default": None}
        if operation.kind == "query" or operation.arity != 1:
            properties["standing"] = {"const": False, "type": "boolean", "default": False}
        variants.append({**base, "title": f"JobSpec ({name})", "properties": properties})
    return {"title": "JobSpec", "oneOf": variants}


def register_dataset_schema() -> dict[str, Any]:
    """Files one per partition, or one array read in place by row ranges."""
    return {"title": "RegisterDataset",
            "anyOf": [model_schema(RegisterDataset), model_schema(RegisterArray)]}
