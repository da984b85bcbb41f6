"""A full file system under the daemon: it keeps sampling, then writes what it kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.daemon_helpers import DaemonProcess, wait_for
from tests.test_daemon import raw_times

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                       reason="needs root to mount a small tmpfs"),
]


@pytest.fixture
def small_fs(tmp_path: Path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_keeps_samples_in_memory_and_writes_them_without_a_hole(small_fs):
    d = DaemonProcess(small_fs / "state")
    try:
        d.wait_ready()
        wait_for(lambda: "cannot write the store" in d.stderr(), 15, "the store failure")
        health = d.get_json("/api/v1/health")
        assert health["storage"]["state"] == "failing"
        wait_for(lambda: d.get_json("/api/v1/health")["storage"]["pending"] >= 3, 15,
                 "samples kept in memory")
        first_pending_time = d.get_json("/api/v1/health")["last_sample"]["time"]
        subprocess.run(["mount", "-o", "remount,size=300m", str(small_fs)], check=True)
        wait_for(lambda: "the store works again" in d.stderr(), 15, "the recovery")
        times = np.array(wait_for(lambda: (t := raw_times(d.state_dir)).size >= 5
                                  and t.tolist(), 15, "stored samples"))
        assert times[0] <= first_pending_time, "samples kept in memory were not written"
        assert np.all(np.diff(times) == 1), f"a hole in the stored samples: {times}"
        assert d.stderr().count("cannot write the store") == 1, "failure logged more than once"
        assert d.get_json("/api/v1/health")["storage"]["state"] == "ok"
    finally:
        assert d.stop() == 0
