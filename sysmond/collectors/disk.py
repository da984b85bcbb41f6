"""Disk: usage per mount point, and I/O per block device, with totals.

Mount totals (`disk.total` ...) are the root file system's, as in the PRD; so `/` is
watched whatever its type (an overlay root is excluded by the fstype defaults), unless
the mount patterns leave it out. I/O totals
are the sum over the watched *whole disks* — the names in /sys/block — because
/proc/diskstats also lists partitions (sda1) whose traffic is already counted in their
disk (sda); summing both would double it. Device-mapper devices (dm-*) sit on top of
disks too, which is why they are excluded by default. A total is a gap whenever one of
its devices is (first tick, a reset, a new device): a partial sum would look real.

statvfs can hang forever on a dead network mount. Each runs in a daemon thread with a
deadline of `stat_timeout` for all mounts together; a mount that misses it is skipped
and not stat'ed again until the hung call returns (`timeouts.StuckGuard`).
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import wait

from sysmond.collectors import NAN, Counter, Reading, watched
from sysmond.collectors.rates import Rates
from sysmond.collectors.source import Source
from sysmond.collectors.timeouts import DaemonPool, StuckGuard
from sysmond.config import CollectionConfig

log = logging.getLogger(__name__)

USAGE_FIELDS = ("total", "used", "free", "percent")
# series field, psutil attribute, counter name, counter scale
IO_FIELDS = (
    ("read_bytes_per_sec", "read_bytes", "disk_read_bytes_total", 1.0),
    ("write_bytes_per_sec", "write_bytes", "disk_written_bytes_total", 1.0),
    ("read_count_per_sec", "read_count", "disk_reads_completed_total", 1.0),
    ("write_count_per_sec", "write_count", "disk_writes_completed_total", 1.0),
)
TIME_COUNTERS = (("busy_time", "disk_io_time_seconds_total"),
                 ("read_time", "disk_read_time_seconds_total"),
                 ("write_time", "disk_write_time_seconds_total"))


class DiskCollector:
    name = "disk"

    def __init__(self, config: CollectionConfig, source: Source) -> None:
        self._source = source
        self._config = config
        self._rates = Rates()
        self._pool = DaemonPool(source.disk_usage, name="sysmond-statvfs")
        self._stuck = StuckGuard("mount")
        self._failing: set[str] = set()

    def reconfigure(self, config: CollectionConfig) -> None:
        self._config = config

    def collect(self, mono: float) -> Reading:
        values: dict[str, float] = {}
        info: dict[str, object] = {}
        self._usage(values, info)
        counters = self._io(values, mono)
        self._rates.sweep()
        return Reading(values, info, counters)

    def _usage(self, values: dict[str, float], info: dict[str, object]) -> None:
        cfg = self._config
        mounts = {p.mountpoint: p for p in self._source.partitions()  # last mount wins
                  if watched(cfg.mounts, p.mountpoint)
                  and (p.mountpoint == "/" or watched(cfg.fstypes, p.fstype))}
        self._stuck.forget(set(mounts))
        pending = {mp: self._pool.submit(mp) for mp in mounts if self._stuck.ready(mp)}
        if pending:
            wait(pending.values(), timeout=cfg.stat_timeout)
        for mp, part in mounts.items():
            info[f"disk.device@{mp}"] = part.device
            info[f"disk.fstype@{mp}"] = part.fstype
        for mp, fut in pending.items():
            if not fut.done():
                self._stuck.mark(mp, fut, cfg.stat_timeout)
                continue
            try:
                usage = fut.result()
            except Exception as exc:  # EACCES, ENOTCONN (dead fuse), unmounted meanwhile
                if mp not in self._failing:
                    log.warning("mount %s cannot be stat'ed: %s", mp, exc)
                    self._failing.add(mp)
                continue
            if mp in self._failing:
                log.info("mount %s can be stat'ed again", mp)
                self._failing.discard(mp)
            for field in USAGE_FIELDS:
                values[f"disk.{field}@{mp}"] = float(getattr(usage, field))
        self._failing &= set(mounts)
        for mp in self._stuck.stuck_keys():
            info[f"disk.stuck@{mp}"] = True
        for field in USAGE_FIELDS:
            values[f"disk.{field}"] = values.get(f"disk.{field}@/", NAN)

    def _io(self, values: dict[str, float], mono: float) -> tuple[Counter, ...]:
        whole = self._source.block_devices()
        rate = self._rates.rate
        totals = {f: [] for f, *_ in IO_FIELDS} | {"busy_percent": []}
        counters: list[Counter] = []
        for dev, io in sorted(self._source.disk_io().items()):
            if (whole is not None and dev not in whole) or not watched(self._config.devices,
                                                                       dev):
                continue
            label = (("device", dev),)
            for field, attr, counter, scale in IO_FIELDS:
                raw = float(getattr(io, attr))
                totals[field].append(rate((dev, attr), raw, mono))
                counters.append(Counter(counter, label, raw * scale))
            for attr, counter in TIME_COUNTERS:
                if hasattr(io, attr):
                    counters.append(Counter(counter, label, getattr(io, attr) / 1000.0))
            busy = NAN
            if hasattr(io, "busy_time"):  # ms of I/O in flight per s -> percent
                busy = rate((dev, "busy_time"), float(io.busy_time), mono) / 10
                busy = busy if math.isnan(busy) else min(100.0, busy)
            totals["busy_percent"].append(busy)
            for field, series in totals.items():
                values[f"disk.{field}@{dev}"] = series[-1]
        for field, series in totals.items():
            if not series or any(math.isnan(v) for v in series):
                values[f"disk.{field}"] = NAN
            else:
                values[f"disk.{field}"] = max(series) if field == "busy_percent" else sum(series)
        return tuple(counters)
