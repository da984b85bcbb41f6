"""Health: 200 while samples arrive, 503 with the reason once sampling has stalled."""

from __future__ import annotations

from sysmond import __version__
from sysmond.api import create_app

from .conftest import NOW, healthy_facts


async def health(aiohttp_client, make_state, **kw):
    client = await aiohttp_client(create_app(make_state(**kw)))
    r = await client.get("/api/v1/health")
    return r.status, await r.json()


async def test_a_fresh_sample_is_healthy_and_reports_the_daemon_facts(aiohttp_client,
                                                                      make_state):
    status, doc = await health(aiohttp_client, make_state)
    assert status == 200
    assert doc["status"] == "ok" and doc["reason"] is None
    assert doc["version"] == __version__ and doc["hostname"] == "testhost"
    assert doc["uptime"] == 3_601
    assert doc["last_sample"]["age"] == 1.0
    assert doc["last_sample"]["timestamp"] == "2026-02-02T02:00:00Z"
    assert doc["tick_lag"] == 0.004
    assert doc["collectors"]["cpu"]["ok"] is True
    assert doc["storage"]["state"] == "ok" and doc["storage"]["bytes"] > 0
    assert [t["name"] for t in doc["storage"]["tiers"]] == ["raw", "5m", "1h"]
    assert doc["process"]["rss"] > 0 and doc["process"]["cpu_percent"] >= 0
    assert doc["alerts"] == {"enabled": False}


async def test_a_stalled_tick_is_503_with_the_reason(aiohttp_client, make_state):
    # interval 10 s: stalled after 3 x 10 + 5 s
    status, doc = await health(aiohttp_client, make_state, clock=lambda: NOW + 36)
    assert status == 503
    assert doc["status"] == "stalled"
    assert "36 s old" in doc["reason"] and "every 10 s" in doc["reason"]


async def test_just_before_the_stall_limit_it_is_still_healthy(aiohttp_client, make_state):
    status, _ = await health(aiohttp_client, make_state, clock=lambda: NOW + 34)
    assert status == 200


async def test_no_sample_yet_is_starting_then_stalled(aiohttp_client, make_state):
    def facts():
        return {**healthy_facts(), "last_sample": None}

    status, doc = await health(aiohttp_client, make_state, latest=lambda: None,
                               health=facts, clock=lambda: NOW - 3_600 + 2)
    assert (status, doc["status"]) == (200, "starting")
    status, doc = await health(aiohttp_client, make_state, latest=lambda: None,
                               health=facts, clock=lambda: NOW)
    assert (status, doc["status"]) == (503, "stalled")
    assert "no sample since the start" in doc["reason"]


async def test_a_failing_store_is_degraded_but_still_200(aiohttp_client, make_state):
    def facts():
        f = healthy_facts()
        f["store"] = {"state": "failing", "error": "No space left on device",
                      "pending": 42}
        return f

    status, doc = await health(aiohttp_client, make_state, health=facts)
    assert status == 200
    assert doc["status"] == "degraded"
    assert "No space left on device" in doc["reason"]
    assert doc["storage"]["pending"] == 42


async def test_alert_engine_status_is_included(aiohttp_client, make_state):
    class Engine:
        def states(self):
            return []

        def history(self, start, end, rule=None):
            return []

        def status(self):
            return {"rules": 3, "firing": 1, "queue": 0}

    _, doc = await health(aiohttp_client, make_state, alerts=Engine())
    assert doc["alerts"] == {"enabled": True, "rules": 3, "firing": 1, "queue": 0}


async def test_head_works_for_monitors(client):
    r = await client.head("/api/v1/health")
    assert r.status == 200
