"""A fake psutil source: every number a test needs to move, as a plain attribute."""

from __future__ import annotations

import threading
from collections import namedtuple
from types import SimpleNamespace

from sysmond.collectors.source import Partition, ProcDetails, ProcStat, Usage

CpuTimes = namedtuple(
    "CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice",
    defaults=(0.0,) * 10)
DiskIo = namedtuple(
    "DiskIo", "read_count write_count read_bytes write_bytes read_time write_time "
    "read_merged_count write_merged_count busy_time", defaults=(0,) * 9)
NetIo = namedtuple(
    "NetIo", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout",
    defaults=(0,) * 8)
GIB = 1 << 30


def usage(total: int, used: int) -> Usage:
    free = total - used
    return Usage(total, used, free, round(used / total * 100, 1))


class FakeSource:
    def __init__(self) -> None:
        self.times = [CpuTimes(user=10, idle=90), CpuTimes(user=20, idle=80)]
        self.stats = SimpleNamespace(ctx_switches=1000, interrupts=500, soft_interrupts=200)
        self.freq: object | None = SimpleNamespace(current=2400.0, min=800.0, max=3600.0)
        self.physical: int | None = 1
        self.load = (0.5, 0.4, 0.3)
        self.vm = SimpleNamespace(total=16 * GIB, available=8 * GIB, used=7 * GIB,
                                  percent=50.0, free=6 * GIB, buffers=GIB // 4,
                                  cached=GIB)
        self.swap = SimpleNamespace(total=4 * GIB, used=GIB, free=3 * GIB, percent=25.0,
                                    sin=0, sout=0)
        self.parts = [Partition("/dev/sda1", "/", "ext4"),
                      Partition("tmpfs", "/run", "tmpfs"),
                      Partition("proc", "/proc", "proc"),
                      Partition("/dev/sdb1", "/home", "xfs")]
        self.usages = {"/": usage(500 * GIB, 300 * GIB), "/home": usage(100 * GIB, 10 * GIB)}
        self.blocking: dict[str, threading.Event] = {}
        self.stat_calls: list[str] = []
        self.disks = {"sda": DiskIo(), "sda1": DiskIo(), "sdb": DiskIo(), "loop0": DiskIo()}
        self.whole: set[str] | None = {"sda", "sdb", "loop0"}
        self.nics = {"lo": NetIo(), "eth0": NetIo(), "veth12ab": NetIo()}
        self.procs: list[ProcStat] = []
        self.details: dict[int, ProcDetails | Exception] = {}
        self.fail: dict[str, Exception] = {}

    def _maybe_fail(self, what: str) -> None:
        if what in self.fail:
            raise self.fail[what]

    def cpu_times(self) -> list[CpuTimes]:
        self._maybe_fail("cpu_times")
        return list(self.times)

    def cpu_stats(self) -> SimpleNamespace:
        return self.stats

    def cpu_freq(self) -> object | None:
        return self.freq

    def cpu_count(self, logical: bool = True) -> int | None:
        return len(self.times) if logical else self.physical

    def load_average(self) -> tuple[float, float, float]:
        return self.load

    def virtual_memory(self) -> SimpleNamespace:
        self._maybe_fail("virtual_memory")
        return self.vm

    def swap_memory(self) -> SimpleNamespace:
        return self.swap

    def partitions(self) -> list[Partition]:
        return list(self.parts)

    def disk_usage(self, path: str) -> Usage:
        self.stat_calls.append(path)
        if path in self.blocking:
            self.blocking[path].wait()
        if path not in self.usages:
            raise PermissionError(13, "Permission denied", path)
        return self.usages[path]

    def disk_io(self) -> dict[str, DiskIo]:
        return dict(self.disks)

    def block_devices(self) -> set[str] | None:
        return None if self.whole is None else set(self.whole)

    def net_io(self) -> dict[str, NetIo]:
        return dict(self.nics)

    def process_stats(self) -> list[ProcStat]:
        return list(self.procs)

    def process_details(self, pid: int) -> ProcDetails:
        found = self.details.get(pid, ProcDetails("root", ("/bin/true",)))
        if isinstance(found, Exception):
            raise found
        return found


def proc(pid: int, cpu_time: float, rss: int = 1 << 20, name: str = "",
         start: int = 100, status: str = "S", threads: int = 1) -> ProcStat:
    return ProcStat(pid, name or f"p{pid}", status, cpu_time, threads, start, rss)
