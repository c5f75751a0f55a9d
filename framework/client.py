"""A small client of femto's HTTP API, for the `femto` command."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from femto.events import Received

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list[Any]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def __str__(self) -> str:
        where = ", ".join(
            f"{d.get('loc')}: {d.get('msg')}" if isinstance(d, dict) and d.get("msg")
            else str(d.get("loc") if isinstance(d, dict) else d)
            for d in self.details
        )
        if self.status == 0:  # never reached: there is no answer to name
            return self.message
        if where and where in self.message:  # a 422's message names its fields already
            where = ""
        return f"{self.message} (HTTP {self.status}{'; ' + where if where else ''})"


def api_error(response: httpx.Response) -> ApiError:
    """The API's error body, {"error", "details"}, as an ApiError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ApiError(response.status_code, response.text, [])
    return ApiError(response.status_code, body.get("error", response.text),
                    body.get("details", []))


class Client:
    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or os.environ.get("FEMTO_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("FEMTO_API_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=60.0,
                                 follow_redirects=True)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from exc
        if response.status_code >= 400:
            raise api_error(response)
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it comes (a download, the event stream)."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response)
                yield response
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from exc

    @contextmanager
    def events(self, params: dict[str, Any],
               last_event_id: str | None = None) -> Iterator[Iterator[Received]]:
        """The event stream, subscribed to once this is entered; `last_event_id` resumes it."""
        from femto.events import read_stream  # pydantic: only for commands that follow

        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        with self.stream("GET", "/v1/events", params=params, headers=headers) as response:
            yield read_stream(response.iter_lines())

    def unreachable(self, exc: httpx.HTTPError) -> ApiError:
        return ApiError(0, f"cannot reach femto at {self.url}: {exc}", [])

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def pages(self, path: str, **kwargs: Any) -> Iterator[Any]:
        """Every item of a paginated list, following its `Link: <...>; rel="next"` headers."""
        next_path: str | None = path
        while next_path is not None:
            response = self.call("GET", next_path, **kwargs)
            yield from response.json()
            kwargs.pop("params", None)  # the link carries them
            following = response.links.get("next")
            next_path = following["url"] if following else None

    def task_log(
        self, job_id: str, partition: int, file: str, *, follow: bool = False,
        attempt: int | None = None, poll: float = 0.5,
    ) -> Iterator[dict[str, Any]]:
        """A task's log file from its start, in the API's chunks ({"data", "offset",
        "next_offset", "attempt", "done", ...}) that hold some; with `follow`, until the
        attempt ends.

        Without `attempt`, the latest when the first chunk is read: a retry launched while
        following must not switch files mid-stream.
        """
        offset = 0
        while True:
            params: dict[str, Any] = {"file": file, "offset": offset}
            if attempt is not None:
                params["attempt"] = attempt
            chunk = self.json("GET", f"/v1/jobs/{job_id}/tasks/{partition}/logs", params=params)
            attempt = chunk["attempt"]
            if chunk["data"]:
                yield chunk
            if chunk["next_offset"] > offset:
                offset = chunk["next_offset"]
                continue  # there may be more already
            # `done` was judged before the read: nothing is written after it.
            if not follow or chunk["done"]:
                return
            time.sleep(poll)

    def close(self) -> None:
        self.http.close()
