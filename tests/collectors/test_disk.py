"""The disk collector: mounts and patterns, I/O over whole disks, hung mounts."""

import logging
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

from sysmond.collectors.disk import DiskCollector
from sysmond.collectors.source import Partition, PsutilSource
from sysmond.config import CollectionConfig, Patterns
from tests.collectors.fakes import GIB, DiskIo, usage

ROOT = Path(__file__).resolve().parents[2]


def test_mount_totals_are_the_root_file_system(config, source):
    v = DiskCollector(config, source).collect(0.0).values
    assert v["disk.total"] == v["disk.total@/"] == 500 * GIB
    assert v["disk.percent"] == 60.0
    assert v["disk.free@/home"] == 90 * GIB


def test_pseudo_file_systems_and_system_mounts_are_left_out_by_default(config, source):
    r = DiskCollector(config, source).collect(0.0)
    mounts = {k.split("@", 1)[1] for k in r.values if k.startswith("disk.percent@")}
    assert mounts == {"/", "/home"}
    assert r.info["disk.fstype@/home"] == "xfs" and r.info["disk.device@/"] == "/dev/sda1"


def test_mount_and_fstype_patterns_choose_what_is_watched(source):
    cfg = CollectionConfig(mounts=Patterns(include=("/home",)), fstypes=Patterns())
    v = DiskCollector(cfg, source).collect(0.0).values
    assert "disk.percent@/home" in v and "disk.percent@/" not in v
    assert math.isnan(v["disk.percent"])  # root not watched: no total


def test_the_root_file_system_is_watched_whatever_its_type(config, source):
    source.parts[0] = Partition("overlay", "/", "overlay")
    v = DiskCollector(config, source).collect(0.0).values
    assert v["disk.percent"] == 60.0


def test_io_totals_sum_whole_disks_only_never_partitions_or_excluded_devices(config, source):
    disk = DiskCollector(config, source)
    disk.collect(0.0)
    source.disks = {"sda": DiskIo(read_bytes=4000, write_count=10, busy_time=250),
                    "sda1": DiskIo(read_bytes=4000, write_count=10),
                    "sdb": DiskIo(read_bytes=1000, busy_time=500),
                    "loop0": DiskIo(read_bytes=10**9)}
    v = disk.collect(1.0).values
    assert v["disk.read_bytes_per_sec@sda"] == 4000
    assert v["disk.read_bytes_per_sec"] == 5000
    assert v["disk.write_count_per_sec"] == 10
    assert "disk.read_bytes_per_sec@sda1" not in v and "disk.read_bytes_per_sec@loop0" not in v
    assert v["disk.busy_percent@sda"] == 25.0 and v["disk.busy_percent"] == 50.0


def test_without_sys_block_every_listed_device_counts(config, source):
    source.whole = None
    source.disks = {"sda": DiskIo()}
    v = DiskCollector(config, source).collect(0.0).values
    assert "disk.read_bytes_per_sec@sda" in v


def test_a_new_device_starts_within_one_tick_and_a_vanished_one_stops(config, source):
    disk = DiskCollector(config, source)
    disk.collect(0.0)
    source.disks["sdc"] = DiskIo(read_bytes=100)
    source.whole.add("sdc")
    v = disk.collect(1.0).values
    assert math.isnan(v["disk.read_bytes_per_sec@sdc"])
    assert math.isnan(v["disk.read_bytes_per_sec"])  # a partial sum would look real
    source.disks["sdc"] = DiskIo(read_bytes=300)
    v = disk.collect(2.0).values
    assert v["disk.read_bytes_per_sec@sdc"] == 200 and v["disk.read_bytes_per_sec"] == 200
    del source.disks["sdc"]
    v = disk.collect(3.0).values
    assert not any(k.endswith("@sdc") for k in v)
    assert v["disk.read_bytes_per_sec"] == 0


def test_a_replugged_device_whose_counters_restart_gives_a_gap(config, source):
    disk = DiskCollector(config, source)
    source.disks["sda"] = DiskIo(read_bytes=10**12, busy_time=10**6)
    disk.collect(0.0)
    source.disks["sda"] = DiskIo(read_bytes=512, busy_time=3)
    v = disk.collect(1.0).values
    assert math.isnan(v["disk.read_bytes_per_sec@sda"]) and math.isnan(v["disk.busy_percent@sda"])


def test_busy_percent_never_exceeds_100(config, source):
    disk = DiskCollector(config, source)
    disk.collect(0.0)
    source.disks["sda"] = DiskIo(busy_time=1010)  # jitter: 1.01 s busy in 1 s
    assert disk.collect(1.0).values["disk.busy_percent@sda"] == 100.0


def test_a_hung_mount_does_not_stall_the_tick_and_is_not_stat_again(source, caplog):
    cfg = CollectionConfig(stat_timeout=0.2)
    source.parts.append(Partition("nfs:/x", "/mnt/nfs", "nfs4"))
    source.usages["/mnt/nfs"] = usage(10 * GIB, GIB)
    hang = source.blocking["/mnt/nfs"] = threading.Event()
    disk = DiskCollector(cfg, source)
    try:
        start = time.monotonic()
        r = disk.collect(0.0)
        assert time.monotonic() - start < 1.0
        assert r.info["disk.stuck@/mnt/nfs"] is True
        assert "disk.percent@/mnt/nfs" not in r.values and r.values["disk.percent@/"] == 60.0
        start = time.monotonic()
        r = disk.collect(1.0)
        assert time.monotonic() - start < 0.1  # nothing left to wait for
        assert source.stat_calls.count("/mnt/nfs") == 1
        hang.set()
        time.sleep(0.05)  # let the released worker finish its call
        with caplog.at_level(logging.INFO):
            r = disk.collect(2.0)
        assert r.values["disk.percent@/mnt/nfs"] == 10.0
        assert "disk.stuck@/mnt/nfs" not in r.info
        assert any("answers again" in m for m in caplog.messages)
    finally:
        hang.set()


def test_a_mount_that_cannot_be_stat_is_skipped_and_logged_once(config, source, caplog):
    del source.usages["/home"]
    disk = DiskCollector(config, source)
    with caplog.at_level(logging.WARNING):
        for t in range(3):
            v = disk.collect(float(t)).values
    assert "disk.percent@/home" not in v and v["disk.percent@/"] == 60.0
    assert sum("/home" in m for m in caplog.messages) == 1


def test_on_the_real_machine_the_root_file_system_is_watched(config):
    disk = DiskCollector(config, PsutilSource())
    disk.collect(time.monotonic())
    time.sleep(0.05)
    v = disk.collect(time.monotonic()).values
    assert 0.0 <= v["disk.percent"] <= 100.0
    assert v["disk.used"] + v["disk.free"] <= v["disk.total"]
    for name, value in v.items():
        if "_per_sec" in name or "busy" in name:
            assert value >= 0 and not math.isnan(value), name


def test_a_hung_statvfs_never_keeps_the_process_from_exiting():
    code = (
        "import threading\n"
        "from sysmond.collectors.disk import DiskCollector\n"
        "from sysmond.config import CollectionConfig\n"
        "from tests.collectors.fakes import FakeSource\n"
        "src = FakeSource()\n"
        "src.blocking['/'] = threading.Event()  # never set\n"
        "r = DiskCollector(CollectionConfig(stat_timeout=0.1), src).collect(0.0)\n"
        "assert r.info['disk.stuck@/'] is True\n")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=10,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 5
