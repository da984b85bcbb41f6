"""Where notifications go and what they say: message text, Apprise URLs, the log file.

A channel (config) has Apprise URLs and/or a JSON-lines log file; each of those is
one `Target`, delivered and retried on its own, so a dead SMTP server does not make
the Slack message go out twice. Sending is blocking (`Sender.send`): the delivery
worker runs it in a thread with a timeout. Apprise is imported on first use, never at
import time (it loads a hundred plugins).

Apprise logs its own warnings on every failed attempt; attempts made here are kept
out of the log (they are reported once by the delivery worker, with the reason
Apprise gave) by a filter that only takes records made inside `quiet_apprise()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sysmond.alerts.events import REPEAT, RESOLVED, AlertEvent, finite
from sysmond.config import ChannelConfig

log = logging.getLogger(__name__)

LOG = "log"
APPRISE = "apprise"


class DeliveryError(Exception):
    """One attempt to deliver failed; the message says why, for the history."""


@dataclass(frozen=True)
class Target:
    """One place a channel delivers to: an Apprise URL or the log file."""

    channel: str
    index: int  # URLs first (0..n-1), then the log file (n)
    kind: str  # "apprise" | "log"
    address: str  # the URL, or the log file's absolute path
    label: str  # safe to show and store: "ops:mailto", "log:file" (no secrets)


def targets(channel: ChannelConfig, state_dir: Path) -> list[Target]:
    """Given a channel, return its targets; a relative log file is under `state_dir`."""
    out = [
        Target(channel.name, i, APPRISE, url, _label(channel.name, url, i, len(channel.urls)))
        for i, url in enumerate(channel.urls)
    ]
    if channel.log_file:
        path = Path(channel.log_file)
        if not path.is_absolute():
            path = Path(state_dir) / path
        out.append(Target(channel.name, len(channel.urls), LOG, str(path), f"{channel.name}:file"))
    return out


def _label(channel: str, url: str, index: int, count: int) -> str:
    scheme = url.partition("://")[0].lower() or "url"
    return f"{channel}:{scheme}" if count == 1 else f"{channel}:{scheme}#{index + 1}"


# --- message text ---------------------------------------------------------------------


def render(event: AlertEvent) -> tuple[str, str]:
    """Return (title, body) of a notification, written for a person."""
    what = f"{event.instance} = {fmt_value(event.instance, event.value)}"
    limit = f"{event.op} {fmt_value(event.instance, event.threshold)}"
    sev = event.severity.upper()
    if event.kind == RESOLVED:
        title = f"[{event.host}] RESOLVED {event.rule}: {what} (was {limit})"
    elif event.kind == REPEAT:
        title = f"[{event.host}] STILL FIRING {sev} {event.rule}: {what} ({limit})"
    else:
        title = f"[{event.host}] FIRING {sev} {event.rule}: {what} ({limit})"

    lines: list[str] = []
    if event.kind == RESOLVED:
        lines.append(f"{event.rule} on {event.host} has resolved: {_reason(event)}.")
        if event.reason == "device gone":
            lines.append(
                f"{event.instance} was last {fmt_value(event.instance, event.value)} "
                f"(threshold {limit}); the device is no longer reported."
            )
        else:
            lines.append(
                f"{event.instance} is {fmt_value(event.instance, event.value)} now "
                f"(threshold {limit}, {_clears(event)})."
            )
        if event.peak is not None:
            lines.append(f"Peak {fmt_value(event.instance, event.peak)}.")
        if event.duration is not None and event.since is not None:
            lines.append(
                f"Lasted {fmt_duration(event.duration)}: from {fmt_time(event.since)} "
                f"to {fmt_time(event.since + event.duration)}."
            )
    else:
        still = " still" if event.kind == REPEAT else ""
        lines.append(f"{event.rule} is{still} firing on {event.host} ({event.severity}).")
        lines.append(
            f"{event.instance} is {fmt_value(event.instance, event.value)}, "
            f"threshold {limit} ({_clears(event)})."
        )
        if event.since is not None:
            began = f"Began {fmt_time(event.since)} ({fmt_duration(event.time - event.since)} ago)"
            if event.fired_at is not None and event.fired_at > event.since:
                began += f", firing since {fmt_time(event.fired_at)}"
            lines.append(began + ".")
        if event.peak is not None and event.kind == REPEAT:
            lines.append(f"Peak so far {fmt_value(event.instance, event.peak)}.")
    if event.deferred:
        lines.append("Held back by quiet hours or maintenance, sent when they ended.")
    if event.description:
        lines.append("")
        lines.append(event.description)
    if event.dashboard_url:
        lines.append("")
        lines.append(f"Dashboard: {event.dashboard_url}")
    return title, "\n".join(lines)


def _reason(event: AlertEvent) -> str:
    return {
        "recovered": "the value is back to normal",
        "device gone": f"device gone ({event.device or event.instance} is no longer reported)",
        "rule removed": "the rule was removed from the configuration",
        "rule changed": "the rule's metric or comparison was changed",
    }.get(event.reason, event.reason or "recovered")


def _clears(event: AlertEvent) -> str:
    """Say where the alert ends: it stays firing while `value OP clear`."""
    word = {">": "at or below", ">=": "below", "<": "at or above", "<=": "above"}
    return f"clears {word.get(event.op, 'past')} {fmt_value(event.instance, event.clear)}"


_BYTE_FIELDS = {
    "total", "available", "used", "free", "buffers", "cached", "swap_total", "swap_used",
    "rss", "shared", "active", "inactive",
}


def fmt_value(series: str, value: float | None) -> str:
    """Format a value with the unit its series name implies (percent, bytes, rates)."""
    v = finite(value)
    if v is None:
        return "n/a"
    field = series.partition("@")[0].rpartition(".")[2]
    if field.endswith("percent"):
        return f"{v:.1f} %"
    rate = field.endswith("_per_sec")
    if "bytes" in field or field in _BYTE_FIELDS:
        return _bytes(v) + ("/s" if rate else "")
    number = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return number + ("/s" if rate else "")


def _bytes(v: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    raise AssertionError("unreachable")


def fmt_duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 12 min', '2 d 3 h'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min" if s == 0 or m >= 10 else f"{m} min {s} s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def fmt_time(t: float) -> str:
    """Local time with its zone name: a person reads it on the server's clock."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t))


