"""`python -m tests.web.dashboard_daemon run ...`: `sysmond run`, with the dashboard.

The real daemon, started the real way (`sysmond.cli.main`), except that when the API's
`create_app` does not (yet) register `/`, the dashboard's routes are added to the app
it returns -- exactly the one call `create_app` is meant to make
(`sysmond.webui.add_static_routes(app)`). Once it does, this adds nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.daemon_helpers import READY_RE, wait_for

REPO = Path(__file__).resolve().parents[2]


def _wire() -> None:
    import sysmond.api
    from sysmond.webui import add_static_routes

    original = sysmond.api.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        if not any(getattr(r, "resource", None) is not None and
                   r.resource.canonical == "/" and r.method == "GET"
                   for r in app.router.routes()):
            add_static_routes(app)
        return app

    sysmond.api.create_app = create_app


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


if __name__ == "__main__":
    _wire()
    from sysmond.cli import main

    sys.exit(main(sys.argv[1:]))
