"""Where the numbers come from: a thin psutil (and /proc) source the collectors read.

Collectors never call psutil directly; they call a `Source`. Tests hand them a fake
with the same methods, so a counter going backwards, a vanishing device, a process that
denies access or a mount that hangs is a plain Python object away.

System-wide counters are read with `nowrap=False`: psutil's wrap compensation would
turn a device reset into a plausible-looking but wrong delta; `rates.py` wants the raw
numbers so it can give a gap instead. Mounts are listed with `all=True` because psutil's
default drops `nodev` file systems, NFS among them (the very mounts that hang); the
fstype patterns in the config exclude pseudo file systems instead. The process pass
reads /proc/PID/stat itself: one read per process gives name, state, cpu time, threads
and rss, which is several times cheaper than psutil's per-process objects.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

import psutil


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


class Usage(NamedTuple):
    total: int
    used: int
    free: int
    percent: float


class ProcStat(NamedTuple):
    """The lean per-process record of one /proc/PID/stat read."""

    pid: int
    name: str  # comm, at most 15 characters
    status: str  # state letter
    cpu_time: float  # user + system seconds
    num_threads: int
    start: int  # start time in clock ticks since boot: (pid, start) is unique
    rss: int  # bytes


class ProcDetails(NamedTuple):
    user: str | None
    cmdline: tuple[str, ...] | None


STATUSES = {
    "R": "running", "S": "sleeping", "D": "disk-sleep", "Z": "zombie", "T": "stopped",
    "t": "tracing-stop", "X": "dead", "x": "dead", "K": "wake-kill", "W": "waking",
    "P": "parked", "I": "idle",
}


class Source(Protocol):
    """What collectors read. psutil record types are returned as they are."""

    def cpu_times(self) -> list[Any]: ...  # per logical CPU, psutil scputimes
    def cpu_stats(self) -> Any: ...
    def cpu_freq(self) -> Any | None: ...
    def cpu_count(self, logical: bool = True) -> int | None: ...
    def load_average(self) -> tuple[float, float, float]: ...
    def virtual_memory(self) -> Any: ...
    def swap_memory(self) -> Any: ...
    def partitions(self) -> list[Partition]: ...
    def disk_usage(self, path: str) -> Usage: ...  # may block on a hung mount
    def disk_io(self) -> dict[str, Any]: ...
    def block_devices(self) -> set[str] | None: ...  # whole disks; None if unknown
    def net_io(self) -> dict[str, Any]: ...
    def process_stats(self) -> Iterable[ProcStat]: ...
    def process_details(self, pid: int) -> ProcDetails: ...


def parse_stat(pid: int, data: bytes, ticks: float, page: int) -> ProcStat:
    """Given the bytes of /proc/PID/stat, return its ProcStat. Raise ValueError if
    malformed. The name may contain spaces and parentheses, so split at the last ')'."""
    right = data.rindex(b")")
    name = data[data.index(b"(") + 1:right].decode("utf-8", "replace")
    f = data[right + 2:].split()  # f[k - 3] is field k of proc(5)
    return ProcStat(pid, name, f[0].decode(), (int(f[11]) + int(f[12])) / ticks,
                    int(f[17]), int(f[19]), int(f[21]) * page)


class PsutilSource:
    """The real machine, through psutil and /proc."""

    def __init__(self, proc: str = "/proc", sys: str = "/sys") -> None:
        self._proc, self._sys = proc, sys
        self._ticks = float(os.sysconf("SC_CLK_TCK"))
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._users: dict[int, str] = {}

    def cpu_times(self) -> list[Any]:
        return psutil.cpu_times(percpu=True)

    def cpu_stats(self) -> Any:
        return psutil.cpu_stats()

    def cpu_freq(self) -> Any | None:
        fn = getattr(psutil, "cpu_freq", None)  # absent where the OS has no cpufreq
        try:
            return fn() if fn else None
        except (OSError, RuntimeError, NotImplementedError):
            return None

    def cpu_count(self, logical: bool = True) -> int | None:
        return psutil.cpu_count(logical=logical)

    def load_average(self) -> tuple[float, float, float]:
        return os.getloadavg()

    def virtual_memory(self) -> Any:
        return psutil.virtual_memory()

    def swap_memory(self) -> Any:
        return psutil.swap_memory()

    def partitions(self) -> list[Partition]:
        return [Partition(p.device, p.mountpoint, p.fstype)
                for p in psutil.disk_partitions(all=True)]

    def disk_usage(self, path: str) -> Usage:
        u = psutil.disk_usage(path)
        return Usage(u.total, u.used, u.free, u.percent)

    def disk_io(self) -> dict[str, Any]:
        return psutil.disk_io_counters(perdisk=True, nowrap=False) or {}

    def block_devices(self) -> set[str] | None:
        try:  # /sys/block lists whole disks; '!' stands for '/' (cciss!c0d0)
            return {n.replace("!", "/") for n in os.listdir(f"{self._sys}/block")}
        except OSError:
            return None

    def net_io(self) -> dict[str, Any]:
        return psutil.net_io_counters(pernic=True, nowrap=False) or {}

    def process_stats(self) -> Iterable[ProcStat]:
        proc, ticks, page = self._proc, self._ticks, self._page
        for entry in os.listdir(proc):
            if not entry.isdigit():
                continue
            try:
                fd = os.open(f"{proc}/{entry}/stat", os.O_RDONLY)
                try:
                    data = os.read(fd, 2048)
                finally:
                    os.close(fd)
                yield parse_stat(int(entry), data, ticks, page)
            except (OSError, ValueError, IndexError):
                continue  # vanished between listdir and open, or hidden from us

    def process_details(self, pid: int) -> ProcDetails:
        """Raise FileNotFoundError/ProcessLookupError if the process is gone."""
        uid = os.stat(f"{self._proc}/{pid}").st_uid
        user = self._users.get(uid)
        if user is None:
            try:
                user = pwd.getpwuid(uid).pw_name
            except KeyError:
                user = str(uid)
            self._users[uid] = user
        try:
            with open(f"{self._proc}/{pid}/cmdline", "rb") as f:
                raw = f.read(8192)
        except PermissionError:
            return ProcDetails(user, None)
        args = raw.rstrip(b"\0").split(b"\0") if raw else []
        return ProcDetails(user, tuple(a.decode("utf-8", "replace") for a in args))
