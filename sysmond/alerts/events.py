"""The alert records the engine hands out: notifications, instance states, history.

Frozen dataclasses with `to_json()` so the API serves them as they are and the state
directory stores them in the same shape. Times are Unix seconds (float); a value that
is not a finite number is written as null.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

# Notification kinds. "repeat" is a reminder that a firing alert is still firing.
FIRING = "firing"
REPEAT = "repeat"
RESOLVED = "resolved"

# History kinds: the two state changes people care about and the delivery outcomes.
DELIVERED = "delivered"
FAILED = "failed"


def finite(x: float | None) -> float | None:
    """Return x if it is a finite number, else None (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class AlertEvent:
    """One notification: what a person is told when an alert fires, repeats or ends."""

    id: str
    kind: str  # firing | repeat | resolved
    time: float
    host: str
    rule: str
    instance: str  # the series: "disk.percent@/home"
    device: str | None
    severity: str
    op: str
    threshold: float
    clear: float
    value: float | None  # the value when this was decided (never a stale one)
    peak: float | None
    since: float | None  # when the condition began
    fired_at: float | None
    duration: float | None  # resolved: how long the condition lasted
    reason: str  # resolved: "recovered", "device gone", "rule removed", ...
    description: str
    channels: tuple[str, ...]
    dashboard_url: str | None = None
    deferred: bool = False  # held back by quiet hours or maintenance, sent after

    @property
    def state(self) -> str:
        return RESOLVED if self.kind == RESOLVED else FIRING

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channels"] = list(self.channels)
        data["state"] = self.state
        for key in ("threshold", "clear", "value", "peak"):
            data[key] = finite(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertEvent:
        """Given a dict from `to_json`, return the event. Raise KeyError or TypeError
        if it lacks a field."""
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        kwargs["channels"] = tuple(kwargs.get("channels", ()))
        for key in ("threshold", "clear"):
            if kwargs.get(key) is None:
                kwargs[key] = math.nan
        return cls(**kwargs)


@dataclass(frozen=True)
class AlertState:
    """One rule instance as it stands now (what `GET /api/v1/alerts` lists)."""

    rule: str
    instance: str  # the series name; "metric@*" for a wildcard rule with no device yet
    metric: str  # the rule's metric as configured
    device: str | None
    state: str  # ok | pending | firing | resolved
    severity: str
    op: str
    threshold: float
    clear: float
    value: float | None  # the last real value seen (None before the first one)
    since: float | None  # when the current state was entered (None: never evaluated)
    active_since: float | None  # when the condition began
    fired_at: float | None
    peak: float | None
    reason: str  # why a resolved instance resolved
    notified: bool  # whether a person was told it is firing
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("threshold", "clear", "value", "peak"):
            data[key] = finite(data[key])
        return data


@dataclass(frozen=True)
class HistoryRecord:
    """One line of the alert history: a firing, a recovery, or a delivery outcome."""

    time: float
    kind: str  # firing | resolved | delivered | failed
    host: str
    rule: str
    instance: str
    severity: str = ""
    value: float | None = None
    threshold: float | None = None
    peak: float | None = None
    since: float | None = None
    duration: float | None = None
    reason: str = ""
    event: str = ""  # the notification id (links a delivery to its firing/recovery)
    notification: str = ""  # delivery records: firing | repeat | resolved
    target: str = ""  # delivery records: "channel:scheme", never the URL (secrets)
    attempts: int = 0
    error: str = ""
    notified: bool = True  # firing/resolved: whether a notification was sent

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("value", "threshold", "peak"):
            data[key] = finite(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryRecord:
        """Given a dict from `to_json`, return the record. Raise KeyError or TypeError
        if it lacks a required field."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
