"""Top processes now and in the past; alert states and history."""

from __future__ import annotations

from dataclasses import dataclass

from sysmond.api import Latest, create_app
from sysmond.collectors import ProcessInfo, ProcessTable

from .conftest import NOW, current_json, make_sample


async def test_top_processes_now_sorted_by_cpu_by_default(client):
    r = await client.get("/api/v1/metrics/processes")
    doc = await r.json()
    assert r.status == 200
    assert doc["sort"] == "cpu" and doc["count"] == 321
    assert len(doc["processes"]) == 10  # collection.top_n
    cpus = [p["cpu_percent"] for p in doc["processes"]]
    assert cpus == sorted(cpus, reverse=True)
    assert set(doc["processes"][0]) == {"pid", "name", "user", "cpu_percent",
                                        "memory_percent", "rss", "num_threads", "status",
                                        "cmdline"}


async def test_sort_by_memory_with_a_limit(client):
    doc = await (await client.get("/api/v1/metrics/processes?sort=memory&limit=3")).json()
    rss = [p["rss"] for p in doc["processes"]]
    assert len(rss) == 3 and rss == sorted(rss, reverse=True)


async def test_the_carried_table_is_used_on_ticks_without_processes(aiohttp_client,
                                                                    make_state):
    sample = make_sample()
    carried = sample.processes
    latest = Latest(sample._replace(processes=None), current_json(sample), NOW, carried)
    client = await aiohttp_client(create_app(make_state(latest=lambda: latest)))
    r = await client.get("/api/v1/metrics/processes")
    assert r.status == 200


async def test_no_process_table_yet_is_503(aiohttp_client, make_state):
    sample = make_sample()._replace(processes=None)
    latest = Latest(sample, b"{}", NOW)
    client = await aiohttp_client(create_app(make_state(latest=lambda: latest)))
    r = await client.get("/api/v1/metrics/processes")
    assert r.status == 503
    assert r.headers["Retry-After"] == "1"


class History:
    def __init__(self):
        self.asked = []

    def at(self, t):
        self.asked.append(t)
        if t < NOW - 86_400:
            return None
        p = ProcessInfo(7, "backup", "root", 99.5, 2.0, 10**8, 4, "running", "backup -a")
        return ProcessTable(t - 30, (p,), (p,), 200)


async def test_at_a_past_time_reads_the_process_history(aiohttp_client, make_state):
    history = History()
    client = await aiohttp_client(create_app(make_state(processes=history)))
    r = await client.get("/api/v1/metrics/processes?at=2026-02-01T03:12:00Z")
    doc = await r.json()
    assert r.status == 200
    assert history.asked == [1769915520.0]
    assert doc["timestamp"] == "2026-02-01T03:11:30Z"
    assert doc["processes"][0]["name"] == "backup"
    r = await client.get("/api/v1/metrics/processes?at=2025-01-01T00:00:00Z")
    assert r.status == 404
    assert "2025-01-01" in (await r.json())["detail"]


async def test_at_without_a_history_is_404(client):
    r = await client.get("/api/v1/metrics/processes?at=1769915520")
    assert r.status == 404
    assert (await r.json())["error"] == "no process history"


@dataclass(frozen=True)
class State:
    rule: str
    state: str

    def to_json(self):
        return {"rule": self.rule, "state": self.state}


class Engine:
    def __init__(self):
        self.asked = []

    def states(self):
        return [State("cpu_high", "firing"), State("disk_full", "ok")]

    def history(self, start, end, rule=None, limit=100):
        self.asked.append((start, end, rule, limit))
        return [State("cpu_high", "firing")] * min(5, limit)

    def status(self):
        return {"rules": 2}


async def test_alerts_list_every_rule_state(aiohttp_client, make_state):
    client = await aiohttp_client(create_app(make_state(alerts=Engine())))
    doc = await (await client.get("/api/v1/alerts")).json()
    assert doc["enabled"] is True and doc["rules"] == 2
    assert [a["state"] for a in doc["alerts"]] == ["firing", "ok"]


async def test_alert_history_passes_range_and_rule_and_limits(aiohttp_client, make_state):
    engine = Engine()
    client = await aiohttp_client(create_app(make_state(alerts=engine)))
    doc = await (await client.get(
        "/api/v1/alerts/history?range=1d&rule=cpu_high&limit=2")).json()
    assert len(doc["records"]) == 2 and doc["rule"] == "cpu_high"
    assert engine.asked == [(NOW + 1 - 86_400, NOW + 1, "cpu_high", 2)]
    await client.get("/api/v1/alerts/history")
    assert engine.asked[-1] == (None, None, None, 100)


async def test_without_an_alert_engine_the_lists_are_empty(client):
    assert await (await client.get("/api/v1/alerts")).json() == {"enabled": False,
                                                                 "alerts": []}
    doc = await (await client.get("/api/v1/alerts/history")).json()
    assert doc == {"enabled": False, "records": []}


async def test_the_real_process_history_and_alert_engine_plug_in(aiohttp_client, make_state,
                                                                 tmp_path):
    from sysmond.alerts import AlertEngine
    from sysmond.config import AlertRuleConfig, AlertsConfig
    from sysmond.store.processes import ProcessHistory

    history = ProcessHistory.open(tmp_path / "processes", interval=60)
    history.record(NOW - 600, make_sample(NOW - 600).processes)
    rule = AlertRuleConfig("cpu_high", "cpu.usage_percent", ">", 80.0, channels=())
    engine = AlertEngine(AlertsConfig(rules=(rule,), channels=()), tmp_path,
                         hostname="testhost", clock=lambda: NOW)
    engine.evaluate(NOW - 10, {"cpu.usage_percent": 95.0})
    engine.evaluate(NOW, {"cpu.usage_percent": 96.0})
    try:
        client = await aiohttp_client(create_app(make_state(processes=history,
                                                            alerts=engine)))
        r = await client.get(f"/api/v1/metrics/processes?at={NOW - 590:.0f}&limit=2")
        doc = await r.json()
        assert r.status == 200, doc
        assert doc["time"] == NOW - 600 and len(doc["processes"]) == 2
        doc = await (await client.get("/api/v1/alerts")).json()
        assert doc["enabled"] is True
        assert [(a["rule"], a["state"]) for a in doc["alerts"]] == [("cpu_high", "firing")]
        doc = await (await client.get("/api/v1/alerts/history?rule=cpu_high")).json()
        assert [r["kind"] for r in doc["records"]] == ["firing"]
        health = await (await client.get("/api/v1/health")).json()
        assert health["alerts"]["enabled"] is True
    finally:
        history.close()
