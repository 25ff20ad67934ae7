"""Retries on 503, against a tiny local server that answers 503 as told.

The waits are recorded instead of slept (the sleep functions are
replaced), so the tests check what was waited, not how long they took."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from organism_trends import AsyncQueryService, MetricsWriter, QueryService, RetryPolicy, Unavailable
from organism_trends._protocol import retry_after


class Flaky:
    """Answers the first ``failures`` requests 503 (with ``retry_after``
    as its Retry-After header, if any), then 200."""

    def __init__(self) -> None:
        self.failures = 0
        self.retry_after: str | None = None
        self.seen: list[tuple[str, str, bytes]] = []


@pytest.fixture
def flaky() -> Iterator[tuple[str, Flaky]]:
    state = Flaky()

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            state.seen.append((self.command, self.path, self.rfile.read(length)))
            if state.failures > 0:
                state.failures -= 1
                body: dict[str, object] = {"error": {"code": "database_unavailable", "message": "the database is unavailable; retry later"}}
                self.send_response(503)
                if state.retry_after is not None:
                    self.send_header("Retry-After", state.retry_after)
            else:
                body = {"threshold": 70.0, "days": 7, "count": 0, "alerts": [], "received": 1, "stored": 1}
                self.send_response(200)
            data = json.dumps(body).encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = answer
        do_POST = answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def no_async_wait(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr("organism_trends._session.time.sleep", recorded.append)
    monkeypatch.setattr("organism_trends._session.asyncio.sleep", no_async_wait)
    return recorded


def test_a_503_is_retried_after_the_seconds_of_retry_after(flaky: tuple[str, Flaky], waits: list[float]) -> None:
    url, state = flaky
    state.failures, state.retry_after = 2, "3"
    with QueryService(url, "k", retry=RetryPolicy(attempts=4, backoff=0.01)) as queries:
        alerts = queries.get_burnout_alerts(threshold=70.0, days=7)
    assert alerts.empty
    assert waits == [3.0, 3.0]
    assert len(state.seen) == 3
    assert {path for _, path, _ in state.seen} == {"/api/trends/burnout-alerts?threshold=70.0&days=7"}


def test_without_retry_after_the_waits_double_up_to_the_cap(flaky: tuple[str, Flaky], waits: list[float]) -> None:
    url, state = flaky
    state.failures = 4
    with QueryService(url, "k", retry=RetryPolicy(attempts=5, backoff=0.5, max_delay=1.5)) as queries:
        queries.get_burnout_alerts()
    assert waits == [0.5, 1.0, 1.5, 1.5]


def test_a_post_is_retried_with_the_same_body(flaky: tuple[str, Flaky], waits: list[float]) -> None:
    url, state = flaky
    state.failures, state.retry_after = 1, "0"
    with MetricsWriter(url, "k") as writer:
        writer.write_employee_metrics("emp_1", {"burnout_score": 1.0}, time="2026-01-01T00:00:00Z")
    assert waits == [0.0]
    bodies = [body for _, _, body in state.seen]
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_when_the_attempts_run_out_the_503_is_raised_with_its_retry_after(
    flaky: tuple[str, Flaky], waits: list[float]
) -> None:
    url, state = flaky
    state.failures, state.retry_after = 10, "7"
    with QueryService(url, "k", retry=RetryPolicy(attempts=3)) as queries, pytest.raises(Unavailable) as gave_up:
        queries.get_burnout_alerts()
    assert waits == [7.0, 7.0]
    assert len(state.seen) == 3
    error = gave_up.value
    assert (error.status, error.code, error.retry_after) == (503, "database_unavailable", 7.0)


def test_the_async_form_retries_the_same_way(flaky: tuple[str, Flaky], waits: list[float]) -> None:
    url, state = flaky
    state.failures, state.retry_after = 1, "2"

    async def call() -> None:
        async with AsyncQueryService(url, "k") as queries:
            await queries.get_burnout_alerts()

    asyncio.run(call())
    assert waits == [2.0]
    assert len(state.seen) == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after("5", now) == 5.0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
