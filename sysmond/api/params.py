"""Query-parameter parsing: times, durations, counts and choices, each failing with a
400 that names the parameter, the value and what would be accepted.

Pure functions of their inputs (`now` is passed in), so every accepted and refused
spelling is a table test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import NamedTuple

from sysmond.api.errors import ApiError, bad_param

# Unix seconds clients may name: after 1970 and before the year 10000.
MIN_TIME = 1.0
MAX_TIME = 253_402_300_800.0

_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
_DURATION = re.compile(r"(\d{1,12})([smhdwy])")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_MAX_VALUE_LEN = 64  # no time, count or name we take is longer


class Query(Mapping[str, str]):
    """A request's query string with every name known and none repeated.

    Given the raw multidict and the names an endpoint takes, raise a 400 naming the
    first unknown or repeated parameter.
    """

    def __init__(self, raw: Mapping[str, str], allowed: Collection[str]) -> None:
        seen: dict[str, str] = {}
        items = raw.items()  # a MultiDict yields repeats
        for name, value in items:
            if name not in allowed:
                takes = ", ".join(sorted(allowed)) if allowed else "no parameters"
                raise ApiError(400, f"unknown parameter '{_clip(name)}'",
                               f"this endpoint takes {takes}")
            if name in seen:
                raise bad_param(name, "given more than once")
            seen[name] = value
        self._values = seen

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "..."


def parse_time(name: str, text: str) -> float:
    """Given RFC 3339 (`2026-02-02T10:30:00Z`, `...+09:00`) or Unix seconds
    (`1770028200`, `1770028200.5`), return Unix seconds. Raise a 400 otherwise."""
    text = text.strip()
    if not text or len(text) > _MAX_VALUE_LEN:
        raise bad_param(name, f"expected RFC 3339 or Unix seconds, got {_clip(text)!r}")
    if _NUMBER.fullmatch(text):
        value = float(text)
    else:
        stamp = text[:-1] + "+00:00" if text[-1] in "Zz" else text
        try:
            parsed = datetime.fromisoformat(stamp)
        except ValueError:
            raise bad_param(name, "expected RFC 3339 (2026-02-02T10:30:00Z) or Unix "
                            f"seconds, got {_clip(text)!r}") from None
        if parsed.tzinfo is None:
            raise bad_param(name, f"{_clip(text)!r} has no UTC offset; add Z or +HH:MM")
        try:
            value = parsed.timestamp()
        except (OverflowError, ValueError, OSError):
            raise bad_param(name, f"{_clip(text)!r} is out of range") from None
    if not (math.isfinite(value) and MIN_TIME <= value < MAX_TIME):
        raise bad_param(name, f"{_clip(text)!r} is outside 1970..9999")
    return value


def parse_duration(name: str, text: str) -> int:
    """Given `90s`, `15m`, `1h`, `7d`, `2w` or `1y` (365 days), return seconds (> 0)."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise bad_param(name, "expected a number and a unit s, m, h, d, w or y "
                        f"(90s, 15m, 1h, 7d, 1y), got {_clip(text)!r}")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise bad_param(name, "must be longer than 0 s")
    return seconds


def parse_int(name: str, text: str, lo: int, hi: int) -> int:
    """Given a decimal integer, return it if lo <= it <= hi, else raise a 400."""
    t = text.strip()
    if not (t.isascii() and t.lstrip("+-").isdigit()) or len(t) > 20:
        raise bad_param(name, f"expected an integer, got {_clip(text)!r}")
    value = int(t)
    if not lo <= value <= hi:
        raise bad_param(name, f"must be between {lo} and {hi}, got {value}")
    return value


def parse_choice(name: str, text: str, choices: Collection[str]) -> str:
    if text not in choices:
        raise bad_param(name, f"expected one of {', '.join(choices)}, got {_clip(text)!r}")
    return text


class TimeRange(NamedTuple):
    start: float
    end: float


def time_range(q: Mapping[str, str], now: float, *, default: int = 3_600,
               longest: float | None = None) -> TimeRange:
    """Return the range `start`/`end`/`range` describe (at most two of the three;
    default: the last `default` seconds up to `now`). Raise a 400 if the end is before
    the start or the range is longer than `longest` seconds."""
    given = [k for k in ("start", "end", "range") if k in q]
    if len(given) == 3:
        raise ApiError(400, "too many time parameters",
                       "give at most two of start, end and range")
    start = parse_time("start", q["start"]) if "start" in q else None
    end = parse_time("end", q["end"]) if "end" in q else None
    span = parse_duration("range", q["range"]) if "range" in q else None
    if start is None and end is None:
        end = now
    if span is None:
        span = default
    if start is None:
        assert end is not None
        start = end - span
    elif end is None:
        end = start + span if "range" in q else max(now, start)
    if end < start:
        raise ApiError(400, "end before start",
                       f"end {iso(end)} is before start {iso(start)}")
    if longest is not None and end - start > longest:
        raise ApiError(400, "range too long",
                       f"{span_text(end - start)} asked; the longest kept history is "
                       f"{span_text(longest)}")
    if start < MIN_TIME:
        raise bad_param("range", f"reaches before 1970 ({span_text(end - start)})")
    return TimeRange(start, end)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


def span_text(seconds: float) -> str:
    for unit, size in (("y", 365 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

