"""The CPU collector: usage from its own cpu_times deltas, frequency gaps, counters."""

import math
import time
from types import SimpleNamespace

import psutil

from sysmond.collectors.cpu import CpuCollector
from sysmond.collectors.source import PsutilSource
from tests.collectors.fakes import CpuTimes


def test_the_first_sample_has_no_usage_and_the_second_has_it_from_deltas(config, source):
    cpu = CpuCollector(config, source)
    first = cpu.collect(0.0).values
    assert math.isnan(first["cpu.usage_percent"]) and math.isnan(first["cpu.usage_percent@0"])
    source.times = [CpuTimes(user=11, system=1, idle=92), CpuTimes(user=20, idle=84)]
    v = cpu.collect(1.0).values
    assert v["cpu.usage_percent@0"] == 50.0  # 2 busy of 4
    assert v["cpu.usage_percent@1"] == 0.0
    assert v["cpu.usage_percent"] == 25.0  # 2 busy of 8, all cores
    assert math.isclose(v["cpu.user_percent"], 12.5)
    assert math.isclose(v["cpu.idle_percent"], 75.0)
    split = sum(v[f"cpu.{m}_percent"] for m in (
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"))
    assert math.isclose(split, 100.0)


def test_iowait_counts_as_not_busy(config, source):
    cpu = CpuCollector(config, source)
    source.times = [CpuTimes(user=10, idle=90)]
    cpu.collect(0.0)
    source.times = [CpuTimes(user=11, idle=91, iowait=2)]
    v = cpu.collect(1.0).values
    assert v["cpu.usage_percent"] == 25.0 and v["cpu.iowait_percent"] == 50.0


def test_context_switches_and_interrupts_are_rates(config, source):
    cpu = CpuCollector(config, source)
    cpu.collect(0.0)
    source.stats = SimpleNamespace(ctx_switches=1500, interrupts=700, soft_interrupts=200)
    v = cpu.collect(2.0).values
    assert v["cpu.ctx_switches_per_sec"] == 250.0
    assert v["cpu.interrupts_per_sec"] == 100.0
    assert v["cpu.soft_interrupts_per_sec"] == 0.0


def test_a_machine_without_frequency_gives_gaps_not_zeros(config, source):
    source.freq = None
    r = CpuCollector(config, source).collect(0.0)
    assert math.isnan(r.values["cpu.frequency_current"])
    assert r.info["cpu.frequency_min"] is None and r.info["cpu.frequency_max"] is None


def test_a_frequency_min_max_of_zero_means_unknown(config, source):
    source.freq = SimpleNamespace(current=2596.1, min=0.0, max=0.0)
    r = CpuCollector(config, source).collect(0.0)
    assert r.values["cpu.frequency_current"] == 2596.1
    assert r.info["cpu.frequency_max"] is None


def test_counters_carry_cpu_seconds_per_core_and_mode(config, source):
    r = CpuCollector(config, source).collect(0.0)
    got = {(dict(c.labels)["cpu"], dict(c.labels)["mode"]): c.value
           for c in r.counters if c.name == "cpu_seconds_total"}
    assert got[("1", "user")] == 20 and got[("0", "idle")] == 90
    assert {c.name for c in r.counters} >= {"context_switches_total", "interrupts_total"}


def test_on_the_real_machine_every_core_has_a_usage_between_0_and_100(config):
    cpu = CpuCollector(config, PsutilSource())
    cpu.collect(time.monotonic())
    time.sleep(0.2)
    r = cpu.collect(time.monotonic())
    cores = [k for k in r.values if k.startswith("cpu.usage_percent@")]
    assert len(cores) == psutil.cpu_count() == r.info["cpu.logical_count"]
    for name in [*cores, "cpu.usage_percent", "cpu.idle_percent"]:
        assert 0.0 <= r.values[name] <= 100.0, name
    assert all(r.values[f"cpu.load_average_{n}"] >= 0 for n in (1, 5, 15))
    physical = r.info["cpu.physical_count"]
    assert physical is None or 1 <= physical <= psutil.cpu_count()
