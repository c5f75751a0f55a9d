"""/v1/operations: every operation this scheduler can run, as a job spec names it."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from femto.jobs.catalogue import catalogue
from femto.jobs.operations.registry import registry

router = APIRouter()


class OperationView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["query", "transform"]
    arity: int = Field(description="how many input datasets a job spec names")
    description: str
    package: str = Field(description="the Python distribution that provides it")
    version: str
    params: dict[str, Any] = Field(description="the JSON Schema of the job spec's params")


@router.get("/operations", response_model=list[OperationView])
def operations() -> list[dict[str, Any]]:
    return catalogue(registry())
