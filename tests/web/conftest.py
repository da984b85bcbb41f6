"""Fixtures for the browser tests: a real daemon with the dashboard, and Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.daemon_helpers import READY_RE, wait_for
from tests.web.cdp import Browser, chromium_path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


class Dashboard:
    """`sysmond run` (through tests.web.dashboard_daemon) in a subprocess."""

    def __init__(self, state_dir: Path, *args: str, interval: int = 1) -> None:
        self.state_dir = state_dir
        self.out = state_dir.parent / f"{state_dir.name}.stdout"
        self.err = state_dir.parent / f"{state_dir.name}.stderr"
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.web.dashboard_daemon", "run",
                 "--state-dir", str(state_dir), "--listen", "127.0.0.1:0",
                 "--interval", str(interval), "--log-format", "text", *args],
                stdout=out, stderr=err, cwd=REPO, env=env)
        self.url = ""

    def wait_ready(self, timeout: float = 30) -> str:
        def ready() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"sysmond exited with {self.proc.returncode}:\n"
                                     f"{self.err.read_text()}")
            m = READY_RE.search(self.out.read_text())
            return m.group(1) if m else None

        self.url = wait_for(ready, timeout, "the daemon to print its dashboard URL")
        return self.url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (scripts/apt-packages.txt)")
    d = Dashboard(tmp_path_factory.mktemp("dash") / "state")
    try:
        d.wait_ready()
        yield d
    finally:
        d.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (scripts/apt-packages.txt)")
    async with Browser() as b:
        yield b
