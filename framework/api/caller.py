"""Who calls a /v1 route: the principal of its bearer token (framework.auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from femto.api.context import WRITES, Context
from femto.auth import ANYONE, Principal
from femto.errors import Forbidden, Unauthorized


async def authorize(request: Request, context: Context) -> Principal:
    """Who calls: the principal of its token, or anyone when the API has no tokens."""
    if context.tokens is None:
        return ANYONE
    principal = context.tokens.authenticate(request.headers.get("authorization", ""))
    if principal is None:
        raise Unauthorized("missing or wrong bearer token", [{"loc": "Authorization"}])
    if request.method in WRITES and not principal.may_write:
        raise Forbidden(f"token {principal.name!r} has role {principal.role.value}, which "
                        "changes nothing", [{"loc": "Authorization", "msg": "read only"}])
    return principal


Caller = Annotated[Principal, Depends(authorize)]
