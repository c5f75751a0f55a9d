"""The opaque cursor of GET /v1/jobs and /v1/workflows: a store position a client hands back
unread, and the pages that carry it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from femto.errors import Invalid

_PREFIX = "p1:"  # a later femto may page otherwise and must tell its cursors apart


def encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{position}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    """The position a cursor of `encode` names; Invalid for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(_PREFIX)
    # Positions are 64-bit signed in both stores: a bigger number is no cursor of ours.
    if not (text.startswith(_PREFIX) and number.isascii() and number.isdigit()
            and int(number) < 1 << 63):
        raise Invalid(f"cursor {cursor!r} is not one femto gave: take it from the Link header",
                      [{"loc": "cursor", "msg": "unknown cursor"}])
    return int(number)


def page(request: Request, items: list[Any], total: int, following: int | None,
         limit: int) -> JSONResponse:
    """One page of a newest-first list: X-Total-Count, and a Link to the next page."""
    headers = {"X-Total-Count": str(total)}
    if following is not None:
        url = request.url.include_query_params(cursor=encode(following), limit=limit)
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return JSONResponse(items, headers=headers)
