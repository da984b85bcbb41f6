"""The static report site: an index and one page per day, week, month and year.

`render_site` reads the state directory read-only (the store, the top-process history,
the alert history) while the daemon may be writing it, and renders jinja2 templates
from the package (`sysmond/web/templates`, the repository's `web/templates`). Every page
carries its own chart data, and Plotly is copied into `assets/`, so the site opens from
`file://` on a laptop with no daemon and no internet.

Why pages are rendered into a temporary directory beside the output and swapped in:
a web server serving the output must never hand out a half-written page or a page
whose neighbours are from another run. On Linux the swap is one `renameat2
(RENAME_EXCHANGE)`, atomic; elsewhere two renames, with a moment of 404 but never a
mixed site. An existing output directory is replaced only if it holds the marker a
previous run left, so `--output ~` cannot wipe a home directory.

Statistics per period come from the finest tier that still covers its start, read at
full resolution (no bucket merging): avg is the mean of the points, max the max of the
points' max (a one-second spike survives consolidation), p95 the 95th percentile of the
points' averages (exact on the raw tier; of 1-minute/5-minute/1-hour averages on
coarser ones -- the page says which).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sysmond import __version__
from sysmond.config import Config
from sysmond.errors import StoreError, SysmondError

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
TEMPLATES = WEB_DIR / "templates"
PLOTLY = WEB_DIR / "static" / "vendor" / "plotly.min.js"
MARKER = ".sysmond-report"
KINDS = ("day", "week", "month", "year")
CHART_POINTS = 300

# The summary table's rows: series, label, unit. Mount rows (`disk.percent@MOUNT`) are
# added for every mount the store knows.
MAIN_METRICS: tuple[tuple[str, str, str], ...] = (
    ("cpu.usage_percent", "CPU usage", "percent"),
    ("cpu.load_average_1", "Load (1 min)", "load"),
    ("cpu.iowait_percent", "CPU iowait", "percent"),
    ("memory.percent", "Memory used", "percent"),
    ("memory.swap_percent", "Swap used", "percent"),
    ("disk.percent", "Disk used (/)", "percent"),
    ("disk.read_bytes_per_sec", "Disk read", "bytes/s"),
    ("disk.write_bytes_per_sec", "Disk write", "bytes/s"),
    ("network.bytes_recv_per_sec", "Network in", "bytes/s"),
    ("network.bytes_sent_per_sec", "Network out", "bytes/s"),
)
# The charts of every page: id, title, unit, [(series, label)].
CHARTS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("cpu", "CPU usage", "percent", (("cpu.usage_percent", "CPU"),)),
    ("memory", "Memory and swap", "percent",
     (("memory.percent", "memory"), ("memory.swap_percent", "swap"))),
    ("diskio", "Disk I/O", "bytes/s",
     (("disk.read_bytes_per_sec", "read"), ("disk.write_bytes_per_sec", "write"))),
    ("network", "Network", "bytes/s",
     (("network.bytes_recv_per_sec", "in"), ("network.bytes_sent_per_sec", "out"))),
)


class Period(NamedTuple):
    """One page's span: [start, end) in Unix seconds."""

    kind: str  # day | week | month | year
    key: str  # 2026-11-25 | 2026-W48 | 2026-11 | 2026
    title: str
    start: float
    end: float

    @property
    def href(self) -> str:
        return f"{self.kind}/{self.key}.html"


class Stat(NamedTuple):
    series: str
    label: str
    unit: str
    avg: float | None
    max: float | None
    p95: float | None
    coverage: float  # share of the period's points that hold data, 0..1


class ProcessRow(NamedTuple):
    name: str
    user: str
    seen: int  # snapshots in which it was among the top
    cpu_avg: float  # % of one core, averaged over all the period's snapshots
    cpu_max: float
    mem_max: float | None
    rss_max: int | None


@dataclass
class PageData:
    period: Period
    tier: str = ""
    step: int = 0
    stats: list[Stat] = field(default_factory=list)
    processes: list[ProcessRow] = field(default_factory=list)
    snapshots: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)

    def stat(self, series: str) -> Stat | None:
        return next((s for s in self.stats if s.series == series), None)

    @property
    def firings(self) -> int:
        return sum(1 for a in self.alerts if a["kind"] == "firing")


