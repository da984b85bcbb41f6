"""Benchmark: cold load of the dashboard, and its JS heap over a live run.

A store is filled with a day of 1 s history (the series a 4-core machine with two
disks and two interfaces records), a real daemon (`sysmond run --interval 1`) is
started on it, and headless Chromium with a fresh profile (no cache) opens the
dashboard in a 1280 x 1400 window, every chart in view:

- `ready_ms`: navigation start until every chart has drawn data (the page sets
  `window.sysmond.readyMs` when the last chart draws; performance.now() time): the
  median of `--loads` (5) cold loads, each in a new browser with a fresh profile;
  `ready_ms_max` is the slowest and `ready_ms_all` lists them.
- `transfer_bytes`: every response's bytes on the wire (headers included) up to ready,
  in the last cold load.
- `range_24h_ms`: switching to 24 h until the charts have redrawn from the API.
- `js_heap_mb`: the page's JS heap after garbage collection, after 10 minutes of live
  mode at 1 s (`--live 600`, the default; a shorter `--live` adds the minutes left
  times the least-squares slope of the heap, sampled every 15 s, over the run's
  second half; a shrinking heap counts as flat). `heap_growth_pct` is the growth
  over the baseline, taken after `--warmup` (60 s) of live mode: the first minute
  compiles and optimizes the live path, once. The DevTools Network domain is turned
  off before the live run: while on, it keeps a copy of every response for its
  panel, memory of the tool rather than of the page. `js_heap_peak_mb` and
  `js_heap_end_mb` are as measured.
- `live_main_thread_ms_per_s`: after the live run, how many milliseconds a second
  the page's main thread is busy in live mode (Chromium's TaskDuration over 60 s).

Targets: ready <= 1000 ms on loopback, heap growth over the live run <= 10 %.

    python bench/dashboard.py [--loads N] [--live SECONDS] [--warmup SECONDS]

It needs chromium.

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sysmond.store import Store
from tests.daemon_helpers import DaemonProcess as Dashboard
from tests.web.cdp import Browser, Page, chromium_path

CORES, DISKS, NICS = 4, ("sda", "sdb"), ("eth0", "eth1")
VIEWPORT = (1280, 1400)  # a desktop window with every chart in view
WARMUP = 60.0  # seconds of live mode before the heap baseline
CPU_WINDOW = 60.0  # seconds of live mode over which the main thread's share is taken


def series_names() -> list[str]:
    names = [f"cpu.{f}" for f in ("usage_percent", "user_percent", "system_percent",
                                  "iowait_percent", "idle_percent", "load_average_1",
                                  "load_average_5", "load_average_15")]
    names += [f"cpu.usage_percent@{i}" for i in range(CORES)]
    names += [f"memory.{f}" for f in ("total", "available", "used", "percent", "swap_total",
                                      "swap_used", "swap_percent")]
    for mount in ("", "@/", "@/home"):
        names += [f"disk.{f}{mount}" for f in ("total", "used", "free", "percent")]
    io = ("read_bytes_per_sec", "write_bytes_per_sec", "read_count_per_sec",
          "write_count_per_sec", "busy_percent")
    for dev in ("", *(f"@{d}" for d in DISKS)):
        names += [f"disk.{f}{dev}" for f in io]
    net = ("bytes_sent_per_sec", "bytes_recv_per_sec", "packets_sent_per_sec",
           "packets_recv_per_sec", "errors_in", "errors_out")
    for nic in ("", *(f"@{n}" for n in NICS)):
        names += [f"network.{f}{nic}" for f in net]
    return names


def fill(store_dir: Path, now: float, seconds: int = 86_400) -> int:
    """Write `seconds` of 1 s history ending 2 s before `now`; return the series count."""
    names = series_names()
    end = int(now) - 2
    rng = np.random.default_rng(1)
    with Store.open(store_dir) as store:
        for lo in range(end - seconds, end, 3_600):  # an hour at a time: bounded memory
            ts = np.arange(lo, min(lo + 3_600, end), dtype=np.float64)
            wave = 0.5 + 0.4 * np.sin(2 * np.pi * (ts % 86_400) / 86_400)
            values = np.empty((ts.size, len(names)))
            for j, name in enumerate(names):
                scale = 100.0 if "percent" in name else 1e6 if "bytes" in name else 50.0
                values[:, j] = scale * np.clip(wave + rng.normal(0, 0.05, ts.size), 0, 1)
            store.append_many(ts, names, values)
        store.flush()
    return len(names)


async def cold_load(url: str) -> tuple[float, int]:
    """Open the dashboard in a new Chromium with a fresh profile; return (ready ms,
    bytes on the wire until ready)."""
    async with Browser(*VIEWPORT) as browser:
        page = await browser.new_page()
        await page.goto(url)
        await page.wait_for("window.sysmond && window.sysmond.ready", 60, "ready")
        return await page.eval("window.sysmond.readyMs"), page.bytes_received


async def main_thread_share(page: Page, seconds: float) -> float:
    """Milliseconds per second the page's main thread spent in tasks (script, style,
    layout, paint, GC) over `seconds` of live mode, from Chromium's own counters;
    no heap sampling runs meanwhile (its forced collections would count)."""
    await page.send("Performance.enable")

    async def task_s() -> float:
        metrics = (await page.send("Performance.getMetrics"))["metrics"]
        return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

    t0, busy0 = time.perf_counter(), await task_s()
    await asyncio.sleep(seconds)
    return 1000 * (await task_s() - busy0) / (time.perf_counter() - t0)


async def measure(url: str, live: float, warmup: float, loads: int) -> dict[str, float]:
    readies = []
    for _ in range(loads):
        ready, transfer = await cold_load(url)
        readies.append(ready)
        print(f"cold load: ready in {ready:.0f} ms, {transfer / 1e6:.2f} MB transferred")
    ready_ms = float(np.median(readies))
    async with Browser(*VIEWPORT) as browser:
        page = await browser.new_page()
        await page.goto(url)
        await page.wait_for("window.sysmond && window.sysmond.ready", 60, "ready")
        # A chart out of view does not draw its live points: measure with all in view.
        assert await page.eval("['cpu', 'mem', 'io', 'net'].every(k => document.getElementById("
                               "`chart-${k}`).getBoundingClientRect().bottom < innerHeight)"), \
            "a time chart is out of view"

        t0 = time.perf_counter()
        await page.eval("window.sysmond.ready = false; "
                        "document.querySelector('#ranges button[data-range=\"24h\"]').click()")
        await page.wait_for("document.getElementById('tier-cpu').textContent.startsWith('raw')"
                            " && document.getElementById('chart-cpu').data.at(-1).x.length > 500",
                            30, "the 24 h charts")
        range_ms = (time.perf_counter() - t0) * 1000
        print(f"24 h range: redrawn in {range_ms:.0f} ms")

        await page.eval("document.querySelector('#ranges button[data-range=\"5m\"]').click()")
        await page.wait_for("document.getElementById('tier-cpu').textContent.startsWith('raw')",
                            30, "back to live")
        # While the Network domain is on, DevTools keeps a copy of every response for
        # its Network panel: memory of the tool, not of the page.
        await page.send("Network.disable")
        await asyncio.sleep(warmup)
        await page.heap_mb()
        heap0 = await page.heap_mb()
        print(f"live mode: heap {heap0:.2f} MB at start; running {live:.0f} s ...")
        last = await page.eval("document.getElementById('chart-cpu').data.at(-1).x.at(-1)")
        samples = [(0.0, heap0)]
        t_live = time.perf_counter()
        while (elapsed := time.perf_counter() - t_live) < live:
            await asyncio.sleep(min(15.0, live - elapsed))
            samples.append((time.perf_counter() - t_live, await page.heap_mb()))
        now_last = await page.eval("document.getElementById('chart-cpu').data.at(-1).x.at(-1)")
        assert now_last != last, "live mode did not append"
        busy = await main_thread_share(page, CPU_WINDOW)
        print(f"live mode: the page's main thread busy {busy:.1f} ms a second "
              f"(over {CPU_WINDOW:.0f} s)")
        heap1 = samples[-1][1]
        peak = max(h for _, h in samples)
        # Growth per 10 minutes: the least-squares slope over the second half of the
        # run (the first still carries the tail of the warm-up, which flattens), so
        # one garbage-collection step weighs no more than it should; shrinking is flat.
        late = [(t, h) for t, h in samples if t >= live / 2]
        ts = np.array([t for t, _ in late])
        hs = np.array([h for _, h in late])
        slope = float(np.polyfit(ts, hs, 1)[0]) if len(late) > 2 else 0.0
        growth = heap1 - heap0 + max(0.0, slope) * max(0.0, 600.0 - live)
        print("live mode: heap MB at " + ", ".join(f"{t:.0f}s={h:.2f}" for t, h in samples))
        print(f"live mode: {growth:+.2f} MB over 10 min (measured, then the late slope), "
              f"peak {peak:.2f} MB; "
              f"errors: {page.errors or 'none'}")
        return {"ready_ms": round(ready_ms, 1), "ready_ms_max": round(max(readies), 1),
                "ready_ms_all": [round(r) for r in readies], "transfer_bytes": transfer,
                "range_24h_ms": round(range_ms, 1),
                "js_heap_start_mb": round(heap0, 2),
                "js_heap_end_mb": round(heap1, 2),
                "js_heap_peak_mb": round(peak, 2),
                "js_heap_mb": round(heap0 + growth, 2),
                "heap_growth_pct": round(100.0 * growth / heap0, 2),
                "live_main_thread_ms_per_s": round(busy, 1),
                "live_seconds": live, "warmup_seconds": warmup,
                "console_errors": len(page.errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=float, default=600.0,
                        help="seconds of live mode measured after the warm-up; under 600 "
                        "the last half's slope projects it to 10 minutes (default 600)")
    parser.add_argument("--loads", type=int, default=5,
                        help="cold loads whose median is ready_ms (default 5)")
    parser.add_argument("--warmup", type=float, default=WARMUP,
                        help=f"seconds of live mode before the heap baseline (default "
                        f"{WARMUP:.0f})")
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="sysmond-bench-dashboard-"))
    daemon = None
    try:
        state = tmp / "state"
        t0 = time.perf_counter()
        n = fill(state / "store", time.time())
        print(f"store: a day of 1 s history for {n} series in {time.perf_counter() - t0:.1f} s")
        daemon = Dashboard(state)
        url = daemon.wait_ready()
        time.sleep(2)
        figures = asyncio.run(measure(url, args.live, args.warmup, max(1, args.loads)))
        figures.update({"series": n, "cpus": os.cpu_count() or 0,
                        "load_avg_1m": round(os.getloadavg()[0], 2)})
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
