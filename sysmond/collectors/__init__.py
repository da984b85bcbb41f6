"""The records collectors hand out (Reading, Sample, ProcessTable) and device filtering.

A collector returns one `Reading` per tick; the registry merges them into one `Sample`.
Everything here is a plain immutable record so a sample can be passed between the
collecting thread, the store, the alert engine and the API without copies or locks.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import NamedTuple

from sysmond.config import Patterns

NAN = float("nan")


class Counter(NamedTuple):
    """One raw cumulative counter (`metrics.COUNTERS` names it) with its labels."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


class ProcessInfo(NamedTuple):
    """One process in a top-N table. Fields that could not be read are None."""

    pid: int
    name: str
    user: str | None
    cpu_percent: float | None
    memory_percent: float | None
    rss: int | None
    num_threads: int | None
    status: str | None
    cmdline: str | None


class ProcessTable(NamedTuple):
    """The busiest processes at `timestamp` (wall seconds), sorted descending."""

    timestamp: float
    by_cpu: tuple[ProcessInfo, ...]
    by_memory: tuple[ProcessInfo, ...]
    count: int  # processes seen in the pass


class Reading(NamedTuple):
    """What one collector read in one tick."""

    values: dict[str, float]
    info: dict[str, object]
    counters: tuple[Counter, ...] = ()
    processes: ProcessTable | None = None


class Sample(NamedTuple):
    """One tick of every collector.

    `values` maps series names (docs/architecture.md) to floats, NaN for a gap; the
    store gets exactly these. `info` holds facts that are not series, keyed like series
    (`cpu.logical_count`, `disk.fstype@/`). `processes` is set on ticks where processes
    were sampled.
    """

    timestamp: float
    values: dict[str, float]
    info: dict[str, object]
    counters: tuple[Counter, ...]
    processes: ProcessTable | None


def watched(patterns: Patterns, name: str) -> bool:
    """Return whether `name` passes fnmatch `patterns` (empty include = everything)."""
    if patterns.include and not any(fnmatchcase(name, p) for p in patterns.include):
        return False
    return not any(fnmatchcase(name, p) for p in patterns.exclude)
