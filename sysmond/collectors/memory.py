"""Memory: physical memory and swap use, buffers/cache, swap-in/out bytes per second.

The figures are psutil's (`virtual_memory()`, `swap_memory()`), which follow `free`:
`percent` is (total - available) / total. Swap traffic comes from the cumulative
pswpin/pswpout counters (bytes) through `rates.py`.
"""

from __future__ import annotations

from sysmond.collectors import Counter, Reading
from sysmond.collectors.rates import Rates
from sysmond.collectors.source import Source
from sysmond.config import CollectionConfig

_MEMORY = ("total", "available", "used", "percent", "free", "buffers", "cached")


class MemoryCollector:
    name = "memory"

    def __init__(self, config: CollectionConfig, source: Source) -> None:
        self._source = source
        self._rates = Rates()

    def reconfigure(self, config: CollectionConfig) -> None:
        """Nothing in the config concerns memory."""

    def collect(self, mono: float) -> Reading:
        vm = self._source.virtual_memory()
        swap = self._source.swap_memory()
        values = {f"memory.{f}": float(getattr(vm, f, float("nan"))) for f in _MEMORY}
        values["memory.swap_total"] = float(swap.total)
        values["memory.swap_used"] = float(swap.used)
        values["memory.swap_percent"] = float(swap.percent)
        counters = []
        for field, attr, counter in (("swap_in", "sin", "swap_in_bytes_total"),
                                     ("swap_out", "sout", "swap_out_bytes_total")):
            raw = float(getattr(swap, attr))
            values[f"memory.{field}_bytes_per_sec"] = self._rates.rate(field, raw, mono)
            counters.append(Counter(counter, (), raw))
        self._rates.sweep()
        return Reading(values, {}, tuple(counters))
