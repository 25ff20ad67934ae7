"""The client's one implementation, free of I/O ("sans-I/O").

Every operation is a generator that yields what it needs done -- a
:class:`Request` to send, a :class:`Sleep` before a retry -- and receives the
outcome. The synchronous and the asynchronous session (``_session.py``)
only carry these instructions out, one with ``httpx.Client`` and
``time.sleep``, the other with ``httpx.AsyncClient`` and ``asyncio.sleep``;
request building, error mapping, retries and response parsing are written
once, here and in ``_calls.py``.
"""

from __future__ import annotations

import email.utils
import math
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar, Union
from urllib.parse import quote

import httpx

from .errors import ConnectionFailed, OrganismError, error_for

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
"""Where ``organism serve`` listens unless told otherwise."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, relative to the base URL."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds (before a retry)."""

    seconds: float


Instruction = Union[Request, Sleep]
"""What an operation asks its session to do."""

Outcome = Union[httpx.Response, httpx.TransportError, None]
"""What the session hands back: the answer, the failure to get one, or
nothing (after a :class:`Sleep`)."""

Call = Generator[Request, httpx.Response, T]
"""An operation: yields requests, receives their successful answers."""

Plan = Generator[Instruction, Outcome, T]
"""An operation with its retries: what a session runs."""


def segment(value: str) -> str:
    """A path segment, percent-encoded (an id may hold ``@``, ``:``, ``/``)."""
    return quote(value, safe="")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a request answered 503 or never answered.

    The n-th retry (n = 1, 2, ...) waits ``Retry-After`` when the server
    sent one, else ``backoff * 2 ** (n - 1)``, never more than ``max_delay``
    seconds; after ``attempts`` tries in all the last error is raised.
    Every write of the API may be repeated safely (a batch sent again
    replaces the same rows; an intervention created again with the same id
    and content is returned unchanged), so POSTs are retried too. Only
    connection failures where the request cannot have arrived (refused,
    unreachable) are retried, never a timeout mid-answer.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_delay < 0:
            raise ValueError("backoff and max_delay must not be negative")

    def delay(self, retry: int, error: OrganismError) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based), or None
        when ``error`` is final or the attempts are used up."""
        if retry >= self.attempts or not _retryable(error):
            return None
        wanted = (
            error.retry_after
            if error.retry_after is not None
            else self.backoff * 2 ** (retry - 1)
        )
        return min(max(wanted, 0.0), self.max_delay)


NO_RETRY = RetryPolicy(attempts=1)


def _retryable(error: OrganismError) -> bool:
    if error.status == 503:
        return True
    return isinstance(error, ConnectionFailed) and error.code == "connect"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def check(response: httpx.Response, request: Request) -> OrganismError | None:
    """None for a 2xx answer, else the typed error it stands for."""
    if response.is_success:
        return None
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    return error_for(
        response.status_code,
        body,
        retry_after=retry_after(response.headers.get("retry-after")),
        method=request.method,
        path=request.path,
    )


def connection_failure(e: httpx.TransportError, request: Request) -> ConnectionFailed:
    """A transport failure as a typed error; ``code`` "connect" when the
    request cannot have reached the server."""
    code = "connect" if isinstance(e, httpx.ConnectError) else type(e).__name__
    return ConnectionFailed(
        f"no answer: {e}" if str(e) else f"no answer ({type(e).__name__})",
        code=code,
        method=request.method,
        path=request.path,
    )


def exchange(request: Request, policy: RetryPolicy) -> Plan[httpx.Response]:
    """Sends ``request`` until it succeeds, retrying as ``policy`` says."""
    retry = 0
    while True:
        outcome = yield request
        if isinstance(outcome, httpx.Response):
            error = check(outcome, request)
            if error is None:
                return outcome
        elif isinstance(outcome, httpx.TransportError):
            error = connection_failure(outcome, request)
        else:  # pragma: no cover - a session bug
            raise TypeError(f"a request answered with {outcome!r}")
        retry += 1
        wait = policy.delay(retry, error)
        if wait is None:
            raise error
        yield Sleep(wait)


def with_retries(call: Call[T], policy: RetryPolicy) -> Plan[T]:
    """``call`` with every request sent through :func:`exchange`."""
    try:
        request = next(call)
        while True:
            response = yield from exchange(request, policy)
            request = call.send(response)
    except StopIteration as done:
        result: T = done.value
        return result


@dataclass(frozen=True)
class Settings:
    """Where the API is and how to talk to it."""

    base_url: str
    api_key: str | None
    retry: RetryPolicy
    timeout: float

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        api_key: str | None,
        retry: RetryPolicy | None,
        timeout: float,
    ) -> Settings:
        """Arguments first, then ``ORGANISM_URL`` / ``ORGANISM_API_KEY``."""
        url = base_url or os.environ.get("ORGANISM_URL") or DEFAULT_URL
        key = api_key if api_key is not None else os.environ.get("ORGANISM_API_KEY")
        return cls(url.rstrip("/"), key or None, retry or RetryPolicy(), timeout)

    def headers(self) -> dict[str, str]:
        headers = {"user-agent": "organism-trends-python", "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers


def build(client: httpx.Client | httpx.AsyncClient, request: Request) -> httpx.Request:
    """The httpx request for ``request`` (the same for both clients)."""
    headers = {"content-type": request.content_type} if request.content_type else None
    return client.build_request(
        request.method,
        request.path,
        params=dict(request.params) or None,
        json=request.json,
        content=request.content,
        headers=headers,
    )
