"""The process collector: top N by cpu and memory, cheaply, without ever raising."""

import os
import time

import psutil

from sysmond.collectors.processes import ProcessCollector
from sysmond.collectors.source import ProcDetails, PsutilSource
from sysmond.config import CollectionConfig
from tests.collectors.fakes import GIB, proc


def test_cpu_percent_comes_from_cpu_time_deltas_over_monotonic_time(config, source):
    pc = ProcessCollector(config, source)
    source.procs = [proc(1, 10.0), proc(2, 5.0), proc(3, 0.0)]
    first = pc.sample(0.0)
    assert first.by_cpu == () and len(first.by_memory) == 3  # nothing to compare yet
    source.procs = [proc(1, 11.0), proc(2, 7.5), proc(3, 0.0)]
    table = pc.sample(5.0)
    assert [(p.pid, p.cpu_percent) for p in table.by_cpu] == [(2, 50.0), (1, 20.0), (3, 0.0)]
    assert table.count == 3


def test_top_n_limits_both_lists_and_memory_is_sorted_by_rss(source):
    pc = ProcessCollector(CollectionConfig(top_n=2), source)
    source.procs = [proc(i, 0.0, rss=i * GIB) for i in range(1, 6)]
    table = pc.sample(0.0)
    assert [p.pid for p in table.by_memory] == [5, 4]
    assert table.by_memory[0].memory_percent == 5 / 16 * 100
    assert table.by_memory[0].rss == 5 * GIB


def test_a_reused_pid_is_a_new_process_without_a_cpu_percent(config, source):
    pc = ProcessCollector(config, source)
    source.procs = [proc(7, 100.0, start=1)]
    pc.sample(0.0)
    source.procs = [proc(7, 0.5, start=999)]
    table = pc.sample(5.0)
    assert table.by_cpu == () and [p.pid for p in table.by_memory] == [7]


def test_a_process_denying_access_gets_nulls_and_a_vanished_one_is_skipped(config, source):
    source.procs = [proc(1, 0.0, rss=3), proc(2, 0.0, rss=2), proc(3, 0.0, rss=1)]
    source.details = {1: psutil.AccessDenied(1), 2: psutil.NoSuchProcess(2),
                      3: PermissionError(13, "denied")}
    table = ProcessCollector(config, source).sample(0.0)
    assert [p.pid for p in table.by_memory] == [1, 3]
    denied = table.by_memory[0]
    assert denied.user is None and denied.cmdline is None and denied.rss == 3
    assert denied.status == "sleeping" and denied.name == "p1"


def test_a_truncated_name_is_widened_from_the_command_line(config, source):
    source.procs = [proc(1, 0.0, name="gnome-shell-cal")]
    source.details = {1: ProcDetails("alice", ("/usr/libexec/gnome-shell-calendar-server",))}
    (p,) = ProcessCollector(config, source).sample(0.0).by_memory
    assert p.name == "gnome-shell-calendar-server" and p.user == "alice"


def test_processes_are_sampled_every_process_interval_not_every_tick(source):
    pc = ProcessCollector(CollectionConfig(process_interval=5), source)
    ticks = [0.0, 1.0, 2.0, 3.0, 4.0, 4.98, 6.0, 7.0, 8.0, 9.0, 10.01, 11.0]
    sampled = [t for t in ticks if pc.collect(t).processes is not None]
    assert sampled == [0.0, 4.98, 10.01]


def test_a_shorter_process_interval_applies_from_the_next_pass(source):
    pc = ProcessCollector(CollectionConfig(process_interval=10), source)
    pc.collect(0.0)
    pc.reconfigure(CollectionConfig(process_interval=2))
    assert pc.collect(2.0).processes is not None


def test_on_the_real_machine_our_own_cpu_burn_is_measured(config):
    pc = ProcessCollector(CollectionConfig(top_n=50), PsutilSource())
    me = psutil.Process()
    t0, c0 = time.monotonic(), sum(me.cpu_times()[:2])
    pc.sample(t0)
    while time.monotonic() - t0 < 0.5:
        pass
    t1, c1 = time.monotonic(), sum(me.cpu_times()[:2])
    table = pc.sample(t1)
    mine = {p.pid: p for p in table.by_cpu}[os.getpid()]
    expected = (c1 - c0) / (t1 - t0) * 100
    assert abs(mine.cpu_percent - expected) < 5.0  # clock ticks are 10 ms
    assert mine.status == "running" and mine.num_threads >= 1
    assert abs(mine.rss - me.memory_info().rss) < 16 << 20
    assert mine.user == me.username() and mine.cmdline == " ".join(me.cmdline())
    assert abs(table.count - len(psutil.pids())) < 50  # processes come and go meanwhile
