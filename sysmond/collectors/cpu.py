"""CPU: usage total and per core, time split, load, frequency, switches and interrupts.

Usage is computed from our own previous `cpu_times()` (never `psutil.cpu_percent()`,
whose hidden previous sample is kept per calling thread). Busy time is everything but
idle and iowait; guest and guest_nice are left out of the whole because Linux already
counts them inside user and nice. The per-core list is in /proc/stat order, i.e. of
the online CPUs; a CPU taken offline shifts the indices (rare, documented limitation).
"""

from __future__ import annotations

import math

from sysmond.collectors import NAN, Counter, Reading
from sysmond.collectors.rates import Rates
from sysmond.collectors.source import Source
from sysmond.config import CollectionConfig

MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# Exported as counters too; guest time is part of user/nice, as in node_exporter.
COUNTER_MODES = (*MODES, "guest", "guest_nice")


def _positive(value: float | None) -> float | None:
    """psutil reports an unknown frequency as None or 0.0; both mean 'none'."""
    return float(value) if value and math.isfinite(value) and value > 0 else None


class CpuCollector:
    name = "cpu"

    def __init__(self, config: CollectionConfig, source: Source) -> None:
        self._source = source
        self._rates = Rates()
        self._physical: int | None = None
        self._physical_known = False

    def reconfigure(self, config: CollectionConfig) -> None:
        """Nothing in the config concerns the CPU."""

    def _usage(self, key: object, times: object, mono: float) -> tuple[float, ...] | None:
        parts = [float(getattr(times, m, 0.0)) for m in MODES]
        return self._rates.shares(key, parts, mono)

    def collect(self, mono: float) -> Reading:
        src, rates = self._source, self._rates
        per_core = src.cpu_times()
        values: dict[str, float] = {}
        counters: list[Counter] = []
        whole = [sum(float(getattr(t, m, 0.0)) for t in per_core) for m in MODES]
        shares = rates.shares("all", whole, mono)
        for i, mode in enumerate(MODES):
            values[f"cpu.{mode}_percent"] = shares[i] * 100 if shares else NAN
        values["cpu.usage_percent"] = _busy(shares)
        for core, times in enumerate(per_core):
            values[f"cpu.usage_percent@{core}"] = _busy(self._usage(core, times, mono))
            counters.extend(
                Counter("cpu_seconds_total", (("cpu", str(core)), ("mode", m)),
                        float(getattr(times, m))) for m in COUNTER_MODES if hasattr(times, m))
        stats = src.cpu_stats()
        for field, attr, counter in (
                ("ctx_switches", "ctx_switches", "context_switches_total"),
                ("interrupts", "interrupts", "interrupts_total"),
                ("soft_interrupts", "soft_interrupts", "soft_interrupts_total")):
            raw = float(getattr(stats, attr))
            values[f"cpu.{field}_per_sec"] = rates.rate(field, raw, mono)
            counters.append(Counter(counter, (), raw))
        for n, load in zip((1, 5, 15), src.load_average()):
            values[f"cpu.load_average_{n}"] = float(load)
        freq = src.cpu_freq()
        current = _positive(getattr(freq, "current", None))
        values["cpu.frequency_current"] = NAN if current is None else current
        if not self._physical_known:  # reads sysfs topology: once is enough
            self._physical = src.cpu_count(logical=False)
            self._physical_known = True
        info: dict[str, object] = {
            "cpu.logical_count": len(per_core),
            "cpu.physical_count": self._physical,
            "cpu.frequency_min": _positive(getattr(freq, "min", None)),
            "cpu.frequency_max": _positive(getattr(freq, "max", None)),
        }
        rates.sweep()
        return Reading(values, info, tuple(counters))


def _busy(shares: tuple[float, ...] | None) -> float:
    if shares is None:
        return NAN
    idle, iowait = shares[MODES.index("idle")], shares[MODES.index("iowait")]
    return max(0.0, min(100.0, (1.0 - idle - iowait) * 100))
