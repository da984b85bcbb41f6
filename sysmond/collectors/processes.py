"""Processes: the top N by CPU and by memory, every `process_interval` seconds.

This is the costly collector (with 1 000 processes a naive psutil loop costs several
per cent of a core), so it is built to be cheap: one lean pass reads only
/proc/PID/stat for every process (name, state, cpu time, threads, rss in one read),
keeps each process's previous cpu time itself (keyed by pid and start time, so a reused
pid is a new process), and fetches the details (user, command line) only for the few
that make a top list. It runs every `process_interval` seconds (default 5), not every
tick; in between, `collect` returns no table. CPU % is cpu seconds over monotonic
seconds since the previous pass, as top shows it (% of one core, may exceed 100). A
process that vanishes is skipped; one that denies access gets None fields.
"""

from __future__ import annotations

import heapq
import math
import os

import psutil

from sysmond.collectors import ProcessInfo, ProcessTable, Reading
from sysmond.collectors.rates import Rates
from sysmond.collectors.source import STATUSES, ProcStat, Source
from sysmond.config import CollectionConfig

# A pass is due when the tick is at most this early (seconds): ticks jitter.
_SLACK = 0.25
_NAME_LIMIT = 15  # comm is truncated to 15 characters by the kernel


class ProcessCollector:
    name = "processes"

    def __init__(self, config: CollectionConfig, source: Source) -> None:
        self._source = source
        self._rates = Rates()
        self._interval = float(config.process_interval)
        self._top_n = config.top_n
        self._due: float | None = None

    def reconfigure(self, config: CollectionConfig) -> None:
        if self._due is not None:
            self._due += config.process_interval - self._interval
        self._interval = float(config.process_interval)
        self._top_n = config.top_n

    def collect(self, mono: float) -> Reading:
        if self._due is not None and mono < self._due - _SLACK:
            return Reading({}, {})
        base = mono if self._due is None or mono > self._due + self._interval else self._due
        self._due = base + self._interval
        return Reading({}, {}, (), self.sample(mono))

    def sample(self, mono: float) -> ProcessTable:
        """Do one pass now. The first pass has no cpu % (nothing to compare with)."""
        total_mem = float(self._source.virtual_memory().total) or 1.0
        rows: list[tuple[float, ProcStat]] = []
        cpu_less: list[ProcStat] = []
        rate = self._rates.rate
        for st in self._source.process_stats():
            cpu = rate((st.pid, st.start), st.cpu_time, mono)
            if not math.isnan(cpu):
                rows.append((cpu * 100.0, st))
            else:
                cpu_less.append(st)
        self._rates.sweep()
        n = self._top_n
        top_cpu = heapq.nlargest(n, rows, key=lambda r: (r[0], r[1].rss))
        cpu_of = {st.pid: cpu for cpu, st in rows}
        everyone = [st for _, st in rows] + cpu_less
        top_mem = heapq.nlargest(n, everyone, key=lambda st: st.rss)
        cache: dict[int, ProcessInfo | None] = {}

        def info(st: ProcStat) -> ProcessInfo | None:
            if st.pid not in cache:
                cache[st.pid] = self._details(st, cpu_of.get(st.pid), total_mem)
            return cache[st.pid]

        by_cpu = tuple(p for p in (info(st) for _, st in top_cpu) if p)
        by_mem = tuple(p for p in (info(st) for st in top_mem) if p)
        return ProcessTable(0.0, by_cpu, by_mem, len(everyone))

    def _details(self, st: ProcStat, cpu: float | None,
                 total_mem: float) -> ProcessInfo | None:
        """Return the full record, None if the process is gone, None fields if it
        denies access."""
        user: str | None = None
        argv: tuple[str, ...] | None = None
        try:
            user, argv = self._source.process_details(st.pid)
        except psutil.ZombieProcess:
            pass  # still listed, details gone
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            return None
        except (psutil.AccessDenied, OSError):
            pass
        name = st.name
        if argv and len(name) >= _NAME_LIMIT:  # widen a truncated comm, as psutil does
            exe = os.path.basename(argv[0])
            name = exe if exe.startswith(name) else name
        return ProcessInfo(
            pid=st.pid, name=name, user=user, cpu_percent=cpu,
            memory_percent=st.rss / total_mem * 100.0, rss=st.rss,
            num_threads=st.num_threads, status=STATUSES.get(st.status, st.status),
            cmdline=" ".join(argv) if argv is not None else None)
