"""The pure state machine: one instance stepped through tables of (time, value)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysmond.alerts.rules import (
    FIRING,
    MIN_HOLD,
    OK,
    PENDING,
    RESOLVED,
    RESOLVED_KEEP,
    Instance,
    compile_rule,
    compile_window,
)
from sysmond.config import AlertRuleConfig, TimeWindow


def rule(**kw):
    base = dict(name="cpu_high", metric="cpu.usage_percent", op=">", threshold=80.0,
                for_seconds=300, clear=75.0)
    base.update(kw)
    return compile_rule(AlertRuleConfig(**base))


def run(r, steps, start=0.0):
    """Feed (t, value) pairs (NaN = gap: no step, as the engine does) and return the
    state after each one."""
    inst = Instance(r.series(r.device), r.device, start)
    out = []
    for t, v in steps:
        if not math.isnan(v):
            inst.step(r, t, v)
        out.append(inst.state)
    return inst, out


def test_for_five_minutes_fires_at_exactly_300_seconds_not_before():
    r = rule()
    _, states = run(r, [(0, 90), (299.999, 90), (300, 90)])
    assert states == [PENDING, PENDING, FIRING]


def test_a_dip_below_threshold_while_pending_goes_back_to_ok_silently():
    r = rule()
    _, states = run(r, [(0, 90), (100, 79), (200, 90), (450, 90), (500, 90)])
    assert states == [PENDING, OK, PENDING, PENDING, FIRING]


def test_for_zero_fires_on_the_first_breach():
    _, states = run(rule(for_seconds=0), [(0, 50), (1, 81)])
    assert states == [OK, FIRING]


@pytest.mark.parametrize(
    ("op", "threshold", "clear", "breach", "calm"),
    [(">", 80, 75, 80.1, 75), (">=", 80, 75, 80, 74.9), ("<", 10, 15, 9.9, 15),
     ("<=", 10, 15, 10, 15.1)],
)
def test_every_comparison_fires_and_clears_on_its_own_side(op, threshold, clear, breach, calm):
    r = rule(op=op, threshold=threshold, clear=clear, for_seconds=0)
    _, states = run(r, [(0, breach), (1, calm), (1 + r.hold, calm)])
    assert states == [FIRING, FIRING, RESOLVED]


def test_hysteresis_keeps_firing_between_clear_and_threshold():
    r = rule(for_seconds=0)
    inst, states = run(r, [(0, 90), (10, 78), (1000, 76), (2000, 75.1)])
    assert states == [FIRING] * 4
    assert inst.peak == 90


def test_recovery_needs_the_value_cleared_for_the_hold_time():
    r = rule(for_seconds=300)  # hold = max(for, 60) = 300
    assert r.hold == 300
    steps = [(0, 90), (300, 90), (310, 70), (609, 70), (610, 70)]
    inst, states = run(r, steps)
    assert states == [PENDING, FIRING, FIRING, FIRING, RESOLVED]
    assert inst.reason == "recovered"
    assert inst.value == 70  # the value at recovery, not a stale one


def test_a_short_rule_still_holds_recovery_for_at_least_a_minute():
    r = rule(for_seconds=0)
    assert r.hold == MIN_HOLD
    _, states = run(r, [(0, 90), (1, 70), (59, 70), (61, 70)])
    assert states == [FIRING, FIRING, FIRING, RESOLVED]


def test_a_relapse_while_clearing_restarts_the_hold():
    r = rule(for_seconds=0)
    _, states = run(r, [(0, 90), (10, 70), (50, 90), (60, 70), (100, 70), (120, 70)])
    assert states == [FIRING] * 5 + [RESOLVED]


def test_peak_is_the_worst_value_in_the_rule_direction():
    inst, _ = run(rule(op="<", threshold=10, clear=15, for_seconds=0),
                  [(0, 9), (1, 3), (2, 8)])
    assert inst.peak == 3


def test_a_gap_neither_fires_nor_resolves():
    nan = math.nan
    r = rule(for_seconds=60)
    # Pending, then only gaps past `for`: still pending, not firing.
    _, states = run(r, [(0, 90), (30, nan), (61, nan), (100, nan)])
    assert states == [PENDING] * 4
    # Firing, then only gaps for an hour: still firing, not resolved.
    _, states = run(r, [(0, 90), (60, 90), (120, nan), (3600, nan)])
    assert states == [PENDING, FIRING, FIRING, FIRING]


def test_timers_run_across_a_short_gap():
    r = rule(for_seconds=60)
    _, states = run(r, [(0, 90), (10, 90), (30, math.nan), (50, math.nan), (60, 90)])
    assert states == [PENDING, PENDING, PENDING, PENDING, FIRING]


def test_a_gap_longer_than_the_hold_restarts_the_pending_clock():
    r = rule(for_seconds=60)  # hold 60
    _, states = run(r, [(0, 90), (10, 90), (500, 90), (559, 90), (560, 90)])
    assert states == [PENDING, PENDING, PENDING, PENDING, FIRING]


def test_a_gap_longer_than_the_hold_restarts_the_clearing_clock():
    r = rule(for_seconds=0)  # hold 60
    _, states = run(r, [(0, 90), (10, 70), (500, 70), (559, 70), (560, 70)])
    assert states == [FIRING, FIRING, FIRING, FIRING, RESOLVED]


def test_resolved_reads_ok_after_a_while_and_a_new_breach_starts_over():
    r = rule(for_seconds=0)
    _, states = run(r, [(0, 90), (1, 70), (61, 70), (61 + RESOLVED_KEEP, 70)])
    assert states == [FIRING, FIRING, RESOLVED, OK]
    inst2, states2 = run(r, [(0, 90), (1, 70), (61, 70), (100, 95)])
    assert states2[-1] == FIRING and inst2.notified is False and inst2.peak == 95


def test_flapping_every_few_seconds_for_an_hour_gives_one_firing_and_one_recovery():
    r = rule(for_seconds=0)
    inst = Instance("cpu.usage_percent", None, 0.0)
    changes = []
    t = 0.0
    while t < 3600:
        v = 95.0 if int(t) % 6 < 3 else 60.0  # crosses threshold and clear every 3 s
        c = inst.step(r, t, v)
        if c:
            changes.append(c)
        t += 1.0
    for t in range(3600, 3600 + 120):  # then it calms down
        c = inst.step(r, float(t), 60.0)
        if c:
            changes.append(c)
    assert changes == [FIRING, RESOLVED]


@settings(max_examples=300, deadline=None)
@given(
    for_seconds=st.sampled_from([0, 5, 60, 300]),
    samples=st.lists(
        st.tuples(st.floats(0.1, 120.0), st.one_of(st.floats(0.0, 100.0), st.just(math.nan))),
        max_size=300,
    ),
)
def test_notifications_always_alternate_firing_then_resolved(for_seconds, samples):
    """Whatever the values and gaps: never two firings without a recovery between,
    never a recovery without a firing, and a firing only after `for` of breaching."""
    r = rule(for_seconds=for_seconds)
    inst = Instance(r.series(None), None, 0.0)
    t, changes = 0.0, []
    for dt, v in samples:
        t += dt
        if math.isnan(v):
            continue
        c = inst.step(r, t, v)
        if c in (FIRING, RESOLVED):
            changes.append(c)
            if c == FIRING:
                assert v > r.threshold and t - inst.active_since >= for_seconds
            else:
                assert v <= r.clear
    assert changes == [FIRING, RESOLVED] * (len(changes) // 2) + [FIRING] * (len(changes) % 2)


def test_state_round_trips_through_json():
    r = rule(for_seconds=0)
    inst, _ = run(r, [(0, 90), (5, 91)])
    inst.notified = True
    again = Instance.from_json(inst.to_json())
    assert again.to_json() == inst.to_json()


@pytest.mark.parametrize(
    ("cfg", "message"),
    [(dict(op="=="), "comparison"), (dict(clear=85.0), "clear"),
     (dict(metric="disk.percent@"), "metric")],
)
def test_compile_rejects_impossible_rules(cfg, message):
    with pytest.raises(ValueError, match=message):
        rule(**cfg)


def test_metric_selectors_split_into_base_and_device():
    assert (rule(metric="disk.percent@*").base, rule(metric="disk.percent@*").device) == (
        "disk.percent", "*")
    assert rule(metric="disk.percent@/home").device == "/home"
    assert rule(metric="cpu.usage_percent").device is None


def test_windows_cover_their_days_and_cross_midnight_on_the_start_day():
    night = compile_window(TimeWindow("22:00", "06:00", days=("fri",)))
    assert night.contains(23 * 60, 4)  # Friday 23:00
    assert night.contains(3 * 60, 5)  # Saturday 03:00 belongs to Friday's window
    assert not night.contains(3 * 60, 4)  # Friday 03:00 belongs to Thursday's
    assert not night.contains(12 * 60, 4)
    lunch = compile_window(TimeWindow("12:00", "13:00"))
    assert lunch.contains(12 * 60, 0) and not lunch.contains(13 * 60, 0)
    assert compile_window(TimeWindow("00:00", "00:00", days=("sun",))).contains(700, 6)


def test_bad_windows_are_rejected():
    with pytest.raises(ValueError):
        compile_window(TimeWindow("25:00", "06:00"))
    with pytest.raises(ValueError, match="day"):
        compile_window(TimeWindow("22:00", "06:00", days=("funday",)))
