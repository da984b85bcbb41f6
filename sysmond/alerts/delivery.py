"""The delivery queue: notifications go out apart from the tick, retried with backoff.

`enqueue` only appends jobs to memory (the tick never waits for a network or a disk).
A worker on the event loop sends due jobs in a small thread pool, each attempt
bounded by the delivery timeout. A failed attempt is retried after 1x, 2x, 4x ... the
initial backoff (capped), with one last attempt at the deadline; once `retry_for`
seconds have passed since the notification was queued, it is given up and recorded
as failed. Jobs are serialisable, so the engine persists the queue and undelivered
notifications survive a restart (delivery is at least once: a restart during an
attempt may send it twice).

Threads that hang (a receiver that never answers) keep their pool slot until the
socket timeouts Apprise was given expire; no new attempt is started on a busy slot,
so an attempt is never queued behind a hung one and then timed out unstarted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sysmond.alerts.channels import DeliveryError, Sender, Target, targets
from sysmond.alerts.events import DELIVERED, FAILED, AlertEvent
from sysmond.config import ChannelConfig

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One notification for one target, and how its delivery is going."""

    id: str
    event: AlertEvent
    channel: str
    index: int
    label: str
    created: float  # when it was queued (clock time); retry_for counts from here
    next_try: float
    attempts: int = 0
    last_error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "event": self.event.to_json(), "channel": self.channel,
            "index": self.index, "label": self.label, "created": self.created,
            "next_try": self.next_try, "attempts": self.attempts,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """Given a dict from `to_json`, return the job. Raise KeyError/TypeError/
        ValueError if it is not one."""
        return cls(
            id=str(data["id"]), event=AlertEvent.from_json(data["event"]),
            channel=str(data["channel"]), index=int(data["index"]),
            label=str(data["label"]), created=float(data["created"]),
            next_try=float(data["next_try"]), attempts=int(data["attempts"]),
            last_error=str(data.get("last_error", "")),
        )


# (job, outcome DELIVERED|FAILED, time, error) -> None; called on the loop thread.
OutcomeCallback = Callable[[Job, str, float, str], None]


