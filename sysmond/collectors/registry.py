"""The registry: every collector in one place, run each tick into one Sample.

Adding an area is one new module and one line in `DEFAULT_COLLECTORS`. The registry
times every collector (wall and CPU time, so the daemon can report its own cost) and
isolates failures: a collector that raises is logged once when it starts failing and
once when it recovers, its series are simply absent from that tick's sample (gaps),
it is retried next tick, and the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from sysmond.collectors import Counter, ProcessTable, Reading, Sample
from sysmond.collectors.cpu import CpuCollector
from sysmond.collectors.disk import DiskCollector
from sysmond.collectors.memory import MemoryCollector
from sysmond.collectors.network import NetworkCollector
from sysmond.collectors.processes import ProcessCollector
from sysmond.collectors.source import PsutilSource, Source
from sysmond.config import CollectionConfig

log = logging.getLogger(__name__)


class Collector(Protocol):
    name: str

    def __init__(self, config: CollectionConfig, source: Source) -> None: ...

    def collect(self, mono: float) -> Reading: ...

    def reconfigure(self, config: CollectionConfig) -> None: ...


DEFAULT_COLLECTORS: tuple[type[Collector], ...] = (
    CpuCollector, MemoryCollector, DiskCollector, NetworkCollector, ProcessCollector,
)


class CollectorStatus(NamedTuple):
    name: str
    ok: bool
    last_duration_s: float | None  # wall time of the last run
    last_cpu_s: float | None  # CPU time of the last run (this thread)
    last_error: str | None
    failing_since: float | None  # wall time of the first failing tick


class Registry:
    """Runs collectors; `collect` is called from one worker thread at a time."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self._collectors = list(collectors)
        self._status = {c.name: CollectorStatus(c.name, True, None, None, None, None)
                        for c in self._collectors}
        self._pending: CollectionConfig | None = None
        self._lock = threading.Lock()
        self.last_processes: ProcessTable | None = None

    @classmethod
    def default(cls, config: CollectionConfig, source: Source | None = None) -> Registry:
        src = source if source is not None else PsutilSource()
        return cls([factory(config, src) for factory in DEFAULT_COLLECTORS])

    def reconfigure(self, config: CollectionConfig) -> None:
        """Apply `config` at the start of the next tick (never mid-tick); rate state,
        stuck mounts and per-process history are kept."""
        with self._lock:
            self._pending = config

    def close(self) -> None:
        """Release what collectors hold. Their helper threads (statvfs) are daemon
        threads, so a hung mount never keeps the process from exiting."""
        for c in self._collectors:
            close = getattr(c, "close", None)
            if close is not None:
                close()

    def status(self) -> tuple[CollectorStatus, ...]:
        return tuple(self._status.values())

    def collect(self, wall: float, mono: float) -> Sample:
        """Given the tick's wall grid time and the monotonic clock, read every
        collector and return the merged Sample."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            for c in self._collectors:
                c.reconfigure(pending)
        values: dict[str, float] = {}
        info: dict[str, object] = {}
        counters: list[Counter] = []
        processes: ProcessTable | None = None
        for c in self._collectors:
            reading = self._run(c, wall, mono)
            if reading is None:
                continue
            values.update(reading.values)
            info.update(reading.info)
            counters.extend(reading.counters)
            if reading.processes is not None:
                processes = reading.processes._replace(timestamp=wall)
                self.last_processes = processes
        return Sample(wall, values, info, tuple(counters), processes)

    def _run(self, c: Collector, wall: float, mono: float) -> Reading | None:
        start, cpu_start = time.perf_counter(), time.thread_time()
        before = self._status[c.name]
        try:
            reading = c.collect(mono)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if before.ok:
                log.error("collector %s failing: %s", c.name, error, exc_info=True)
            self._status[c.name] = CollectorStatus(
                c.name, False, time.perf_counter() - start, time.thread_time() - cpu_start,
                error, before.failing_since if not before.ok else wall)
            return None
        if not before.ok:
            log.info("collector %s recovered after %.0f s", c.name,
                     wall - (before.failing_since or wall))
        self._status[c.name] = CollectorStatus(
            c.name, True, time.perf_counter() - start, time.thread_time() - cpu_start,
            None, None)
        return reading
