"""Helpers for alert tests: a settable clock, rule and config builders, feeding."""

from __future__ import annotations

import socket

from sysmond.alerts import AlertEngine
from sysmond.config import AlertRuleConfig, AlertsConfig, ChannelConfig

LOG_CHANNEL = ChannelConfig("log", log_file="alerts.log")


class Clock:
    """A clock the test sets; the engine reads it for delivery bookkeeping."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def config(*rules: AlertRuleConfig, **kw) -> AlertsConfig:
    kw.setdefault("channels", (LOG_CHANNEL,))
    return AlertsConfig(rules=rules, **kw)


def cpu_rule(**kw) -> AlertRuleConfig:
    base = dict(name="cpu_high", metric="cpu.usage_percent", op=">", threshold=80.0,
                for_seconds=300, clear=75.0, channels=("log",))
    base.update(kw)
    return AlertRuleConfig(**base)


def disk_rule(**kw) -> AlertRuleConfig:
    base = dict(name="disk_full", metric="disk.percent@*", op=">", threshold=85.0,
                for_seconds=60, clear=80.0, severity="critical", channels=("log",))
    base.update(kw)
    return AlertRuleConfig(**base)


def sent(engine: AlertEngine) -> list[tuple[str, str]]:
    """The notifications queued so far (engine not started): (kind, instance)."""
    return [(e.kind, e.instance) for e in engine.outbox()]


def feed(engine: AlertEngine, start: float, end: float, values, step: float = 1.0) -> float:
    """Evaluate every `step` seconds from start (inclusive) to end (exclusive);
    `values` is a dict or a function of t returning one. Return `end`."""
    t = start
    while t < end:
        engine.evaluate(t, values(t) if callable(values) else values)
        t += step
    return end


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
