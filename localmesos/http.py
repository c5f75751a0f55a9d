"""The HTTP endpoints: the master's scheduler API and state, each agent's executor API."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from localmesos.agent import Agent
from localmesos.files import files_routes
from localmesos.master import SCHEDULER_CALLS, Master
from localmesos.protocol import CallRejected
from localmesos.state import master_state
from localmesos.streams import EventStream

log = logging.getLogger(__name__)

JSON = "application/json"


async def read_call(request: Request, known_types: frozenset[str]) -> dict[str, Any]:
    """The request's JSON Call, or CallRejected with the status Mesos gives for it."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise CallRejected(400, "Expecting 'Content-Type' to be present")
    media = content_type.split(";")[0].strip().lower()
    if media != JSON:
        raise CallRejected(
            415, f"Content-Type {media!r} is not supported; localmesos speaks {JSON} only"
        )
    accept = request.headers.get("accept", JSON)
    if not any(
        a.split(";")[0].strip() in (JSON, "*/*", "application/*") for a in accept.split(",")
    ):
        raise CallRejected(406, f"Accept {accept!r} is not supported; use {JSON}")
    try:
        call = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallRejected(400, f"Failed to parse body into JSON: {exc}") from None
    except ClientDisconnect:
        # The caller hung up mid-request (e.g. a scheduler stopping): the call never was.
        raise CallRejected(400, "the client disconnected before its call was read") from None
    if not isinstance(call, dict):
        raise CallRejected(400, "Failed to convert JSON into Call protobuf: not an object")
    if call.get("type") not in known_types:
        raise CallRejected(
            400,
            f"Failed to convert JSON into Call protobuf: unknown call type {call.get('type')!r}",
        )
    return call


def stream_response(stream: EventStream, on_close: Callable[[], None]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for record in stream.records():
                yield record
        finally:
            on_close()

    return StreamingResponse(body(), media_type=JSON, headers={"Mesos-Stream-Id": stream.id})


def rejected(exc: CallRejected) -> Response:
    log.debug("call rejected (%d): %s", exc.status, exc.message)
    return PlainTextResponse(exc.message, status_code=exc.status)


def master_app(master: Master) -> Starlette:
    async def scheduler(request: Request) -> Response:
        try:
            call = await read_call(request, SCHEDULER_CALLS)
            if call["type"] == "SUBSCRIBE":
                stream, framework_id = master.subscribe(call)
                return stream_response(stream, _closer(master, stream, framework_id))
            master.call(call, request.headers.get("mesos-stream-id"))
        except CallRejected as exc:
            return rejected(exc)
        return Response(status_code=202)

    async def state(request: Request) -> Response:
        return JSONResponse(master_state(master))

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/api/v1/scheduler", scheduler, methods=["POST"]),
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
            call = await read_call(request, frozenset({"SUBSCRIBE", "UPDATE", "MESSAGE"}))
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

    return Starlette(
        routes=[
            Route("/api/v1/executor", executor, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            *files_routes(agent.files),
        ]
    )
