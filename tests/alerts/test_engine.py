"""The engine without delivery: which notifications a run of samples queues, and state.

The engine is not started here, so every notification stays in its outbox, where the
tests read it. Time is given to evaluate(); nothing sleeps.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from sysmond.alerts.rules import GONE_TICKS, RESOLVED_KEEP
from sysmond.config import AlertsConfig, ChannelConfig, TimeWindow
from tests.alerts.helpers import config, cpu_rule, disk_rule, feed, sent

T0 = 1_000_000.0
CPU = "cpu.usage_percent"


def test_cpu_over_80_for_5_minutes_fires_once_then_recovers_once(make_engine):
    engine = make_engine(config(cpu_rule()))
    t = feed(engine, T0, T0 + 299, {CPU: 91.0})
    assert sent(engine) == []
    assert engine.states()[0].state == "pending"
    t = feed(engine, t, t + 600, lambda t: {CPU: 95.0 if t < T0 + 400 else 90.0})
    assert sent(engine) == [("firing", CPU)]
    assert engine.states()[0].state == "firing"
    feed(engine, t, t + 400, {CPU: 40.0})
    assert sent(engine) == [("firing", CPU), ("resolved", CPU)]
    resolved = engine.outbox()[-1]
    assert resolved.value == 40.0  # the value at recovery, not a stale one
    assert resolved.peak == 95.0
    assert resolved.since == T0
    assert resolved.duration == resolved.time - T0
    assert resolved.reason == "recovered"
    kinds = [h.kind for h in engine.history()]
    assert kinds == ["resolved", "firing"]  # newest first


def test_flapping_around_the_threshold_for_an_hour_sends_one_firing_and_one_recovery(
    make_engine,
):
    engine = make_engine(config(cpu_rule(for_seconds=0)))

    def flapping(t):  # 70 <-> 90 every 4 s: crosses both threshold and clear
        return {CPU: 90.0 if int(t - T0) % 8 < 4 else 70.0}

    t = feed(engine, T0, T0 + 3600, flapping)
    t = feed(engine, t, t + 600, {CPU: 50.0})
    assert sent(engine) == [("firing", CPU), ("resolved", CPU)]


def test_flapping_below_for_never_fires(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=300)))
    feed(engine, T0, T0 + 3600, lambda t: {CPU: 90.0 if int(t - T0) % 8 < 4 else 79.0})
    assert sent(engine) == []
    assert [h for h in engine.history()] == []


def test_every_mount_is_its_own_instance(make_engine):
    engine = make_engine(config(disk_rule()))
    values = {"disk.percent": 50.0, "disk.percent@/": 50.0, "disk.percent@/home": 90.1}
    feed(engine, T0, T0 + 120, values)
    assert sent(engine) == [("firing", "disk.percent@/home")]
    by_instance = {s.instance: s.state for s in engine.states()}
    assert by_instance == {"disk.percent@/": "ok", "disk.percent@/home": "firing"}


def test_a_wildcard_rule_without_devices_is_still_listed(make_engine):
    engine = make_engine(config(disk_rule()))
    (state,) = engine.states()
    assert (state.rule, state.instance, state.state) == ("disk_full", "disk.percent@*", "ok")
    json.dumps(state.to_json(), allow_nan=False)


def test_a_gap_neither_fires_nor_resolves(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=60)))
    t = feed(engine, T0, T0 + 10, {CPU: 90.0})
    t = feed(engine, t, t + 600, {CPU: math.nan})  # NaN: pending, never fires
    assert sent(engine) == [] and engine.states()[0].state == "pending"
    t = feed(engine, t, t + 61, {CPU: 90.0})
    assert sent(engine) == [("firing", CPU)]
    t = feed(engine, t, t + 3600, {})  # missing altogether: still firing
    assert engine.states()[0].state == "firing"
    assert engine.states()[0].value == 90.0
    feed(engine, t, t + 61, {CPU: 10.0})
    assert sent(engine) == [("firing", CPU), ("resolved", CPU)]


def test_a_device_that_disappears_resolves_with_reason_device_gone(make_engine):
    engine = make_engine(config(disk_rule(for_seconds=60)))
    both = {"disk.percent@/": 50.0, "disk.percent@/mnt/usb": 97.0}
    t = feed(engine, T0, T0 + 61, both)
    assert sent(engine) == [("firing", "disk.percent@/mnt/usb")]
    # Gone: absent for >= 3 samples and >= `for` (60 s) while / is still reported.
    t = feed(engine, t, t + 59, {"disk.percent@/": 50.0})
    assert len(sent(engine)) == 1
    feed(engine, t, t + 5, {"disk.percent@/": 50.0})
    assert sent(engine)[-1] == ("resolved", "disk.percent@/mnt/usb")
    event = engine.outbox()[-1]
    assert event.reason == "device gone"
    assert event.value == 97.0
    usb = next(s for s in engine.states() if s.device == "/mnt/usb")
    assert (usb.state, usb.reason) == ("resolved", "device gone")
    history = engine.history(rule="disk_full")
    assert history[0].kind == "resolved" and history[0].reason == "device gone"


def test_a_gone_device_is_forgotten_after_a_while(make_engine):
    engine = make_engine(config(disk_rule(for_seconds=0)))
    t = feed(engine, T0, T0 + 2, {"disk.percent@/": 50.0, "disk.percent@/mnt/usb": 97.0})
    t = feed(engine, t, t + 30, {"disk.percent@/": 50.0}, step=10.0)
    assert len(engine.states()) == 2  # shown as resolved (device gone) for a while
    t = feed(engine, t, t + RESOLVED_KEEP + 10, {"disk.percent@/": 50.0}, step=10.0)
    assert [s.instance for s in engine.states()] == ["disk.percent@/"]


def test_a_pending_device_that_disappears_is_dropped_silently(make_engine):
    engine = make_engine(config(disk_rule(for_seconds=300)))
    t = feed(engine, T0, T0 + 10, {"disk.percent@/": 50.0, "disk.percent@/mnt/usb": 97.0})
    feed(engine, t, t + 400, {"disk.percent@/": 50.0})
    assert sent(engine) == []
    assert [s.instance for s in engine.states()] == ["disk.percent@/"]


def test_a_whole_area_missing_is_a_gap_not_every_device_gone(make_engine):
    engine = make_engine(config(disk_rule(for_seconds=0)))
    t = feed(engine, T0, T0 + 2, {"disk.percent@/": 99.0, CPU: 5.0})
    feed(engine, t, t + 3600, {CPU: 5.0})  # the disk collector failed for an hour
    assert sent(engine) == [("firing", "disk.percent@/")]
    assert engine.states()[0].state == "firing"


def test_a_named_device_that_disappears_resolves_and_stays_listed(make_engine):
    engine = make_engine(config(disk_rule(metric="disk.percent@/mnt/usb", for_seconds=0)))
    t = feed(engine, T0, T0 + 2, {"disk.percent": 10.0, "disk.percent@/mnt/usb": 99.0})
    feed(engine, t, t + GONE_TICKS, {"disk.percent": 10.0})
    assert sent(engine)[-1] == ("resolved", "disk.percent@/mnt/usb")
    assert [s.instance for s in engine.states()] == ["disk.percent@/mnt/usb"]


def test_repeat_reminds_while_firing(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0, repeat=600)))
    t = feed(engine, T0, T0 + 1801, {CPU: 95.0}, step=10.0)
    assert sent(engine) == [("firing", CPU), ("repeat", CPU), ("repeat", CPU), ("repeat", CPU)]
    times = [e.time - T0 for e in engine.outbox()]
    assert times == [0, 600, 1200, 1800]
    feed(engine, t, t + 70, {CPU: 10.0})
    assert sent(engine)[-1] == ("resolved", CPU)


def test_no_repeat_unless_asked(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    feed(engine, T0, T0 + 86_400, {CPU: 95.0}, step=60.0)
    assert sent(engine) == [("firing", CPU)]


def local(day: int, hour: int, minute: int = 0) -> float:
    """Unix time of a local wall-clock time in May 2024 (6 May is a Monday)."""
    return datetime(2024, 5, day, hour, minute).timestamp()


NIGHT = (TimeWindow("22:00", "07:00"),)


def test_quiet_hours_hold_back_a_firing_until_they_end(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0, quiet_hours=NIGHT)))
    t = feed(engine, local(6, 23), local(7, 6, 59), {CPU: 95.0}, step=60.0)
    assert sent(engine) == []
    assert engine.states()[0].state == "firing"  # state is not suppressed
    assert engine.history()[0].kind == "firing" and engine.history()[0].notified is False
    feed(engine, t, local(7, 7, 5), {CPU: 95.0}, step=60.0)
    assert sent(engine) == [("firing", CPU)]
    assert engine.outbox()[0].deferred is True
    assert engine.outbox()[0].since == local(6, 23)


def test_an_alert_that_starts_and_ends_in_quiet_hours_sends_nothing(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0, quiet_hours=NIGHT)))
    t = feed(engine, local(6, 23), local(7, 1), {CPU: 95.0}, step=60.0)
    feed(engine, t, local(7, 9), {CPU: 10.0}, step=60.0)
    assert sent(engine) == []
    assert [h.kind for h in engine.history()] == ["resolved", "firing"]


def test_a_recovery_during_quiet_hours_of_a_notified_alert_is_sent_when_they_end(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0, quiet_hours=NIGHT)))
    t = feed(engine, local(6, 21), local(6, 23), {CPU: 95.0}, step=60.0)
    t = feed(engine, t, local(7, 6), {CPU: 10.0}, step=60.0)
    assert sent(engine) == [("firing", CPU)]
    assert engine.history()[0].kind == "resolved"
    feed(engine, t, local(7, 7, 1), {CPU: 10.0}, step=60.0)
    assert sent(engine) == [("firing", CPU), ("resolved", CPU)]
    recovery = engine.outbox()[-1]
    assert recovery.deferred and recovery.time == local(6, 23, 1)  # 60 s hold


def test_maintenance_holds_back_every_rule(make_engine):
    window = (TimeWindow("02:00", "03:00", days=("tue",)),)
    engine = make_engine(config(cpu_rule(for_seconds=0), disk_rule(for_seconds=0),
                                maintenance=window))
    values = {CPU: 95.0, "disk.percent@/": 99.0}
    t = feed(engine, local(7, 2, 10), local(7, 2, 50), values, step=60.0)
    assert sent(engine) == []
    feed(engine, t, local(7, 3, 1), values, step=60.0)
    assert sorted(sent(engine)) == [("firing", CPU), ("firing", "disk.percent@/")]


def test_reload_keeps_the_state_of_unchanged_rules_and_ends_removed_ones(make_engine):
    cfg = config(cpu_rule(for_seconds=0), disk_rule(for_seconds=0))
    engine = make_engine(cfg)
    values = {CPU: 95.0, "disk.percent@/": 99.0}
    t = feed(engine, T0, T0 + 5, values)
    assert len(sent(engine)) == 2
    # cpu: threshold changed, same metric and op -> keeps firing, no re-send.
    # disk: removed -> its firing alert resolves with a recovery notification.
    engine.reload(config(cpu_rule(for_seconds=0, threshold=90.0, clear=85.0)))
    assert sent(engine)[-1] == ("resolved", "disk.percent@/")
    assert engine.outbox()[-1].reason == "rule removed"
    feed(engine, t, t + 30, values)
    assert [(s.rule, s.state) for s in engine.states()] == [("cpu_high", "firing")]
    assert len(sent(engine)) == 3


def test_reload_with_a_new_metric_ends_the_old_alert(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    feed(engine, T0, T0 + 2, {CPU: 95.0})
    engine.reload(config(cpu_rule(for_seconds=0, metric="cpu.usage_percent@0")))
    assert sent(engine)[-1] == ("resolved", CPU)
    assert engine.outbox()[-1].reason == "rule changed"
    assert engine.states()[0].state == "ok"


def test_a_disabled_engine_does_nothing(make_engine):
    engine = make_engine(AlertsConfig(enabled=False))
    feed(engine, T0, T0 + 1000, {CPU: 100.0, "memory.percent": 100.0}, step=10.0)
    assert engine.states() == [] and sent(engine) == []
    assert engine.status()["rules"] == 0


def test_a_rule_naming_an_unknown_channel_records_the_failure(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0, channels=("pager",))))
    feed(engine, T0, T0 + 2, {CPU: 95.0})
    failed = [h for h in engine.history() if h.kind == "failed"]
    assert failed and "pager" in failed[0].error


def test_restart_keeps_firing_without_re_sending_and_recovers_once(make_engine, tmp_path):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    t = feed(engine, T0, T0 + 10, {CPU: 95.0})
    assert sent(engine) == [("firing", CPU)]
    # Pretend it was delivered: a second engine must not have it queued again.
    engine._delivery._jobs.clear()
    engine.flush()

    again = make_engine(config(cpu_rule(for_seconds=0)))
    (state,) = again.states()
    assert (state.state, state.notified, state.fired_at) == ("firing", True, T0)
    t = feed(again, t + 30, t + 600, {CPU: 96.0})
    assert sent(again) == []
    feed(again, t, t + 61, {CPU: 10.0})
    assert sent(again) == [("resolved", CPU)]
    assert again.outbox()[0].peak == 96.0


def test_undelivered_notifications_survive_a_restart(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    feed(engine, T0, T0 + 2, {CPU: 95.0})
    again = make_engine(config(cpu_rule(for_seconds=0)))
    assert sent(again) == [("firing", CPU)]
    assert again.status()["queue"] == 1


def test_pending_state_survives_a_restart(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=300)))
    t = feed(engine, T0, T0 + 200, {CPU: 95.0})
    engine.flush()
    again = make_engine(config(cpu_rule(for_seconds=300)))
    assert again.states()[0].state == "pending"
    feed(again, t, t + 101, {CPU: 95.0})
    assert sent(again) == [("firing", CPU)]


def test_a_rule_removed_while_stopped_resolves_at_the_next_start(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    feed(engine, T0, T0 + 2, {CPU: 95.0})
    engine._delivery._jobs.clear()
    engine.flush()
    again = make_engine(config(disk_rule()))
    assert sent(again) == [("resolved", CPU)]
    assert again.outbox()[0].reason == "rule removed"


def test_a_corrupt_state_file_is_moved_aside_and_the_engine_starts(make_engine, tmp_path):
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "state.json").write_text("{not json")
    engine = make_engine(config(cpu_rule()))
    assert engine.states()[0].state == "ok"
    assert list((tmp_path / "alerts").glob("state.json.corrupt-*"))


def test_history_is_bounded_and_survives_a_restart(make_engine, tmp_path):
    cfg = config(cpu_rule(for_seconds=0), history_limit=20)
    engine = make_engine(cfg)
    t = T0
    for _ in range(40):  # 40 firings and 40 recoveries
        t = feed(engine, t, t + 1, {CPU: 95.0})
        t = feed(engine, t, t + 70, {CPU: 10.0}, step=10.0)
    engine.flush()
    lines = (tmp_path / "alerts" / "history.jsonl").read_text().splitlines()
    assert len(lines) <= 20 + 16  # rewritten to `limit` once 25 % (>= 16) past it
    assert len(engine.history(limit=1000)) == 20
    again = make_engine(cfg)
    assert [h.to_json() for h in again.history(limit=1000)] == [
        h.to_json() for h in engine.history(limit=1000)
    ]


def test_history_filters_by_time_rule_and_limit(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0), disk_rule(for_seconds=0)))
    t = feed(engine, T0, T0 + 1, {CPU: 95.0, "disk.percent@/": 10.0})
    t = feed(engine, t, t + 100, {CPU: 10.0, "disk.percent@/": 99.0}, step=10.0)
    everything = engine.history()
    assert [h.kind for h in everything if h.kind in ("firing", "resolved")] == [
        "resolved", "firing", "firing"]
    assert {h.rule for h in engine.history(rule="disk_full")} == {"disk_full"}
    assert all(h.time >= T0 + 1 for h in engine.history(start=T0 + 1))
    assert all(h.time <= T0 for h in engine.history(end=T0))
    assert len(engine.history(limit=1)) == 1
    json.dumps([h.to_json() for h in everything], allow_nan=False)


def test_status_counts_rules_firing_and_the_queue(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0), disk_rule(for_seconds=0)))
    feed(engine, T0, T0 + 2, {CPU: 95.0, "disk.percent@/": 10.0, "disk.percent@/a": 99.0})
    status = engine.status()
    assert status["rules"] == 2 and status["firing"] == 2 and status["queue"] == 2
    assert status["running"] is False and status["last_delivery_error"] is None
    json.dumps(status, allow_nan=False)
    json.dumps([s.to_json() for s in engine.states()], allow_nan=False)
    json.dumps([e.to_json() for e in engine.outbox()], allow_nan=False)


def test_a_channel_removed_by_reload_fails_its_queued_notifications(make_engine):
    engine = make_engine(config(cpu_rule(for_seconds=0)))
    feed(engine, T0, T0 + 2, {CPU: 95.0})
    engine.reload(config(cpu_rule(for_seconds=0, channels=("ops",)),
                         channels=(ChannelConfig("ops", log_file="ops.log"),)))
    assert engine.status()["queue"] == 0
    assert engine.history()[0].kind == "failed"
    assert "no longer configured" in engine.history()[0].error
