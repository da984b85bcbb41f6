"""The static report site, rendered from a small synthetic state directory."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from sysmond.alerts.events import HistoryRecord
from sysmond.collectors import ProcessInfo, ProcessTable
from sysmond.config import TierConfig
from sysmond.errors import SysmondError
from sysmond.report import MARKER, periods, render_site
from sysmond.store import Store
from sysmond.store.processes import ProcessHistory

UTC = timezone.utc
STEP = 60
TIERS = (TierConfig("raw", STEP, 2 * 86_400), TierConfig("1h", 3_600, 400 * 86_400))
# Data from 20 Dec 2025 00:00 to 2 Jan 2026 12:00 UTC: two years, two months, three
# ISO weeks, fourteen days.
FIRST = datetime(2025, 12, 20, tzinfo=UTC).timestamp()
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC).timestamp()
NAMES = ("cpu.usage_percent", "memory.percent", "disk.percent", "disk.percent@/home",
         "network.bytes_recv_per_sec", "network.bytes_sent_per_sec")


def synthetic(ts: np.ndarray) -> np.ndarray:
    """Values with a daily wave, noise and one spike a day (so max != max of averages)."""
    rng = np.random.default_rng(7)
    day = 2 * np.pi * (ts % 86_400) / 86_400
    cpu = 40 + 25 * np.sin(day) + rng.normal(0, 5, ts.size)
    cpu[(ts % 86_400) == 13 * 3600] = 99.5
    mem = 60 + 10 * np.cos(day) + rng.normal(0, 1, ts.size)
    disk = 70 + (ts - FIRST) / 86_400 * 0.1
    home = np.full(ts.size, 35.0)
    recv = 1e6 * (1 + np.sin(day) ** 2) + rng.normal(0, 1e4, ts.size)
    sent = recv / 3
    return np.clip(np.stack([cpu, mem, disk, home, recv, sent], axis=1), 0, None)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    state_dir = tmp_path_factory.mktemp("state")
    ts = np.arange(FIRST, NOW + 1, STEP)
    values = synthetic(ts)
    with Store.open(state_dir / "store", TIERS) as store:
        store.append_many(ts, NAMES, values)
        store.flush()
    with ProcessHistory.open(state_dir / "processes.ring", interval=STEP) as ph:
        for t in np.arange(NOW - 2 * 86_400, NOW, STEP):
            busy = ProcessInfo(1234, "postgres", "postgres", 80.0, 12.5, 2_000_000_000, 9,
                               "running", "postgres: writer")
            idle = ProcessInfo(1, "systemd", "root", 0.5, 0.3, 12_000_000, 1, "sleeping",
                               "/sbin/init")
            ph.record(float(t), ProcessTable(float(t), (busy, idle), (busy, idle), 120))
    alerts = state_dir / "alerts"
    alerts.mkdir()
    fired = datetime(2026, 1, 1, 13, 0, tzinfo=UTC).timestamp()
    records = [HistoryRecord(fired, "firing", "h", "cpu_high", "cpu.usage_percent",
                             "warning", 99.5, 80.0, 99.5, fired - 300),
               HistoryRecord(fired + 600, "resolved", "h", "cpu_high", "cpu.usage_percent",
                             "warning", 40.0, 80.0, 99.5, fired - 300, 900.0, "recovered")]
    (alerts / "history.jsonl").write_text(
        "".join(json.dumps(r.to_json()) + "\n" for r in records))
    return state_dir, ts, values


@pytest.fixture(scope="module")
def site(state: tuple[Path, np.ndarray, np.ndarray],
         tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report"
    return render_site(state[0], out, None, now=NOW, tz=UTC)


def row_numbers(html: str, series: str) -> dict[str, float]:
    m = re.search(rf'<tr data-series="{re.escape(series)}" data-avg="([^"]*)" '
                  r'data-max="([^"]*)" data-p95="([^"]*)"', html)
    assert m, f"no summary row for {series}"
    return {"avg": float(m[1]), "max": float(m[2]), "p95": float(m[3])}


def test_periods_cover_every_day_week_month_and_year_of_the_data() -> None:
    ps = periods(FIRST, NOW, UTC)
    keys = {k: [p.key for p in ps if p.kind == k] for k in ("day", "week", "month", "year")}
    assert keys["day"][0] == "2025-12-20" and keys["day"][-1] == "2026-01-02"
    assert len(keys["day"]) == 14
    assert keys["week"] == ["2025-W51", "2025-W52", "2026-W01"]
    assert keys["month"] == ["2025-12", "2026-01"]
    assert keys["year"] == ["2025", "2026"]
    for p in ps:
        assert p.end > p.start


def test_a_page_exists_for_every_period_and_the_index_links_them(site: Path) -> None:
    index = (site / "index.html").read_text()
    for p in periods(FIRST, NOW, UTC):
        assert (site / p.href).is_file(), p.href
        assert f'href="{p.href}"' in index
    assert (site / MARKER).is_file()
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000


def test_a_recent_day_gives_exact_avg_max_and_p95_of_the_samples(
        site: Path, state: tuple[Path, np.ndarray, np.ndarray]) -> None:
    _, ts, values = state
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    inside = (ts >= start) & (ts < start + 86_400)
    html = (site / "day" / "2026-01-01.html").read_text()
    for j, name in enumerate(NAMES):
        v = values[inside, j].astype(np.float32).astype(np.float64)
        got = row_numbers(html, name)
        assert got["avg"] == pytest.approx(v.mean(), rel=1e-5), name
        assert got["max"] == pytest.approx(v.max(), rel=1e-6), name
        assert got["p95"] == pytest.approx(np.percentile(v, 95), rel=1e-5), name
    assert "From the raw tier" in html


def test_an_old_month_comes_from_hourly_rows_and_keeps_the_spikes(
        site: Path, state: tuple[Path, np.ndarray, np.ndarray]) -> None:
    _, ts, values = state
    end = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    inside = ts < end
    cpu = values[inside, 0].astype(np.float32).astype(np.float64)
    hourly = cpu.reshape(-1, 60).mean(axis=1)
    got = row_numbers((site / "month" / "2025-12.html").read_text(), "cpu.usage_percent")
    assert got["max"] == pytest.approx(99.5, rel=1e-6)
    assert got["avg"] == pytest.approx(cpu.mean(), rel=1e-4)
    assert got["p95"] == pytest.approx(np.percentile(hourly, 95), rel=1e-4)


def test_pages_list_the_busiest_processes_and_the_alert_firings(site: Path) -> None:
    day = (site / "day" / "2026-01-01.html").read_text()
    procs = day[day.index('id="processes"'):]
    assert procs.index("postgres") < procs.index("systemd")
    assert "1440 / 1440" in procs  # in the top in every snapshot of the day
    alerts = day[day.index('id="alerts"'):]
    assert "cpu_high" in alerts and "firing" in alerts and "resolved" in alerts
    assert "15 min" in alerts  # how long it lasted
    assert "(1 firing)" in day
    assert "(0 firings)" in (site / "day" / "2025-12-25.html").read_text()


def test_charts_carry_their_data_in_the_page(site: Path) -> None:
    html = (site / "week" / "2026-W01.html").read_text()
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html,
                  re.S)
    assert m
    charts = json.loads(m[1])["charts"]
    assert {c["id"] for c in charts} >= {"cpu", "memory", "network"}
    cpu = next(c for c in charts if c["id"] == "cpu")
    assert len(cpu["x"]) == len(cpu["series"][0]["avg"]) > 50
    assert any(v is not None and not math.isnan(v) for v in cpu["series"][0]["avg"])


def test_the_site_references_nothing_outside_itself(site: Path) -> None:
    """No file of ours names an outside URL; Plotly's bundle is the pinned vendored one
    (its dormant map-tile URLs are never fetched: the browser test records requests)."""
    vendored = Path(__file__).resolve().parents[2] / "web/static/vendor/plotly.min.js"
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        if path.name == "plotly.min.js":
            assert path.read_bytes() == vendored.read_bytes()
            continue
        text = path.read_text(errors="replace")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not ref.startswith(("/", "http:", "https:")), (path, ref)
            if not ref.startswith("data:"):
                target = (path.parent / ref).resolve()
                assert target.is_file(), (path, ref)


def test_rendering_again_swaps_the_whole_site(site: Path,
                                              state: tuple[Path, np.ndarray, np.ndarray]
                                              ) -> None:
    (site / "stale.html").write_text("old")
    render_site(state[0], site, None, now=NOW, tz=UTC)
    assert not (site / "stale.html").exists()
    assert (site / "index.html").is_file()
    leftovers = [p.name for p in site.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_an_output_directory_that_is_not_a_report_is_never_replaced(
        state: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(SysmondError, match="refusing"):
        render_site(state[0], precious, None, now=NOW, tz=UTC)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_state_directory_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SysmondError, match="no store"):
        render_site(tmp_path / "empty", tmp_path / "out", None, now=NOW)


def test_the_daemon_schedule_renders_only_when_due_and_never_raises(
        state: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    from sysmond.config import Config, ReportConfig
    from sysmond.report import maybe_render

    out = tmp_path / "site"
    cfg = Config(report=ReportConfig(enabled=True, output_dir=str(out), every=3600))
    assert maybe_render(state[0], cfg, None, NOW) == NOW
    assert (out / "index.html").is_file()
    assert maybe_render(state[0], cfg, NOW, NOW + 60) == NOW  # not due yet
    off = Config(report=ReportConfig(enabled=False, output_dir=str(out)))
    assert maybe_render(state[0], off, None, NOW) is None
    broken = Config(report=ReportConfig(enabled=True, output_dir=str(tmp_path / "x")))
    assert maybe_render(tmp_path / "nothing", broken, None, NOW) == NOW  # logged
