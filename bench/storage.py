"""Storage benchmark: sysmond's store against whisper and RRDtool on the same work.

Run with `.venv/bin/python bench/storage.py` (under 2 minutes on a 2-core machine;
whisper comes with the `bench` extra, RRDtool's rows appear when the `rrdtool` command
is installed, e.g. `apt-get install rrdtool`). Everything runs on a synthetic clock, so
the figures do not depend on the time of day and nothing sleeps.

100 series, the default ladder (1 s for a day, 1 min for 7 days, 5 min for 30 days,
1 h for a year), avg/min/max in every coarse tier:

  backfill_rows_per_s     append_many of a day of 1 s rows (86 400 rows of 100 values)
                          into a fresh store, consolidation included; best of 3
  tick_append_us_p50/p99  one tick's append (100 values), consolidation included, over
                          4 hours of ticks after that day (240 minute, 48 five-minute and
                          4 hour boundaries); the daemon's flush every 60 s happens
                          between ticks and is reported apart (flush_ms_p50)
  query_24h_*_ms          24 h at 1 s merged to 1000 points, for 1 and for 100 series;
                          median of 15
  query_7d/30d/1y_*_ms    on a second store whose tiers are full: built through the
                          engine's own path, append_many of a year of rows at a 60 s
                          cadence with sample_interval=60 (so every 1 min, 5 min and 1 h
                          row is fully covered; the raw tier holds one row a minute);
                          median of 10; query_1y_known_fraction shows the tiers are full
  files_bytes             the ring files of the first store (= Store.budget(100))
  disk_write_bytes_per_hour
                          /proc/PID/io write_bytes of a process appending 1 s ticks for
                          an hour (after a first hour of warm-up), on a synthetic clock.
                          write_bytes counts a page each time it goes from clean to
                          dirty, so what matters is how often pages are cleaned: the
                          daemon's flush (msync + writer.json) every 60 s of data, and
                          the kernel's writeback of pages dirty for 30 s
                          (vm.dirty_expire_centisecs), simulated by an fdatasync of every
                          ring file at each half minute. Running an hour in real time
                          would measure the same thing in an hour; a fast run without
                          the simulated writeback would count each page once and
                          flatter the figure.

whisper_* rows: 100 whisper files (one per series, average only: whisper keeps one
aggregate per archive) with the same archives and xFilesFactor 0.5. A tick is 100
`whisper.update` calls; the 24 h queries are `whisper.fetch` of the raw points (whisper
has no merge to 1000 points; graphite-web's would come on top); backfill is
`update_many` of a day, timed on 2 files and scaled to 100; disk writes as above
(fdatasync of every file each half minute), over 30 minutes scaled to an hour.

rrd_* rows: one RRD file with 100 data sources, RRAs AVERAGE for 1 s and
AVERAGE/MIN/MAX for 1 min, 5 min and 1 h (the same information as sysmond), driven
through `rrdtool -` (one long-lived process; a tick is one `update` command, its pipe
round trip included); queries are `xport --maxrows 1000` of 24 h of the 1 s archive
(`DEF:...:step=1`; left to itself RRDtool answers from its 1-minute archive, reported as
rrd_query_24h_100series_1m_archive_ms); disk writes are the rrdtool process's
write_bytes, with the same simulated writeback.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sysmond.config import DEFAULT_TIERS
from sysmond.store import Store

N = 100
NAMES = [f"bench.series@{i}" for i in range(N)]
DAY = 86_400
START = 1_700_000_000 // DAY * DAY  # a synthetic clock: midnight, 2023-11-15
WHISPER_ARCHIVES = [(t.step, t.rows) for t in DEFAULT_TIERS]


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def random_walk(rng, rows, cols=N):
    """Values that look like metrics: a random walk per series, float32."""
    steps = rng.normal(0, 1, size=(rows, cols)).astype(np.float32)
    return (np.cumsum(steps, axis=0) + rng.uniform(0, 1000, size=cols)).astype(np.float32)


def ring_bytes(path):
    return sum(p.stat().st_size for p in Path(path).glob("*.ring"))


# --- sysmond -----------------------------------------------------------------------


def bench_sysmond(tmp: Path, out: dict) -> None:
    rng = np.random.default_rng(1)
    day = random_walk(rng, DAY)
    stamps = START + np.arange(DAY)

    backfill = []
    for k in range(3):
        path = tmp / f"sysmond-{k}"
        store = Store.open(path)
        t = time.perf_counter()
        store.append_many(stamps, NAMES, day)
        backfill.append(time.perf_counter() - t)
        if k < 2:
            store.close()
            shutil.rmtree(path)
    out["backfill_rows_per_s"] = round(DAY / min(backfill))

    # 4 hours of ticks after the day, the daemon's flush every 60 s between ticks
    ticks = random_walk(rng, 4 * 3600)
    latencies, flushes, at_minute, at_hour = [], [], [], []
    for i in range(len(ticks)):
        ts = START + DAY + i
        values = dict(zip(NAMES, ticks[i].tolist()))
        t = time.perf_counter_ns()
        store.append(ts, values)
        dt = (time.perf_counter_ns() - t) / 1000
        latencies.append(dt)
        if ts % 60 == 0:
            at_minute.append(dt)
        if ts % 3600 == 0:
            at_hour.append(dt)
        if ts % 60 == 59:
            t = time.perf_counter()
            store.flush()
            flushes.append((time.perf_counter() - t) * 1000)
    out["tick_append_us_p50"] = round(percentile(latencies, 50), 1)
    out["tick_append_us_p99"] = round(percentile(latencies, 99), 1)
    out["tick_append_us_max"] = round(max(latencies), 1)
    out["tick_append_us_minute_boundary_p50"] = round(percentile(at_minute, 50), 1)
    out["tick_append_us_hour_boundary_max"] = round(max(at_hour), 1)
    out["flush_ms_p50"] = round(percentile(flushes, 50), 2)

    now = store.last_time
    out["query_24h_1series_ms"] = round(median_ms(
        lambda: store.query(NAMES[:1], now - DAY, now, points=1000, now=now), 15), 2)
    out["query_24h_100series_ms"] = round(median_ms(
        lambda: store.query(NAMES, now - DAY, now, points=1000, now=now), 15), 2)
    res = store.query(NAMES, now - DAY, now, points=1000, now=now)
    assert res.tier == "raw" and len(res.timestamps) <= 1000
    out["files_bytes"] = ring_bytes(store.path)
    out["files_bytes_budget"] = Store.budget(N)
    store.close()

    # a store whose coarse tiers are full: a year at a 60 s cadence, through append_many
    path = tmp / "sysmond-year"
    store = Store.open(path, sample_interval=60)
    first = START - 365 * DAY
    t = time.perf_counter()
    for d in range(365):
        block = random_walk(rng, 1440)
        store.append_many(first + d * DAY + np.arange(0, DAY, 60), NAMES, block)
    out["year_build_s"] = round(time.perf_counter() - t, 1)
    now = store.last_time
    for label, span in (("7d", 7 * DAY), ("30d", 30 * DAY), ("1y", 365 * DAY)):
        out[f"query_{label}_100series_ms"] = round(median_ms(
            lambda span=span: store.query(NAMES, now - span, now, points=1000, now=now),
            10), 2)
    res = store.query(NAMES, now - 365 * DAY + 3600, now, points=1000, now=now)
    assert res.tier == "1h"
    out["query_1y_known_fraction"] = round(float(np.isfinite(res.avg).mean()), 4)
    store.close()
    shutil.rmtree(path)

    out["disk_write_bytes_per_hour"] = run_child(SYSMOND_HOUR, tmp / "sysmond-io")


SYSMOND_HOUR = r"""
import json, os, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[3])
from sysmond.store import Store
path, start = Path(sys.argv[1]), int(sys.argv[2])
names = [f"bench.series@{i}" for i in range(100)]
rng = np.random.default_rng(2)
def write_bytes():
    for line in open("/proc/self/io"):
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
store = Store.open(path)
store.append(start, dict(zip(names, rng.random(100).tolist())))
store.flush()
files = [os.open(p, os.O_RDONLY) for p in sorted(path.glob("*.ring"))]
for hour in range(2):  # a warm-up hour, then the measured one
    if hour == 1:
        before = write_bytes()
    for i in range(3600):
        ts = start + hour * 3600 + i + 1
        store.append(ts, dict(zip(names, rng.random(100).tolist())))
        if ts % 60 == 0:
            store.flush()  # the daemon's flush_interval
        elif ts % 60 == 30:
            for fd in files:  # the kernel writing back pages dirty for 30 s
                os.fdatasync(fd)
