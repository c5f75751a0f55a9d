"""CallClient against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mesosapi.calls import CallClient, CallFailed
from tests.services import free_port


class Recorder(ThreadingHTTPServer):
    def __init__(self, close_after_each: bool) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.close_after_each = close_after_each
        self.requests: list[dict[str, Any]] = []
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the server closes
    server: Recorder

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": body})
        answer = b"bad call" if body.get("type") == "BAD" else b""
        self.send_response(400 if answer else 202)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        if self.server.close_after_each:
            # Closed as an idle keep-alive connection is: no "Connection: close" said.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serving(close_after_each: bool = False) -> Iterator[Recorder]:
    server = Recorder(close_after_each)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[Recorder]:
    yield from serving()


@pytest.fixture
def closing_server() -> Iterator[Recorder]:
    yield from serving(close_after_each=True)


def test_calls_are_json_posts_on_one_kept_alive_connection(server: Recorder) -> None:
    client = CallClient(5.0)
    try:
        for n in range(3):
            assert client.post(f"{server.url}/api/v1/scheduler", {"type": "ACK", "n": n},
                               {"Mesos-Stream-Id": "s1"}) == (202, "")
    finally:
        client.close()
    assert [r["body"]["n"] for r in server.requests] == [0, 1, 2]
    first = server.requests[0]
    assert first["path"] == "/api/v1/scheduler"
    assert first["headers"]["Content-Type"] == "application/json"
    assert first["headers"]["Mesos-Stream-Id"] == "s1"
    assert server.connections == 1


def test_an_error_status_is_answered_not_raised(server: Recorder) -> None:
    client = CallClient(5.0)
    try:
        assert client.post(server.url, {"type": "BAD"}) == (400, "bad call")
    finally:
        client.close()


def test_a_connection_the_server_closed_is_replaced_on_reuse(closing_server: Recorder) -> None:
    client = CallClient(5.0)
    try:
        for n in range(3):
            assert client.post(closing_server.url, {"n": n})[0] == 202
    finally:
        client.close()
    assert [r["body"]["n"] for r in closing_server.requests] == [0, 1, 2]  # each once
    assert closing_server.connections == 3


def test_basic_auth_is_sent(server: Recorder) -> None:
    client = CallClient(5.0, ("femto", "s3cret"))
    try:
        client.post(server.url, {})
    finally:
        client.close()
    token = base64.b64encode(b"femto:s3cret").decode()
    assert server.requests[0]["headers"]["Authorization"] == f"Basic {token}"


def test_an_unreachable_server_raises_call_failed() -> None:
    client = CallClient(5.0)
    with pytest.raises(CallFailed, match="ConnectionRefusedError"):
        client.post(f"http://127.0.0.1:{free_port()}/api/v1/scheduler", {})


def test_a_closed_client_refuses_calls(server: Recorder) -> None:
    client = CallClient(5.0)
    client.post(server.url, {})
    client.close()
    with pytest.raises(CallFailed, match="closed"):
        client.post(server.url, {})
    assert len(server.requests) == 1


def test_calls_from_many_threads_each_arrive_once(server: Recorder) -> None:
    client = CallClient(5.0)
    errors: list[BaseException] = []

    def send(base: int) -> None:
        try:
            for n in range(20):
                assert client.post(server.url, {"n": base + n})[0] == 202
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(100 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert not errors
    assert sorted(r["body"]["n"] for r in server.requests) == sorted(
        100 * t + n for t in range(4) for n in range(20))
    assert server.connections == 4
