"""Start a real `sysmond run` in a subprocess and wait for what it does, with deadlines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

READY_RE = re.compile(r"dashboard at (\S+)")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             every: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class DaemonProcess:
    """A `sysmond run` child with its stdout/stderr in files."""

    def __init__(self, state_dir: Path, *args: str, env: dict[str, str] | None = None,
                 config: Path | None = None, interval: int | None = 1) -> None:
        self.state_dir = state_dir
        self.log = state_dir.parent / f"{state_dir.name}.stderr"
        self.out = state_dir.parent / f"{state_dir.name}.stdout"
        cmd = [sys.executable, "-m", "sysmond", "run", "--state-dir", str(state_dir),
               "--listen", "127.0.0.1:0", "--log-format", "text", *args]
        if interval is not None:
            cmd += ["--interval", str(interval)]
        if config is not None:
            cmd += ["--config", str(config)]
        full_env = dict(os.environ)
        for inherited in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            full_env.pop(inherited, None)
        full_env.update(env or {})
        self._stdout = open(self.out, "w")  # noqa: SIM115 - closed in stop()
        self._stderr = open(self.log, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self._stdout, stderr=self._stderr,
                                     env=full_env)
        self.url: str | None = None

    def wait_ready(self, timeout: float = 30) -> str:
        def ready() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"sysmond exited with {self.proc.returncode}:\n"
                                     f"{self.stderr()}")
            m = READY_RE.search(self.out.read_text())
            return m.group(1) if m else None

        self.url = wait_for(ready, timeout, "the daemon to print its dashboard URL")
        return self.url

    def stderr(self) -> str:
        return self.log.read_text()

    def get_json(self, path: str, timeout: float = 5) -> Any:
        assert self.url, "wait_ready first"
        with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=timeout) as r:
            return json.load(r)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stdout.close()
        self._stderr.close()
        return self.proc.returncode
