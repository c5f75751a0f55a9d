"""/v1/datasets: upload, register, read and delete datasets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from femto.api.bodies import (
    MAX_SPEC_BYTES,
    NPY,
    NPY_BODY_DOC,
    json_body_doc,
    parse_json,
    read_body,
)
from femto.api.context import Context, CurrentDatasets, CurrentEngine
from femto.api.docs import NPY_RESPONSE, errors
from femto.api.models import DatasetView
from femto.datasets import Datasets
from femto.jobs.schemas import register_dataset_schema

router = APIRouter(prefix="/datasets")


@router.put("/{name}", status_code=201, openapi_extra=NPY_BODY_DOC,
            response_model=DatasetView, responses=errors(400, 409, 413))
async def upload_dataset(
    name: str, request: Request, context: Context, partitions: int | None = Query(None, ge=1)
) -> dict[str, Any]:
    body = await read_body(request, context.max_upload)
    doc = await run_in_threadpool(context.datasets.upload, name, body, partitions)
    return Datasets.view(doc)


@router.post("", status_code=201, openapi_extra=json_body_doc(register_dataset_schema()),
             response_model=DatasetView, responses=errors(400, 403, 404, 409, 413))
async def register_dataset(request: Request, datasets: CurrentDatasets) -> dict[str, Any]:
    body = parse_json(await read_body(request, MAX_SPEC_BYTES))
    return Datasets.view(await run_in_threadpool(datasets.register, body))


@router.get("", response_model=list[DatasetView])
def list_datasets(datasets: CurrentDatasets) -> list[dict[str, Any]]:
    return [Datasets.view(d) for d in datasets.all()]


@router.get("/{name}", response_model=DatasetView, responses=errors(404))
def get_dataset(name: str, datasets: CurrentDatasets) -> dict[str, Any]:
    return Datasets.view(datasets.get(name))


@router.get("/{name}/data", response_class=Response,
            responses={**NPY_RESPONSE, **errors(404)})
def dataset_data(name: str, datasets: CurrentDatasets) -> Response:
    return Response(datasets.whole_npy(name), media_type=NPY)


@router.get("/{name}/partitions/{index}", response_class=Response,
            responses={**NPY_RESPONSE, **errors(404)})
def dataset_partition(name: str, index: int, datasets: CurrentDatasets) -> Response:
    return Response(datasets.partition_npy(name, index), media_type=NPY)


@router.delete("/{name}", status_code=204, response_class=Response,
               responses=errors(404, 409))
def delete_dataset(name: str, engine: CurrentEngine) -> Response:
    engine.delete_dataset(name)
    return Response(status_code=204)
