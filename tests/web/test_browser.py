"""The dashboard and the report site in headless Chromium, against a real daemon.

Each test records every request the page makes: a dashboard that works offline asks
only its own daemon (and data: URLs it made itself), and a report page only file://.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from sysmond.report import render_site
from tests.daemon_helpers import DaemonProcess as Dashboard
from tests.web.cdp import Browser, Page
from tests.web.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

TIME_CHARTS = ("chart-cpu", "chart-mem", "chart-io", "chart-net")
# True when a Plotly div has at least one trace with a drawn (non-null) point.
HAS_DATA = """(id => {
  const el = document.getElementById(id);
  return Boolean(el && el.data && el.data.some(t =>
    Array.isArray(t.y) && t.y.some(v => v !== null && v !== undefined)))
    && el.querySelector('.main-svg') !== null;
})"""
# The gauges and mount bars (plain SVG/HTML): each meter's value and its drawn length.
METERS = """(id => [...document.getElementById(id).querySelectorAll('[role=meter]')].map(m => {
  const fill = m.querySelector('path.fill, i');
  return {label: m.getAttribute('aria-label'), value: Number(m.getAttribute('aria-valuenow')),
          dash: fill ? (fill.getAttribute('stroke-dasharray') || fill.style.width) : null,
          text: m.textContent || m.parentElement.textContent};
}))"""


def outside(page: Page, allowed: tuple[str, ...]) -> list[str]:
    return [u for u in page.requests if not u.startswith(allowed)]


async def open_dashboard(browser: Browser, url: str) -> Page:
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for("window.sysmond && window.sysmond.ready", 30, "every chart to draw")
    return page


async def check_meters(page: Page, url: str) -> None:
    """The memory gauge and the mount bars show what `current` says, drawn to scale."""
    current = json.loads(urllib.request.urlopen(url + "api/v1/metrics/current", timeout=5).read())
    gauges = await page.eval(f"{METERS}('chart-gauge')")
    assert [g["label"] for g in gauges] == ["memory", "swap"]
    memory = gauges[0]
    assert abs(memory["value"] - current["memory"]["percent"]) < 5, (memory, current["memory"])
    assert abs(float(memory["dash"].split()[0]) - memory["value"]) <= 0.05, memory
    assert f"{memory['value']:.1f} %" in memory["text"], memory
    mounts = await page.eval(f"{METERS}('chart-mounts')")
    want = current["disk"].get("mounts") or {"/": current["disk"]}
    assert sorted(m["label"].removesuffix(" used") for m in mounts) == sorted(want)
    for m in mounts:
        path = m["label"].removesuffix(" used")
        assert abs(m["value"] - want[path]["percent"]) < 1, (m, want[path])
        assert m["dash"] == f"{m['value']:.1f}%", m
        shown = re.search(r"(\d+) % of \S", m["text"])
        assert shown and abs(int(shown[1]) - m["value"]) <= 0.5, m


async def test_every_panel_draws_data_from_a_live_daemon(dashboard: Dashboard,
                                                         browser: Browser) -> None:
    page = await open_dashboard(browser, dashboard.url)
    # A daemon a few seconds old may have drawn only its first sample, whose rates are
    # gaps by design; live mode appends the next ones within an interval or two.
    for chart in TIME_CHARTS:
        assert await page.wait_for(f"{HAS_DATA}('{chart}')", 15, f"data in {chart}"), chart
    await check_meters(page, dashboard.url)
    rows = await page.wait_for(
        "document.querySelectorAll('#procs tbody tr:not(:has(td.empty))').length", 15,
        "process rows")
    assert rows >= 1
    health = await page.wait_for(
        "(t => /last sample/.test(t) && t)(document.getElementById('health').textContent)",
        10, "the health line")
    age = float(re.search(r"last sample ([\d.]+) s ago", health)[1])
    assert age < 5, health
    assert "every 1 s" in health and "sysmond " in health
    assert await page.eval("document.getElementById('banner').hidden")
    assert await page.eval("document.getElementById('now-cpu').textContent") != "–"
    await page.screenshot(ARTIFACTS / "dashboard-live.png")
    assert page.errors == []
    assert outside(page, (dashboard.url, "data:")) == []


async def test_live_mode_appends_points_each_interval_and_stays_bounded(
        dashboard: Dashboard, browser: Browser) -> None:
    page = await open_dashboard(browser, dashboard.url)
    trace = "document.getElementById('chart-cpu').data.at(-1)"
    first = await page.eval(f"{trace}.x.at(-1)")
    newest = await page.wait_for(
        f"(x => x > {json.dumps(first)} && x)({trace}.x.at(-1))", 10, "a live point")
    await page.wait_for(f"{trace}.x.at(-1) > {json.dumps(newest)}", 10, "another live point")
    assert await page.eval(f"{trace}.y.at(-1)") is not None
    # A 5-minute window at 1 s: extendTraces' maxPoints keeps it at 301 points, however
    # long the page stays open (the heap figure of bench/dashboard.py checks the rest).
    assert await page.eval(f"{trace}.x.length") <= 301
    assert page.errors == []


async def test_a_hidden_tab_stops_drawing_and_catches_up_when_shown(
        dashboard: Dashboard, browser: Browser) -> None:
    page = await open_dashboard(browser, dashboard.url)
    trace = "document.getElementById('chart-cpu').data.at(-1)"
    await page.eval("""(() => { window.hide = true;
      Object.defineProperty(document, 'hidden', {configurable: true, get: () => window.hide});
      document.dispatchEvent(new Event('visibilitychange')); })()""")
    drawn = await page.eval(f"{trace}.x.at(-1)")
    sample = await page.eval("window.sysmond.state.lastSample")
    # Three new samples reach the page (its numbers stay live) and none is drawn.
    await page.wait_for(f"window.sysmond.state.lastSample >= {sample} + 3", 15, "3 samples")
    assert await page.eval(f"{trace}.x.at(-1)") == drawn
    seen = len(page.requests)
    await page.eval("window.hide = false; document.dispatchEvent(new Event('visibilitychange'))")
    await page.wait_for(f"{trace}.x.at(-1) > {json.dumps(drawn)}", 10, "the chart to catch up")
    assert any("/api/v1/metrics/cpu?" in u for u in page.requests[seen:])  # refetched
    assert page.errors == []


async def test_seven_days_asks_the_api_for_the_coarser_tier(dashboard: Dashboard,
                                                            browser: Browser) -> None:
    page = await open_dashboard(browser, dashboard.url)
    seen = len(page.requests)
    await page.eval("document.querySelector('#ranges button[data-range=\"7d\"]').click()")
    await page.wait_for("document.getElementById('tier-cpu').textContent.startsWith('1m')",
                        15, "the cpu chart to show the 1m tier")
    asked = [u for u in page.requests[seen:] if "/api/v1/metrics/cpu?" in u]
    assert asked, page.requests[seen:]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(asked[-1]).query)
    assert query["range"] == ["7d"]
    assert query["fields"] == ["usage_percent"]  # only what the chart draws
    with urllib.request.urlopen(asked[-1], timeout=10) as r:
        answer = json.load(r)
    assert answer["tier"] == "1m"  # the finest default tier that keeps 7 days
    assert list(answer["series"]) == ["usage_percent"]
    # Zooming in refetches the visible span with start/end, from a finer tier.
    seen = len(page.requests)
    await page.eval("""(() => { const now = Date.now() / 1000;
      const f = t => new Date(t * 1000 - new Date(t * 1000).getTimezoneOffset() * 60000)
        .toISOString().slice(0, 19).replace('T', ' ');
      Plotly.relayout('chart-cpu', {'xaxis.range[0]': f(now - 600), 'xaxis.range[1]': f(now)});
    })()""")
    await page.wait_for("document.getElementById('tier-cpu').textContent.startsWith('raw')",
                        15, "the zoomed cpu chart to come from the raw tier")
    zoomed = [u for u in page.requests[seen:] if "/api/v1/metrics/cpu?" in u]
    assert zoomed and "start=" in zoomed[-1] and "end=" in zoomed[-1]
    await page.screenshot(ARTIFACTS / "dashboard-zoomed.png")
    assert page.errors == []
    assert outside(page, (dashboard.url, "data:")) == []


async def test_a_phone_width_in_dark_mode_needs_no_sideways_scrolling(
        dashboard: Dashboard) -> None:
    async with Browser(width=390, height=844) as phone:
        page = await phone.new_page()
        await page.send("Emulation.setEmulatedMedia",
                        features=[{"name": "prefers-color-scheme", "value": "dark"}])
        await page.goto(dashboard.url)
        await page.wait_for("window.sysmond.ready", 30, "every chart to draw")
        assert await page.eval(
            "document.documentElement.scrollWidth <= window.innerWidth + 1")
        bg = await page.eval("getComputedStyle(document.body).backgroundColor")
        assert sum(map(int, re.findall(r"\d+", bg)[:3])) < 150, bg
        await page.screenshot(ARTIFACTS / "dashboard-phone-dark.png")
        assert page.errors == []


async def test_a_chart_out_of_view_keeps_live_points_and_draws_them_when_scrolled_to(
        dashboard: Dashboard) -> None:
    async with Browser(width=390, height=844) as phone:  # one column: net is far below
        page = await phone.new_page()
        await page.goto(dashboard.url)
        await page.wait_for("window.sysmond.ready", 30, "every chart to draw")
        cpu, net = (f"document.getElementById('chart-{k}').data.at(-1).x.at(-1)"
                    for k in ("cpu", "net"))
        net0 = await page.eval(net)
        cpu0 = await page.eval(cpu)
        cpu1 = await page.wait_for(f"(x => x > {json.dumps(cpu0)} && x)({cpu})", 10, "a point")
        await page.wait_for(f"{cpu} > {json.dumps(cpu1)}", 10, "another cpu point")
        assert await page.eval(net) == net0  # not redrawn while out of view
        assert await page.eval("document.getElementById('chart-net').getBoundingClientRect()"
                               ".top > window.innerHeight + 100")
        await page.eval("document.getElementById('chart-net').scrollIntoView()")
        newest = await page.eval(cpu)
        await page.wait_for(f"{net} >= {json.dumps(newest)}", 10, "the kept points drawn")
        assert await page.eval("document.getElementById('chart-net').data.at(-1).x.length"
                               ) <= 301
        assert page.errors == []


async def test_a_stopped_daemon_is_reported_unreachable_not_shown_as_live(
        tmp_path: Path, browser: Browser) -> None:
    d = Dashboard(tmp_path / "state")
    try:
        page = await open_dashboard(browser, d.wait_ready())
        d.stop()
        await page.wait_for("!document.getElementById('banner').hidden && "
                            "/unreachable/.test(document.getElementById('banner').textContent)",
                            15, "the unreachable banner")
        assert "daemon unreachable" in await page.eval(
            "document.getElementById('health').textContent")
        assert await page.eval("document.body.classList.contains('stale')")
        await page.screenshot(ARTIFACTS / "dashboard-unreachable.png")
    finally:
        d.stop()


async def test_a_daemon_that_stops_answering_shows_stale_data_then_recovers(
        tmp_path: Path, browser: Browser) -> None:
    d = Dashboard(tmp_path / "state")
    try:
        page = await open_dashboard(browser, d.wait_ready())
        d.proc.send_signal(signal.SIGSTOP)  # connections accepted, nothing answered
        banner = await page.wait_for(
            "(b => !b.hidden && b.textContent)(document.getElementById('banner'))", 15,
            "the stale banner")
        assert "stale" in banner.lower() and "not live" in banner
        assert await page.eval("document.getElementById('health').className") == \
            "health stale"
        await page.screenshot(ARTIFACTS / "dashboard-stale.png")
        d.proc.send_signal(signal.SIGCONT)
        await page.wait_for("document.getElementById('banner').hidden", 20,
                            "the banner to go once samples are fresh again")
        assert await page.eval("document.getElementById('health').className") == "health ok"
    finally:
        d.proc.send_signal(signal.SIGCONT)
        d.stop()


async def test_a_token_is_asked_once_then_kept_and_sent(tmp_path: Path,
                                                        browser: Browser) -> None:
    token = "t0k3n-for-the-browser-test-0123456789"
    tokens = tmp_path / "tokens"
    tokens.write_text(token + "\n")
    config = tmp_path / "sysmond.yaml"
    config.write_text(f"server:\n  auth:\n    mode: token\n    tokens_file: {tokens}\n")
    d = Dashboard(tmp_path / "state", "--config", str(config))
    try:
        page = await browser.new_page()
        await page.goto(d.wait_ready())
        await page.wait_for("document.getElementById('auth').open", 15, "the token prompt")
        await page.eval(f"""(() => {{ const dlg = document.getElementById('auth');
          dlg.querySelector('input').value = {json.dumps(token)};
          dlg.querySelector('button[value=ok]').click(); }})()""")
        await page.wait_for("window.sysmond.ready", 30, "every chart to draw")
        assert await page.eval("localStorage.getItem('sysmond.token')") == token
        await page.goto(d.url)  # a reload asks nothing: the token is kept
        await page.wait_for("window.sysmond.ready", 30, "every chart to draw again")
        assert not await page.eval("document.getElementById('auth').open")
        # 401s are expected before the token is given; nothing else may fail.
        assert [e for e in page.errors if "401" not in e] == []
    finally:
        d.stop()


async def test_a_report_page_opened_from_disk_draws_its_charts(dashboard: Dashboard,
                                                               browser: Browser,
                                                               tmp_path: Path) -> None:
    await asyncio.sleep(2)  # a few samples more
    site = render_site(dashboard.state_dir, tmp_path / "site")
    day = sorted((site / "day").glob("*.html"))[-1]
    page = await browser.new_page()
    await page.goto(day.as_uri())
    await page.wait_for("document.body.dataset.ready === '1'", 30, "the report charts")
    drawn = await page.eval("""[...document.querySelectorAll('.chart')].map(el =>
      el.data && el.data.some(t => t.y.some(v => v !== null)))""")
    assert drawn and all(drawn), drawn
    await page.screenshot(ARTIFACTS / "report-day.png")
    assert page.errors == []
    assert outside(page, ("file://", "data:")) == []


async def test_per_core_devices_and_a_past_range_ask_the_api_for_them(
        dashboard: Dashboard, browser: Browser) -> None:
    page = await open_dashboard(browser, dashboard.url)
    seen = len(page.requests)
    await page.eval("document.getElementById('percore').click()")
    await page.wait_for("document.getElementById('chart-cpu').data"
                        ".some(t => t.name === 'core 0')", 15, "per-core traces")
    assert any("core=0" in u for u in page.requests[seen:])
    await page.eval("""(() => { const s = document.getElementById('dev-net');
      s.value = 'lo'; s.dispatchEvent(new Event('change')); })()""")
    for _ in range(100):
        if any("/api/v1/metrics/network?" in u and "interface=lo" in u
               for u in page.requests):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no network series request for interface=lo")
    # A custom range that ended minutes ago is history: processes are asked `at` its end.
    seen = len(page.requests)
    await page.eval("""(() => {
      document.querySelector('#ranges button[data-range="custom"]').click();
      const f = t => new Date(t * 1000 - new Date(t * 1000).getTimezoneOffset() * 60000)
        .toISOString().slice(0, 16);
      const now = Date.now() / 1000;
      document.getElementById('from').value = f(now - 1800);
      document.getElementById('to').value = f(now - 300);
      document.getElementById('custom').requestSubmit(); })()""")
    await page.wait_for("/^at /.test(document.getElementById('procs-when').textContent)",
                        15, "the process table at a past time")
    assert any("/api/v1/metrics/processes?" in u and "at=" in u
               for u in page.requests[seen:])
    await page.screenshot(ARTIFACTS / "dashboard-controls.png")
    # A fresh daemon has no process history half an hour back: the API answers 404
    # ("nothing recorded"), which Chromium logs; the table says so. Nothing else fails.
    assert [e for e in page.errors
            if not re.search(r"404 .*/api/v1/metrics/processes\?.*at=", e)] == []
