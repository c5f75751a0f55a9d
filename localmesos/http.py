"""The HTTP endpoints: the master's scheduler API and state, each agent's executor API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from localmesos import validation
from localmesos.agent import Agent
from localmesos.files import files_routes
from localmesos.master import Master
from localmesos.protocol import CallRejected
from localmesos.state_endpoint import agent_state, master_state
from localmesos.streams import EventStream

log = logging.getLogger(__name__)

# The API endpoints take every method so that a wrong one gets Mesos' own 405.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        # The caller hung up mid-request (e.g. a scheduler stopping): the call never was.
        raise CallRejected(400, "the client disconnected before its call was read") from None


async def read_call(request: Request, message: str) -> dict[str, Any]:
    """The request's Call (`message`: "scheduler.Call" or "executor.Call"), converted and
    validated, or CallRejected with the status and text Mesos gives for it."""
    if request.method != "POST":
        raise validation.method_not_allowed(request.method)
    content_type = request.headers.get("content-type")
    call = validation.parse_call(content_type, await read_body(request), message)
    if message == "scheduler.Call":
        validation.validate_scheduler_call(call)
    else:
        validation.validate_executor_call(call)
    # Mesos looks at Accept only for calls answered with a stream.
    if call["type"] == "SUBSCRIBE" and not validation.accepts_json(request.headers.get("accept")):
        raise validation.not_acceptable()
    return call


def stream_response(stream: EventStream, on_close: Callable[[], None]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for record in stream.records():
                yield record
        finally:
            on_close()

    headers = {"Mesos-Stream-Id": stream.id}
    return StreamingResponse(body(), media_type=validation.JSON, headers=headers)


def rejected(exc: CallRejected) -> Response:
    log.debug("call rejected (%d): %s", exc.status, exc.message)
    # RFC 9110 (and libprocess' MethodNotAllowed) name the allowed methods on a 405.
    headers = {"Allow": "POST"} if exc.status == 405 else None
    return PlainTextResponse(exc.message, status_code=exc.status, headers=headers)


def master_app(master: Master) -> Starlette:
    async def scheduler(request: Request) -> Response:
        try:
            call = await read_call(request, "scheduler.Call")
            stream_id = request.headers.get("mesos-stream-id")
            if call["type"] == "SUBSCRIBE":
                if stream_id is not None:
                    raise CallRejected(
                        400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"
                    )
                stream, framework_id = master.subscribe(call)
                return stream_response(stream, _closer(master, stream, framework_id))
            master.call(call, stream_id)
        except CallRejected as exc:
            return rejected(exc)
        return Response(status_code=202)

    async def state(request: Request) -> Response:
        return JSONResponse(master_state(master))

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/api/v1/scheduler", scheduler, methods=ANY_METHOD),
            Route("/master/state", state, methods=["GET"]),
            Route("/master/state.json", state, methods=["GET"]),
            Route("/state", state, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/master/health", health, methods=["GET"]),
        ]
    )


def _closer(master: Master, stream: EventStream, framework_id: str | None) -> Callable[[], None]:
    def closed() -> None:
        if framework_id is not None:
            master.stream_closed(framework_id, stream)

    return closed


def agent_app(agent: Agent) -> Starlette:
    async def executor(request: Request) -> Response:
        try:
            call = await read_call(request, "executor.Call")
            stream = agent.executor_call(call)
        except CallRejected as exc:
            return rejected(exc)
        if stream is None:
            return Response(status_code=202)
        framework_id = call["framework_id"]["value"]
        executor_id = call["executor_id"]["value"]
        return stream_response(
            stream, lambda: agent.executor_stream_closed(framework_id, executor_id, stream)
        )

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def state(request: Request) -> Response:
        return JSONResponse(agent_state(agent))

    # The agent's process is slave(N); like libprocess, it also answers without the prefix.
    process = f"/slave({agent.index})"
    return Starlette(
        routes=[
            Route("/api/v1/executor", executor, methods=ANY_METHOD),
            Route("/health", health, methods=["GET"]),
            *(
                Route(prefix + path, state, methods=["GET"])
                for prefix in ("", process)
                for path in ("/state", "/state.json")
            ),
            *files_routes(agent.files),
        ]
    )