print(json.dumps({"bytes": write_bytes() - before}))
"""


def run_child(code: str, path: Path, *extra: str) -> int:
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", code, str(path), str(START), repo, *extra],
                         capture_output=True, text=True, check=True).stdout
    return int(json.loads(out.strip().splitlines()[-1])["bytes"])


# --- whisper -----------------------------------------------------------------------


def bench_whisper(tmp: Path, out: dict) -> None:
    try:
        import whisper
    except ImportError:
        print("whisper is not installed (pip install whisper): no whisper_* rows")
        return
    rng = np.random.default_rng(3)
    folder = tmp / "whisper"
    folder.mkdir()
    paths = [str(folder / f"s{i}.wsp") for i in range(N)]
    for p in paths:
        whisper.create(p, WHISPER_ARCHIVES, xFilesFactor=0.5, aggregationMethod="average")
    out["whisper_files_bytes"] = sum(os.path.getsize(p) for p in paths)

    day = random_walk(rng, DAY, 2)
    t = time.perf_counter()
    for j in range(2):
        points = list(zip((START + np.arange(DAY)).tolist(), day[:, j].tolist()))
        whisper.update_many(paths[j], points, now=START + DAY - 1)
    per_series = (time.perf_counter() - t) / 2
    out["whisper_backfill_rows_per_s"] = round(DAY / (per_series * N))

    ticks = random_walk(rng, 900)
    latencies = []
    for i in range(len(ticks)):
        ts = START + DAY + i
        values = ticks[i].tolist()
        t = time.perf_counter_ns()
        for p, v in zip(paths, values):
            whisper.update(p, v, ts, now=ts)
        latencies.append((time.perf_counter_ns() - t) / 1000)
    out["whisper_tick_us_p50"] = round(percentile(latencies, 50), 1)
    out["whisper_tick_us_p99"] = round(percentile(latencies, 99), 1)

    now = START + DAY + len(ticks) - 1
    out["whisper_query_24h_1series_ms"] = round(median_ms(
        lambda: whisper.fetch(paths[0], now - DAY + 1, now, now=now), 5), 2)
    out["whisper_query_24h_100series_ms"] = round(median_ms(
        lambda: [whisper.fetch(p, now - DAY + 1, now, now=now) for p in paths], 3), 2)
    out["whisper_disk_write_bytes_per_hour"] = 2 * run_child(
        WHISPER_HALF_HOUR, tmp / "whisper-io", json.dumps(WHISPER_ARCHIVES))


WHISPER_HALF_HOUR = r"""
import json, os, sys
from pathlib import Path
import numpy as np
import whisper
path, start = Path(sys.argv[1]), int(sys.argv[2])
archives = json.loads(sys.argv[4])
path.mkdir()
paths = [str(path / f"s{i}.wsp") for i in range(100)]
for p in paths:
    whisper.create(p, [tuple(a) for a in archives], xFilesFactor=0.5,
                   aggregationMethod="average")
