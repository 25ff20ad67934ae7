"""The two sessions that carry out an operation's plan, and the descriptor
that gives each operation, written once, a synchronous and an asynchronous
form.

An operation is a method returning a :data:`~._protocol.Call`, decorated
with :class:`operation`. Read through an instance of a class built on
:class:`SyncService` it is a plain method returning the result; through one
built on :class:`AsyncService` it is a coroutine method. Type checkers see
both signatures exactly (``ParamSpec`` plus an overloaded ``__get__``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx

from ._protocol import Call, Outcome, Plan, Request, RetryPolicy, Settings, Sleep, build, with_retries

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="_Service")


class _Service:
    """What both service kinds share: their settings."""

    _settings: Settings

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._settings = Settings.resolve(base_url, api_key, retry, timeout)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def _plan(self, call: Call[T]) -> Plan[T]:
        return with_retries(call, self._settings.retry)


class SyncService(_Service):
    """A service whose operations are plain (blocking) methods.

    Pass ``http_client`` to share one connection pool between services, or
    to use a custom transport; otherwise each service opens its own, closed
    by :meth:`close` or by leaving a ``with`` block.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(
            base_url=self._settings.base_url,
            headers=self._settings.headers(),
            timeout=timeout,
        )

    def _run(self, call: Call[T]) -> T:
        plan = self._plan(call)
        try:
            step = next(plan)
            while True:
                step = plan.send(self._carry_out(step))
        except StopIteration as done:
            result: T = done.value
            return result

    def _carry_out(self, step: Request | Sleep) -> Outcome:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        try:
            return self._client.send(build(self._client, step))
        except httpx.TransportError as e:
            return e

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncService(_Service):
    """A service whose operations are coroutine methods (``await``)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            base_url=self._settings.base_url,
            headers=self._settings.headers(),
            timeout=timeout,
        )

    async def _run(self, call: Call[T]) -> T:
        plan = self._plan(call)
        try:
            step = next(plan)
            while True:
                step = plan.send(await self._carry_out(step))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _carry_out(self, step: Request | Sleep) -> Outcome:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        try:
            return await self._client.send(build(self._client, step))
        except httpx.TransportError as e:
            return e

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class operation(Generic[P, T]):
    """Turns ``def f(self, ...) -> Call[T]`` into ``f(...) -> T`` on a
    :class:`SyncService` and ``async f(...) -> T`` on an :class:`AsyncService`."""

    def __init__(self, make: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self._make = make
        self.__doc__ = make.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> operation[P, T]: ...

    @overload
    def __get__(self, obj: SyncService, owner: type) -> Callable[P, T]: ...

    @overload
    def __get__(
        self, obj: AsyncService, owner: type
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        make = self._make
        if isinstance(obj, AsyncService):
            service = obj

            async def run_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await service._run(make(service, *args, **kwargs))

            return functools.update_wrapper(run_async, make)
        if isinstance(obj, SyncService):
            sync = obj

            def run(*args: P.args, **kwargs: P.kwargs) -> T:
                return sync._run(make(sync, *args, **kwargs))

            return functools.update_wrapper(run, make)
        raise TypeError(f"{type(obj).__name__} is neither a SyncService nor an AsyncService")

