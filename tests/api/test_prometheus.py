"""`/metrics`: Prometheus naming, promtool's linter, and a real Prometheus scraping it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import aiohttp
import pytest
from aiohttp import web

from sysmond.api import create_app
from sysmond.api.prometheus import families

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def parse(text: str) -> dict[str, float]:
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


async def scrape(client) -> str:
    r = await client.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return await r.text()


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (Debian package prometheus)")
async def test_the_exposition_passes_promtool_check_metrics(client):
    text = await scrape(client)
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert not done.stdout.strip() and not done.stderr.strip()


async def test_gauges_are_in_base_units_and_ratios(client):
    samples = parse(await scrape(client))
    # memory.percent is a percent in the store, a 0-1 ratio here
    ratio = samples["sysmond_memory_used_ratio"]
    assert 0 <= ratio <= 1
    assert samples['sysmond_filesystem_used_ratio{mountpoint="/home"}'] <= 1
    assert samples["sysmond_cpus_logical"] == 4
    # a NaN (no frequency on this VM) is left out, not exported as NaN
    assert not any(k.startswith("sysmond_cpu_frequency_hertz") for k in samples)


async def test_counters_carry_the_raw_values_with_labels(client):
    samples = parse(await scrape(client))
    assert samples['sysmond_cpu_seconds_total{cpu="0",mode="user"}'] == 12345.67
    assert samples['sysmond_network_receive_bytes_total{interface="eth0"}'] == 9876543210
    assert samples['sysmond_disk_read_bytes_total{device="sda"}'] == 5e9
    text = await scrape(client)
    assert "# TYPE sysmond_context_switches_total counter" in text


async def test_the_daemons_own_metrics_are_exported(client):
    samples = parse(await scrape(client))
    assert samples['sysmond_collector_success{collector="cpu"}'] == 1
    assert samples['sysmond_collector_duration_seconds{collector="disk"}'] == 0.003
    assert samples["sysmond_tick_lag_seconds"] == 0.004
    assert samples["sysmond_store_writes_total"] == 17_000
    assert samples["sysmond_store_dropped_samples_total"] == 2
    assert samples["process_resident_memory_bytes"] > 0


async def test_every_family_has_help_and_type_once(client):
    text = await scrape(client)
    names = list(families(text))
    assert len(names) == len(set(names))
    for name in names:
        assert f"# HELP {name} " in text
        assert all(n.startswith(("sysmond_", "process_")) for n in names)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing (Debian package)")
async def test_a_real_prometheus_scrapes_the_values_sysmond_served(make_state, tmp_path):
    runner = web.AppRunner(create_app(make_state()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: sysmond\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    logfile = tmp_path / "prometheus.log"
    with open(logfile, "wb") as log:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        got, served = await read_back(proc, logfile, port, prom_port, WANTED)
        assert got.keys() == set(WANTED), logfile.read_text()[-3000:]
        for key in WANTED:
            assert got[key] == served[key], key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await runner.cleanup()


WANTED = ("sysmond_memory_used_ratio", 'sysmond_cpu_seconds_total{cpu="0",mode="user"}')


async def read_back(proc, logfile, port, prom_port, wanted, timeout=60.0):
    """Poll Prometheus' query API until every wanted series has a value (bounded);
    return (values from Prometheus, values sysmond served)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            served = parse(await r.text())
        got: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while len(got) < len(wanted) and time.monotonic() < deadline:
            assert proc.poll() is None, logfile.read_text()
            for query in wanted:
                try:
                    async with http.get(f"http://127.0.0.1:{prom_port}/api/v1/query",
                                        params={"query": query}) as r:
                        doc = await r.json() if r.status == 200 else None
                except aiohttp.ClientError:
                    doc = None
                if doc and doc["data"]["result"]:
                    got[query] = float(doc["data"]["result"][0]["value"][1])
            await asyncio.sleep(0.5)
    return got, served