files = [os.open(p, os.O_RDONLY) for p in paths]
for fd in files:
    os.fdatasync(fd)
rng = np.random.default_rng(2)
def write_bytes():
    for line in open("/proc/self/io"):
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
before = write_bytes()
for i in range(1800):
    ts = start + i
    for p, v in zip(paths, rng.random(100).tolist()):
        whisper.update(p, v, ts, now=ts)
    if ts % 30 == 0:
        for fd in files:  # the kernel writing back pages dirty for 30 s
            os.fdatasync(fd)
print(json.dumps({"bytes": write_bytes() - before}))
"""


# --- RRDtool -----------------------------------------------------------------------


class Rrdtool:
    """One long-lived `rrdtool -` process; each command waits for its OK line."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(["rrdtool", "-"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=cwd)

    def __call__(self, line: str) -> list[str]:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            got = self.proc.stdout.readline()
            if got.startswith("OK"):
                return lines
            if got.startswith("ERROR") or not got:
                raise RuntimeError(f"rrdtool: {got.strip()} (after {line[:80]!r})")
            lines.append(got)

    def write_bytes(self) -> int:
        io = Path(f"/proc/{self.proc.pid}/io").read_text()
        return int(next(x for x in io.splitlines() if x.startswith("write_bytes:")).split()[1])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def rrd_create(rrd: Rrdtool, name: str, start: int) -> None:
    ds = " ".join(f"DS:s{i}:GAUGE:120:U:U" for i in range(N))
    rras = ["RRA:AVERAGE:0.5:1:86400"]
    for tier in DEFAULT_TIERS[1:]:
        rras += [f"RRA:{cf}:0.5:{tier.step}:{tier.rows}" for cf in ("AVERAGE", "MIN", "MAX")]
    rrd(f"create {name} --step 1 --start {start - 1} {ds} {' '.join(rras)}")


