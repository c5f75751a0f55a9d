"""Errors a user can act on; the HTTP API turns each into its status code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class FemtoError(Exception):
    status = 400

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class BadRequest(FemtoError):
    status = 400


class Unauthorized(FemtoError):
    status = 401


class Forbidden(FemtoError):
    status = 403


class NotFound(FemtoError):
    status = 404


class Conflict(FemtoError):
    status = 409


class TooLarge(FemtoError):
    status = 413


class Invalid(FemtoError):
    status = 422


class Unavailable(FemtoError):
    status = 503


def error_details(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """pydantic's (or FastAPI's) validation errors as `details`, each naming its field."""
    return [
        {"loc": ".".join(str(part) for part in err["loc"]), "msg": err["msg"]} for err in errors
    ]