# --- periods -----------------------------------------------------------------------------

def _dt(t: float, tz: tzinfo | None) -> datetime:
    """Unix seconds -> datetime in `tz` (None: the machine's local time, DST-aware)."""
    return datetime.fromtimestamp(t, tz)


def _ts(d: date, tz: tzinfo | None) -> float:
    """Midnight starting `d` in `tz` -> Unix seconds (naive = local, via mktime)."""
    return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


def periods(first: float, last: float, tz: tzinfo | None = None) -> list[Period]:
    """Given the first and last time with data, return every day, ISO week, month and
    year that overlaps [first, last], oldest first within each kind."""
    out: list[Period] = []
    d0, d1 = _dt(first, tz).date(), _dt(last, tz).date()
    day = d0
    while day <= d1:
        nxt = day + timedelta(days=1)
        out.append(Period("day", day.isoformat(), day.strftime("%A %d %B %Y"),
                          _ts(day, tz), _ts(nxt, tz)))
        day = nxt
    week = d0 - timedelta(days=d0.weekday())
    while week <= d1:
        nxt = week + timedelta(days=7)
        y, w, _ = week.isocalendar()
        last_day = nxt - timedelta(days=1)
        out.append(Period("week", f"{y}-W{w:02d}", f"Week {w} of {y} ({week.isoformat()} to "
                          f"{last_day.isoformat()})", _ts(week, tz), _ts(nxt, tz)))
        week = nxt
    month = d0.replace(day=1)
    while month <= d1:
        nxt = (month + timedelta(days=32)).replace(day=1)
        out.append(Period("month", month.strftime("%Y-%m"), month.strftime("%B %Y"),
                          _ts(month, tz), _ts(nxt, tz)))
        month = nxt
    for y in range(d0.year, d1.year + 1):
        out.append(Period("year", str(y), str(y), _ts(date(y, 1, 1), tz),
                          _ts(date(y + 1, 1, 1), tz)))
    return out


# --- reading -----------------------------------------------------------------------------

def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def summarize(values_avg: np.ndarray, values_max: np.ndarray) -> tuple[
        float | None, float | None, float | None, float]:
    """Given one series' point averages and maxima, return (avg, max, p95, coverage)."""
    ok = np.isfinite(values_avg)
    if not ok.any():
        return None, None, None, 0.0
    avg = values_avg[ok]
    mx = values_max[np.isfinite(values_max)]
    return (float(avg.mean()), float(mx.max()) if mx.size else None,
            float(np.percentile(avg, 95)), float(ok.mean()))