def rrd_line(ts: int, row) -> str:
    return f"{ts}:" + ":".join(f"{v:.7g}" for v in row)


def bench_rrd(tmp: Path, out: dict) -> None:
    if shutil.which("rrdtool") is None:
        print("rrdtool is not installed (apt-get install rrdtool): no rrd_* rows")
        return
    rng = np.random.default_rng(4)
    folder = tmp / "rrd"
    folder.mkdir()
    rrd = Rrdtool(folder)
    try:
        rrd_create(rrd, "bench.rrd", START)
        out["rrd_files_bytes"] = (folder / "bench.rrd").stat().st_size
        day = random_walk(rng, DAY)
        t = time.perf_counter()
        for i in range(0, DAY, 100):
            rrd("update bench.rrd " + " ".join(rrd_line(START + i + k, day[i + k])
                                               for k in range(100)))
        out["rrd_backfill_rows_per_s"] = round(DAY / (time.perf_counter() - t))

        ticks = random_walk(rng, 1800)
        latencies = []
        for i in range(len(ticks)):
            line = "update bench.rrd " + rrd_line(START + DAY + i, ticks[i])
            t = time.perf_counter_ns()
            rrd(line)
            latencies.append((time.perf_counter_ns() - t) / 1000)
        out["rrd_tick_us_p50"] = round(percentile(latencies, 50), 1)
        out["rrd_tick_us_p99"] = round(percentile(latencies, 99), 1)

        now = START + DAY + len(ticks) - 1

        def xport(series, step=""):
            defs = " ".join(f"DEF:a{i}=bench.rrd:s{i}:AVERAGE{step} XPORT:a{i}"
                            for i in series)
            return rrd(f"xport --start {now - DAY} --end {now} --maxrows 1000 {defs}")

        # the same work: the 1 s archive merged to 1000 points (each DEF reads it whole)
        out["rrd_query_24h_1series_ms"] = round(median_ms(
            lambda: xport(range(1), ":step=1"), 3), 2)
        out["rrd_query_24h_100series_ms"] = round(median_ms(
            lambda: xport(range(N), ":step=1"), 1), 2)
        # what RRDtool does by default: answer from its 1-minute archive instead
        out["rrd_query_24h_100series_1m_archive_ms"] = round(median_ms(
            lambda: xport(range(N)), 5), 2)

        # an hour of ticks on a fresh file, with the kernel's writeback simulated
        rrd_create(rrd, "io.rrd", START)
        fd = os.open(folder / "io.rrd", os.O_RDONLY)
        os.fdatasync(fd)
        before = rrd.write_bytes()
        for i in range(3600):
            ts = START + i
            rrd("update io.rrd " + rrd_line(ts, rng.random(N)))
            if ts % 30 == 0:
                os.fdatasync(fd)
        out["rrd_disk_write_bytes_per_hour"] = rrd.write_bytes() - before
        os.close(fd)
    finally:
        rrd.close()


# --- main --------------------------------------------------------------------------


TARGETS = {
    "tick_append_us_p50": ("<=", 50), "tick_append_us_p99": ("<=", 500),
    "backfill_rows_per_s": (">=", 300_000), "query_24h_1series_ms": ("<=", 5),
    "query_24h_100series_ms": ("<=", 30), "query_1y_100series_ms": ("<=", 20),
    "files_bytes": ("<=", 80_000_000),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-whisper", action="store_true")
    parser.add_argument("--no-rrd", action="store_true")
    args = parser.parse_args(argv)
    out: dict = {"series": N}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sysmond-bench-") as tmp:
        tmp = Path(tmp)
        bench_sysmond(tmp, out)
        if not args.no_whisper:
            bench_whisper(tmp, out)
        if not args.no_rrd:
            bench_rrd(tmp, out)
    out["bench_seconds"] = round(time.monotonic() - started, 1)
    for key, value in out.items():
        mark = ""
        if key in TARGETS:
            op, limit = TARGETS[key]
            ok = value <= limit if op == "<=" else value >= limit
            mark = f"   (target {op} {limit:,}: {'ok' if ok else 'MISSED'})"
        print(f"{key:40} {value:>16,}{mark}" if isinstance(value, (int, float))
              else f"{key:40} {value}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
