"""The daemon end to end, in a subprocess with a temporary state directory."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sysmond.store import Store
from tests.daemon_helpers import DaemonProcess, wait_for


def raw_times(state_dir: Path, series: str = "memory.percent") -> np.ndarray:
    """Times of the raw rows holding `series`, from a read-only store."""
    store = Store.open(state_dir / "store", readonly=True)
    try:
        if store.last_time is None or series not in store.series():
            return np.empty(0, np.int64)
        res = store.query([series], store.last_time - 600, store.last_time, points=100_000,
                          tier=store.tiers[0].name, now=store.last_time)
        return res.timestamps[~np.isnan(res.avg[0])]
    finally:
        store.close()


@pytest.fixture
def daemon(tmp_path: Path):
    procs: list[DaemonProcess] = []

    def start(*args: str, **kw) -> DaemonProcess:
        d = DaemonProcess(kw.pop("state_dir", tmp_path / "state"), *args, **kw)
        procs.append(d)
        d.wait_ready()
        return d

    yield start
    for d in procs:
        d.stop()


def test_samples_land_on_the_wall_clock_grid_one_per_interval(daemon):
    d = daemon()
    # The first tick (at start-up, heavier) may overrun one grid point; after it, none.
    times = np.array(wait_for(lambda: (t := raw_times(d.state_dir)).size >= 6 and t.tolist(),
                              20, "six stored samples"))[2:]
    assert np.all(np.diff(times) == 1), f"samples not one per second: {times}"
    assert d.stop() == 0


def test_sigterm_finishes_the_tick_flushes_and_exits_zero_within_two_seconds(daemon):
    d = daemon()
    wait_for(lambda: raw_times(d.state_dir).size >= 2, 20, "two stored samples")
    start = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.proc.wait(5) == 0
    assert time.monotonic() - start < 2.0
    writer = (d.state_dir / "store" / "writer.json").read_text()
    assert '"clean":true' in writer


def test_current_is_served_from_memory_and_fresh(daemon):
    d = daemon()
    doc = d.get_json("/api/v1/metrics/current")
    assert set(doc) >= {"timestamp", "hostname", "cpu", "memory", "disk", "network"}
    assert 0 <= doc["memory"]["percent"] <= 100
    health = d.get_json("/api/v1/health")
    assert health["interval"] == 1


def test_a_second_daemon_on_the_same_state_directory_is_refused(daemon, tmp_path):
    d = daemon()
    second = subprocess.run(
        [sys.executable, "-m", "sysmond", "run", "--state-dir", str(d.state_dir),
         "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert d.proc.poll() is None


def test_sighup_with_a_good_config_applies_the_new_interval(daemon, tmp_path):
    cfg = tmp_path / "sysmond.yaml"
    cfg.write_text("collection:\n  interval: 1\n  process_interval: 2\n")
    d = daemon(config=cfg, interval=None)
    wait_for(lambda: raw_times(d.state_dir).size >= 2, 20, "samples at 1 s")
    cfg.write_text("collection:\n  interval: 2\n  process_interval: 2\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.stderr(), 10, "the reload")
    mark = time.time()
    later = np.array(wait_for(
        lambda: (t := raw_times(d.state_dir))[t > mark + 1].size >= 3
        and t[t > mark + 1].tolist(), 30, "samples at 2 s"))
    assert np.all(np.diff(later) == 2), later
    assert np.all(later % 2 == 0)


def test_sighup_with_a_bad_config_keeps_the_running_one(daemon, tmp_path):
    cfg = tmp_path / "sysmond.yaml"
    cfg.write_text("collection:\n  top_n: 5\n")
    d = daemon(config=cfg, interval=None)
    cfg.write_text("collection:\n  interval: 0\n  bogus: 1\n")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in d.stderr(), 10, "the refusal")
    log = d.stderr()
    assert "collection.interval: must be between 1 and 60 seconds, got 0" in log
    assert "bogus" in log
    before = raw_times(d.state_dir).size
    wait_for(lambda: raw_times(d.state_dir).size >= before + 2, 10, "sampling to go on")
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_a_bad_config_at_start_exits_nonzero_naming_key_and_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("collection:\n  interval: 0\n")
    r = subprocess.run([sys.executable, "-m", "sysmond", "run", "--config", str(cfg),
                        "--state-dir", str(tmp_path / "s")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2
    assert f"{cfg}:2: collection.interval: must be between 1 and 60 seconds, got 0" in r.stderr


def test_the_daemon_renders_the_report_site_when_the_config_asks(daemon, tmp_path):
    out = tmp_path / "report"
    cfg = tmp_path / "sysmond.yaml"
    cfg.write_text(f"report:\n  enabled: true\n  output_dir: {out}\n  every: 1h\n")
    d = daemon(config=cfg)
    wait_for(lambda: "report site written" in d.stderr(), 30, "the report to be written")
    assert (out / "index.html").exists()
    assert d.stop() == 0


def test_a_changed_tier_ladder_stops_the_daemon_with_what_to_do(tmp_path):
    from sysmond.config import TierConfig

    Store.open(tmp_path / "s" / "store", (TierConfig("raw", 1, 600),
                                          TierConfig("1m", 60, 3600))).close()
    r = subprocess.run([sys.executable, "-m", "sysmond", "run", "--state-dir",
                        str(tmp_path / "s"), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "a new ladder needs a new store" in r.stderr
