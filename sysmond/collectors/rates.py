"""The one place cumulative counters become rates and shares.

A rate is the counter's delta over the *measured* monotonic time between two readings,
never over the nominal interval, so a late tick does not inflate it. A counter that
goes backwards (reset, 32-bit wrap, re-plugged device, reboot) gives NaN for that tick
and becomes the new baseline: a gap is honest, a negative rate or a 2^64 spike is not.
The first reading of a key (start, or a new device) has nothing to compare with: NaN.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

from sysmond.collectors import NAN


class Rates:
    """Previous readings per key. Not thread-safe: one instance per collector."""

    def __init__(self) -> None:
        self._prev: dict[Hashable, tuple[float, float]] = {}
        self._parts: dict[Hashable, tuple[tuple[float, ...], float]] = {}
        self._seen: set[Hashable] = set()

    def rate(self, key: Hashable, value: float, mono: float) -> float:
        """Given a counter's `value` at monotonic time `mono`, return its rate per
        second since the previous reading of `key`, or NaN if there is none, time did
        not advance, or the counter went backwards."""
        self._seen.add(key)
        prev = self._prev.get(key)
        self._prev[key] = (value, mono)
        if prev is None:
            return NAN
        dv, dt = value - prev[0], mono - prev[1]
        if dt <= 0 or dv < 0 or not math.isfinite(dv):
            return NAN
        return dv / dt

    def shares(self, key: Hashable, parts: Sequence[float],
               mono: float) -> tuple[float, ...] | None:
        """Given counters that together make a whole (a CPU's time per mode), return
        each part's share (0..1) of the whole's delta since the previous reading, or
        None for a gap (first reading, no time passed, or the whole went backwards).

        A single part that goes backwards while the whole advances counts as zero:
        the kernel's iowait in /proc/stat is documented to do so slightly.
        """
        self._seen.add(key)
        now = tuple(float(p) for p in parts)
        prev = self._parts.get(key)
        self._parts[key] = (now, mono)
        if prev is None or len(prev[0]) != len(now) or mono <= prev[1]:
            return None
        deltas = [max(a - b, 0.0) for a, b in zip(now, prev[0])]
        if sum(now) < sum(prev[0]):
            return None
        whole = sum(deltas)
        if whole <= 0 or not math.isfinite(whole):
            return None
        return tuple(d / whole for d in deltas)

    def sweep(self) -> None:
        """Forget keys not read since the last sweep, so a device that vanishes and
        comes back starts afresh (NaN), and churning pids do not accumulate."""
        for store in (self._prev, self._parts):
            for key in [k for k in store if k not in self._seen]:
                del store[key]
        self._seen = set()

    def __len__(self) -> int:
        return len(self._prev) + len(self._parts)
