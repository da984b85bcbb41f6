"""`/api/v1/health`: the daemon's facts plus what the API can see, and a verdict.

Sampling has stalled when the newest sample is older than STALL_TICKS intervals plus
STALL_SLACK seconds: then the answer is 503 with the reason, so a load balancer or
`curl -f` notices. A failing store or collector is reported as `degraded` with 200:
the API still answers, and collection goes on.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import psutil

from sysmond import __version__
from sysmond.api.params import iso
from sysmond.api.state import AppState

STALL_TICKS = 3
STALL_SLACK = 5.0


class OwnUsage:
    """The daemon's own CPU % (since the previous look) and RSS, read from /proc."""

    def __init__(self) -> None:
        self._proc = psutil.Process(os.getpid())
        self._last: tuple[float, float] | None = None

    def read(self) -> dict[str, Any]:
        mono = time.monotonic()
        try:
            t = self._proc.cpu_times()
            rss = self._proc.memory_info().rss
        except psutil.Error:
            return {"pid": os.getpid(), "cpu_percent": None, "rss": None}
        cpu = t.user + t.system
        if self._last is None:
            since = max(1e-3, time.time() - self._proc.create_time())
            pct = cpu / since * 100
        else:
            pct = (cpu - self._last[0]) / max(1e-3, mono - self._last[1]) * 100
        self._last = (cpu, mono)
        return {"pid": os.getpid(), "cpu_percent": round(pct, 2), "rss": int(rss),
                "cpu_seconds": round(cpu, 3)}


def stall_limit(interval: float) -> float:
    return STALL_TICKS * interval + STALL_SLACK


def last_sample_time(state: AppState, facts: Mapping[str, Any]) -> float | None:
    latest = state.latest()
    if latest is not None:
        return float(latest.sample.timestamp)
    t = facts.get("last_sample")
    return float(t) if isinstance(t, (int, float)) and math.isfinite(t) else None


def verdict(state: AppState, facts: Mapping[str, Any], now: float) -> tuple[str, str | None]:
    """Return (status, reason): ok | degraded | starting | stalled."""
    interval = float(facts.get("interval") or state.config.collection.interval)
    limit = stall_limit(interval)
    last = last_sample_time(state, facts)
    if last is None:
        if now - state.started_at > limit:
            return "stalled", f"no sample since the start {now - state.started_at:.0f} s ago"
        return "starting", "the first sample is being collected"
    age = now - last
    if age > limit:
        return "stalled", (f"the last sample is {age:.0f} s old; one is due every "
                           f"{interval:g} s")
    problems = []
    store = facts.get("store")
    if isinstance(store, Mapping) and store.get("state", "ok") != "ok":
        problems.append(f"storage {store.get('state')}: {store.get('error') or 'unknown'}")
    for name, c in collectors(facts).items():
        if not c.get("ok", True):
            problems.append(f"collector {name} failing: {c.get('error') or 'unknown'}")
    if problems:
        return "degraded", "; ".join(problems)
    return "ok", None


def collectors(facts: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Collector states keyed by name, from a mapping or a list of {name, ...}."""
    raw = facts.get("collectors") or {}
    if isinstance(raw, Mapping):
        return {str(k): (v if isinstance(v, Mapping) else {"ok": bool(v)})
                for k, v in raw.items()}
    return {str(c.get("name")): c for c in raw if isinstance(c, Mapping)}


def document(state: AppState, facts: Mapping[str, Any], now: float,
             storage: Mapping[str, Any], own: Mapping[str, Any],
             alerts: Mapping[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """Return (HTTP status, body) of the health answer."""
    status, reason = verdict(state, facts, now)
    interval = float(facts.get("interval") or state.config.collection.interval)
    last = last_sample_time(state, facts)
    body: dict[str, Any] = {k: v for k, v in facts.items() if k not in ("store",)}
    body.update({
        "status": status,
        "reason": reason,
        "version": __version__,
        "hostname": state.hostname,
        "time": iso(now),
        "started_at": iso(state.started_at),
        "uptime": round(now - state.started_at, 3),
        "interval": interval,
        "last_sample": None if last is None else {
            "time": last, "timestamp": iso(last), "age": round(now - last, 3)},
        "collectors": collectors(facts),
        "storage": {**storage, **(facts.get("store") or {})},
        "alerts": alerts,
        "process": dict(own),
    })
    return (503 if status == "stalled" else 200), _finite(body)


def _finite(x: Any) -> Any:
    """JSON has no NaN: make every non-finite float null, recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
