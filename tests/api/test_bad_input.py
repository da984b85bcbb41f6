"""Every bad input gets a specific 4xx and `{"error", "detail"}` naming the problem:
never a 500, never a traceback."""

from __future__ import annotations

import pytest

from sysmond.config import LimitsConfig

from .conftest import test_config

M = "/api/v1/metrics"
BAD = [
    # (method, path, headers, status, text the error or detail must contain)
    ("GET", f"{M}/gpu", None, 404, "unknown metric 'gpu'"),
    ("GET", "/api/v1/nowhere", None, 404, "/api/v1/nowhere"),
    ("GET", f"{M}/cpu?core=99", None, 404, "unknown core '99'"),
    ("GET", f"{M}/disk?mount=/nope", None, 404, "unknown mount '/nope'"),
    ("GET", f"{M}/disk?device=sdz", None, 404, "unknown device 'sdz'"),
    ("GET", f"{M}/network?interface=wlan0", None, 404, "unknown interface 'wlan0'"),
    ("GET", f"{M}/cpu?colour=red", None, 400, "unknown parameter 'colour'"),
    ("GET", f"{M}/memory?core=1", None, 400, "unknown parameter 'core'"),
    ("GET", f"{M}/cpu?points=1&points=2", None, 400, "more than once"),
    ("GET", f"{M}/cpu?start=yesterday", None, 400, "'start'"),
    ("GET", f"{M}/cpu?end=2026-02-02T02:40:00", None, 400, "no UTC offset"),
    ("GET", f"{M}/cpu?start=-10", None, 400, "1970"),
    ("GET", f"{M}/cpu?start=1769990000&end=1769900000", None, 400, "end before start"),
    ("GET", f"{M}/cpu?points=0", None, 400, "'points'"),
    ("GET", f"{M}/cpu?points=1000000000", None, 400, "between 1 and 10000"),
    ("GET", f"{M}/cpu?points=1e3", None, 400, "expected an integer"),
    ("GET", f"{M}/cpu?range=100y", None, 400, "range too long"),
    ("GET", f"{M}/cpu?start=1", None, 400, "range too long"),
    ("GET", f"{M}/cpu?range=1fortnight", None, 400, "'range'"),
    ("GET", f"{M}/cpu?start=1769990000&end=1769997000&range=1h", None, 400, "at most two"),
    ("GET", f"{M}/cpu?tier=10s", None, 400, "'tier'"),
    ("GET", f"{M}/cpu?tier=raw&range=7d", None, 400, "tier raw keeps 1d"),
    ("GET", f"{M}/cpu?format=xml", None, 400, "'format'"),
    ("GET", f"{M}/cpu?fields=usage", None, 400, "cpu totals has no field 'usage'"),
    ("GET", f"{M}/cpu?core=0&fields=iowait_percent", None, 400,
     "cpu core '0' has no field 'iowait_percent'"),
    ("GET", f"{M}/cpu?fields=usage_percent,usage_percent", None, 400, "named twice"),
    ("GET", f"{M}/cpu?fields=usage_percent,", None, 400, "got ''"),
    ("GET", f"{M}/cpu?fields=Usage%20Percent", None, 400, "'fields'"),
    ("GET", f"{M}/cpu?core=-1", None, 400, "'core'"),
    ("GET", f"{M}/cpu?core=one", None, 400, "'core'"),
    ("GET", f"{M}/disk?mount=/&device=sda", None, 400, "too many device parameters"),
    ("GET", f"{M}/disk?mount=" + "x" * 600, None, 400, "'mount'"),
    ("GET", f"{M}/current?pretty=1", None, 400, "unknown parameter 'pretty'"),
    ("GET", f"{M}/processes?sort=disk", None, 400, "'sort'"),
    ("GET", f"{M}/processes?limit=0", None, 400, "'limit'"),
    ("GET", f"{M}/processes?at=noon", None, 400, "'at'"),
    ("GET", "/api/v1/health?verbose=1", None, 400, "unknown parameter 'verbose'"),
    ("GET", "/metrics?debug=1", None, 400, "unknown parameter 'debug'"),
    ("GET", "/api/v1/alerts/history?limit=0", None, 400, "'limit'"),
    ("POST", f"{M}/cpu", None, 405, "POST is not allowed"),
    ("DELETE", "/api/v1/health", None, 405, "DELETE is not allowed"),
    ("PUT", "/metrics", None, 405, "PUT is not allowed"),
    ("GET", f"{M}/cpu", {"X-Padding": "a" * 9_000}, 431, "X-Padding"),
    ("GET", f"{M}/cpu?start=" + "9" * 9_000, None, 414, "URL too long"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status", "fragment"), BAD,
                         ids=[f"{b[3]}-{b[1][:50]}" for b in BAD])
async def test_bad_input_gets_a_specific_4xx_naming_the_problem(client, method, path,
                                                                headers, status, fragment):
    r = await client.request(method, path, headers=headers)
    text = await r.text()
    assert r.status == status, text
    assert r.headers["Content-Type"].startswith("application/json")
    body = await r.json()
    assert set(body) == {"error", "detail"}
    assert fragment in body["error"] + " " + body["detail"]
    assert "Traceback" not in text


def test_the_table_covers_at_least_25_inputs():
    assert len(BAD) >= 25


async def test_a_wrong_method_keeps_the_allow_header(client):
    r = await client.post("/api/v1/metrics/cpu")
    assert "GET" in r.headers["Allow"]


async def test_a_query_scanning_too_many_cells_is_refused(aiohttp_client, make_state):
    from sysmond.api import create_app

    config = test_config(limits=LimitsConfig(max_scan_cells=1_000))
    client = await aiohttp_client(create_app(make_state(config)))
    r = await client.get("/api/v1/metrics/cpu?range=1d")
    assert r.status == 400
    body = await r.json()
    assert body["error"] == "query too large" and "1000" in body["detail"]


async def test_headers_past_the_parser_backstop_get_aiohttps_own_400(client):
    r = await client.get("/api/v1/metrics/cpu", headers={"X-Huge": "a" * 40_000})
    assert r.status == 400
    assert "Traceback" not in await r.text()


async def test_a_store_failure_is_a_503_not_a_500(aiohttp_client, make_state):
    from sysmond.api import create_app
    from sysmond.errors import StoreError

    class Broken:
        tiers = make_state().store.tiers

        def series(self):
            raise StoreError("/var/lib/sysmond: Input/output error")

        def choose_tier(self, start, now):
            return 0

    client = await aiohttp_client(create_app(make_state(store=Broken())))
    r = await client.get("/api/v1/metrics/cpu")
    assert r.status == 503
    assert "Input/output error" in (await r.json())["detail"]


async def test_an_unexpected_error_is_logged_and_answered_without_a_traceback(
        aiohttp_client, make_state, caplog):
    from sysmond.api import create_app

    def boom():
        raise ZeroDivisionError("secret internals")

    client = await aiohttp_client(create_app(make_state(latest=boom)))
    r = await client.get("/api/v1/metrics/current")
    assert r.status == 500
    text = await r.text()
    assert "secret" not in text and "Traceback" not in text
    assert "ZeroDivisionError" in caplog.text
