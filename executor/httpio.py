"""HTTP calls to femto's API for partitions and outputs, with retries on transient failures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

# Waits between rounds of attempts: long enough to ride out a scheduler restart
# or a leader failover (a ZooKeeper session timeout plus a little), ~30 s in all.
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0)
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class TransferError(Exception):
    """An HTTP transfer failed for good: femto's API refused it (a 4xx answer)."""


class Unreachable(TransferError):
    """No femto scheduler answered (connection errors, 5xx) before retries ran out."""


class Cancelled(Exception):
    """The task was cancelled while waiting to retry a transfer."""


def new_client() -> httpx.Client:
    # Standby schedulers answer writes with 307 to the leader.
    return httpx.Client(timeout=TIMEOUT, follow_redirects=True)


@dataclass(frozen=True)
class Api:
    """How one task reaches femto's API: the client, its attempt's credential, other schedulers
    to try when the one named in a URL does not answer, and the task's cancel flag."""

    client: httpx.Client
    credential: str | None
    cancel: threading.Event
    mirrors: Sequence[str] = ()


def candidates(url: str, mirrors: Sequence[str]) -> list[str]:
    """`url`, then the same path on each mirror (another scheduler's base URL)."""
    parsed = httpx.URL(url)
    path = parsed.raw_path.decode()
    return [url, *(m.rstrip("/") + path for m in mirrors if not url.startswith(m))]


def _server_message(response: httpx.Response) -> str:
    # femto's API answers errors as {"error": "...", "details": [...]}; anything else as text.
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "error" in body:
        details = body.get("details")
        return f"{body['error']} {details}" if details else str(body["error"])
    return response.text[:500]


def request(
    api: Api,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    """Send one request to `url` or, when it does not answer, to a mirror; retry
    connection errors and 5xx with backoff, fail at once on a 4xx."""
    headers = {}
    if api.credential:
        headers["Authorization"] = f"Bearer {api.credential}"
    if content_type:
        headers["Content-Type"] = content_type
    last = ""
    targets = candidates(url, api.mirrors)
    for delay in (*BACKOFF_SECONDS, None):
        for target in targets:
            try:
                response = api.client.request(method, target, content=content, headers=headers)
            except httpx.TransportError as exc:
                last = f"{target}: {type(exc).__name__}: {exc}"
                continue
            if response.status_code < 400:
                return response
            message = f"{response.status_code} {_server_message(response)}"
            if response.status_code < 500:
                raise TransferError(f"{method} {target}: {message}")
            last = f"{target}: {message}"
        if delay is None:
            break
        log.debug("%s %s failed (%s); retrying in %.1fs", method, url, last, delay)
        if api.cancel.wait(delay):
            raise Cancelled(f"{method} {url} cancelled")
    raise Unreachable(
        f"{method} {url}: no scheduler answered in {len(BACKOFF_SECONDS) + 1} rounds: {last}"
    )