class _Reader:
    """The state directory, open read-only for one render."""

    def __init__(self, state_dir: Path, now: float, tz: tzinfo | None) -> None:
        from sysmond.store import Store
        from sysmond.store.catalog import CATALOG

        self.now = now
        self.tz = tz
        store_dir = state_dir / "store"
        if not (store_dir / CATALOG).exists():
            raise SysmondError(f"{store_dir}: no store to report on (has `sysmond run` "
                               "used this state directory?)")
        try:
            self.store = Store.open(store_dir, readonly=True)
        except (StoreError, OSError) as e:
            raise SysmondError(f"{store_dir}: cannot read the store: {e}") from e
        self.series = set(self.store.series())
        self.processes = self._open_processes(state_dir / "processes.ring")
        self.alerts = self._load_alerts(state_dir / "alerts" / "history.jsonl")

    @staticmethod
    def _open_processes(path: Path) -> Any:
        if not path.exists():
            return None
        try:
            from sysmond.store.processes import ProcessHistory

            return ProcessHistory.open(path, readonly=True)
        except (ImportError, StoreError, OSError) as e:
            log.warning("report: top-process history unreadable, left out: %s", e)
            return None

    @staticmethod
    def _load_alerts(path: Path) -> list[Any]:
        if not path.exists():
            return []
        try:
            from sysmond.alerts.history import History

            # Loading reads the file only; a History writes when told to, never here.
            return list(History(path, limit=10_000_000))
        except (ImportError, OSError) as e:
            log.warning("report: alert history unreadable, left out: %s", e)
            return []

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.store.close()
        if self.processes is not None:
            with contextlib.suppress(Exception):
                self.processes.close()

    def covered(self) -> tuple[float, float] | None:
        """The first and last time any tier holds data, or None for an empty store."""
        info = self.store.info()
        firsts = [t.first for t in info.tiers if t.first is not None]
        lasts = [t.last + t.step - 1 for t in info.tiers if t.last is not None]
        if not firsts or not self.series:
            return None
        return float(min(firsts)), float(max(lasts))

    def tier_for(self, p: Period) -> tuple[str, int]:
        k = self.store.choose_tier(p.start, self.now)
        tier = self.store.tiers[k]
        return tier.name, tier.step

    def page(self, p: Period) -> PageData:
        tier, step = self.tier_for(p)
        data = PageData(p, tier, step)
        end = min(p.end, self.now + step) - 1
        if end < p.start:
            return data
        rows = int(end // step - p.start // step) + 1
        mounts = sorted(s for s in self.series if s.startswith("disk.percent@"))
        wanted = [*MAIN_METRICS, *((s, f"Disk used ({s.partition('@')[2]})", "percent")
                                   for s in mounts)]
        for series, label, unit in wanted:
            if series not in self.series:
                continue
            # One series at a time: a day of 1 s rows is 86 400 points, and the daemon
            # may be running this; memory stays at a few MB.
            res = self.store.query([series], p.start, end, points=rows, tier=tier,
                                   now=self.now)
            avg, mx, p95, cov = summarize(res.avg[0], res.max[0])
            data.stats.append(Stat(series, label, unit, avg, mx, p95, cov))
        for chart_id, title, unit, lines in CHARTS:
            names = [s for s, _ in lines if s in self.series]
            if not names:
                continue
            res = self.store.query(names, p.start, end, points=CHART_POINTS, tier=tier,
                                   now=self.now)
            labels = dict(lines)
            data.charts.append({
                "id": chart_id, "title": title, "unit": unit,
                "band": res.step > self.store.base_step,
                "x": [_dt(t, self.tz).strftime("%Y-%m-%d %H:%M:%S")
                      for t in res.timestamps.tolist()],
                "series": [{"name": labels[n], "avg": _round(res.avg[i]),
                            "min": _round(res.min[i]), "max": _round(res.max[i])}
                           for i, n in enumerate(names)],
            })
        data.processes, data.snapshots = self._busiest(p)
        data.alerts = self._alerts(p)
        return data

    def _busiest(self, p: Period, top: int = 10) -> tuple[list[ProcessRow], int]:
        """Aggregate the top-process snapshots inside the period, by process name."""
        h = self.processes
        if h is None:
            return [], 0
        iv = h.interval
        lo = max(p.start, self.now - h.capacity * iv)
        hi = min(p.end, self.now + iv)
        acc: dict[str, list[Any]] = {}
        snapshots = 0
        for b in range(int(lo // iv), math.ceil(hi / iv)):
            # The snapshot of bucket b, if any: the newest at or before its last moment.
            table = h.at((b + 1) * iv - 1e-3, tolerance=iv - 5e-4)
            if table is None or int(table.timestamp // iv) != b or \
                    not p.start <= table.timestamp < p.end:
                continue
            snapshots += 1
            seen: set[str] = set()
            for proc in (*table.by_cpu, *table.by_memory):
                key = proc.name
                a = acc.setdefault(key, [proc.user or "", 0, 0.0, 0.0, None, None])
                if key in seen:
                    continue
                seen.add(key)
                # Several processes of one name in a snapshot add up (cpu) or take the
                # biggest (memory), as people read "what was nginx doing".
                cpu = sum(x.cpu_percent or 0.0 for x in table.by_cpu if x.name == key)
                a[1] += 1
                a[2] += cpu
                a[3] = max(a[3], cpu)
                mems = [x for x in (*table.by_cpu, *table.by_memory) if x.name == key]
                mem = max((x.memory_percent for x in mems if x.memory_percent is not None),
                          default=None)
                rss = max((x.rss for x in mems if x.rss is not None), default=None)
                if mem is not None:
                    a[4] = mem if a[4] is None else max(a[4], mem)
                if rss is not None:
                    a[5] = rss if a[5] is None else max(a[5], rss)
        rows = [ProcessRow(name, a[0], a[1], a[2] / snapshots if snapshots else 0.0, a[3],
                           a[4], a[5]) for name, a in acc.items()]
        rows.sort(key=lambda r: (-r.cpu_avg, -(r.rss_max or 0)))
        return rows[:top], snapshots

    def _alerts(self, p: Period) -> list[dict[str, Any]]:
        out = []
        for r in self.alerts:
            if r.kind in ("firing", "resolved") and p.start <= r.time < p.end:
                out.append({"time": r.time, "kind": r.kind, "rule": r.rule,
                            "instance": r.instance, "severity": r.severity,
                            "value": r.value, "threshold": r.threshold, "peak": r.peak,
                            "duration": r.duration})
        out.sort(key=lambda a: a["time"])
        return out


def _round(a: np.ndarray) -> list[float | None]:
    """Floats for the page's JSON: 4 significant digits, NaN as null."""
    out: list[float | None] = []
    for v in a.tolist():
        out.append(None if not math.isfinite(v) else float(f"{v:.4g}"))
    return out


# --- formatting (jinja2 filters) ---------------------------------------------------------

def fmt_value(x: float | None, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if unit == "percent":
        return f"{x:.1f} %"
    if unit in ("bytes", "bytes/s"):
        v, i = abs(x), 0
        units = ("B", "kB", "MB", "GB", "TB", "PB")
        while v >= 1000 and i < len(units) - 1:
            v /= 1000
            i += 1
        text = f"{v:.1f} {units[i]}" if i else f"{v:.0f} B"
        return text + ("/s" if unit == "bytes/s" else "")
    return f"{x:.2f}"


def fmt_time(t: float, tz: tzinfo | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return _dt(t, tz).strftime(pattern)


def fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


# --- rendering ---------------------------------------------------------------------------

def _environment(tz: tzinfo | None) -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(value=fmt_value, time=lambda t, pattern="%Y-%m-%d %H:%M":
                       fmt_time(t, tz, pattern), duration=fmt_duration,
                       pct=lambda x: "–" if x is None else f"{100 * x:.0f} %")
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "sort_keys": False}
    return env


def _page_json(data: PageData) -> str:
    """The chart data, safe inside <script type="application/json">."""
    text = json.dumps({"charts": data.charts}, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_site(state_dir: Path, output_dir: Path, config: Config | None = None, *,
                now: float | None = None, tz: tzinfo | None = None) -> Path:
    """Given a state directory, render the report site into `output_dir`; return it.

    Reads the store, the top-process history and the alert history read-only, so it
    may run beside the daemon. `tz` is the zone pages are cut and labelled in (None:
    the machine's local time). Raise SysmondError if there is no store, or if
    `output_dir` exists and is not a previous report (no marker file in it).
    """
    state_dir, output_dir = Path(state_dir), Path(output_dir).absolute()
    now = time.time() if now is None else now
    _check_output(output_dir)
    hostname = (config.hostname if config is not None else None) or os.uname().nodename
    reader = _Reader(state_dir, now, tz)
    parent = output_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{output_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _prepare(tmp)
        _render_pages(reader, hostname, now, tz, tmp)
        (tmp / MARKER).write_text(f"rendered by sysmond {__version__}\n")
        for path in (tmp, *tmp.rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        _swap(tmp, output_dir)
    finally:
        reader.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return output_dir


def _prepare(tmp: Path) -> None:
    """The site's skeleton: one directory per kind, and the assets (Plotly included)."""
    assets = tmp / "assets"
    assets.mkdir(parents=True)
    for kind in KINDS:
        (tmp / kind).mkdir()
    shutil.copyfile(PLOTLY, assets / "plotly.min.js")
    shutil.copyfile(PLOTLY.with_name("plotly.LICENSE"), assets / "plotly.LICENSE")
    for name in ("report.css", "report.js"):
        shutil.copyfile(TEMPLATES / name, assets / name)


def _render_pages(reader: _Reader, hostname: str, now: float, tz: tzinfo | None,
                  out: Path) -> None:
    """Render every page into `out`, one at a time: each page is written as soon as it
    is rendered and its chart data dropped, so a year of pages never sits in memory."""
    env = _environment(tz)
    zone = _dt(now, tz).strftime("%Z") or "local time"
    common = {"hostname": hostname, "version": __version__, "zone": zone,
              "generated": fmt_time(now, tz)}
    span = reader.covered()
    all_periods = periods(*span, tz) if span else []
    summaries: dict[str, list[PageData]] = {k: [] for k in KINDS}
    page_tpl = env.get_template("period.html.j2")
    by_kind = {k: [p for p in all_periods if p.kind == k] for k in KINDS}
    for kind in KINDS:
        ps = by_kind[kind]
        for i, p in enumerate(ps):
            data = reader.page(p)
            html = page_tpl.render(
                **common, root="../", page=data, period=p, data_json=_page_json(data),
                prev=ps[i - 1] if i else None, next=ps[i + 1] if i + 1 < len(ps) else None,
                parents=[q for q in all_periods if q.kind != kind and KINDS.index(q.kind) >
                         KINDS.index(kind) and q.start <= p.start < q.end])
            (out / p.href).write_text(html, encoding="utf-8")
            data.charts = []
            summaries[kind].append(data)
    (out / "index.html").write_text(env.get_template("index.html.j2").render(
        **common, root="", kinds=KINDS, summaries={k: list(reversed(v))
                                                   for k, v in summaries.items()},
        span=span), encoding="utf-8")


def _check_output(output_dir: Path) -> None:
    if output_dir.exists():
        if not output_dir.is_dir():
            raise SysmondError(f"{output_dir}: exists and is not a directory")
        if any(output_dir.iterdir()) and not (output_dir / MARKER).exists():
            raise SysmondError(f"{output_dir}: not empty and not a sysmond report (no "
                               f"{MARKER} in it); refusing to replace it")


def _swap(new: Path, target: Path) -> None:
    """Put directory `new` at `target`; afterwards `new` holds the old site (if any)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    os.rename(new, target)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths with renameat2(RENAME_EXCHANGE); False if the
    system cannot (old kernel or libc, a file system without support)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


# --- scheduled regeneration by the daemon ------------------------------------------------

def maybe_render(state_dir: Path, config: Config, last: float | None,
                 now: float) -> float | None:
    """If the config asks for scheduled reports and `report.every` seconds have passed
    since `last` (None: never), render now (blocking) and return `now`; else return
    `last`. A failure is logged, not raised: the daemon must go on."""
    rc = config.report
    if not rc.enabled or not rc.output_dir:
        return last
    if last is not None and now - last < rc.every:
        return last
    try:
        t0 = time.monotonic()
        render_site(state_dir, Path(rc.output_dir), config, now=now)
        log.info("report site written to %s in %.1fs", rc.output_dir, time.monotonic() - t0)
    except (SysmondError, OSError) as e:
        log.error("report site not written: %s", e)
    except Exception:
        log.exception("report site not written")
    return now


async def run_schedule(state_dir: Path, config: Callable[[], Config], *,
                       clock: Callable[[], float] = time.time, check: float = 30.0) -> None:
    """Render the report site every `report.every` seconds while the config enables it.

    For the daemon: `asyncio.create_task(run_schedule(state_dir, lambda: self.config))`
    and cancel the task at shutdown. Rendering runs in a thread (reading a year of
    history takes seconds), so ticks and requests are never held up. The config is
    re-read each round, so a reload that enables or moves the report applies.
    """
    last: float | None = None
    while True:
        cfg = config()
        if cfg.report.enabled and cfg.report.output_dir:
            last = await asyncio.to_thread(maybe_render, state_dir, cfg, last, clock())
        await asyncio.sleep(check)