class Delivery:
    """The queue of jobs and the worker that sends them."""

    def __init__(
        self,
        channels: Mapping[str, ChannelConfig],
        state_dir: Path,
        *,
        timeout: float,
        retry_for: float,
        clock: Callable[[], float],
        on_outcome: OutcomeCallback,
        on_change: Callable[[], None],
        backoff_initial: float = 5.0,
        backoff_max: float = 300.0,
        concurrency: int = 4,
        sender: Sender | None = None,
    ) -> None:
        self._state_dir = Path(state_dir)
        self._clock = clock
        self._on_outcome = on_outcome
        self._on_change = on_change
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._concurrency = max(1, concurrency)
        self._sender = sender or Sender()
        self._jobs: dict[str, Job] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._busy = 0  # pool threads running an attempt (hung ones included)
        self._failing: dict[str, int] = {}  # label -> failed attempts in a row
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake_event: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self.configure(channels, timeout=timeout, retry_for=retry_for)

    def configure(
        self, channels: Mapping[str, ChannelConfig], *, timeout: float, retry_for: float
    ) -> None:
        """Apply (re)loaded channels and limits; queued jobs follow the new URLs."""
        self._targets = {
            name: targets(ch, self._state_dir) for name, ch in channels.items()
        }
        self.timeout = max(0.01, float(timeout))
        self.retry_for = max(0.0, float(retry_for))
        now = self._clock()
        for job in list(self._jobs.values()):
            if self._target(job) is None and job.id not in self._inflight:
                del self._jobs[job.id]
                self._on_outcome(job, FAILED, now, "channel no longer configured")
        self.wake()

    # --- the queue (loop thread, cheap) -------------------------------------------------

    def enqueue(self, event: AlertEvent) -> None:
        """Queue `event` for every target of its channels. Never blocks."""
        now = self._clock()
        for name in event.channels:
            chan = self._targets.get(name)
            if chan is None:
                job = Job(f"{event.id}/{name}", event, name, -1, f"{name}:?", now, now)
                self._on_outcome(job, FAILED, now, f"no channel named {name!r}")
                continue
            for t in chan:
                job_id = f"{event.id}/{t.channel}/{t.index}"
                self._jobs[job_id] = Job(job_id, event, t.channel, t.index, t.label, now, now)
        self._on_change()
        self.wake()

    def load(self, jobs: list[dict[str, Any]]) -> None:
        """Restore jobs saved by `to_json` (after a restart); skip unreadable ones."""
        for data in jobs:
            try:
                job = Job.from_json(data)
            except (KeyError, TypeError, ValueError) as e:
                log.warning("dropping an unreadable queued alert notification: %s", e)
                continue
            self._jobs[job.id] = job

    def to_json(self) -> list[dict[str, Any]]:
        return [job.to_json() for job in self._jobs.values()]

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    # --- the worker ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._busy = 0
        self._wake_event = asyncio.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix="sysmond-alert-send"
        )
        self._worker = asyncio.create_task(self._run(), name="sysmond-alert-delivery")

    async def stop(self) -> None:
        """Stop the worker. Attempts in flight are abandoned (their jobs stay queued
        and are retried after a restart); hung threads are not waited for."""
        tasks = [t for t in (self._worker, *self._inflight.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._worker = None
        self._inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._wake_event = None
        self._loop = None

    def wake(self) -> None:
        """Make the worker look at the queue now (safe from any thread)."""
        event, loop = self._wake_event, self._loop
        if event is None or loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake_event is not None
        while True:
            self._wake_event.clear()
            now = self._clock()
            next_due: float | None = None
            waiting: set[tuple[str, str, int]] = set()
            for job in self._jobs.values():  # in the order they were queued
                # One notification at a time per alert instance and target, in order:
                # nobody should read "resolved" before "firing".
                key = (job.event.instance, job.channel, job.index)
                if key in waiting:
                    continue
                waiting.add(key)
                if job.id in self._inflight:
                    continue
                if job.next_try > now:
                    next_due = job.next_try if next_due is None else min(next_due, job.next_try)
                    continue
                if self._busy >= self._concurrency:
                    continue  # woken again when a thread frees up
                self._busy += 1
                self._inflight[job.id] = asyncio.create_task(self._attempt(job))
            timeout = None
            if next_due is not None:
                # Bounded so an injected clock that jumps is noticed soon.
                timeout = min(max(next_due - now, 0.0), 1.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), timeout)

    async def _attempt(self, job: Job) -> None:
        try:
            error = await self._try(job)
        finally:
            self._inflight.pop(job.id, None)
        now = self._clock()
        if job.id not in self._jobs:
            return  # dropped meanwhile (e.g. by a reload)
        if error is None:
            del self._jobs[job.id]
            failed_before = self._failing.pop(job.label, 0)
            if failed_before:
                log.info(
                    "alert delivery to %s works again after %d failed attempt(s)",
                    job.label, failed_before,
                )
            self._on_outcome(job, DELIVERED, now, "")
        else:
            job.last_error = error
            failures = self._failing.get(job.label, 0) + 1
            self._failing[job.label] = failures
            if failures == 1:
                log.warning(
                    "alert delivery to %s failing: %s (retrying each notification for up "
                    "to %g s)", job.label, error, self.retry_for,
                )
            deadline = job.created + self.retry_for
            if now >= deadline:
                del self._jobs[job.id]
                log.error(
                    "gave up on the %s notification of %s for %s after %d attempt(s): %s",
                    job.event.kind, job.event.instance, job.label, job.attempts, error,
                )
                self._on_outcome(job, FAILED, now, error)
            else:
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (job.attempts - 1))
                job.next_try = min(now + delay, deadline)
        self._on_change()
        self.wake()

    async def _try(self, job: Job) -> str | None:
        """Make one attempt; return None on success, else why it failed."""
        target = self._target(job)
        pool = self._pool
        if target is None or pool is None:
            self._free_slot()
            if pool is None:
                return "delivery stopped"
            job.attempts += 1
            return f"channel {job.channel!r} no longer has this target"
        job.attempts += 1
        future = pool.submit(self._sender.send, target, job.event, self.timeout)
        future.add_done_callback(self._thread_done)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except DeliveryError as e:
            return str(e)
        except Exception as e:  # a plugin bug must not kill the worker
            log.exception("alert delivery to %s raised", job.label)
            return f"{type(e).__name__}: {e}"
        return None

    def _thread_done(self, _future: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed
            loop.call_soon_threadsafe(self._free_slot)

    def _free_slot(self) -> None:
        self._busy = max(0, self._busy - 1)
        self.wake()

    def _target(self, job: Job) -> Target | None:
        chan = self._targets.get(job.channel)
        if chan is None:
            return None
        for t in chan:
            if t.index == job.index:
                return t
        return None
