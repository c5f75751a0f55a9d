"""A real HTTP server on 127.0.0.1 standing in for femto's API: partitions out, outputs in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from femto.jobs.datasets import npy_bytes


class FakeApi:
    """Serves GET .../partitions/I from `partitions`, stores PUT .../outputs/P in `outputs`.

    `credential` makes every call need `Authorization: Bearer CREDENTIAL`; `fail_next` answers that
    many of the next calls with 503 (a restarting server), `reject` answers PUTs with that
    4xx status.
    """

    def __init__(self) -> None:
        self.partitions: dict[str, bytes] = {}
        self.outputs: dict[str, bytes] = {}
        self.credential: str | None = None
        self.fail_next = 0
        self.reject: int | None = None
        self.calls: list[tuple[str, str]] = []
        self.content_types: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_partition(self, name: str, index: int, array: np.ndarray) -> str:
        path = f"/executor/datasets/{name}/partitions/{index}"
        self.partitions[path] = npy_bytes(array)
        return self.url + path

    def output_url(self, job: str, partition: int) -> str:
        return f"{self.url}/executor/jobs/{job}/outputs/{partition}"

    def output(self, job: str, partition: int) -> bytes:
        return self.outputs[f"/executor/jobs/{job}/outputs/{partition}"]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        with self._lock:
            self.calls.append((handler.command, handler.path))
            expected = f"Bearer {self.credential}"
            if self.credential and handler.headers.get("Authorization") != expected:
                return 401, json.dumps({"error": "missing or wrong credential"}).encode()
            if self.fail_next:
                self.fail_next -= 1
                return 503, json.dumps({"error": "store unavailable"}).encode()
            if handler.command == "GET":
                body = self.partitions.get(handler.path)
                if body is None:
                    return 404, json.dumps({"error": f"no partition at {handler.path}"}).encode()
                return 200, body
            length = int(handler.headers.get("Content-Length", "0"))
            payload = handler.rfile.read(length)
            self.content_types.append(handler.headers.get("Content-Type"))
            if self.reject is not None:
                return self.reject, json.dumps(
                    {"error": "output rejected", "details": ["length mismatch"]}
                ).encode()
            self.outputs[handler.path] = payload
            return 204, b""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                status, body = api._answer(self)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    server.start()
    try:
        yield server
    finally:
        server.stop()
