"""The one wiring point: tick loop, store, alerts, HTTP server, signals and sd_notify.

Each tick is aligned to the wall-clock grid of `collection.interval` seconds and
stamped with its grid time, so an hour at 1 s is 3 600 samples whatever the jitter. The
work of a tick (sampling, storing, building the `current` JSON) runs in one worker
thread, so ticks never overlap and the event loop stays free to serve requests. A tick
that overruns skips the grid points it missed (logged) instead of stacking up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import logging
import math
import os
import resource
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sysmond import __version__
from sysmond.api.state import Latest
from sysmond.collectors import Sample
from sysmond.collectors.registry import Registry
from sysmond.config import Config, load_config, reload_diff
from sysmond.current import build_current
from sysmond.errors import (
    ConfigError,
    StoreError,
    StoreLadderError,
    StoreLockedError,
    SysmondError,
)
from sysmond.notify import Notifier
from sysmond.store import Store

log = logging.getLogger(__name__)

LOCK_FILE = "sysmond.lock"
DAEMON_FILE = "daemon.json"
STORE_DIR = "store"
PROCESS_FILE = "processes.ring"


class AlreadyRunning(SysmondError):
    """Another sysmond owns this state directory."""


@dataclass
class TickStats:
    """What the health endpoint and STATUS= report about the tick loop."""

    ticks: int = 0
    last_grid: float | None = None
    last_done_wall: float | None = None
    last_done_mono: float | None = None
    last_duration: float = 0.0
    last_lag: float = 0.0
    max_lag: float = 0.0
    skipped: int = 0
    store_writes: int = 0
    store_dropped: int = 0
    store_error: str | None = None
    store_failing_since: float | None = None
    pending: collections.deque[tuple[float, dict[str, float]]] = field(
        default_factory=collections.deque)


def acquire_state_lock(state_dir: Path) -> int:
    """Take the state directory's lock, or raise AlreadyRunning naming the owner."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(f"{state_dir}: another sysmond (pid {owner}) is already "
                             "running on this state directory") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Daemon:
    """sysmond running: owns the store, the collectors, the alert engine and the server."""

    def __init__(self, config: Config, state_dir: Path, *, config_path: str | None = None,
                 reload_config: Callable[[], Config] | None = None,
                 on_ready: Callable[[str], None] | None = None,
                 registry: Registry | None = None, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.state_dir = state_dir
        self.config_path = config_path
        self._reload_config = reload_config or (lambda: load_config(config_path))
        self._on_ready = on_ready
        self.clock = clock
        self.mono = mono
        self.hostname = config.hostname or socket.gethostname()
        self.notifier = notifier or Notifier()
        self.registry = registry or Registry.default(config.collection)
        self.stats = TickStats(pending=collections.deque(maxlen=config.storage.pending_limit))
        self.store: Store | None = None
        self.processes: Any = None
        self.alerts: Any = None
        self.latest: Any = None
        self.started_at = clock()
        self._started_mono = mono()
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tick")
        self._lock_fd: int | None = None
        self._last_flush = mono()
        self._last_history = -math.inf
        self._runner: Any = None
        self.app_state: Any = None
        self._ready = False
        self._history_failing = False
        self.url: str | None = None

    # --- lifecycle -------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit code."""
        loop = asyncio.get_running_loop()
        self._lock_fd = acquire_state_lock(self.state_dir)
        try:
            self._open_store()
            self._open_process_history()
            await self._start_alerts()
            await self._start_http()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
            loop.add_signal_handler(signal.SIGHUP, self._reload.set)
            self._write_daemon_file()
            await self._tick(self._grid_now())
            self.notifier.ready(self._status_line())
            self._ready = True
            log.info("sysmond %s ready: dashboard at %s, state in %s, sampling every %ss",
                     __version__, self.url, self.state_dir, self.config.collection.interval)
            if self._on_ready is not None:
                self._on_ready(self.url or "")
            keepalive = asyncio.create_task(self._watchdog_keepalive())
            reports = asyncio.create_task(self._report_schedule())
            try:
                await self._loop()
            finally:
                keepalive.cancel()
                reports.cancel()
            self.notifier.stopping()
            log.info("stopping")
            return 0
        finally:
            await self._shutdown()

    async def _loop(self) -> None:
        while not self._stop.is_set():
            interval = self.config.collection.interval
            grid = (math.floor(self.clock() / interval) + 1) * interval
            delay = grid - self.clock()
            stop = asyncio.ensure_future(self._stop.wait())
            reload = asyncio.ensure_future(self._reload.wait())
            try:
                await asyncio.wait({stop, reload}, timeout=max(0.0, delay),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                reload.cancel()
            if self._stop.is_set():
                return
            if self._reload.is_set():
                self._reload.clear()
                self.apply_reload()
                continue
            await self._tick(grid)

    async def _tick(self, grid: float) -> None:
        lag = max(0.0, self.clock() - grid)
        loop = asyncio.get_running_loop()
        latest = await loop.run_in_executor(self._worker, self._tick_work, grid)
        self.latest = latest
        s = self.stats
        s.ticks += 1
        s.last_grid = grid
        s.last_done_wall = self.clock()
        s.last_done_mono = self.mono()
        s.last_lag = lag
        s.max_lag = max(s.max_lag, lag)
        if self.alerts is not None:
            try:
                self.alerts.evaluate(grid, latest.sample.values)
            except Exception:
                log.exception("alert evaluation failed")
        took = s.last_done_wall - grid
        interval = self.config.collection.interval
        if took > interval and self._ready:
            missed = int(took // interval)
            s.skipped += missed
            log.warning("slow tick: %.2fs for a %ss interval; skipping %d grid point(s)",
                        took, interval, missed)
        if self._ready:
            self.notifier.watchdog()
        if self._ready and s.ticks % 10 == 1:
            self.notifier.status(self._status_line())

    def _tick_work(self, grid: float) -> Any:
        """Sample, store, record processes, build `current`: one tick, in the worker."""
        t0 = self.mono()
        sample = self.registry.collect(wall=grid, mono=self.mono())
        self._store_sample(sample)
        self._record_processes(sample)
        body = json.dumps(build_current(sample, self.hostname),
                          separators=(",", ":")).encode()
        now = self.mono()
        if now - self._last_flush >= self.config.storage.flush_interval:
            self._flush()
            self._last_flush = now
        self.stats.last_duration = now - t0
        return Latest(sample, body, self.clock(), self.registry.last_processes)

    async def _shutdown(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
        if self.alerts is not None:
            with contextlib.suppress(Exception):
                await self.alerts.stop()
        self._worker.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self.registry.close()
        if self.store is not None:
            try:
                self.store.close()
            except (OSError, StoreError) as e:
                log.error("closing the store: %s", e)
        if self.processes is not None:
            with contextlib.suppress(Exception):
                self.processes.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- storage ---------------------------------------------------------------------

    def _open_store(self) -> None:
        """Open (or create) the store; on failure keep running and retry next tick (a
        failed open is cheap). A lock held by another process or a changed ladder is
        not passing: those stop the daemon with their message."""
        try:
            store = Store.open(self.state_dir / STORE_DIR, self.config.storage.tiers,
                               xff=self.config.storage.xff, quarantine=True)
        except (StoreLockedError, StoreLadderError):
            raise
        except StoreError as e:
            self._store_failed(f"cannot open the store: {e}")
            return
        except OSError as e:
            self._store_failed(f"cannot open the store: {e}")
            return
        store.sample_interval = self.config.collection.interval
        for item in store.recovered:
            log.error("store: %s", item)
        self.store = store

    def _store_failed(self, message: str) -> None:
        s = self.stats
        if s.store_error is None:
            log.error("%s; samples wait in memory (up to %d) until it works again",
                      message, self.config.storage.pending_limit)
            s.store_failing_since = self.clock()
        s.store_error = message

    def _store_sample(self, sample: Sample) -> None:
        s = self.stats
        if len(s.pending) == s.pending.maxlen:
            s.store_dropped += 1
        s.pending.append((sample.timestamp, sample.values))
        if self.store is None:
            self._open_store()
            if self.store is None:
                return
        try:
            while s.pending:
                t, values = s.pending[0]
                if self.store.append(t, values):
                    s.store_writes += 1
                s.pending.popleft()
        except (StoreError, OSError) as e:
            self._store_failed(f"cannot write the store: {e}")
            return
        if s.store_error is not None:
            log.warning("the store works again; samples kept in memory were written")
            s.store_error = None
            s.store_failing_since = None

    def _flush(self) -> None:
        if self.store is None:
            return
        try:
            self.store.flush()
        except (StoreError, OSError) as e:
            self._store_failed(f"cannot flush the store: {e}")
        if self.processes is not None:
            with contextlib.suppress(Exception):
                self.processes.flush()

    def _open_process_history(self) -> None:
        try:
            from sysmond.store.processes import ProcessHistory
        except ImportError:
            return
        try:
            c = self.config.collection
            self.processes = ProcessHistory.open(self.state_dir / PROCESS_FILE,
                                                 interval=c.process_history_interval,
                                                 top_n=c.top_n, quarantine=True)
        except (StoreError, OSError) as e:
            if not self._history_failing:
                log.error("process history unavailable: %s", e)
            self._history_failing = True
        else:
            if self._history_failing:
                log.warning("process history available again")
            self._history_failing = False

    def _record_processes(self, sample: Sample) -> None:
        table = sample.processes
        every = self.config.collection.process_history_interval
        if table is None or sample.timestamp - self._last_history < every:
            return
        if self.processes is None:  # could not be opened (e.g. disk full): try again
            self._last_history = sample.timestamp
            self._open_process_history()
            if self.processes is None:
                return
        try:
            self.processes.record(sample.timestamp, table)
            self._last_history = sample.timestamp
        except (StoreError, OSError) as e:
            log.error("process history: %s", e)

    # --- alerts and HTTP ---------------------------------------------------------------

    async def _start_alerts(self) -> None:
        if not self.config.alerts.enabled:
            return
        try:
            from sysmond.alerts import AlertEngine
        except ImportError:
            return
        self.alerts = AlertEngine(self.config.alerts, self.state_dir, hostname=self.hostname,
                                  clock=self.clock)
        await self.alerts.start()

    async def _start_http(self) -> None:
        from aiohttp import web

        from sysmond.api import AppState, check_listen_safety, create_app, handler_args
        from sysmond.api import ssl_context as make_ssl_context

        server = self.config.server
        for warning in check_listen_safety(server):
            log.warning("%s", warning)
        state = AppState(config=self.config, store=self.store, hostname=self.hostname,
                         started_at=self.started_at, clock=self.clock,
                         latest=lambda: self.latest, health=self.health,
                         alerts=self.alerts, processes=self.processes)
        self.app_state = state
        app = create_app(state)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     **handler_args(server))
        await self._runner.setup()
        ssl_ctx = make_ssl_context(server)
        site = web.TCPSite(self._runner, server.host, server.port, ssl_context=ssl_ctx,
                           reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        port = sockets[0].getsockname()[1] if sockets else server.port
        host = server.host if ":" not in server.host else f"[{server.host}]"
        scheme = "https" if ssl_ctx else "http"
        self.url = f"{scheme}://{host}:{port}/"

    def health(self) -> dict[str, Any]:
        """The daemon's own facts for /api/v1/health and `sysmond status`."""
        s = self.stats
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = ru.ru_utime + ru.ru_stime
        up = max(1e-9, self.mono() - self._started_mono)
        store_info: dict[str, Any] = {
            "state": "ok" if s.store_error is None else "failing",
            "error": s.store_error, "failing_since": s.store_failing_since,
            "pending": len(s.pending), "writes": s.store_writes,
            "dropped": (self.store.dropped if self.store else 0) + s.store_dropped}
        if self.store is not None:
            store_info["path"] = str(self.store.path)
            store_info["series"] = len(self.store.series())
        return {
            "version": __version__,
            "hostname": self.hostname,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime": up,
            "interval": self.config.collection.interval,
            "last_sample": s.last_grid,
            "last_tick_done": s.last_done_wall,
            "tick_duration": s.last_duration,
            "tick_lag": s.last_lag,
            "tick_lag_max": s.max_lag,
            "ticks": s.ticks,
            "ticks_skipped": s.skipped,
            "collectors": {c.name: {"ok": c.ok, "duration": c.last_duration_s,
                                    "error": c.last_error}
                           for c in self.registry.status()},
            "store": store_info,
            "series": store_info.get("series", 0),
            "process": {"cpu_seconds": cpu_s, "cpu_percent_avg": 100.0 * cpu_s / up,
                        "rss_bytes": _rss_bytes()},
        }

    # --- reload ------------------------------------------------------------------------

    def apply_reload(self) -> bool:
        """Re-read the config file; apply it if valid, else keep the running one."""
        self.notifier.reloading()
        try:
            new = self._reload_config()
        except ConfigError as e:
            log.error("reload refused, keeping the running configuration:\n%s", e)
            self.notifier.ready(self._status_line())
            return False
        refusals = reload_diff(self.config, new)
        if refusals:
            log.error("reload refused, keeping the running configuration: %s",
                      "; ".join(refusals))
            self.notifier.ready(self._status_line())
            return False
        if new.server != self.config.server:
            log.warning("server settings changed: they apply at the next restart")
        self.registry.reconfigure(new.collection)
        if self.store is not None:
            self.store.sample_interval = new.collection.interval
            self.store.xff = new.storage.xff
        if self.alerts is not None:
            self.alerts.reload(new.alerts)
        old = self.config
        self.config = new
        if self.app_state is not None:
            self.app_state.config = new
        if old.collection.interval != new.collection.interval:
            log.info("interval now %ss", new.collection.interval)
        log.info("configuration reloaded from %s", self.config_path or "built-in defaults")
        self._write_daemon_file()
        self.notifier.ready(self._status_line())
        return True

    # --- small helpers -----------------------------------------------------------------

    async def _watchdog_keepalive(self) -> None:
        """Between long ticks (interval > watchdog/2), ping only while ticks progress."""
        period = self.notifier.watchdog_interval
        if not period:
            return
        while True:
            await asyncio.sleep(period)
            done = self.stats.last_done_mono
            if done is not None and self.mono() - done < 2 * self.config.collection.interval + 5:
                self.notifier.watchdog()

    async def _report_schedule(self) -> None:
        """Regenerate the static report site when the config's `report:` asks for it."""
        from sysmond.report import run_schedule

        await run_schedule(self.state_dir, lambda: self.config, clock=self.clock)

    def _grid_now(self) -> float:
        interval = self.config.collection.interval
        return math.floor(self.clock() / interval) * interval

    def _status_line(self) -> str:
        series = len(self.store.series()) if self.store else 0
        age = (self.clock() - self.stats.last_grid) if self.stats.last_grid else None
        store = "ok" if self.stats.store_error is None else "FAILING"
        age_txt = f"{age:.1f}s" if age is not None else "n/a"
        return (f"every {self.config.collection.interval}s, {series} series, last sample "
                f"{age_txt} ago, store {store}")

    def _write_daemon_file(self) -> None:
        """Facts `sysmond status` reads: written at start and reload, not every tick."""
        data = {"pid": os.getpid(), "version": __version__, "started_at": self.started_at,
                "hostname": self.hostname, "url": self.url,
                "interval": self.config.collection.interval,
                "config": self.config_path}
        tmp = self.state_dir / (DAEMON_FILE + ".tmp")
        try:
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.state_dir / DAEMON_FILE)
        except OSError as e:
            log.warning("cannot write %s: %s", DAEMON_FILE, e)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
