"""Typed exceptions for the API's error body.

Every answer other than 2xx becomes an :class:`OrganismError` subclass chosen
by its status, carrying what the server said in
``{"error": {"code", "message", "field", "row", "limit"}}``: the stable
``code`` to branch on, the ``field`` (a parameter or a row's column) and the
``row`` (1-based, in a batch) to blame.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotFound",
    "OrganismError",
    "PayloadTooLarge",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "UnsupportedMediaType",
]


class OrganismError(Exception):
    """An error answer of the Organism Trends API (or no answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        row: int | None = None,
        limit: int | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.row = row
        self.limit = limit
        self.retry_after = retry_after
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"{self.status} " if self.status is not None else ""
        code = f"{self.code}: " if self.code else ""
        return f"{where}{status}{code}{self.message}"


class BadRequest(OrganismError):
    """400: a parameter or the body is wrong; ``field`` names the parameter."""


class Unauthorized(OrganismError):
    """401: no key, or an unknown or revoked one (``ORGANISM_API_KEY``)."""


class Forbidden(OrganismError):
    """403: the key's role or teams do not allow the request."""


class NotFound(OrganismError):
    """404: no such employee, team, intervention or endpoint."""


class Conflict(OrganismError):
    """409: the request conflicts with what is stored (an intervention id
    taken with other content, a status move the rules refuse)."""


class PayloadTooLarge(OrganismError):
    """413: the body is over the server's limit (``limit``, in bytes)."""


class UnsupportedMediaType(OrganismError):
    """415: the body's Content-Type is not one the endpoint reads."""


class Unprocessable(OrganismError):
    """422: a row of a batch breaks a rule (``row``, ``field``), or work over
    a configured limit (``limit``)."""


class Unavailable(OrganismError):
    """503: the database is unavailable or busy; raised once retries ran out."""


class ServerError(OrganismError):
    """Any other status (a 5xx the server should not give, or a 3xx/4xx)."""


class ConnectionFailed(OrganismError):
    """No HTTP answer: refused, reset or timed out (``status`` is None)."""


_BY_STATUS: dict[int, type[OrganismError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    503: Unavailable,
}


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_for(
    status: int,
    body: Any,
    *,
    retry_after: float | None,
    method: str,
    path: str,
) -> OrganismError:
    """The exception for an error answer; ``body`` is its parsed JSON, if any."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = _opt_str(error.get("message")) or f"HTTP {status}"
    cls = _BY_STATUS.get(status, ServerError)
    return cls(
        message,
        status=status,
        code=_opt_str(error.get("code")),
        field=_opt_str(error.get("field")),
        row=_opt_int(error.get("row")),
        limit=_opt_int(error.get("limit")),
        retry_after=retry_after,
        method=method,
        path=path,
    )
