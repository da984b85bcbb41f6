"""Rates and shares from counters: gaps, never negatives or spikes."""

import math

from hypothesis import given
from hypothesis import strategies as st

from sysmond.collectors.rates import Rates


def test_the_first_reading_of_a_key_is_a_gap():
    assert math.isnan(Rates().rate("x", 100, 1.0))


def test_a_rate_uses_the_measured_elapsed_time_not_a_nominal_interval():
    r = Rates()
    r.rate("x", 100, 10.0)
    assert r.rate("x", 400, 12.0) == 150.0  # a late tick: 300 over 2 s, not over 1 s


def test_a_counter_going_backwards_is_a_gap_and_the_new_baseline():
    r = Rates()
    r.rate("x", 2**32 - 10, 0.0)
    assert math.isnan(r.rate("x", 5, 1.0))  # wrap or reset
    assert r.rate("x", 15, 2.0) == 10.0


def test_time_that_does_not_advance_is_a_gap():
    r = Rates()
    r.rate("x", 1, 5.0)
    assert math.isnan(r.rate("x", 2, 5.0))


def test_a_swept_key_starts_afresh_when_it_comes_back():
    r = Rates()
    r.rate("sdb", 100, 0.0)
    r.sweep()
    r.sweep()  # sdb was not read in this round: forgotten
    assert len(r) == 0
    assert math.isnan(r.rate("sdb", 200, 2.0))


def test_shares_are_each_parts_fraction_of_the_whole():
    r = Rates()
    assert r.shares("cpu", [10, 90], 0.0) is None
    assert r.shares("cpu", [11, 93], 1.0) == (0.25, 0.75)


def test_a_part_going_slightly_backwards_counts_as_zero():
    r = Rates()
    r.shares("cpu", [10, 90, 5], 0.0)
    assert r.shares("cpu", [14, 94, 4.99], 1.0) == (0.5, 0.5, 0.0)  # iowait quirk


def test_a_whole_going_backwards_is_a_gap():
    r = Rates()
    r.shares("cpu", [10, 90], 0.0)
    assert r.shares("cpu", [1, 2], 1.0) is None


@given(st.lists(st.tuples(st.integers(0, 2**64), st.floats(0.001, 100)), min_size=2))
def test_a_rate_is_never_negative_whatever_the_counter_does(readings):
    r, mono = Rates(), 0.0
    for value, step in readings:
        mono += step
        rate = r.rate("k", value, mono)
        assert math.isnan(rate) or rate >= 0


@given(st.lists(st.tuples(st.integers(0, 10**9), st.floats(0.01, 10)), min_size=2))
def test_rates_times_elapsed_add_up_to_the_counters_growth(steps):
    r, mono, value, total = Rates(), 0.0, 0, 0.0
    r.rate("k", value, mono)
    for inc, dt in steps:
        value, mono = value + inc, mono + dt
        total += r.rate("k", value, mono) * dt
    assert math.isclose(total, value, rel_tol=1e-9, abs_tol=1e-6)
