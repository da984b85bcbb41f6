"""The alert state machine: compiled rules and one instance's ok/pending/firing/resolved.

Pure: no I/O, no clock. Every step takes `now` and one value, so "for 5 minutes" is a
table test in milliseconds. The engine decides which values an instance sees (and
which it misses) and what to notify; this module only decides state.

    ok --breach--> pending --held `for`--> firing --clear held `hold`--> resolved
     ^                |                                                    |
     +--- no breach --+                                 breach -> pending  +--> ok

Rules written here (docs/alerts.md explains them for people):
- breach: `value OP threshold`. A pending alert that stops breaching goes back to ok
  silently (nothing was ever said about it).
- hysteresis: a firing alert stays firing while `value OP clear` (clear defaults to the
  threshold). It resolves once the value has stayed on the clear side for `hold`
  seconds = max(`for`, 60 s): an alert takes as long to end as to start, so a value
  flapping around the threshold every few seconds keeps one alert firing instead of
  sending a storm of firings and recoveries.
- gap (NaN or missing value): no step at all, so a gap never fires and never
  resolves. Timers run on across a short gap; after a gap longer than `hold` the next
  real value restarts the pending (or clearing) clock, because we cannot claim a
  value held while we could not see it.
- resolved stays visible for RESOLVED_KEEP seconds, then becomes ok; a new breach
  meanwhile starts a new pending alert.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from sysmond.config import AlertRuleConfig, TimeWindow

OK = "ok"
PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
STATES = (OK, PENDING, FIRING, RESOLVED)

# The shortest time a value must stay cleared before a firing alert resolves.
MIN_HOLD = 60.0
# How long a resolved instance is shown as "resolved" before it reads "ok" again.
RESOLVED_KEEP = 3_600.0
# A device's series must be absent from this many consecutive samples (and for at
# least the rule's `for`) before its alert resolves with reason "device gone".
GONE_TICKS = 3

WILDCARD = "*"

REASON_RECOVERED = "recovered"
REASON_DEVICE_GONE = "device gone"
REASON_RULE_REMOVED = "rule removed"
REASON_RULE_CHANGED = "rule changed"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Rule:
    """An `AlertRuleConfig` made ready for evaluation (split metric, bound operator)."""

    name: str
    base: str  # series name without the device part: "disk.percent"
    device: str | None  # None: the total series; "*": every device; else one device
    op: str
    threshold: float
    clear: float
    for_seconds: float
    hold: float
    severity: str
    channels: tuple[str, ...]
    repeat: float
    quiet_hours: tuple[Window, ...]
    description: str
    breaches: Callable[[float, float], bool]
    config: AlertRuleConfig

    @property
    def metric(self) -> str:
        return self.config.metric

    @property
    def key(self) -> tuple[str, str]:
        """What an instance's state is about: a rule keeps state across a reload only
        while its metric and comparison stay the same."""
        return (self.config.metric, self.op)

    def series(self, device: str | None) -> str:
        return self.base if device is None else f"{self.base}@{device}"

    def still_active(self, value: float) -> bool:
        """Whether a firing alert's value is still on the wrong side of `clear`."""
        return self.breaches(value, self.clear)

    def worse(self, a: float, b: float) -> float:
        """The worse of two values in this rule's direction (for the peak)."""
        if self.op in (">", ">="):
            return a if a >= b else b
        return a if a <= b else b


def compile_rule(cfg: AlertRuleConfig) -> Rule:
    """Given one rule from the config, return it ready for evaluation.

    Raise ValueError if the comparison is unknown or `clear` lies on the wrong side of
    the threshold (the config validator reports these to a person first).
    """
    if cfg.op not in _OPS:
        raise ValueError(f"rule {cfg.name!r}: unknown comparison {cfg.op!r}")
    base, sep, device = cfg.metric.partition("@")
    if not base or (sep and not device):
        raise ValueError(f"rule {cfg.name!r}: bad metric {cfg.metric!r}")
    threshold = float(cfg.threshold)
    clear = threshold if cfg.clear is None else float(cfg.clear)
    upward = cfg.op in (">", ">=")
    if (upward and clear > threshold) or (not upward and clear < threshold):
        raise ValueError(
            f"rule {cfg.name!r}: clear {clear:g} must be on the ok side of "
            f"{cfg.op} {threshold:g}"
        )
    for_seconds = max(0.0, float(cfg.for_seconds))
    return Rule(
        name=cfg.name,
        base=base,
        device=device if sep else None,
        op=cfg.op,
        threshold=threshold,
        clear=clear,
        for_seconds=for_seconds,
        hold=max(for_seconds, MIN_HOLD),
        severity=cfg.severity,
        channels=tuple(cfg.channels),
        repeat=max(0.0, float(cfg.repeat)),
        quiet_hours=tuple(compile_window(w) for w in cfg.quiet_hours),
        description=cfg.description,
        breaches=_OPS[cfg.op],
        config=cfg,
    )


