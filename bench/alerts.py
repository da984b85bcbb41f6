"""Benchmark: the alert engine's evaluation cost per tick, 50 rules over 200 series.

The engine runs as in the daemon: started on an event loop (delivery and persistence
on their own task and threads), fed one sample per simulated second. Each value
wanders around its own level (a mean-reverting random walk); a tenth of the series
sit near their rule's threshold, so alerts go pending, fire and recover all along
(far more often than on a healthy server). Every evaluate() is timed on its own, in
wall-clock time (`eval_us_*`, what the tick waits) and in this thread's CPU time
(`eval_cpu_us_*`, the cost without preemption by other processes or threads).
Target: p99 <= 1 ms.

    python bench/alerts.py [--ticks N]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sysmond.alerts import AlertEngine
from sysmond.config import AlertRuleConfig, AlertsConfig, ChannelConfig


def make_series() -> dict[str, float]:
    """200 series shaped like a real sample: totals plus per core/mount/device/nic."""
    s: dict[str, float] = {}
    for f in ("usage_percent", "user_percent", "system_percent", "iowait_percent",
              "steal_percent", "load_average_1", "load_average_5", "load_average_15",
              "ctx_switches_per_sec", "interrupts_per_sec"):
        s[f"cpu.{f}"] = 20.0
    for core in range(16):
        s[f"cpu.usage_percent@{core}"] = 20.0
    for f in ("percent", "available", "used", "total", "swap_percent", "swap_used",
              "swap_in_bytes_per_sec", "swap_out_bytes_per_sec"):
        s[f"memory.{f}"] = 40.0
    mounts = ["/", "/home", "/var", "/srv", "/boot", "/data", "/backup", "/tmp2"]
    for f in ("percent", "free", "used", "total"):
        s[f"disk.{f}"] = 50.0
        for m in mounts:
            s[f"disk.{f}@{m}"] = 50.0
    for f in ("read_bytes_per_sec", "write_bytes_per_sec", "read_count_per_sec",
              "write_count_per_sec", "busy_percent"):
        s[f"disk.{f}"] = 10.0
        for d in ("sda", "sdb", "nvme0n1", "nvme1n1"):
            s[f"disk.{f}@{d}"] = 10.0
    net_fields = ("bytes_sent_per_sec", "bytes_recv_per_sec", "packets_sent_per_sec",
                  "packets_recv_per_sec", "errors_in", "errors_out", "drops_in",
                  "drops_out")
    for f in net_fields:
        s[f"network.{f}"] = 100.0
        for nic in ("eth0", "eth1", "lo", "wg0"):
            s[f"network.{f}@{nic}"] = 100.0
    names = sorted(s)
    while len(names) < 200:  # pad to exactly 200 with more cores
        name = f"cpu.usage_percent@{len(names)}"
        s[name] = 20.0
        names.append(name)
    return {k: s[k] for k in sorted(s)[:200]}


def make_rules(series: dict[str, float]) -> tuple[AlertRuleConfig, ...]:
    """50 rules: 10 over every device (`@*`), 40 on totals and single devices."""
    rng = random.Random(7)
    wild = ["cpu.usage_percent@*", "disk.percent@*", "disk.free@*", "disk.busy_percent@*",
            "disk.read_bytes_per_sec@*", "disk.write_bytes_per_sec@*",
            "network.errors_in@*", "network.bytes_recv_per_sec@*",
            "network.drops_in@*", "network.bytes_sent_per_sec@*"]
    singles = rng.sample(sorted(series), 40)
    rules = []
    for i, metric in enumerate(wild + singles):
        rules.append(AlertRuleConfig(
            f"rule{i:02d}", metric, ">", 80.0, for_seconds=rng.choice((0, 30, 60, 300)),
            clear=75.0, severity=rng.choice(("warning", "critical")), channels=("log",),
            repeat=rng.choice((0, 0, 600)),
        ))
    return tuple(rules)


async def run(ticks: int) -> dict[str, float]:
    series = make_series()
    rules = make_rules(series)
    names = list(series)
    rng = random.Random(11)
    # Most series sit well below the thresholds (80); every tenth one close to it.
    base = {n: (rng.uniform(74.0, 86.0) if i % 10 == 0 else rng.uniform(5.0, 60.0))
            for i, n in enumerate(names)}
    with tempfile.TemporaryDirectory() as tmp:
        config = AlertsConfig(
            rules=rules, channels=(ChannelConfig("log", log_file="alerts.log"),)
        )
        engine = AlertEngine(config, Path(tmp), "bench")
        await engine.start()
        now = 1_700_000_000.0
        wall: list[float] = []
        cpu: list[float] = []
        values = dict(base)
        for tick in range(ticks):
            for n in names:  # mean-reverting random walk, clamped to 0..100
                v = values[n]
                v += 0.05 * (base[n] - v) + rng.gauss(0.0, 2.5)
                values[n] = min(100.0, max(0.0, v)) if v == v else base[n]
            if tick % 997 == 0:
                values[names[tick % len(names)]] = float("nan")  # a gap now and then
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            engine.evaluate(now + tick, values)
            wall.append((time.perf_counter_ns() - t0) / 1000.0)
            cpu.append((time.thread_time_ns() - c0) / 1000.0)
            if tick % 10 == 0:
                await asyncio.sleep(0)  # let delivery and persistence run
        status = engine.status()
        history = engine.history(limit=1_000_000)
        await engine.stop()
    firings = sum(1 for h in history if h.kind == "firing")
    wall.sort()
    cpu.sort()
    return {
        "rules": len(rules),
        "series": len(series),
        "instances": status["instances"],
        "ticks": ticks,
        "firings": firings,
        "eval_us_p50": round(statistics.median(wall), 1),
        "eval_us_p99": round(_p99(wall), 1),
        "eval_us_max": round(wall[-1], 1),
        "eval_cpu_us_p50": round(statistics.median(cpu), 1),
        "eval_cpu_us_p99": round(_p99(cpu), 1),
    }


def _p99(sorted_values: list[float]) -> float:
    return sorted_values[int(0.99 * (len(sorted_values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.ticks))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
