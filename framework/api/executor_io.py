"""The routes executors use, apart from the users': an attempt reads its job's inputs and
delivers its output with its own credential (framework.credentials), never a user's token,
and a user's token opens none of them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from femto import credentials
from femto.api.bodies import NPY, read_body
from femto.api.context import Context, CurrentDatasets, CurrentEngine, leader_only
from femto.errors import Unauthorized


async def attempt(request: Request, context: Context) -> str:
    """The task id of the attempt whose credential the request carries."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    task_id = (credentials.verify(context.attempt_key, credential) if scheme == "Bearer"
               else None)
    if task_id is None:
        raise Unauthorized("executor routes need the attempt's credential",
                           [{"loc": "Authorization", "msg": "missing or wrong credential"}])
    return task_id


AttemptId = Annotated[str, Depends(attempt)]

router = APIRouter(prefix="/executor", include_in_schema=False)


@router.get("/datasets/{name}/partitions/{index}")
def partition(
    name: str, index: int, task_id: AttemptId, engine: CurrentEngine, datasets: CurrentDatasets
) -> Response:
    engine.check_input(task_id, name)
    return Response(datasets.partition_npy(name, index), media_type=NPY)


@router.put("/jobs/{job_id}/outputs/{partition}", status_code=201,
            dependencies=[Depends(leader_only)])
async def output(job_id: str, partition: int, request: Request, task_id: AttemptId,
                 context: Context) -> dict[str, Any]:
    body = await read_body(request, context.max_upload)
    return await run_in_threadpool(context.engine.accept_output, task_id, job_id, partition,
                                   body)
