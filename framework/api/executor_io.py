"""The routes executors use, apart from the users': an attempt reads its job's inputs and
delivers its output with its own credential (framework.credentials), never a user's token,
and a user's token opens none of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from framework import credentials
from framework.api.bodies import NPY, read_body
from framework.datasets import Datasets
from framework.engine import Engine
from framework.errors import Unauthorized


async def attempt(request: Request) -> str:
    """The task id of the attempt whose credential the request carries, checked with the
    key in app.state.attempt_key."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    key: bytes = request.app.state.attempt_key
    task_id = credentials.verify(key, credential) if scheme == "Bearer" else None
    if task_id is None:
        raise Unauthorized("executor routes need the attempt's credential",
                           [{"loc": "Authorization", "msg": "missing or wrong credential"}])
    return task_id


AttemptId = Annotated[str, Depends(attempt)]


def executor_router(
    engine: Callable[[], Engine], datasets: Datasets, max_upload: int,
    leader_only: Callable[..., Any],
) -> APIRouter:
    router = APIRouter(prefix="/executor", include_in_schema=False)

    @router.get("/datasets/{name}/partitions/{index}")
    def partition(name: str, index: int, task_id: AttemptId) -> Response:
        engine().check_input(task_id, name)
        return Response(datasets.partition_npy(name, index), media_type=NPY)

    @router.put("/jobs/{job_id}/outputs/{partition}", status_code=201,
                dependencies=[Depends(leader_only)])
    async def output(job_id: str, partition: int, request: Request,
                     task_id: AttemptId) -> dict[str, Any]:
        body = await read_body(request, max_upload)
        return await run_in_threadpool(engine().accept_output, task_id, job_id, partition,
                                       body)

    return router
