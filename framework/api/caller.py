"""Who calls a /v1 route: the principal of its bearer token (framework.auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from framework.auth import ANYONE, Principal, Tokens
from framework.errors import Forbidden, Unauthorized

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# Dependencies are async: a sync one costs every request a trip through the thread pool.
async def authorize(request: Request) -> Principal:
    """Who calls: the principal of its token (app.state.tokens), or anyone without tokens."""
    tokens: Tokens | None = request.app.state.tokens
    if tokens is None:
        return ANYONE
    principal = tokens.authenticate(request.headers.get("authorization", ""))
    if principal is None:
        raise Unauthorized("missing or wrong bearer token", [{"loc": "Authorization"}])
    if request.method in WRITES and not principal.may_write:
        raise Forbidden(f"token {principal.name!r} has role {principal.role.value}, which "
                        "changes nothing", [{"loc": "Authorization", "msg": "read only"}])
    return principal


Caller = Annotated[Principal, Depends(authorize)]
