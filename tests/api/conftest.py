"""A small real store filled with synthetic data, a fixed clock, a fake newest tick,
and an app built around them: the API's tests need no daemon."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sysmond.api import AppState, Latest, create_app
from sysmond.collectors import Counter, ProcessInfo, ProcessTable, Sample
from sysmond.config import Config, RateLimitConfig, ServerConfig, StorageConfig, TierConfig
from sysmond.metrics import METRICS
from sysmond.store import Store

# Test ladder: 10 s rows for a day, 5 min for 30 days, 1 h for 400 days.
TIERS = (TierConfig("raw", 10, 86_400), TierConfig("5m", 300, 30 * 86_400),
         TierConfig("1h", 3_600, 400 * 86_400))
NOW = 1_769_997_600.0  # 2026-02-02T02:00:00Z, on every tier's grid
FILLED = 2 * 86_400  # seconds of history before NOW
GAP = (NOW - 1_800, NOW - 1_200)  # ten minutes with no sample
DEVICES = {"core": ["0", "1", "2", "3"], "mount": ["/", "/home"],
           "device": ["sda", "nvme0n1"], "interface": ["eth0", "lo"]}


def series_names() -> list[str]:
    names = []
    for m in METRICS:
        if not m.stored:
            continue
        names.append(m.series)  # every total, as the collectors write them
        if m.device != "none":
            names += [m.device_series(d) for d in DEVICES[m.device]]
    return names


def value_at(name: str, t: np.ndarray) -> np.ndarray:
    """A deterministic, name-dependent wave in a plausible range."""
    seed = sum(map(ord, name)) % 97
    base = 50 + 40 * np.sin(t / 900.0 + seed)
    if "percent" in name:
        return base
    return base * 1e6


def fill(store: Store) -> None:
    names = series_names()
    step = TIERS[0].step
    ts = np.arange(NOW - FILLED, NOW + step, step, dtype=np.float64)
    ts = ts[(ts < GAP[0]) | (ts >= GAP[1])]
    values = np.stack([value_at(n, ts) for n in names], axis=1)
    store.append_many(ts, names, values)


def make_sample(t: float = NOW) -> Sample:
    names = series_names()
    values = {n: float(value_at(n, np.array([t]))[0]) for n in names}
    values["cpu.frequency_current"] = math.nan  # a VM without frequency
    info: dict[str, object] = {"cpu.logical_count": 4, "cpu.physical_count": 2,
                               "cpu.frequency_min": None, "cpu.frequency_max": None,
                               "disk.device@/": "/dev/sda1", "disk.fstype@/": "ext4",
                               "disk.device@/home": "/dev/sda2", "disk.fstype@/home": "xfs"}
    counters = (
        Counter("cpu_seconds_total", (("cpu", "0"), ("mode", "user")), 12345.67),
        Counter("cpu_seconds_total", (("cpu", "0"), ("mode", "idle")), 98765.43),
        Counter("context_switches_total", (), 123456789.0),
        Counter("network_receive_bytes_total", (("device", "eth0"),), 9876543210.0),
        Counter("disk_read_bytes_total", (("device", "sda"),), 5_000_000_000.0),
    )
    procs = tuple(ProcessInfo(100 + i, f"proc{i}", "root", 90.0 - i * 7, 1.5 * i,
                              1_000_000 * (i + 1), 1 + i, "running", f"/bin/proc{i} --x")
                  for i in range(12))
    table = ProcessTable(t, procs, tuple(sorted(procs, key=lambda p: -p.rss)), 321)
    return Sample(t, values, info, counters, table)


def current_json(sample: Sample) -> bytes:
    v = sample.values
    doc = {"timestamp": "2026-02-02T02:00:00Z", "hostname": "testhost",
           "cpu": {"usage_percent": v["cpu.usage_percent"], "per_core": [1, 2, 3, 4],
                   "frequency": {"current": None, "min": None, "max": None},
                   "load_average": [1.0, 0.5, 0.25]},
           "memory": {"total": 1, "available": 1, "used": 0, "percent": 0.0,
                      "swap": {"total": 0, "used": 0, "percent": 0.0}},
           "disk": {"total": 1, "used": 0, "free": 1, "percent": 0.0, "io": {}},
           "network": {}}
    return json.dumps(doc).encode()


def healthy_facts(t: float = NOW) -> dict[str, Any]:
    return {"interval": 10, "last_sample": t, "tick_lag": 0.004, "tick_lag_max": 0.02,
            "collectors": {"cpu": {"ok": True, "duration": 0.001, "error": None},
                           "disk": {"ok": True, "duration": 0.003, "error": None}},
            "store": {"state": "ok", "error": None, "pending": 0, "writes": 17_000,
                      "dropped": 2},
            "series": len(series_names())}


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store.open(tmp_path_factory.mktemp("store"), TIERS)
    fill(s)
    yield s
    s.close()


def test_config(**server: Any) -> Config:
    server.setdefault("rate_limit", RateLimitConfig(enabled=False))
    return Config(storage=StorageConfig(tiers=TIERS), server=ServerConfig(**server))


test_config.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def make_state(store: Store) -> Callable[..., AppState]:
    def make(config: Config | None = None, **kw: Any) -> AppState:
        sample = make_sample()
        latest = Latest(sample, current_json(sample), NOW + 0.2)
        kw.setdefault("latest", lambda: latest)
        kw.setdefault("health", healthy_facts)
        kw.setdefault("clock", lambda: NOW + 1)
        kw.setdefault("store", store)
        return AppState(config=config or test_config(), hostname="testhost",
                        started_at=NOW - 3_600, **kw)

    return make


@pytest.fixture
async def client(aiohttp_client: Any, make_state: Callable[..., AppState]) -> Any:
    return await aiohttp_client(create_app(make_state()))
