"""The memory collector: psutil's figures as series, swap traffic as rates."""

import math
import time

from sysmond.collectors.memory import MemoryCollector
from sysmond.collectors.source import PsutilSource
from tests.collectors.fakes import GIB


def test_memory_and_swap_figures_become_series(config, source):
    v = MemoryCollector(config, source).collect(0.0).values
    assert v["memory.total"] == 16 * GIB and v["memory.percent"] == 50.0
    assert v["memory.swap_total"] == 4 * GIB and v["memory.swap_percent"] == 25.0
    assert v["memory.cached"] == GIB
    assert math.isnan(v["memory.swap_in_bytes_per_sec"])


def test_swap_traffic_is_a_rate_and_a_reset_is_a_gap(config, source):
    mem = MemoryCollector(config, source)
    mem.collect(0.0)
    source.swap.sin, source.swap.sout = 8192, 4096
    v = mem.collect(2.0).values
    assert v["memory.swap_in_bytes_per_sec"] == 4096 and v["memory.swap_out_bytes_per_sec"] == 2048
    source.swap.sin = 0
    assert math.isnan(mem.collect(3.0).values["memory.swap_in_bytes_per_sec"])


def _meminfo_kib(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def test_on_the_real_machine_figures_agree_with_proc_meminfo(config):
    v = MemoryCollector(config, PsutilSource()).collect(time.monotonic()).values
    assert v["memory.total"] == _meminfo_kib("MemTotal") * 1024
    assert math.isclose(v["memory.available"], _meminfo_kib("MemAvailable") * 1024,
                        rel_tol=0.05)
    for name in ("memory.percent", "memory.swap_percent"):
        assert 0.0 <= v[name] <= 100.0
    assert 0 <= v["memory.used"] <= v["memory.total"]
