"""/v1/datasets/{name}/partitions and /close: appending to a dataset, and ending it
(femto.streams; standing jobs read what is appended)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from femto.api.bodies import NPY_BODY_DOC, read_body
from femto.api.context import Context, CurrentEngine
from femto.api.docs import errors
from femto.api.models import DatasetView
from femto.datasets import Datasets

router = APIRouter(prefix="/datasets")


@router.post("/{name}/partitions", status_code=201, openapi_extra=NPY_BODY_DOC,
             response_model=DatasetView, responses={
                 200: {"model": DatasetView,
                       "description": "A retry with ?index= of an append already stored"},
                 **errors(400, 404, 409, 413, 422)})
async def append_partition(
    name: str, request: Request, response: Response, context: Context,
    index: int | None = Query(None, ge=0, description=(
        "the index the partition must get: a retry of an append already stored is a 200 "
        "that changes nothing, another index a 409")),
) -> dict[str, Any]:
    body = await read_body(request, context.max_upload)
    doc, appended = await run_in_threadpool(context.engine.append_partition, name, body,
                                            index)
    if not appended:
        response.status_code = 200
    return Datasets.view(doc)


@router.post("/{name}/close", response_model=DatasetView, responses=errors(404, 409))
def close_dataset(name: str, engine: CurrentEngine) -> dict[str, Any]:
    return Datasets.view(engine.close_dataset(name))
