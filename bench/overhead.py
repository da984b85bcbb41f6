"""Overhead benchmark: the daemon's CPU against a naive psutil loop, as is and crowded.

Run with `python bench/overhead.py` (about 3 minutes on a 2-core machine). Two runs,
each with three processes side by side for `--warmup` + `--duration` seconds:

  * naive:     a plain psutil loop that every second reads the system metrics and
               `process_iter` with name, cpu %, memory %, rss, threads and status for
               every process, keeping the top 10 — the reference to beat;
  * collectors: sysmond's Registry alone, ticking every second (what sampling costs);
  * daemon:    `python -m sysmond run --interval 1` on a temporary state directory
               (sampling + storing + consolidating + serving); null if it cannot run.

The first run is on the machine as it is, the second with 1 000 extra idle processes
(`sleep`) started by the benchmark. CPU comes from utime+stime in /proc/PID/stat, as a
percentage of one core; memory from /proc/PID/smaps_rollup; disk writes from
/proc/PID/io. It also times the process collector's own pass in this process.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
NAIVE = r"""
import heapq, time, psutil
ATTRS = ["name", "cpu_percent", "memory_percent", "memory_info", "num_threads", "status"]
psutil.cpu_percent(percpu=True)
while True:
    start = time.monotonic()
    psutil.cpu_percent(percpu=True), psutil.cpu_freq(), psutil.getloadavg()
    psutil.cpu_stats(), psutil.virtual_memory(), psutil.swap_memory()
    for part in psutil.disk_partitions():
        try:
            psutil.disk_usage(part.mountpoint)
        except OSError:
            pass
    psutil.disk_io_counters(perdisk=True), psutil.net_io_counters(pernic=True)
    infos = [p.info for p in psutil.process_iter(ATTRS)]
    heapq.nlargest(10, infos, key=lambda i: i["cpu_percent"] or 0.0)
    heapq.nlargest(10, infos, key=lambda i: i["memory_percent"] or 0.0)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
"""
COLLECTORS = r"""
import time
from sysmond.collectors.registry import Registry
from sysmond.config import CollectionConfig
registry = Registry.default(CollectionConfig())
start = time.monotonic()
k = 0
while True:
    registry.collect(wall=time.time(), mono=time.monotonic())
    k += 1
    time.sleep(max(0.0, start + k - time.monotonic()))
"""


def free_port() -> int:
    """Return a loopback port free right now (the daemon binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_kib(pid: int, file: str, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def write_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def start_idle(n: int) -> list[subprocess.Popen[bytes]]:
    """Start `n` idle processes (sleep), the crowd of the second run."""
    return [subprocess.Popen(["sleep", "100000"], stdin=subprocess.DEVNULL)
            for _ in range(n)]


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_once(args: argparse.Namespace, label: str) -> dict[str, float | int | None]:
    """Run naive, collectors and daemon side by side; return their figures."""
    state = tempfile.mkdtemp(prefix="sysmond-bench-")
    quiet = {"stdout": subprocess.DEVNULL, "stdin": subprocess.DEVNULL}
    naive = subprocess.Popen([sys.executable, "-c", NAIVE], **quiet)
    collectors = subprocess.Popen([sys.executable, "-c", COLLECTORS], **quiet)
    daemon_log = Path(state) / "daemon.log"
    with open(daemon_log, "wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "sysmond", "run", "--state-dir", state, "--interval",
             "1", "--listen", f"127.0.0.1:{free_port()}"], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT)
    procs = [naive, collectors, daemon]
    try:
        time.sleep(args.warmup)
        alive = daemon.poll() is None
        if not alive:
            tail = daemon_log.read_text(errors="replace").strip().splitlines()[-3:]
            print(f"[{label}] the daemon is not running (exit {daemon.returncode}): "
                  + " | ".join(tail))
        t0 = time.monotonic()
        c0 = {p.pid: cpu_seconds(p.pid) for p in procs if p.poll() is None}
        w0 = write_bytes(daemon.pid) if alive else None
        time.sleep(args.duration)
        elapsed = time.monotonic() - t0
        alive = alive and daemon.poll() is None

        def pct(p: subprocess.Popen[bytes]) -> float | None:
            if p.poll() is not None or p.pid not in c0:
                return None
            return round((cpu_seconds(p.pid) - c0[p.pid]) / elapsed * 100, 3)

        w1 = write_bytes(daemon.pid) if alive else None
        rss = proc_kib(daemon.pid, "smaps_rollup", "Rss:") if alive else None
        pss = proc_kib(daemon.pid, "smaps_rollup", "Pss:") if alive else None
        return {
            "procs": len([e for e in os.listdir("/proc") if e.isdigit()]),
            "naive_cpu_pct": pct(naive), "collectors_cpu_pct": pct(collectors),
            "daemon_cpu_pct": pct(daemon) if alive else None,
            "daemon_rss_mb": round(rss / 1024, 1) if rss is not None else None,
            "daemon_pss_mb": round(pss / 1024, 1) if pss is not None else None,
            "daemon_disk_write_bytes_per_hour": (
                round((w1 - w0) / elapsed * 3600) if w0 is not None and w1 is not None
                else None),
        }
    finally:
        stop_all(procs)


def process_pass_ms(passes: int = 20) -> float:
    """Return the CPU milliseconds of one pass of sysmond's process collector here."""
    from sysmond.collectors.processes import ProcessCollector
    from sysmond.collectors.source import PsutilSource
    from sysmond.config import CollectionConfig

    collector = ProcessCollector(CollectionConfig(), PsutilSource())
    collector.sample(time.monotonic())
    start = time.thread_time()
    for _ in range(passes):
        collector.sample(time.monotonic())
    return round((time.thread_time() - start) / passes * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before")
    parser.add_argument("--extra", type=int, default=1000, help="idle processes to add")
    args = parser.parse_args()
    result: dict[str, float | int | None] = {}
    first = run_once(args, "as is")
    first["process_pass_ms"] = process_pass_ms()
    print("as is:", json.dumps(first), flush=True)
    crowd = start_idle(args.extra)
    try:
        time.sleep(1.0)
        crowded = run_once(args, f"+{args.extra}")
        crowded["process_pass_ms"] = process_pass_ms()
    finally:
        stop_all(crowd)
    print(f"+{args.extra} idle:", json.dumps(crowded), flush=True)
    result.update(first)
    result.update({f"{k}_1000": v for k, v in crowded.items()})
    result["duration_s"], result["interval_s"] = args.duration, 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
