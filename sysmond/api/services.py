"""The app's own helpers with a lifetime: the query threads, cached facts.

Store reads run in a small dedicated thread pool, never on the event loop and never in
the default executor the daemon's tick uses, so a year-long query cannot delay
`current` or the collection tick. At most `max_pending` reads wait or run at once;
past that the API answers 503 with Retry-After instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from sysmond.api.errors import ApiError
from sysmond.api.health import OwnUsage
from sysmond.api.state import STATE

T = TypeVar("T")
STORAGE_TTL = 10.0  # seconds a store.info() answer is reused by health
CACHE_ENTRIES = 64
CACHE_MAX_BODY = 2 << 20  # larger answers are not kept


class QueryPool:
    def __init__(self, workers: int, max_pending: int = 32) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers),
                                            thread_name_prefix="sysmond-query")
        self._pending = 0
        self._max = max_pending

    @property
    def pending(self) -> int:
        """Reads running or waiting for a thread."""
        return self._pending

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pending >= self._max:
            raise ApiError(503, "busy", f"{self._pending} queries are already running or "
                           "waiting; retry shortly", {"Retry-After": "1"})
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn,
                                                                    *args)
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class AnswerCache:
    """Recent series answers by `series.cache_key`, shared by concurrent askers: the
    first request computes, the others arriving meanwhile await the same future."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[object, ...], asyncio.Future[bytes]] = OrderedDict()

    async def get(self, key: tuple[object, ...],
                  compute: Callable[[], Awaitable[bytes]]) -> bytes:
        fut = self._items.get(key)
        if fut is not None:
            self._items.move_to_end(key)
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._items[key] = fut
        while len(self._items) > self._entries:
            self._items.popitem(last=False)
        try:
            body = await compute()
        except BaseException as e:
            self._items.pop(key, None)
            if not fut.done():
                fut.set_exception(e)
                fut.exception()  # retrieved: no "never retrieved" warning if unawaited
            raise
        fut.set_result(body)
        if len(body) > CACHE_MAX_BODY:
            self._items.pop(key, None)
        return body


class Services:
    """Per-app helpers; built when the app starts, closed when it stops."""

    def __init__(self, pool: QueryPool) -> None:
        self.pool = pool
        self.answers = AnswerCache()
        self.own = OwnUsage()
        self._storage: tuple[float, dict[str, Any]] | None = None

    async def storage(self, store: Any) -> dict[str, Any]:
        """store.info() as JSON facts, computed in a query thread at most every 10 s."""
        now = time.monotonic()
        if self._storage is None or now - self._storage[0] > STORAGE_TTL:
            info = await self.pool.run(store.info)
            self._storage = (now, {
                "path": info.path, "bytes": info.files_bytes, "series": len(info.series),
                "segments": info.segments, "last_time": info.last_time,
                "tiers": [{"name": t.name, "step": t.step, "retention": t.retention,
                           "first": t.first, "last": t.last, "bytes": t.bytes}
                          for t in info.tiers]})
        return self._storage[1]


SERVICES = web.AppKey("sysmond_services", Services)


async def services_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the query threads with the app, stop them with it."""
    pool = QueryPool(app[STATE].query_workers)
    app[SERVICES] = Services(pool)
    try:
        yield
    finally:
        pool.close()