class Instance:
    """One alert instance (a rule applied to one series) and its state.

    Mutable and slotted because the engine steps hundreds of them per tick. Besides
    the state it carries what the notifications need: the peak, when the condition
    began, and whether the firing was notified (so a recovery is sent only for an
    alert a person was told about).
    """

    __slots__ = (
        "active_since",
        "clear_since",
        "device",
        "fired_at",
        "last_notified",
        "last_seen",
        "last_value_at",
        "missing",
        "notified",
        "peak",
        "reason",
        "series",
        "since",
        "state",
        "value",
    )

    def __init__(self, series: str, device: str | None, now: float) -> None:
        self.series = series
        self.device = device
        self.state = OK
        self.since = now  # when the current state was entered
        self.active_since: float | None = None  # when the condition began (pending)
        self.fired_at: float | None = None
        self.clear_since: float | None = None  # firing, value cleared since then
        self.value: float | None = None  # the last real value
        self.last_value_at: float | None = None
        self.peak: float | None = None
        self.last_seen = now  # last sample that had this series (NaN included)
        self.missing = 0  # consecutive samples without this series
        self.notified = False  # the firing notification was handed to delivery
        self.last_notified: float | None = None
        self.reason = ""  # why it resolved

    def step(self, rule: Rule, now: float, value: float) -> str | None:
        """Given a real (not NaN) value at `now`, advance the state; return the new
        state if it changed, else None."""
        stale = self.last_value_at is not None and now - self.last_value_at > rule.hold
        self.value = value
        self.last_value_at = now
        state = self.state
        if state == FIRING:
            if rule.still_active(value):
                self.clear_since = None
                self.peak = rule.worse(value, self.peak) if self.peak is not None else value
                return None
            if self.clear_since is None or stale:
                self.clear_since = now
            if now - self.clear_since >= rule.hold:
                self.state = RESOLVED
                self.since = now
                self.reason = REASON_RECOVERED
                return RESOLVED
            return None
        breach = rule.breaches(value, rule.threshold)
        if state == PENDING:
            if not breach:
                self._to_ok(now)
                return OK
            if stale:
                self.active_since = now
            self.peak = rule.worse(value, self.peak) if self.peak is not None else value
            if now - self.active_since >= rule.for_seconds:  # type: ignore[operator]
                self._to_firing(now)
                return FIRING
            return None
        # ok or resolved
        if breach:
            self.state = PENDING
            self.since = now
            self.active_since = now
            self.peak = value
            self.fired_at = None
            self.clear_since = None
            self.notified = False
            self.last_notified = None
            self.reason = ""
            if rule.for_seconds <= 0:
                self._to_firing(now)
                return FIRING
            return PENDING
        if state == RESOLVED and now - self.since >= RESOLVED_KEEP:
            self._to_ok(now)
            return OK
        return None

    def resolve(self, now: float, reason: str) -> None:
        """End a firing alert for a reason other than its value (device gone, rule
        removed)."""
        self.state = RESOLVED
        self.since = now
        self.reason = reason

    def _to_firing(self, now: float) -> None:
        self.state = FIRING
        self.since = now
        self.fired_at = now

    def _to_ok(self, now: float) -> None:
        self.state = OK
        self.since = now
        self.active_since = None
        self.peak = None
        self.clear_since = None

    # --- persistence -------------------------------------------------------------

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict) -> Instance:
        """Given a dict from `to_json`, return the instance. Raise KeyError/TypeError
        if it is not one."""
        inst = cls(str(data["series"]), data["device"], float(data["since"]))
        for name in cls.__slots__:
            if name in data:
                setattr(inst, name, data[name])
        if inst.state not in STATES:
            raise ValueError(f"unknown state {inst.state!r}")
        return inst


@dataclass(frozen=True)
class Window:
    """A `TimeWindow` parsed once: minutes of the day and weekday numbers."""

    start: int  # minute of the day, 0..1439
    end: int
    days: frozenset[int] | None  # 0 = Monday; None = every day

    def contains(self, minute: int, weekday: int) -> bool:
        """Whether local time `minute` of the day on `weekday` lies in the window.

        A window crossing midnight belongs to the day it starts on (Friday 22:00-06:00
        covers Saturday 03:00); start == end means the whole day.
        """
        days = self.days
        if self.start == self.end:
            return days is None or weekday in days
        if self.start < self.end:
            return self.start <= minute < self.end and (days is None or weekday in days)
        if minute >= self.start:
            return days is None or weekday in days
        if minute < self.end:
            return days is None or (weekday - 1) % 7 in days
        return False


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def compile_window(window: TimeWindow) -> Window:
    """Given a config window ('HH:MM'-'HH:MM', day names), return it parsed.

    Raise ValueError on a malformed time or day name.
    """
    try:
        days = frozenset(_DAYS[d.strip()[:3].lower()] for d in window.days) if window.days else None
    except KeyError as e:
        raise ValueError(f"unknown day {e.args[0]!r} (mon..sun)") from None
    return Window(_minutes(window.start), _minutes(window.end), days)


def _minutes(hhmm: str) -> int:
    hours, sep, minutes = hhmm.strip().partition(":")
    h, m = int(hours), int(minutes) if sep else 0
    if not (0 <= h <= 24 and 0 <= m < 60):
        raise ValueError(f"bad time of day {hhmm!r}")
    return (h * 60 + m) % 1440
