"""The Store: appends, consolidation, time rules, series that come and go, queries,
the disk budget, the lock, and what survives a power cut."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sysmond.config import DEFAULT_TIERS, TierConfig
from sysmond.errors import QueryError, StoreError, StoreLockedError
from sysmond.store import Store
from sysmond.store import format as fmt
from sysmond.store.catalog import WRITER
from sysmond.store.engine import SPARE_WIDTH

from .storekit import SMALL, T0, f, tier_rows

nan = np.nan
FULL = fmt.COV_SCALE


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "store", SMALL)
    yield s
    s.close()


def ring_files(path):
    return sorted(path.glob("*.ring"))


def cov_of(store, tier, t, series=0, segment=0):
    """The stored integer coverage of one coarse cell (0 when the row is not data)."""
    k = [x.name for x in store.tiers].index(tier)
    ring = store._segments[segment].rings[k]
    valid, *planes = ring.read(t, 1, slice(None))
    return int(planes[3][0, series]) if valid[0] else 0


def abandon(store):
    """Let go of a writer the way a killed process does: no flush, no clean mark."""
    os.close(store._lock_fd)
    store._lock_fd = None
    store.close()


def all_tiers(store, names, start, end):
    return {t.name: tier_rows(store, t.name, names, start, end) for t in store.tiers}


def assert_same_tiers(a, b):
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name]):
            np.testing.assert_array_equal(x, y, err_msg=f"tier {name}")


# --- append and query ----------------------------------------------------------------


def test_appended_values_read_back_from_the_raw_tier_at_their_times(store):
    for t in range(T0, T0 + 10):
        assert store.append(t, {"a": f(0, t), "b": f(1, t)})
    ts, avg, mn, mx = tier_rows(store, "raw", ["b", "a"], T0 - 5, T0 + 14)
    assert ts.tolist() == list(range(T0 - 5, T0 + 15))
    assert avg[0, 5:15].tolist() == [f(1, t) for t in range(T0, T0 + 10)]
    assert avg[1, 5:15].tolist() == [f(0, t) for t in range(T0, T0 + 10)]
    assert np.isnan(avg[:, :5]).all() and np.isnan(avg[:, 15:]).all()
    np.testing.assert_array_equal(mn, avg)
    np.testing.assert_array_equal(mx, avg)
    assert store.last_time == T0 + 9


def test_a_time_is_floored_to_the_base_step(tmp_path):
    ladder = (TierConfig("raw", 10, 600), TierConfig("1m", 60, 3600))
    with Store.open(tmp_path, ladder) as s:
        assert s.append(T0 + 7.9, {"a": 1.0})
        assert s.last_time == T0
        assert not s.append(T0 + 9.99, {"a": 2.0})  # the same 10 s row: dropped
        assert tier_rows(s, "raw", ["a"], T0, T0)[1].tolist() == [[1.0]]


def test_a_sample_missing_a_series_leaves_that_series_a_gap(store):
    store.append(T0, {"a": 1.0, "b": 2.0})
    store.append(T0 + 1, {"a": 3.0})
    store.append(T0 + 2, {"b": nan, "a": 4.0})
    avg = tier_rows(store, "raw", ["a", "b"], T0, T0 + 2)[1]
    np.testing.assert_array_equal(avg, [[1.0, 3.0, 4.0], [2.0, nan, nan]])


@pytest.mark.parametrize(("back", "tier"), [
    (0, "raw"), (119, "raw"), (120, "raw"), (121, "10s"), (600, "10s"), (601, "1m"),
    (3600, "1m"), (10**7, "1m"),
])
def test_the_finest_tier_that_reaches_back_to_the_start_answers(store, back, tier):
    store.append(T0 + 10_000, {"a": 1.0})
    now = T0 + 10_000
    assert store.query(["a"], now - back, now, now=now).tier == tier


def test_a_forced_tier_answers_over_any_window_and_finds_what_it_holds(store):
    for t in range(T0, T0 + 100):
        store.append(t, {"a": f(0, t)})
    res = store.query(["a"], T0 - 10**6, T0 + 10**6, tier="raw", points=10**7)
    assert res.step == 1 and np.isfinite(res.avg).sum() == 100
    res = store.query(["a"], T0, T0 + 5000, tier="raw", points=5001)
    assert res.avg[0, :100].tolist() == [f(0, t) for t in range(T0, T0 + 100)]
    assert np.isnan(res.avg[0, 100:]).all()


def test_a_query_never_returns_more_points_than_asked(store):
    for t in range(T0, T0 + 120):
        store.append(t, {"a": 1.0})
    for start, end, points in [(T0 + 1, T0 + 20, 10), (T0 + 3, T0 + 117, 7), (T0, T0, 1),
                               (T0 + 5, T0 + 6, 1), (T0 - 999, T0 + 999, 13)]:
        res = store.query(["a"], start, end, points=points, tier="raw")
        assert 1 <= len(res.timestamps) <= points
        assert np.all(res.timestamps % res.step == 0)  # buckets aligned to their length
        assert res.start <= start and res.end > end
        assert res.end == res.start + len(res.timestamps) * res.step


def test_a_query_validates_its_arguments(store):
    store.append(T0, {"a": 1.0})
    with pytest.raises(QueryError, match="unknown series: zz"):
        store.query(["a", "zz"], T0, T0)
    with pytest.raises(QueryError, match="unknown tier"):
        store.query(["a"], T0, T0, tier="5m")
    with pytest.raises(QueryError, match="bad time range"):
        store.query(["a"], T0, T0 - 1)
    with pytest.raises(QueryError, match="bad time range"):
        store.query(["a"], nan, T0)
    with pytest.raises(QueryError, match="points"):
        store.query(["a"], T0, T0, points=0)
    with pytest.raises(QueryError, match="no series"):
        store.query([], T0, T0)


def test_the_same_series_asked_twice_comes_back_twice(store):
    store.append(T0, {"a": 1.0, "b": 2.0})
    res = store.query(["a", "b", "a"], T0, T0, tier="raw")
    assert res.avg[:, 0].tolist() == [1.0, 2.0, 1.0]


# --- consolidation -------------------------------------------------------------------


def test_coarse_tiers_keep_avg_min_and_max_of_each_interval(store):
    for t in range(T0, T0 + 121):
        store.append(t, {"a": float(t - T0)})
    _, avg, mn, mx = tier_rows(store, "10s", ["a"], T0, T0 + 110)
    assert avg[0].tolist() == [4.5 + 10 * i for i in range(12)]
    assert mn[0].tolist() == [10.0 * i for i in range(12)]
    assert mx[0].tolist() == [10.0 * i + 9 for i in range(12)]
    _, avg, mn, mx = tier_rows(store, "1m", ["a"], T0, T0 + 60)
    assert avg[0].tolist() == [29.5, 89.5] and mn[0].tolist() == [0, 60]
    assert mx[0].tolist() == [59, 119]
    assert cov_of(store, "10s", T0) == cov_of(store, "1m", T0 + 60) == FULL


def test_an_interval_is_consolidated_only_once_a_sample_past_it_arrives(store):
    for t in range(T0, T0 + 10):
        store.append(t, {"a": 1.0})
    assert np.isnan(tier_rows(store, "10s", ["a"], T0, T0)[1]).all()
    store.append(T0 + 10, {"a": 1.0})
    assert tier_rows(store, "10s", ["a"], T0, T0)[1].tolist() == [[1.0]]


def test_an_interval_with_less_than_xff_known_is_a_gap_per_series(store):
    # in T0..T0+9, "a" has 5 of 10 samples (kept: 50 %), "b" 4 (a gap)
    for t in range(T0, T0 + 10):
        store.append(t, {"a": 2.0 if t < T0 + 5 else nan, "b": 3.0 if t < T0 + 4 else nan})
    store.append(T0 + 10, {"a": 0.0, "b": 0.0})
    _, avg, mn, mx = tier_rows(store, "10s", ["a", "b"], T0, T0)
    assert avg.tolist()[0] == [2.0] and np.isnan(avg[1, 0])
    assert np.isnan(mn[1, 0]) and np.isnan(mx[1, 0])
    assert cov_of(store, "10s", T0, series=0) == round(0.5 * FULL)
    assert cov_of(store, "10s", T0, series=1) == 0


def test_xff_is_configurable(tmp_path):
    with Store.open(tmp_path, SMALL, xff=0.8) as s:
        for t in range(T0, T0 + 11):
            s.append(t, {"a": 1.0 if t - T0 in (0, 1, 2, 3, 4, 5, 6, 10) else nan})
        assert np.isnan(tier_rows(s, "10s", ["a"], T0, T0)[1]).all()  # 7 of 10 < 80 %
    with pytest.raises(StoreError, match="xff"):
        Store.open(tmp_path / "x", SMALL, xff=1.5)


def test_a_merged_raw_query_over_whole_minutes_equals_the_1m_tier(tmp_path):
    ladder = (TierConfig("raw", 1, 600), TierConfig("1m", 60, 3600))
    rng = np.random.default_rng(7)
    values = rng.integers(-4000, 4000, size=(360, 3)).astype(np.float32) / 4
    values[rng.random(values.shape) < 0.3] = nan  # 70 % known: every minute passes xff
    with Store.open(tmp_path, ladder) as s:
        s.append_many(T0 + np.arange(360), ["a", "b", "c"], values)
        s.append(T0 + 360, {"a": 0.0})
        merged = s.query(["a", "b", "c"], T0, T0 + 359, tier="raw", points=6)
        assert merged.step == 60
        _, avg, mn, mx = tier_rows(s, "1m", ["a", "b", "c"], T0, T0 + 359)
    np.testing.assert_array_equal(merged.avg.astype(np.float32), avg)
    np.testing.assert_array_equal(merged.min, mn)
    np.testing.assert_array_equal(merged.max, mx)
    assert np.isfinite(avg).all()


def test_a_merged_query_of_a_coarse_tier_weights_rows_by_their_coverage(store):
    # minute 0 fully known at 10, minute 1 half known at 40
    for t in range(T0, T0 + 120):
        store.append(t, {"a": 10.0 if t < T0 + 60 else (40.0 if t % 2 else nan)})
    store.append(T0 + 120, {"a": 0.0})
    res = store.query(["a"], T0, T0 + 119, tier="1m", points=1)
    assert res.step == 120
    # 20, not 25 (coverage is kept to 1/65535, so "half" weighs 32768/65535)
    assert res.avg[0, 0] == pytest.approx((10 * 1 + 40 * 0.5) / 1.5, rel=1e-4)
    assert res.min[0, 0] == 10.0 and res.max[0, 0] == 40.0


def test_a_merged_query_agrees_with_consolidation_through_a_middle_tier(store):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 400, size=(120, 2)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = nan
    assert (np.isnan(values.reshape(12, 10, 2)).sum(axis=1) <= 5).all()  # all pass xff
    for i in range(120):
        store.append(T0 + i, {"a": values[i, 0], "b": values[i, 1]})
    merged = store.query(["a", "b"], T0, T0 + 119, tier="raw", points=2)
    store.append(T0 + 120, {"a": 0.0, "b": 0.0})  # completes minute 2 (and laps T0)
    _, avg, mn, mx = tier_rows(store, "1m", ["a", "b"], T0, T0 + 119)
    minutes = values.reshape(2, 60, 2)
    np.testing.assert_allclose(merged.avg, np.nanmean(minutes, axis=1).T, rtol=1e-6)
    # via 10 s rows weighted by coverage, kept to 1/65535
    np.testing.assert_allclose(avg, merged.avg, rtol=1e-5)
    np.testing.assert_array_equal(merged.min, mn)
    np.testing.assert_array_equal(merged.max, mx)


def test_samples_sparser_than_the_base_step_give_full_coverage_with_sample_interval(tmp_path):
    for interval, expected in [(10, FULL), (None, 0)]:
        with Store.open(tmp_path / str(interval), SMALL, sample_interval=interval) as s:
            for t in range(T0, T0 + 130, 10):
                s.append(t, {"a": float(t - T0)})
            assert cov_of(s, "10s", T0 + 50) == expected
            if expected:
                assert cov_of(s, "1m", T0 + 60) == FULL
                assert tier_rows(s, "1m", ["a"], T0, T0)[1].tolist() == [[25.0]]


def test_a_raw_ring_keeping_exactly_one_coarse_row_loses_no_sample(tmp_path):
    ladder = (TierConfig("raw", 1, 60), TierConfig("1m", 60, 600))
    for bulk in (False, True):
        with Store.open(tmp_path / str(bulk), ladder) as s:
            if bulk:
                s.append_many(T0 + np.arange(181), ["a"], np.arange(181.0)[:, None])
            else:
                for t in range(T0, T0 + 181):
                    s.append(t, {"a": float(t - T0)})
            _, avg, mn, _ = tier_rows(s, "1m", ["a"], T0, T0 + 120)
            assert avg[0].tolist() == [29.5, 89.5, 149.5] and mn[0].tolist() == [0, 60, 120]
            assert cov_of(s, "1m", T0) == FULL


def test_append_many_stores_what_appending_one_by_one_stores(tmp_path):
    rng = np.random.default_rng(11)
    times = np.cumsum(rng.choice([1, 1, 1, 2, 7, 70, 400], size=3000)) + T0
    values = rng.integers(-100, 100, size=(3000, 3)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = nan
    names = ["a", "b", "c"]
    with Store.open(tmp_path / "one", SMALL) as one, Store.open(tmp_path / "bulk", SMALL) as bulk:
        for t, row in zip(times, values):
            one.append(int(t), dict(zip(names, row.tolist())))
        for part in np.array_split(np.arange(3000), 5):
            bulk.append_many(times[part], names, values[part])
        end = int(times[-1])
        assert_same_tiers(all_tiers(one, names, end - 4000, end),
                          all_tiers(bulk, names, end - 4000, end))


def test_append_many_checks_its_input(store):
    with pytest.raises(StoreError, match="named more than once"):
        store.append_many([T0, T0 + 1], ["a", "a"], np.zeros((2, 2)))
    with pytest.raises(StoreError, match="increase"):
        store.append_many([T0 + 1, T0], ["a"], np.zeros((2, 1)))
    with pytest.raises(StoreError, match="shape"):
        store.append_many([T0], ["a"], np.zeros((2, 1)))
    with pytest.raises(StoreError, match="number"):
        store.append_many([nan], ["a"], np.zeros((1, 1)))
    with pytest.raises(StoreError, match="non-empty"):
        store.append(T0, {"": 1.0})
    with pytest.raises(StoreError, match="not a number"):
        store.append(float("inf"), {"a": 1.0})
    assert store.last_time is None


# --- time rules ----------------------------------------------------------------------


def test_a_repeated_timestamp_is_dropped_and_counted(store):
    assert store.append(T0, {"a": 1.0})
    assert not store.append(T0, {"a": 2.0})
    assert store.dropped == 1
    assert tier_rows(store, "raw", ["a"], T0, T0)[1].tolist() == [[1.0]]


def test_an_out_of_order_or_backwards_sample_is_dropped_and_history_is_untouched(store):
    for t in range(T0, T0 + 100):
        store.append(t, {"a": f(0, t)})
    before = all_tiers(store, ["a"], T0, T0 + 200)
    # the clock steps back 50 s: everything up to the newest stored time is dropped
    stored = [store.append(t, {"a": -1.0}) for t in range(T0 + 50, T0 + 100)]
    assert not any(stored) and store.dropped == 50
    assert_same_tiers(before, all_tiers(store, ["a"], T0, T0 + 200))
    # so are the rows of a batch that are not newer; the rest is stored
    assert store.append_many([T0 + 98, T0 + 99, T0 + 100], ["a"], [[-1.0], [-1.0], [7.0]]) == 1
    assert store.dropped == 52
    _, avg, _, _ = tier_rows(store, "raw", ["a"], T0 + 97, T0 + 100)
    assert avg[0].tolist() == [f(0, T0 + 97), f(0, T0 + 98), f(0, T0 + 99), 7.0]


def test_a_clock_jumping_forward_leaves_a_gap_and_consolidation_goes_on(store):
    for t in range(T0, T0 + 15):
        store.append(t, {"a": 1.0})
    for t in range(T0 + 45, T0 + 121):
        store.append(t, {"a": 2.0})
    _, avg, _, _ = tier_rows(store, "raw", ["a"], T0 + 1, T0 + 120)  # T0 itself lapped
    assert np.isfinite(avg[0, :14]).all() and np.isnan(avg[0, 14:44]).all()
    assert np.isfinite(avg[0, 44:]).all()
    _, avg, _, _ = tier_rows(store, "10s", ["a"], T0, T0 + 110)
    assert avg[0].tolist()[:2] == [1.0, 1.0]  # 10 and 5 of 10 known
    assert np.isnan(avg[0, 2:4]).all()  # T0+20, T0+30: nothing
    assert avg[0, 4] == 2.0 and avg[0, 11] == 2.0
    assert cov_of(store, "10s", T0 + 40) == round(0.5 * FULL)


def half_an_hour_then_downtime(store, downtime):
    """Append 30.5 min of a = seconds since T0, stop for `downtime`, then 2 hours more.
    Return the time appending resumed."""
    for t in range(T0, T0 + 1830):
        store.append(t, {"a": float(t - T0)})
    resume = T0 + 1830 + downtime
    store.append_many(resume + np.arange(7200), ["a"], (resume - T0 + np.arange(7200.0))[:, None])
    return resume


@pytest.mark.parametrize("downtime", [3 * 3600, 21 * 86400], ids=["3 hours", "3 weeks"])
def test_downtime_reads_as_gaps_and_consolidation_continues_correctly(tmp_path, downtime):
    with Store.open(tmp_path, DEFAULT_TIERS) as s:
        resume = half_an_hour_then_downtime(s, downtime)
        now = resume + 7199
        # the partial intervals before the downtime were consolidated, the rest is gaps
        if downtime < 7 * 86400:  # (after three weeks the 1m ring has lapped them)
            _, avg, mn, mx = tier_rows(s, "1m", ["a"], T0 + 1740, T0 + 1920)
            assert avg[0].tolist()[:2] == [1769.5, 1814.5]  # 29th minute whole, 30th half
            assert np.isnan(avg[0, 2:]).all()
            assert cov_of(s, "1m", T0 + 1800) == round(0.5 * FULL)
        _, avg, _, _ = tier_rows(s, "5m", ["a"], T0 + 1500, T0 + 1800)
        assert avg[0, 0] == 1649.5 and np.isnan(avg[0, 1])  # 30 s of 300: a gap
        _, avg, mn, mx = tier_rows(s, "1h", ["a"], T0, T0)
        # (made of the 5m rows: 30 whole minutes; the 5m row of the last 30 s is a gap)
        assert (avg[0, 0], mn[0, 0], mx[0, 0]) == (899.5, 0.0, 1799.0)
        assert cov_of(s, "1h", T0) == round(0.5 * FULL)
        # nothing is made up for the downtime
        for tier, step in (("1m", 60), ("5m", 300), ("1h", 3600)):
            a, b = (T0 + 1830) // step * step + step, resume // step * step - step
            res = s.query(["a"], a, b, tier=tier, points=10**6)
            assert np.isnan(res.avg).all(), tier
        # after the downtime every tier advances with the new data
        first_hour = (resume // 3600 + 1) * 3600
        _, avg, mn, mx = tier_rows(s, "1h", ["a"], first_hour, first_hour)
        assert avg[0, 0] == first_hour - T0 + 1799.5 and mn[0, 0] == first_hour - T0
        _, avg, _, _ = tier_rows(s, "1m", ["a"], now - 3600, now - 120)
        assert np.isfinite(avg).all()
        # the raw tier holds only the new data as current
        res = s.query(["a"], now - 86399, now, points=86400, now=now)
        assert res.tier == "raw"
        still_a_day_old = 1830 if downtime < 86400 else 0  # rows of the last day
        assert np.isfinite(res.avg).sum() == 7200 + still_a_day_old
        assert s.info().tiers[0].first == (resume if downtime > 86400 else T0)


def test_downtime_longer_than_a_middle_tier_keeps_still_reaches_the_top_tier(tmp_path):
    with Store.open(tmp_path, DEFAULT_TIERS, xff=0.6) as s:
        n = 39 * 60  # 65 % of an hour, then two months away
        s.append_many(T0 + np.arange(n), ["a"], np.ones((n, 1)))
        s.append(T0 + 60 * 86400, {"a": 2.0})
        assert tier_rows(s, "1h", ["a"], T0, T0)[1].tolist() == [[1.0]]
        assert cov_of(s, "1h", T0) == round(n / 3600 * FULL)


def test_closing_and_reopening_midway_stores_what_one_run_stores(tmp_path):
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.choice([1, 1, 1, 3, 25, 300], size=1500)) + T0
    values = rng.integers(0, 50, size=1500).astype(float)
    with Store.open(tmp_path / "one", SMALL) as one:
        for t, v in zip(times, values):
            one.append(int(t), {"a": v})
        expected = all_tiers(one, ["a"], int(times[-1]) - 4000, int(times[-1]))
    s = Store.open(tmp_path / "many", SMALL)
    for i, (t, v) in enumerate(zip(times, values)):
        if i % 37 == 0:
            s.close()
            s = Store.open(tmp_path / "many", SMALL)
        s.append(int(t), {"a": v})
    assert_same_tiers(all_tiers(s, ["a"], int(times[-1]) - 4000, int(times[-1])), expected)
    s.close()


# --- series that come and go --------------------------------------------------------


def test_a_series_appearing_later_records_at_once_without_touching_the_others(tmp_path):
    path = tmp_path / "store"
    with Store.open(path, SMALL) as s:
        for t in range(T0, T0 + 60):
            s.append(t, {"a": f(0, t), "b": f(1, t)})
        reader = Store.open(path, readonly=True)
        before = all_tiers(s, ["a", "b"], T0, T0 + 119)
        files = {p.name: p.read_bytes() for p in ring_files(path)}
        for t in range(T0 + 60, T0 + 120):
            s.append(t, {"a": f(0, t), "c": f(2, t), "b": f(1, t)})
        assert s.series() == ["a", "b", "c"]
        assert s.info().segments == 2
        _, avg, _, _ = tier_rows(s, "raw", ["c"], T0, T0 + 119)
        assert np.isnan(avg[0, :60]).all()
        assert avg[0, 60:].tolist() == [f(2, t) for t in range(T0 + 60, T0 + 120)]
        after = all_tiers(s, ["a", "b"], T0, T0 + 119)
        for tier in ("10s", "1m"):  # history of the others is unchanged
            before_rows = np.isfinite(before[tier][1])
            np.testing.assert_array_equal(after[tier][1][before_rows],
                                          before[tier][1][before_rows])
        # the first segment's files were only appended to: the new series lives elsewhere
        assert {p.name for p in ring_files(path)} > set(files)
        # a reader opened before sees the new series without reopening
        assert reader.series() == ["a", "b", "c"]
        res = reader.query(["c"], T0 + 60, T0 + 119, tier="raw", points=1000)
        assert res.avg[0].tolist() == [f(2, t) for t in range(T0 + 60, T0 + 120)]
        reader.close()


def test_series_appearing_later_share_a_segment_of_spare_columns(store):
    store.append(T0, {"a": 1.0})
    store.append(T0 + 1, {"a": 1.0, "n0": 2.0})
    for i in range(1, SPARE_WIDTH):
        store.append(T0 + 1 + i, {"a": 1.0, f"n{i}": 2.0})
    assert store.info().segments == 2
    store.append(T0 + 100, {"a": 1.0, "more": 3.0})
    assert store.info().segments == 3
    assert tier_rows(store, "raw", ["more"], T0 + 100, T0 + 100)[1].tolist() == [[3.0]]


def test_a_vanished_series_stays_readable_until_it_ages_out_then_its_column_is_reused(store):
    for t in range(T0, T0 + 60):
        store.append(t, {"a": 1.0, "b": f(1, t)})
    for t in range(T0 + 60, T0 + 3000):
        store.append(t, {"a": 1.0})
    assert "b" in store.series()
    _, _, mn, mx = tier_rows(store, "1m", ["b"], T0, T0)
    assert (mn[0, 0], mx[0, 0]) == (f(1, T0), f(1, T0 + 59))
    # while "b" has history, a new series takes a new segment
    store.append(T0 + 3000, {"a": 1.0, "c": 5.0})
    assert store.info().segments == 2
    # an hour later "b" has aged out of every tier; fill the spare columns, then one more
    for t in range(T0 + 3001, T0 + 3700):
        store.append(t, {"a": 1.0, **{f"s{i}": 0.0 for i in range(SPARE_WIDTH - 1)}})
    store.append(T0 + 3700, {"a": 1.0, "z": 9.0})
    info = store.info()
    assert info.segments == 2  # "z" took the column "b" left
    assert "b" not in info.series and "z" in info.series
    res = store.query(["z"], T0 - 10**5, T0 + 3700, tier="1m", points=10**6)
    assert np.isnan(res.avg).all()  # none of "b"'s old rows reads as "z"'s
    assert tier_rows(store, "raw", ["z"], T0 + 3700, T0 + 3700)[1].tolist() == [[9.0]]


def test_a_series_whose_last_samples_await_consolidation_is_not_taken_for_aged_out(store):
    for t in range(T0, T0 + 10):
        store.append(t, {"b": 4.0})  # a segment of exactly one column
    # a jump past the raw ring with a new series: "b" is in no raw row any more, but
    # its last interval goes to the coarse tiers first, so it keeps its column
    store.append(T0 + 130, {"a": 1.0})
    assert store.series() == ["a", "b"] and store.info().segments == 2
    assert tier_rows(store, "10s", ["b"], T0, T0)[1].tolist() == [[4.0]]
    assert np.isnan(tier_rows(store, "1m", ["b"], T0, T0)[1]).all()  # 10 s of 60


def test_a_reused_column_shows_nothing_of_its_old_series_even_after_long_downtime(store):
    store.append_many(T0 + np.arange(120), ["a", "b"], np.ones((120, 2)))
    later = T0 + 10 * 86400  # "b"'s rows of ten days ago still sit in their slots
    store.append(later, {"a": 1.0, "z": 2.0})
    assert store.info().segments == 1
    assert store.series() == ["a", "z"]  # "a" aged out too, but is being written
    for tier in ("raw", "10s", "1m"):
        res = store.query(["z"], T0, later, tier=tier, points=10**7)
        assert np.nansum(np.isfinite(res.avg)) == (1 if tier == "raw" else 0), tier


# --- disk budget ---------------------------------------------------------------------


def test_the_budget_equals_the_ring_files_and_they_never_grow(tmp_path):
    path = tmp_path / "store"
    with Store.open(path, SMALL) as s:
        s.append(T0, {f"s{i}": 1.0 for i in range(5)})
        sizes = {p.name: (p.stat().st_size, p.stat().st_blocks) for p in ring_files(path)}
        assert sum(v[0] for v in sizes.values()) == Store.budget(5, SMALL)
        assert s.info().files_bytes == Store.budget(5, SMALL)
        s.append_many(T0 + 1 + np.arange(5000), [f"s{i}" for i in range(5)],
                      np.ones((5000, 5)))
        for t in range(T0 + 10_000, T0 + 10_500):
            s.append(t, {f"s{i}": 2.0 for i in range(5)})
        s.flush()
        assert {p.name: (p.stat().st_size, p.stat().st_blocks)
                for p in ring_files(path)} == sizes
        s.append(T0 + 10_500, {"new": 1.0, **{f"s{i}": 2.0 for i in range(5)}})
        assert s.info().files_bytes == Store.budget(5, SMALL) + Store.budget(SPARE_WIDTH, SMALL)


def test_the_default_budget_for_100_series_is_about_70_mb():
    assert Store.budget(100) == 4096 * 4 + 86_400 * 408 + (10_080 + 8_640 + 8_760) * 1408
    assert 70e6 < Store.budget(100) < 75e6


# --- writers and readers -------------------------------------------------------------


def test_a_second_writer_is_refused_and_readers_are_welcome(tmp_path):
    path = tmp_path / "store"
    with Store.open(path, SMALL) as s:
        s.append(T0, {"a": 1.0})
        with pytest.raises(StoreLockedError, match="another sysmond process"):
            Store.open(path, SMALL)
        code = ("import sys; from sysmond.store import Store; "
                "from sysmond.errors import StoreLockedError\n"
                "try: Store.open(sys.argv[1])\n"
                "except StoreLockedError: print('locked')\n")
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, check=True).stdout
        assert out.strip() == "locked"
        with Store.open(path, readonly=True) as r:
            assert r.query(["a"], T0, T0, tier="raw").avg.tolist() == [[1.0]]
            with pytest.raises(StoreError, match="read-only"):
                r.append(T0 + 1, {"a": 1.0})
    with Store.open(path, SMALL) as s:  # released on close
        assert s.last_time == T0


READER = r"""
import json, sys
import numpy as np
from sysmond.store import Store
path, rounds = sys.argv[1], int(sys.argv[2])
def f(series, t): return float((t % 1_000_000) * 8 + series)
names = [f"s{i}" for i in range(4)]
seen = bad = 0
print("ready", flush=True)
store = Store.open(path, readonly=True)
for _ in range(rounds):
    last = store.info().last_time
    if last is None:
        continue
    res = store.query(names, last - 115, last + 5, tier="raw", points=1000)
    for j in range(4):
        for t, v in zip(res.timestamps, res.avg[j]):
            if not np.isnan(v):
                seen += 1
                bad += v != f(j, int(t))
    for tier in ("10s", "1m"):
        res = store.query(names, last - 590, last, tier=tier, points=1000)
        for j in range(4):
            for t, a, lo, hi in zip(res.timestamps, res.avg[j], res.min[j], res.max[j]):
                if np.isnan(a):
                    continue
                seen += 1
                ok = lo <= a <= hi and all(
                    int(x) % 8 == j and (int(x) // 8 - t) % 1_000_000 < res.step
                    for x in (lo, hi))
                bad += not ok
print(json.dumps({"seen": int(seen), "bad": int(bad)}))
"""


def test_a_reader_in_another_process_never_sees_a_row_that_was_not_written(tmp_path):
    path = tmp_path / "store"
    names = [f"s{i}" for i in range(4)]
    writer = Store.open(path, SMALL)
    writer.append(T0, {n: f(j, T0) for j, n in enumerate(names)})
    proc = subprocess.Popen([sys.executable, "-c", READER, str(path), "150"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    t = T0 + 1
    while proc.poll() is None:
        if t % 50 == 0:
            block = np.arange(t, t + 20)
            writer.append_many(block, names, np.array([[f(j, x) for j in range(4)]
                                                       for x in block]))
            t += 20
        else:
            writer.append(t, {n: f(j, t) for j, n in enumerate(names)})
            t += 1
    writer.close()
    result = json.loads(proc.stdout.read().strip().splitlines()[-1])
    assert proc.returncode == 0
    assert result["seen"] > 10_000 and result["bad"] == 0, result
    assert t > T0 + 600  # the rings lapped while the reader read


# --- crash and power cut -------------------------------------------------------------


def written_after_a_flush(path):
    """A store with a = seconds since T0 over T0..T0+299, flushed at T0+199, whose
    writer renews its lease every 10 s: the last lease runs to T0+308."""
    s = Store.open(path, SMALL)
    s.lease = 10
    for t in range(T0, T0 + 200):
        s.append(t, {"a": float(t - T0)})
    s.flush()
    for t in range(T0 + 200, T0 + 300):
        s.append(t, {"a": float(t - T0)})
    return s


def as_if_another_boot(path):
    state = json.loads((path / WRITER).read_text())
    state["boot_id"] = "00000000-0000-0000-0000-000000000000"
    (path / WRITER).write_text(json.dumps(state))


def test_after_a_kill_in_the_same_boot_nothing_appended_is_lost(tmp_path):
    s = written_after_a_flush(tmp_path)
    abandon(s)
    assert json.loads((tmp_path / WRITER).read_text())["clean"] is False
    with Store.open(tmp_path, SMALL) as s:
        assert s.last_time == T0 + 299
        assert np.isfinite(tier_rows(s, "raw", ["a"], T0 + 180, T0 + 299)[1]).all()


def test_after_a_power_cut_rows_newer_than_the_last_flush_are_dropped(tmp_path):
    s = written_after_a_flush(tmp_path)
    abandon(s)
    as_if_another_boot(tmp_path)
    assert json.loads((tmp_path / WRITER).read_text())["lease"] == T0 + 308
    with Store.open(tmp_path, SMALL) as s:
        assert s.last_time == T0 + 199
        _, avg, _, _ = tier_rows(s, "raw", ["a"], T0 + 180, T0 + 299)
        assert np.isfinite(avg[0, 9:20]).all() and np.isnan(avg[0, 20:]).all()
        # and the slots the writer could have reached before renewing its lease again
        # (T0+300..308) are cleared: they held T0+180..188, one lap older
        assert np.isnan(avg[0, :9]).all()
        # the 10 s row of T0+190 was written after the flush (when T0+200 came): dropped,
        # and made again from the raw rows that survived once time moves on
        assert np.isnan(tier_rows(s, "10s", ["a"], T0 + 190, T0 + 190)[1]).all()
        s.append(T0 + 200, {"a": 200.0})
        assert tier_rows(s, "10s", ["a"], T0 + 180, T0 + 190)[1].tolist() == [[184.5, 194.5]]
        assert json.loads((tmp_path / WRITER).read_text())["flushed"] == T0 + 199


def test_after_a_power_cut_a_torn_row_cannot_pass_for_an_older_lap(tmp_path):
    s = written_after_a_flush(tmp_path)
    ring = s._segments[0].rings[0]
    # T0+250's cells reached the disk, its new t did not: the slot still says T0+130
    ring.t[ring.slot(T0 + 250)] = T0 + 130
    assert tier_rows(s, "raw", ["a"], T0 + 130, T0 + 130)[1].tolist() == [[250.0]]  # a lie
    abandon(s)
    as_if_another_boot(tmp_path)
    with Store.open(tmp_path, SMALL) as s:
        assert np.isnan(tier_rows(s, "raw", ["a"], T0 + 130, T0 + 130)[1]).all()
        assert tier_rows(s, "raw", ["a"], T0 + 199, T0 + 199)[1].tolist() == [[199.0]]


def test_rows_a_killed_batch_wrote_without_consolidating_are_consolidated_next_time(tmp_path):
    s = Store.open(tmp_path, SMALL)
    s.append_many(T0 + np.arange(30), ["a"], np.arange(30.0)[:, None])
    # what a kill leaves after a batch's rows are written, before their consolidation
    ring = s._segments[0].rings[0]
    ring.write_many(T0 + np.arange(30, 60), np.arange(30.0, 60.0)[:, None].astype(np.float32))
    abandon(s)
    with Store.open(tmp_path, SMALL) as s:
        assert s.last_time == T0 + 59
        s.append(T0 + 60, {"a": 60.0})
        _, avg, _, _ = tier_rows(s, "10s", ["a"], T0, T0 + 50)
        assert avg[0].tolist() == [4.5, 14.5, 24.5, 34.5, 44.5, 54.5]


def test_a_segment_left_behind_by_a_kill_mid_consolidation_catches_up_on_open(tmp_path):
    s = Store.open(tmp_path, SMALL)
    for t in range(T0, T0 + 30):
        s.append(t, {"a": 1.0, **({"b": 2.0} if t > T0 else {})})  # "b": a 2nd segment
    assert s.info().segments == 2
    # the 10 s row of T0+10 reached segment 0 but not segment 1 before the kill
    ring = s._segments[1].rings[1]
    ring.t[ring.slot(T0 + 10)] = -1
    abandon(s)
    with Store.open(tmp_path, SMALL) as s:
        _, avg, _, _ = tier_rows(s, "10s", ["a", "b"], T0, T0 + 10)
        assert avg.tolist() == [[1.0, 1.0], [2.0, 2.0]]


def test_without_a_boot_id_an_unclean_shutdown_is_treated_as_a_power_cut(tmp_path,
                                                                       monkeypatch):
    s = written_after_a_flush(tmp_path)
    abandon(s)
    monkeypatch.setattr("sysmond.store.engine.boot_id", lambda: "")
    with Store.open(tmp_path, SMALL) as s:
        assert s.last_time == T0 + 199


def test_a_clean_shutdown_in_an_earlier_boot_loses_nothing(tmp_path):
    written_after_a_flush(tmp_path).close()
    as_if_another_boot(tmp_path)
    with Store.open(tmp_path, SMALL) as s:
        assert s.last_time == T0 + 299


def test_the_lease_is_renewed_before_rows_past_it_are_written(tmp_path):
    with Store.open(tmp_path, SMALL) as s:
        s.lease = 50
        s.append(T0, {"a": 1.0})  # a jump from nothing: synced, the lease starts here
        state = json.loads((tmp_path / WRITER).read_text())
        assert state["flushed"] == T0 - 1 and state["lease"] == T0 + 50
        for t in range(T0 + 1, T0 + 52):
            s.append(t, {"a": 1.0})
        state = json.loads((tmp_path / WRITER).read_text())
        assert state["flushed"] == T0 - 1 and state["lease"] == T0 + 51 + 50
        s.append(T0 + 5000, {"a": 1.0})  # a jump past the lease: synced first
        state = json.loads((tmp_path / WRITER).read_text())
        assert state["flushed"] == T0 + 4999 and state["lease"] == T0 + 5050
        s.flush()
        state = json.loads((tmp_path / WRITER).read_text())
        assert state["flushed"] == T0 + 5000 and state["lease"] == T0 + 5050
    assert json.loads((tmp_path / WRITER).read_text())["clean"] is True


# --- info ----------------------------------------------------------------------------


def test_info_tells_tiers_series_time_covered_and_sizes(store):
    store.append_many(T0 + np.arange(700), ["b", "a"], np.ones((700, 2)))
    info = store.info()
    assert info.series == ("a", "b") and info.segments == 1
    assert info.last_time == T0 + 699 and info.base_step == 1
    assert [(t.name, t.first, t.last) for t in info.tiers] == [
        ("raw", T0 + 580, T0 + 699), ("10s", T0 + 90, T0 + 680), ("1m", T0, T0 + 600)]
    assert info.files_bytes == sum(p.stat().st_size for p in ring_files(store.path))
    assert [t.rows for t in info.tiers] == [120, 60, 60]