def log_line(event: AlertEvent) -> str:
    """The log file channel's JSON line for a notification."""
    title, _ = render(event)
    record: dict[str, Any] = {
        "time": datetime.fromtimestamp(event.time, timezone.utc).isoformat(),
        "ts": event.time,
        "host": event.host,
        "rule": event.rule,
        "instance": event.instance,
        "state": event.state,
        "kind": event.kind,
        "severity": event.severity,
        "value": finite(event.value),
        "op": event.op,
        "threshold": finite(event.threshold),
        "clear": finite(event.clear),
        "peak": finite(event.peak),
        "since": event.since,
        "duration": event.duration,
        "reason": event.reason,
        "id": event.id,
        "message": title,
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


# --- sending ----------------------------------------------------------------------------


class Sender:
    """Delivers one notification to one target, blocking; safe to call from threads.

    A fresh Apprise object per attempt: Apprise plugins keep per-object state (their
    throttle sleeps up to 5.5 s between two sends of the same object), which would eat
    the delivery timeout and is not thread-safe; our own retry backoff does the pacing.
    Each plugin's socket timeouts are set to the delivery timeout, so a thread whose
    receiver hangs ends by itself instead of holding a worker forever.
    """

    def send(self, target: Target, event: AlertEvent, timeout: float) -> None:
        """Deliver `event` to `target`. Raise DeliveryError saying why it failed."""
        if target.kind == LOG:
            try:
                path = Path(target.address)
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.write(log_line(event))
            except OSError as e:
                raise DeliveryError(f"cannot write {target.address}: {e.strerror or e}") from e
            return
        self._send_apprise(target, event, timeout)

    def _send_apprise(self, target: Target, event: AlertEvent, timeout: float) -> None:
        import apprise

        title, body = render(event)
        if event.kind == RESOLVED:
            notify_type = apprise.NotifyType.SUCCESS
        elif event.severity == "critical":
            notify_type = apprise.NotifyType.FAILURE
        else:
            notify_type = apprise.NotifyType.WARNING
        with quiet_apprise() as captured:
            obj = apprise.Apprise()
            if not obj.add(target.address):
                raise DeliveryError(_why(captured, "Apprise cannot use this URL"))
            for plugin in obj:
                plugin.socket_connect_timeout = timeout
                plugin.socket_read_timeout = timeout
            result = obj.notify(
                body=body, title=title, notify_type=notify_type,
                body_format=apprise.NotifyFormat.TEXT,
            )
        if not result:
            raise DeliveryError(_why(captured, "Apprise reported a failure", result))


def _why(captured: list[logging.LogRecord], default: str, result: Any = None) -> str:
    """The most telling reason Apprise gave: its last warning or error."""
    messages = [r.getMessage() for r in captured if r.levelno >= logging.WARNING]
    if result is not None and hasattr(result, "logs"):  # apprise >= 2
        # A richer reason is a nicety, never a reason to fail.
        with contextlib.suppress(Exception):
            messages += [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
    return messages[-1] if messages else default


# Apprise's own log records made inside `quiet_apprise()` go to the capture list, not
# to the daemon's log. A context variable, not a thread-local: Apprise 2 runs plugins
# in its own worker threads, and carries the caller's context into them.
_capture: contextvars.ContextVar[list[logging.LogRecord] | None] = contextvars.ContextVar(
    "sysmond_apprise_capture", default=None
)
_filter_lock = threading.Lock()
_filter_installed = False


class _CaptureFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        captured = _capture.get()
        if captured is None:
            return True
        captured.append(record)
        return False


@contextmanager
def quiet_apprise() -> Iterator[list[logging.LogRecord]]:
    """Within this block (this context only), capture Apprise's log records."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("apprise").addFilter(_CaptureFilter())
            _filter_installed = True
    captured: list[logging.LogRecord] = []
    token = _capture.set(captured)
    try:
        yield captured
    finally:
        _capture.reset(token)


def validate_channel_url(url: str) -> str | None:
    """Given an Apprise URL, return None if Apprise can use it, else what is wrong.

    The message never repeats the URL (it may hold passwords or tokens), only its
    scheme.
    """
    import apprise

    scheme = url.partition("://")[0]
    if not scheme or "://" not in url:
        return "not a URL (expected scheme://...)"
    with quiet_apprise() as captured:
        obj = apprise.Apprise.instantiate(url)
    if obj is None:
        reasons = [r.getMessage() for r in captured if r.levelno >= logging.WARNING]
        reasons = [r for r in reasons if url not in r]  # keep secrets out of messages
        detail = f": {reasons[0]}" if reasons else ""
        return f"Apprise cannot use this {scheme}:// URL{detail}"
    return None

