"""API benchmark: a hundred dashboards, saturation of `current`, and a 24 h query.

Run with `python bench/api.py` (about 2 minutes on a 2-core machine). It pre-fills a
store with a day of 1 s data for every series this machine's collectors produce,
starts the daemon on it (`python -m sysmond run --interval 1` on 127.0.0.1), and drives
it from a separate load process (aiohttp client):

  (a) dashboards: 100 clients, each asking `current` every second and a 1 h cpu series
      every 5 s, for 30 s, open loop: every request is sent at its scheduled time, and
      its latency counts from that time (a late send is latency too). Meanwhile the
      daemon's health is polled 4 times a second for its tick lag (how late the
      collection tick started after its grid time);
  (b) saturation: 100 keep-alive connections asking `current` as fast as they can for
      10 s (after 1 s of warm-up);
  (c) a 24 h query of the network series (the 8 totals) at 1000 points, 21 times, one
      at a time, one a second on the otherwise idle daemon: each comes after a new
      tick, so none is answered from the API's answer cache.

The last line printed is one JSON object: dash_mean_ms, dash_p99_ms, dash_errors,
tick_lag_max_ms, current_rps, query24h_p50_ms (plus a few details).
Targets on a 2-core machine: (a) mean <= 10 ms, p99 <= 50 ms, no errors, tick lag
<= 250 ms; (b) >= 3 000 requests/s; (c) <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("bench.api")
ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400


# --- the daemon under test -------------------------------------------------------------


def prefill(state_dir: Path, now: float) -> int:
    """Write a day of 1 s rows, ending just before `now`, for every series the
    collectors produce on this machine. Return the number of series."""
    import numpy as np

    from sysmond.collectors.registry import Registry
    from sysmond.config import CollectionConfig
    from sysmond.store import Store

    registry = Registry.default(CollectionConfig())
    try:
        names = sorted(registry.collect(wall=now, mono=time.monotonic()).values)
    finally:
        registry.close()
    ts = np.arange(int(now) - DAY, int(now) - 1, dtype=np.float64)
    scale = np.array([_scale(n) for n in names])
    rng = np.random.default_rng(1)
    with Store.open(state_dir / "store") as store:
        chunk = 3_600
        for i in range(0, len(ts), chunk):
            t = ts[i:i + chunk]
            wave = 0.5 + 0.3 * np.sin(t[:, None] / 600.0 + np.arange(len(names)))
            noise = rng.normal(0, 0.03, (len(t), len(names)))
            store.append_many(t, names, np.maximum(0, wave + noise) * scale)
    return len(names)


def _scale(name: str) -> float:
    """A plausible magnitude for a series, from its unit in the catalogue."""
    from sysmond.metrics import BY_SERIES, split_series

    metric = BY_SERIES.get(split_series(name)[0])
    unit = metric.unit if metric else ""
    return {"percent": 100.0, "bytes": 8e9, "bytes/s": 2e6, "1/s": 2e3,
            "MHz": 3e3, "load": 2.0}.get(unit, 100.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                if r.status == 200 and json.load(r).get("last_sample"):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="sysmond-bench-api-") as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        t = time.monotonic()
        n_series = prefill(state, time.time())
        log.info("store pre-filled: %d series x %d rows in %.1f s", n_series, DAY,
                 time.monotonic() - t)
        config = Path(tmp) / "sysmond.yaml"
        config.write_text("collection:\n  interval: 1s\n")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with open(Path(tmp) / "daemon.log", "wb") as daemon_log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "sysmond", "run", "--config", str(config),
                 "--state-dir", str(state), "--listen", f"127.0.0.1:{port}",
                 "--interval", "1", "--log-level", "warning"],
                stdout=daemon_log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        try:
            if not wait_healthy(url, daemon):
                sys.stderr.write((Path(tmp) / "daemon.log").read_text()[-3000:])
                raise SystemExit("the daemon did not become healthy")
            time.sleep(args.settle)
            load = subprocess.run(
                [sys.executable, __file__, "load", "--url", url,
                 "--clients", str(args.clients), "--duration", str(args.duration),
                 "--saturate", str(args.saturate)],
                capture_output=True, text=True, env=env, timeout=600)
            sys.stderr.write(load.stderr)
            if load.returncode != 0:
                raise SystemExit(f"the load process failed ({load.returncode})")
            result = json.loads(load.stdout.strip().splitlines()[-1])
        finally:
            stop(daemon)
        result.update({"mode": "daemon", "series": n_series, "cpus": os.cpu_count()})
        return result


# --- the load process ------------------------------------------------------------------


async def dashboards(url: str, clients: int, duration: float) -> dict[str, float]:
    """Open-loop dashboards; returns latency figures, errors and the tick lag seen."""
    import aiohttp

    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    lags: list[float] = []
    failures: dict[str, int] = {}
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=6))
                for _ in range(clients)]
    start = loop.time() + 1.0

    async def request(session: aiohttp.ClientSession, path: str, when: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, when - loop.time()))
        try:
            async with session.get(url + path) as r:
                await r.read()
                ok = r.status == 200
                if not ok:
                    failures[f"{r.status} {path}"] = failures.get(f"{r.status} {path}", 0) + 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            ok = False
            failures[repr(e)[:80]] = failures.get(repr(e)[:80], 0) + 1
        if ok:
            latencies.append(loop.time() - when)
        else:
            errors += 1

    async def watch_tick() -> None:
        async with aiohttp.ClientSession() as s:
            while loop.time() < start + duration:
                async with s.get(url + "/api/v1/health") as r:
                    facts = await r.json()
                if facts.get("tick_lag") is not None and loop.time() >= start:
                    lags.append(float(facts["tick_lag"]))
                await asyncio.sleep(0.25)

    tasks = []
    for i, session in enumerate(sessions):
        phase = start + i / clients
        for k in range(int(duration)):
            tasks.append(request(session, "/api/v1/metrics/current", phase + k))
        for k in range(0, int(duration), 5):
            tasks.append(request(session, "/api/v1/metrics/cpu?range=1h", phase + k + 0.5))
    try:
        await asyncio.gather(watch_tick(), *tasks)
    finally:
        for s in sessions:
            await s.close()
    latencies.sort()
    if failures:
        log.warning("failed requests: %s", failures)
    return {"dash_mean_ms": statistics.fmean(latencies) * 1000,
            "dash_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
            "dash_requests": len(latencies) + errors, "dash_errors": errors,
            "tick_lag_max_ms": max(lags) * 1000 if lags else None}


async def saturate(url: str, connections: int, duration: float) -> dict[str, float]:
    import aiohttp

    loop = asyncio.get_running_loop()
    done = errors = 0
    counting = False
    end = loop.time() + 1.0 + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, errors
        while loop.time() < end:
            async with session.get(url + "/api/v1/metrics/current") as r:
                await r.read()
                if counting:
                    done += r.status == 200
                    errors += r.status != 200

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(connections)]
        await asyncio.sleep(1.0)
        counting, t0 = True, loop.time()
        await asyncio.gather(*workers)
        elapsed = loop.time() - t0
    return {"current_rps": done / elapsed, "current_errors": errors}


async def query24h(url: str, runs: int = 21) -> dict[str, float]:
    import aiohttp

    times = []
    path = "/api/v1/metrics/network?range=24h&points=1000"
    async with aiohttp.ClientSession() as session:
        for _ in range(runs):
            # one a second: each follows a new tick, so none comes from the answer cache
            await asyncio.sleep(1.0)
            t0 = time.perf_counter()
            async with session.get(url + path) as r:
                doc = await r.json()
                assert r.status == 200, doc
            times.append(time.perf_counter() - t0)
    return {"query24h_p50_ms": statistics.median(times) * 1000,
            "query24h_series": len(doc["series"]), "query24h_points": len(doc["timestamps"]),
            "query24h_tier": doc["tier"]}


async def load(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {}
    out.update(await dashboards(args.url, args.clients, args.duration))
    log.info("dashboards done: %s", out)
    out.update(await saturate(args.url, 100, args.saturate))
    out.update(await query24h(args.url))
    return out


KEYS = ("dash_mean_ms", "dash_p99_ms", "dash_errors", "tick_lag_max_ms", "current_rps",
        "query24h_p50_ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="run", choices=("run", "load"))
    parser.add_argument("--url")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--saturate", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.role == "load":
        result = asyncio.run(load(args))
    else:
        result = run(args)
        rounded = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in result.items()}
        result = {k: rounded[k] for k in KEYS} | {k: v for k, v in rounded.items()
                                                  if k not in KEYS}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
