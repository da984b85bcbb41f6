"""Calls that may never return (statvfs on a dead NFS server), bounded by a deadline.

`concurrent.futures.ThreadPoolExecutor` is no use here: its workers are joined at
interpreter exit, so one hung statvfs would keep the daemon from ever stopping. This
pool runs calls in daemon threads, grows by one thread whenever every worker is busy
(a hung call keeps its thread), and lets the caller wait with a deadline.
`StuckGuard` remembers which keys have a call still hanging, so none is called again
until the hung call returns.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class DaemonPool:
    """Run `call(arg)` in daemon threads; at most `max_threads` of them."""

    def __init__(self, call: Callable[[Any], Any], max_threads: int = 64,
                 name: str = "sysmond-call") -> None:
        self._call = call
        self._jobs: queue.SimpleQueue[tuple[Any, Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = self._pending = self._threads = 0
        self._max, self._name = max_threads, name

    def submit(self, arg: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._lock:
            self._pending += 1
            if self._idle < self._pending and self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}",
                                 daemon=True).start()
        self._jobs.put((arg, fut))
        return fut

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            arg, fut = self._jobs.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(self._call(arg))
                except BaseException as exc:  # handed to the waiter, not lost
                    fut.set_exception(exc)


class StuckGuard:
    """Keys whose call missed its deadline, with the still-running future."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._stuck: dict[Hashable, Future[Any]] = {}

    def ready(self, key: Hashable) -> bool:
        """Return whether `key` may be called; a stuck key becomes free (and its
        recovery is logged) once its hung call has returned."""
        fut = self._stuck.get(key)
        if fut is None:
            return True
        if not fut.done():
            return False
        del self._stuck[key]
        log.info("%s %s answers again", self._what, key)
        return True

    def mark(self, key: Hashable, fut: Future[Any], timeout: float) -> None:
        self._stuck[key] = fut
        log.warning("%s %s did not answer within %.1f s; skipped until it does",
                    self._what, key, timeout)

    def forget(self, keep: set[Hashable]) -> None:
        """Drop keys no longer present (an unmounted stuck mount)."""
        for key in [k for k in self._stuck if k not in keep]:
            del self._stuck[key]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._stuck

    def stuck_keys(self) -> list[Hashable]:
        return list(self._stuck)
