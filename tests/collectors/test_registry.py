"""The registry: one Sample per tick, failures isolated and logged once."""

import logging
import math

from sysmond.collectors import ProcessTable
from sysmond.collectors.registry import Registry
from sysmond.config import CollectionConfig, Patterns
from tests.collectors.fakes import CpuTimes, proc


def test_a_sample_carries_every_area_at_the_wall_time_given(config, source):
    source.procs = [proc(1, 0.0)]
    sample = Registry.default(config, source=source).collect(wall=1_700_000_000, mono=5.0)
    assert sample.timestamp == 1_700_000_000
    areas = {name.split(".")[0] for name in sample.values}
    assert areas == {"cpu", "memory", "disk", "network"}
    assert all(isinstance(v, float) for v in sample.values.values())
    assert isinstance(sample.processes, ProcessTable)
    assert sample.processes.timestamp == 1_700_000_000
    assert sample.counters and sample.info["cpu.logical_count"] == 2


def test_the_last_process_table_stays_available_between_process_passes(config, source):
    reg = Registry.default(config, source=source)
    first = reg.collect(wall=100, mono=0.0)
    second = reg.collect(wall=101, mono=1.0)
    assert second.processes is None and reg.last_processes == first.processes


def test_a_failing_collector_is_isolated_logged_once_and_retried(config, source, caplog):
    reg = Registry.default(config, source=source)
    source.fail["cpu_times"] = RuntimeError("boom")
    with caplog.at_level(logging.INFO, logger="sysmond.collectors.registry"):
        for t in range(3):
            sample = reg.collect(wall=100 + t, mono=float(t))
            assert "memory.percent" in sample.values
            assert not any(k.startswith("cpu.") for k in sample.values)
        (cpu,) = [s for s in reg.status() if s.name == "cpu"]
        assert not cpu.ok and cpu.failing_since == 100 and "boom" in cpu.last_error
        del source.fail["cpu_times"]
        sample = reg.collect(wall=103, mono=3.0)
    assert "cpu.usage_percent" in sample.values
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failing" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1
    (cpu,) = [s for s in reg.status() if s.name == "cpu"]
    assert cpu.ok and cpu.last_error is None and cpu.last_duration_s >= 0


def test_status_reports_every_collector_with_its_duration(config, source):
    reg = Registry.default(config, source=source)
    reg.collect(wall=1, mono=0.0)
    names = [s.name for s in reg.status()]
    assert names == ["cpu", "memory", "disk", "network", "processes"]
    assert all(s.ok and s.last_duration_s is not None and s.last_cpu_s is not None
               for s in reg.status())


def test_reconfigure_applies_new_patterns_next_tick_and_keeps_rate_state(config, source):
    reg = Registry.default(config, source=source)
    reg.collect(wall=1, mono=0.0)
    reg.reconfigure(CollectionConfig(interfaces=Patterns(exclude=("eth*",))))
    source.times = [CpuTimes(user=11, idle=90), CpuTimes(user=20, idle=81)]
    sample = reg.collect(wall=2, mono=1.0)
    assert "network.bytes_recv_per_sec@eth0" not in sample.values
    assert not math.isnan(sample.values["network.bytes_recv_per_sec@lo"])  # state kept
    assert sample.values["cpu.usage_percent"] == 50.0


def test_closing_the_registry_is_harmless_and_idempotent(config, source):
    reg = Registry.default(config, source=source)
    reg.collect(wall=1, mono=0.0)
    reg.close()
    reg.close()
