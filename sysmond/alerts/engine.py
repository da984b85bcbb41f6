"""The alert engine: rules over each tick's values, notifications, state kept on disk.

`evaluate(now, values)` is synchronous and cheap: it steps every rule instance
(rules.py), and on a firing or a recovery appends a history record and queues a
notification. Everything slow happens elsewhere: delivery in the delivery worker,
disk writes in one I/O thread driven by a persist task, both started by `start()`
on the daemon's loop. Without `start()` (tools, tests) state changes that matter are
written at once, inline.

Which values an instance sees:
- `metric` without `@`: the total series; with `@dev`: that device; with `@*`: one
  instance per device present in the sample, created when it first appears.
- A NaN, or a missing total series, is a gap: the instance does not step (rules.py).
- Device gone: a device's series absent from GONE_TICKS consecutive samples that still
  report its area (so a whole collector failing is a gap, not every device vanishing),
  and for at least the rule's `for`: a firing alert resolves with reason
  "device gone"; anything else is dropped (a wildcard instance) or reset to ok.

Notifications: one when an alert starts firing, one when a notified alert resolves,
repeats every `repeat` seconds if asked. Quiet hours (per rule) and maintenance
windows (global) hold notifications back, never state: at the end of the window a
still-firing alert sends its firing notification, and a recovery of an alert whose
firing was sent is sent then; an alert that started and ended inside the window sends
nothing (it is in the history).

`evaluate`, `reload`, `states`, `history` and `status` are meant for the loop thread
(the daemon's tick); they are not locked against each other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sysmond.alerts import persist
from sysmond.alerts.delivery import Delivery, Job
from sysmond.alerts.events import (
    DELIVERED,
    FAILED,
    AlertEvent,
    AlertState,
    HistoryRecord,
)
from sysmond.alerts.events import FIRING as EV_FIRING
from sysmond.alerts.events import REPEAT as EV_REPEAT
from sysmond.alerts.events import RESOLVED as EV_RESOLVED
from sysmond.alerts.history import History
from sysmond.alerts.rules import (
    FIRING,
    GONE_TICKS,
    OK,
    PENDING,
    REASON_DEVICE_GONE,
    REASON_RULE_CHANGED,
    REASON_RULE_REMOVED,
    RESOLVED,
    RESOLVED_KEEP,
    WILDCARD,
    Instance,
    Rule,
    Window,
    compile_rule,
    compile_window,
)
from sysmond.config import AlertRuleConfig, AlertsConfig

log = logging.getLogger(__name__)

# Write the state file at most this often while things keep changing (seconds).
PERSIST_MIN_INTERVAL = 0.5
PERSIST_LAZY_INTERVAL = 30.0
# After a failed write, try again this much later (seconds).
PERSIST_RETRY = 5.0

_Previous = dict[str, tuple[Rule, dict[str | None, Instance]]]


class AlertEngine:
    """Rules, their instances, the delivery queue and the history, for one host."""

    def __init__(
        self,
        config: AlertsConfig,
        state_dir: Path | str,
        hostname: str,
        clock: Callable[[], float] = time.time,
        *,
        backoff_initial: float = 5.0,
        backoff_max: float = 300.0,
        concurrency: int = 4,
    ) -> None:
        self.hostname = hostname
        self._clock = clock
        self._state_dir = Path(state_dir)
        self._dir = self._state_dir / "alerts"
        self._state_file = persist.StateFile(self._dir / "state.json")
        self._history = History(self._dir / "history.jsonl", config.history_limit)
        self._config = config
        self._rules: list[Rule] = []
        self._instances: dict[str, dict[str | None, Instance]] = {}
        self._deferred: list[AlertEvent] = []  # recoveries held back by quiet hours
        self._maintenance: tuple[Window, ...] = ()
        self._lt_now = math.nan  # the `now` whose local time is cached below
        self._lt = (0, 0)  # (minute of day, weekday)
        self._keys: set[str] = set()  # the sample keys the groups below came from
        self._groups: dict[str, list[tuple[str, str]]] = {}  # base -> [(device, series)]
        self._bases: frozenset[str] = frozenset()  # every base in the sample
        self._dirty = False
        self._last_delivery: float | None = None
        self._last_error: dict[str, Any] | None = None
        self._failed_deliveries = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._persist_wake: asyncio.Event | None = None
        self._persist_task: asyncio.Task[None] | None = None
        self._io: concurrent.futures.ThreadPoolExecutor | None = None
        self._persist_failing = False
        self._lazy_write: asyncio.TimerHandle | None = None
        self._write_lock = threading.Lock()  # flush() may run while the I/O thread writes

        self._delivery = Delivery(
            {c.name: c for c in config.channels}, self._state_dir,
            timeout=config.delivery_timeout, retry_for=config.retry_for, clock=clock,
            on_outcome=self._on_outcome, on_change=self._mark_dirty,
            backoff_initial=backoff_initial, backoff_max=backoff_max,
            concurrency=concurrency,
        )
        saved = self._state_file.load()
        self._delivery.load(saved.get("outbox", []))
        for data in saved.get("deferred", []):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self._deferred.append(AlertEvent.from_json(data))
        self._apply(config, _restore(saved.get("rules", {})), clock())
        self._delivery.configure(
            {c.name: c for c in config.channels},
            timeout=config.delivery_timeout, retry_for=config.retry_for,
        )

    # --- configuration ------------------------------------------------------------

    def reload(self, config: AlertsConfig) -> None:
        """Apply a new config (SIGHUP). A rule whose name, metric and comparison are
        unchanged keeps its instances and their state (a new threshold applies from
        the next tick); a removed or re-targeted rule's firing alerts resolve, with a
        recovery notification for those that were notified."""
        previous: _Previous = {
            r.name: (r, self._instances.get(r.name, {})) for r in self._rules
        }
        self._config = config
        self._history.set_limit(config.history_limit)
        self._delivery.configure(
            {c.name: c for c in config.channels},
            timeout=config.delivery_timeout, retry_for=config.retry_for,
        )
        self._apply(config, previous, self._clock())

    def _apply(self, config: AlertsConfig, previous: _Previous, now: float) -> None:
        rules: list[Rule] = []
        if config.enabled:
            for cfg in config.rules:
                try:
                    rules.append(compile_rule(cfg))
                except ValueError as e:  # the config validator should have said so
                    log.error("alert rule skipped: %s", e)
        maintenance: list[Window] = []
        for w in config.maintenance:
            try:
                maintenance.append(compile_window(w))
            except ValueError as e:
                log.error("maintenance window %s-%s skipped: %s", w.start, w.end, e)
        self._maintenance = tuple(maintenance)
        self._lt_now = math.nan
        instances: dict[str, dict[str | None, Instance]] = {}
        for rule in rules:
            old = previous.pop(rule.name, None)
            insts: dict[str | None, Instance] = {}
            if old is not None:
                old_rule, old_insts = old
                if old_rule.key == rule.key:
                    insts = old_insts
                else:
                    self._retire(old_rule, old_insts.values(), REASON_RULE_CHANGED, now)
            if rule.device != WILDCARD and rule.device not in insts:
                insts[rule.device] = Instance(rule.series(rule.device), rule.device, now)
            instances[rule.name] = insts
        for old_rule, old_insts in previous.values():
            self._retire(old_rule, old_insts.values(), REASON_RULE_REMOVED, now)
        self._rules = rules
        self._instances = instances
        self._mark_dirty(important=True)

    def _retire(self, rule: Rule, insts: Iterable[Instance], reason: str, now: float) -> None:
        """End the alerts of a rule that no longer exists in this form."""
        for inst in insts:
            if inst.state == FIRING:
                inst.resolve(now, reason)
                self._resolved(rule, inst, now)

    # --- evaluation (the tick) -------------------------------------------------------------

    def evaluate(self, now: float, values: Mapping[str, float]) -> None:
        """Step every rule instance with this tick's values (series name -> float,
        NaN for a gap) and queue the notifications that result. Never blocks."""
        if self._rules:
            self._step_all(now, values)
        if self._deferred:
            self._send_deferred(now)

    def _step_all(self, now: float, values: Mapping[str, float]) -> None:
        if len(values) != len(self._keys) or values.keys() != self._keys:
            self._regroup(values)
        groups = self._groups
        for rule in self._rules:
            insts = self._instances[rule.name]
            if rule.device == WILDCARD:
                present = groups.get(rule.base)
                if present is None:
                    continue  # the area reported nothing: a gap for all its devices
                for device, series in present:
                    inst = insts.get(device)
                    if inst is None:
                        inst = insts[device] = Instance(series, device, now)
                    inst.last_seen = now
                    inst.missing = 0
                    v = values[series]
                    if v == v:  # not NaN
                        change = inst.step(rule, now, v)
                        if change is not None:
                            self._changed(rule, inst, change, now)
                        elif inst.state == FIRING:
                            self._still_firing(rule, inst, now)
                if len(insts) != len(present):
                    for inst in [i for i in insts.values() if i.last_seen != now]:
                        self._absent(rule, insts, inst, now)
            else:
                inst = insts[rule.device]
                v = values.get(inst.series)
                if v is None:
                    if rule.device is not None and rule.base in self._bases:
                        self._absent(rule, insts, inst, now)
                    continue
                inst.last_seen = now
                inst.missing = 0
                if v == v:
                    change = inst.step(rule, now, v)
                    if change is not None:
                        self._changed(rule, inst, change, now)
                    elif inst.state == FIRING:
                        self._still_firing(rule, inst, now)

    def _regroup(self, values: Mapping[str, float]) -> None:
        """Index the sample's series by base name (only when the set of series
        changes, which is rare: a device came or went)."""
        groups: dict[str, list[tuple[str, str]]] = {}
        bases: set[str] = set()
        for name in values:
            base, sep, device = name.partition("@")
            bases.add(base)
            if sep:
                groups.setdefault(base, []).append((device, name))
        self._keys = set(values)
        self._groups = groups
        self._bases = frozenset(bases)

    def _absent(
        self, rule: Rule, insts: dict[str | None, Instance], inst: Instance, now: float
    ) -> None:
        """A device's series is missing from a sample that still reports its area."""
        inst.missing += 1
        if inst.missing < GONE_TICKS or now - inst.last_seen < rule.for_seconds:
            return
        if inst.state == FIRING:
            inst.resolve(now, REASON_DEVICE_GONE)
            self._changed(rule, inst, RESOLVED, now)
        elif inst.state == RESOLVED and now - inst.since < RESOLVED_KEEP:
            return  # still shown as resolved for a while
        elif rule.device == WILDCARD:
            del insts[inst.device]
            self._mark_dirty()
        elif inst.state != OK:
            fresh = Instance(inst.series, inst.device, now)
            fresh.last_seen, fresh.missing = inst.last_seen, inst.missing
            insts[inst.device] = fresh
            self._mark_dirty()

    def _changed(self, rule: Rule, inst: Instance, change: str, now: float) -> None:
        if change == FIRING:
            event_id = ""
            if not self._suppressed(rule, now):
                event_id = self._notify(rule, inst, EV_FIRING, now).id
            self._record(rule, inst, EV_FIRING, now, event_id)
            self._mark_dirty(important=True)
        elif change == RESOLVED:
            self._resolved(rule, inst, now)
        else:  # pending, or back to ok: no notification; written lazily
            self._mark_dirty()

    def _resolved(self, rule: Rule, inst: Instance, now: float) -> None:
        event_id = ""
        if inst.notified:
            event = self._event(rule, inst, EV_RESOLVED, now)
            event_id = event.id
            if self._suppressed(rule, now):
                self._deferred.append(event)
            else:
                self._delivery.enqueue(event)
        self._record(rule, inst, EV_RESOLVED, now, event_id)
        self._mark_dirty(important=True)

    def _still_firing(self, rule: Rule, inst: Instance, now: float) -> None:
        """Send a firing notification held back by quiet hours, or a repeat."""
        if not inst.notified:
            if not self._suppressed(rule, now):
                self._notify(rule, inst, EV_FIRING, now, deferred=True)
                self._mark_dirty(important=True)
        elif (
            rule.repeat > 0
            and inst.last_notified is not None
            and now - inst.last_notified >= rule.repeat
            and not self._suppressed(rule, now)
        ):
            self._notify(rule, inst, EV_REPEAT, now)
            self._mark_dirty(important=True)

    def _send_deferred(self, now: float) -> None:
        by_name = {r.name: r for r in self._rules}
        keep: list[AlertEvent] = []
        for event in self._deferred:
            rule = by_name.get(event.rule)
            held = self._suppressed(rule, now) if rule else self._in_maintenance(now)
            if held:
                keep.append(event)
            else:
                self._delivery.enqueue(replace(event, deferred=True))
        if len(keep) != len(self._deferred):
            self._deferred = keep
            self._mark_dirty(important=True)

    def _notify(
        self, rule: Rule, inst: Instance, kind: str, now: float, deferred: bool = False
    ) -> AlertEvent:
        inst.notified = True
        inst.last_notified = now
        event = self._event(rule, inst, kind, now, deferred)
        self._delivery.enqueue(event)
        return event

    def _event(
        self, rule: Rule, inst: Instance, kind: str, now: float, deferred: bool = False
    ) -> AlertEvent:
        since = inst.active_since
        return AlertEvent(
            id=uuid.uuid4().hex[:16], kind=kind, time=now, host=self.hostname,
            rule=rule.name, instance=inst.series, device=inst.device,
            severity=rule.severity, op=rule.op, threshold=rule.threshold,
            clear=rule.clear, value=inst.value, peak=inst.peak, since=since,
            fired_at=inst.fired_at,
            duration=(now - since) if kind == EV_RESOLVED and since is not None else None,
            reason=inst.reason if kind == EV_RESOLVED else "",
            description=rule.description, channels=rule.channels,
            dashboard_url=self._config.dashboard_url, deferred=deferred,
        )

    def _record(
        self, rule: Rule, inst: Instance, kind: str, now: float, event_id: str
    ) -> None:
        """Add a firing or resolved record; `event_id` names its notification ("" if
        none was sent: held back by quiet hours, or a recovery nobody was told of)."""
        since = inst.active_since
        self._history.add(HistoryRecord(
            time=now, kind=kind, host=self.hostname, rule=rule.name,
            instance=inst.series, severity=rule.severity, value=inst.value,
            threshold=rule.threshold, peak=inst.peak, since=since,
            duration=(now - since) if kind == EV_RESOLVED and since is not None else None,
            reason=inst.reason if kind == EV_RESOLVED else "", event=event_id,
            notified=bool(event_id),
        ))

    def _suppressed(self, rule: Rule, now: float) -> bool:
        """Whether notifications of `rule` are held back at `now` (quiet hours or
        maintenance). Local time is computed once per tick, and only if needed."""
        if not rule.quiet_hours and not self._maintenance:
            return False
        minute, weekday = self._local(now)
        return any(w.contains(minute, weekday) for w in self._maintenance) or any(
            w.contains(minute, weekday) for w in rule.quiet_hours
        )

    def _in_maintenance(self, now: float) -> bool:
        if not self._maintenance:
            return False
        minute, weekday = self._local(now)
        return any(w.contains(minute, weekday) for w in self._maintenance)

    def _local(self, now: float) -> tuple[int, int]:
        if now != self._lt_now:
            lt = time.localtime(now)
            self._lt = (lt.tm_hour * 60 + lt.tm_min, lt.tm_wday)
            self._lt_now = now
        return self._lt

    # --- delivery outcomes (loop thread) ---------------------------------------------

    def _on_outcome(self, job: Job, outcome: str, now: float, error: str) -> None:
        ev = job.event
        self._history.add(HistoryRecord(
            time=now, kind=outcome, host=ev.host, rule=ev.rule, instance=ev.instance,
            severity=ev.severity, value=ev.value, threshold=ev.threshold, peak=ev.peak,
            since=ev.since, duration=ev.duration, reason=ev.reason, event=ev.id,
            notification=ev.kind, target=job.label, attempts=job.attempts, error=error,
        ))
        if outcome == DELIVERED:
            self._last_delivery = now
        elif outcome == FAILED:
            self._failed_deliveries += 1
            self._last_error = {"time": now, "target": job.label, "error": error,
                                "rule": ev.rule, "instance": ev.instance}
        self._mark_dirty(important=True)

    # --- queries ------------------------------------------------------------------------

    def states(self) -> list[AlertState]:
        """Every rule instance as it stands (a wildcard rule with no device yet is
        listed once, as `metric` with state ok), in rule order."""
        out: list[AlertState] = []
        for rule in self._rules:
            insts = self._instances.get(rule.name, {})
            if not insts:
                out.append(AlertState(
                    rule=rule.name, instance=rule.metric, metric=rule.metric, device=None,
                    state=OK, severity=rule.severity, op=rule.op,
                    threshold=rule.threshold, clear=rule.clear, value=None, since=None,
                    active_since=None, fired_at=None, peak=None, reason="",
                    notified=False, description=rule.description,
                ))
                continue
            for key in sorted(insts, key=lambda d: d or ""):
                i = insts[key]
                out.append(AlertState(
                    rule=rule.name, instance=i.series, metric=rule.metric, device=i.device,
                    state=i.state, severity=rule.severity, op=rule.op,
                    threshold=rule.threshold, clear=rule.clear, value=i.value,
                    since=i.since, active_since=i.active_since, fired_at=i.fired_at,
                    peak=i.peak, reason=i.reason, notified=i.notified,
                    description=rule.description,
                ))
        return out

    def history(
        self,
        start: float | None = None,
        end: float | None = None,
        rule: str | None = None,
        limit: int = 100,
    ) -> list[HistoryRecord]:
        """Firings, recoveries and delivery outcomes with start <= time <= end (and
        of `rule`), newest first, at most `limit`."""
        return self._history.query(start, end, rule, max(0, int(limit)))

    def outbox(self) -> list[AlertEvent]:
        """The notifications not delivered yet (queued or being retried), oldest first."""
        seen: dict[str, AlertEvent] = {}
        for job in self._delivery.jobs():
            seen.setdefault(job.event.id, job.event)
        return list(seen.values())

    def status(self) -> dict[str, Any]:
        """The engine's health, for /api/v1/health and `sysmond status`."""
        counts = {OK: 0, PENDING: 0, FIRING: 0, RESOLVED: 0}
        for insts in self._instances.values():
            for inst in insts.values():
                counts[inst.state] += 1
        return {
            "enabled": self._config.enabled,
            "running": self._loop is not None,
            "rules": len(self._rules),
            "instances": sum(counts.values()),
            "firing": counts[FIRING],
            "pending": counts[PENDING],
            "queue": len(self._delivery),
            "in_flight": self._delivery.in_flight,
            "deferred": len(self._deferred),
            "last_delivery": self._last_delivery,
            "failed_deliveries": self._failed_deliveries,
            "last_delivery_error": self._last_error,
        }

    # --- lifecycle and persistence -------------------------------------------------------

    async def start(self) -> None:
        """Start the delivery worker and the persist task on the running loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._io = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sysmond-alert-io"
        )
        self._persist_wake = asyncio.Event()
        self._persist_task = asyncio.create_task(self._persist_loop(), name="sysmond-alert-persist")
        self._delivery.start()
        if self._dirty:
            self._persist_wake.set()

    async def stop(self) -> None:
        """Stop delivery, then write the state (queued notifications included)."""
        if self._loop is None:
            return
        await self._delivery.stop()
        if self._persist_task is not None:
            self._persist_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._persist_task
        self._persist_task = None
        self._persist_wake = None
        if self._lazy_write is not None:
            self._lazy_write.cancel()
            self._lazy_write = None
        await self._persist_once()
        if self._io is not None:
            self._io.shutdown(wait=True)
            self._io = None
        self._loop = None

    def flush(self) -> None:
        """Write the state and new history records now, inline. Raise OSError if the
        state directory cannot be written."""
        text, new, rewrite = self._snapshot()
        try:
            self._write(text, new, rewrite)
        except OSError:
            self._history.unwrite(new)
            self._dirty = True
            raise

    def _mark_dirty(self, important: bool = False) -> None:
        self._dirty = True
        if self._loop is None:
            if important:
                try:
                    self.flush()
                except OSError as e:
                    self._persist_error(e)
            return
        wake = self._persist_wake
        if wake is None:
            return
        # A firing, a recovery or a delivery outcome is written at once; a pending or
        # back-to-ok change only within PERSIST_LAZY_INTERVAL, so a value hovering around
        # a threshold does not cost a file write (and an fsync) every few seconds.
        if important:
            if threading.get_ident() == self._loop_thread:
                wake.set()
            else:
                self._loop.call_soon_threadsafe(wake.set)
        elif threading.get_ident() == self._loop_thread:
            self._schedule_lazy_write()
        else:
            self._loop.call_soon_threadsafe(self._schedule_lazy_write)

    def _schedule_lazy_write(self) -> None:
        if self._lazy_write is None and self._loop is not None:
            self._lazy_write = self._loop.call_later(PERSIST_LAZY_INTERVAL, self._lazy_due)

    def _lazy_due(self) -> None:
        self._lazy_write = None
        if self._persist_wake is not None:
            self._persist_wake.set()

    async def _persist_loop(self) -> None:
        assert self._persist_wake is not None
        while True:
            await self._persist_wake.wait()
            self._persist_wake.clear()
            ok = await self._persist_once()
            await asyncio.sleep(PERSIST_MIN_INTERVAL if ok else PERSIST_RETRY)
            if not ok:
                self._persist_wake.set()

    async def _persist_once(self) -> bool:
        if not self._dirty and not self._history.dirty:
            return True
        text, new, rewrite = self._snapshot()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._io, self._write, text, new, rewrite)
        except OSError as e:
            self._history.unwrite(new)
            self._dirty = True
            self._persist_error(e)
            return False
        return True

    def _snapshot(self) -> tuple[str, list[HistoryRecord], list[HistoryRecord] | None]:
        """Take what must be written, on the loop thread (the write happens in a
        thread, which must not read structures the tick is changing)."""
        rules: dict[str, Any] = {}
        for rule in self._rules:
            insts = [i.to_json() for i in self._instances[rule.name].values() if i.state != OK]
            rules[rule.name] = {"rule": _rule_json(rule.config), "instances": insts}
        doc = persist.dump(
            self._clock(), rules, self._delivery.to_json(),
            deferred=[e.to_json() for e in self._deferred],
        )
        self._dirty = False
        new, rewrite = self._history.take()
        return doc, new, rewrite

    def _write(
        self, text: str, new: list[HistoryRecord], rewrite: list[HistoryRecord] | None
    ) -> None:
        with self._write_lock:
            self._history.write(new, rewrite)
            self._state_file.save(text)
        if self._persist_failing:
            self._persist_failing = False
            log.info("alert state is written to %s again", self._dir)

    def _persist_error(self, e: OSError) -> None:
        if not self._persist_failing:
            self._persist_failing = True
            log.error("cannot write alert state to %s: %s (will keep trying)", self._dir, e)


def _rule_json(cfg: AlertRuleConfig) -> dict[str, Any]:
    """What the state file keeps of a rule: enough to end its alerts properly if the
    rule is gone from the config at the next start."""
    return {
        "name": cfg.name, "metric": cfg.metric, "op": cfg.op, "threshold": cfg.threshold,
        "clear": cfg.clear, "for_seconds": cfg.for_seconds, "severity": cfg.severity,
        "channels": list(cfg.channels), "description": cfg.description,
    }


def _restore(saved: Mapping[str, Any]) -> _Previous:
    """Rebuild the previous run's rules and instances from the state file, skipping
    whatever cannot be read (logged)."""
    out: _Previous = {}
    for name, entry in saved.items():
        try:
            r = dict(entry["rule"])
            r["channels"] = tuple(r.get("channels", ()))
            rule = compile_rule(AlertRuleConfig(**r))
            insts: dict[str | None, Instance] = {}
            for data in entry.get("instances", []):
                inst = Instance.from_json(data)
                insts[inst.device] = inst
        except (KeyError, TypeError, ValueError) as e:
            log.warning("alert state of rule %r not restored: %s", name, e)
            continue
        out[name] = (rule, insts)
    return out


