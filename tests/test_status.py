"""`sysmond status`: values and health read from the files, daemon or not."""

from __future__ import annotations

import subprocess
import sys

from sysmond.config import Config
from sysmond.status import render_status
from sysmond.store import Store
from tests.daemon_helpers import DaemonProcess, wait_for

T0 = 1_790_000_000


def test_an_empty_state_directory_says_there_is_no_data(tmp_path):
    text = render_status(tmp_path, Config(), now=T0)
    assert "not running" in text
    assert "no data yet" in text


def test_stored_values_are_shown_and_old_data_is_marked_stale(tmp_path):
    with Store.open(tmp_path / "store") as store:
        for i in range(5):
            store.append(T0 + i, {"cpu.usage_percent": 12.5 + i, "memory.percent": 40.0,
                                  "memory.total": 8 * 2**30, "memory.used": 3 * 2**30,
                                  "disk.percent@/": 71.0, "disk.free@/": 10 * 2**30})
    fresh = render_status(tmp_path, Config(), now=T0 + 5)
    assert " 16.5 %" in fresh  # the newest cpu value
    assert "disk /" in fresh and "71.0 %" in fresh and "10.0 GiB free" in fresh
    assert "8.0 GiB" in fresh
    assert "STALE" not in fresh
    assert "STALE" in render_status(tmp_path, Config(), now=T0 + 3600)


def test_status_reads_a_running_daemons_files(tmp_path):
    d = DaemonProcess(tmp_path / "state")
    try:
        d.wait_ready()
        wait_for(lambda: (d.state_dir / "store" / "catalog.json").exists(), 10, "the store")
        r = subprocess.run([sys.executable, "-m", "sysmond", "status", "--state-dir",
                            str(d.state_dir)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert f"running, pid {d.proc.pid}" in r.stdout
        assert "memory" in r.stdout and "series" in r.stdout
    finally:
        d.stop()
