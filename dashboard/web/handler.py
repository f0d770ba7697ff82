"""Django's ASGI handler, with its per-request threads kept and reused."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

# As django-stubs types ASGIHandler.__call__.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

# Threads kept between requests; the ones past this are closed when their request ends.
# Each kept thread keeps its database connection (CONN_MAX_AGE), so this also caps those.
THREADS_KEPT = 16
# Seconds a request waits for one of the running slots before it runs anyway.
PATIENCE = 1.0


class RequestThread(ThreadPoolExecutor):
    """One worker thread that knows whether work is still queued or running on it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._pending = 0
        self._pending_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._pending_lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._one_done)
        return future

    def _one_done(self, _future: Future[Any]) -> None:
        with self._pending_lock:
            self._pending -= 1

    @property
    def idle(self) -> bool:
        with self._pending_lock:
            return self._pending == 0


class ThreadPerRequest:
    """Single-thread executors lent to one request at a time, then kept for the next."""

    def __init__(self, *, keep: int) -> None:
        self._keep = keep
        self._idle: list[RequestThread] = []
        self._lock = threading.Lock()
        self.started = 0  # threads ever started: for tests and the bench

    def borrow(self) -> RequestThread:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
        return RequestThread()

    def give_back(self, executor: RequestThread) -> None:
        # A request whose client went away can end while its sync code still runs (a
        # thread cannot be cancelled): that thread is not lent again, so no other request
        # waits behind it.
        with self._lock:
            if executor.idle and len(self._idle) < self._keep:
                self._idle.append(executor)
                return
        # One too many: its database connections go with it.
        executor.submit(connections.close_all)
        executor.shutdown(wait=False)


class ASGIHandlerKeepingThreads(ASGIHandler):
    """Django's handler, but a request's sync code runs on a kept thread, not a new one.

    Django enters a fresh ThreadSensitiveContext per request, and asgiref starts a thread
    for it and joins it at the end. Under load that start and join were ~8 % of Daphne's
    time (py-spy, bench/load.py), and the thread's database connection was opened anew
    for every request. asgiref lets the caller supply the context's executor; lending
    each request its own single thread keeps Django's rule (one request's sync code on
    one thread) and drops the rest.
    """

    def __init__(
        self, *, running: int, keep: int = THREADS_KEPT, patience: float = PATIENCE
    ) -> None:
        super().__init__()
        self.threads = ThreadPerRequest(keep=max(keep, running))
        self._running = running
        self._patience = patience
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._slots is None:  # made on Daphne's event loop, at the first request
            self._slots = asyncio.Semaphore(self._running)
        async with self._slot(self._slots):
            executor = self.threads.borrow()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, receive, send)
            finally:
                self.threads.give_back(executor)

    @contextlib.asynccontextmanager
    async def _slot(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        # Fifty requests on fifty threads fight for one GIL: each took ~40 % more CPU and
        # p99 doubled (bench/load.py). So a few run at once and the rest wait their turn on
        # the event loop, which costs nothing. The wait is bounded: a request whose turn
        # does not come within `patience` (every slot held by a read of a hung broker)
        # runs anyway, as it would without slots.
        try:
            await asyncio.wait_for(slots.acquire(), self._patience)
        except TimeoutError:
            yield
            return
        try:
            yield
        finally:
            slots.release()


def keeping_threads_application() -> ASGIHandlerKeepingThreads:
    """The HTTP application Daphne serves (sets Django up)."""
    import django

    django.setup(set_prefix=False)
    from django.conf import settings

    return ASGIHandlerKeepingThreads(running=settings.KAFKAVIEW_WEB_THREADS)
