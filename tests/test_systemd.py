"""The systemd unit (verify, exposure score) and the sd_notify conversation, for real."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.daemon_helpers import DaemonProcess, wait_for

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "sysmond.service"
analyze = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(analyze is None, reason="systemd-analyze not installed")


@needs_analyze
def test_the_unit_verifies_with_empty_stderr(tmp_path):
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    exe = root / "usr/bin/sysmond"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    shutil.copy("/bin/kill", root / "bin/kill")
    shutil.copy(UNIT, root / "etc/systemd/system/sysmond.service")
    r = subprocess.run([analyze, "verify", f"--root={root}", "sysmond.service"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@needs_analyze
def test_the_unit_exposure_is_at_most_2_5():
    r = subprocess.run([analyze, "security", "--offline=true", str(UNIT)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for sysmond\.service: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.5


def test_the_unit_keeps_every_process_visible():
    text = UNIT.read_text()
    assert not re.search(r"^ProtectProc=invisible", text, re.M)
    assert not re.search(r"^ProcSubset=pid", text, re.M)
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^WatchdogSec=", text, re.M)
    assert re.search(r"^ExecReload=.*-HUP", text, re.M)


def test_sd_notify_says_ready_watchdog_status_then_stopping(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    messages: list[str] = []

    def drain() -> None:
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                return

    d = DaemonProcess(tmp_path / "state",
                      env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
    try:
        d.wait_ready()

        def seen(prefix: str) -> bool:
            drain()
            return any(line.startswith(prefix) for m in messages for line in m.split("\n"))

        wait_for(lambda: seen("WATCHDOG=1") and seen("STATUS="), 15,
                 "WATCHDOG and STATUS")
        d.signal(signal.SIGTERM)
        assert d.proc.wait(10) == 0
        wait_for(lambda: seen("STOPPING=1"), 5, "STOPPING")
    finally:
        d.stop()
        sock.close()
    lines = [line for m in messages for line in m.split("\n")]

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    assert first("READY=1") < first("WATCHDOG=1") < first("STOPPING=1")
    assert first("READY=1") < first("STATUS=")
    status = next(line for line in lines if line.startswith("STATUS="))
    assert "series" in status and "every 1s" in status
