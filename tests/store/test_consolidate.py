"""The merge formulas, checked against examples worked out by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sysmond.store.consolidate import merge_values, merge_weighted

nan = np.nan


def test_raw_samples_merge_to_the_mean_min_and_max_of_the_known_ones():
    # one group of four samples, two columns; the second column misses one sample
    v = np.array([[[1.0, 10.0], [2.0, nan], [3.0, 40.0], [6.0, 10.0]]], np.float32)
    m = merge_values(v)
    assert m.avg.tolist() == [[3.0, 20.0]]  # (1+2+3+6)/4, (10+40+10)/3
    assert m.min.tolist() == [[1.0, 10.0]]
    assert m.max.tolist() == [[6.0, 40.0]]
    assert m.known.tolist() == [[4.0, 3.0]]


def test_groups_merge_independently_and_an_all_unknown_group_is_nan_with_nothing_known():
    v = np.array([[[1.0], [3.0]], [[nan], [nan]], [[nan], [-5.0]]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning for the empty group
        m = merge_values(v)
    assert m.avg[0, 0] == 2.0 and m.min[0, 0] == 1.0 and m.max[0, 0] == 3.0
    assert np.isnan(m.avg[1, 0]) and np.isnan(m.min[1, 0]) and np.isnan(m.max[1, 0])
    assert m.known[:, 0].tolist() == [2.0, 0.0, 1.0]
    assert m.avg[2, 0] == -5.0 == m.min[2, 0] == m.max[2, 0]


def test_raw_sums_are_taken_in_float64_so_large_values_keep_their_digits():
    # float32 accumulation of 16_777_216 + 1 + 1 + ... loses every +1
    v = np.array([[[16_777_216.0]] + [[1.0]] * 999], np.float32)
    m = merge_values(v)
    assert m.avg[0, 0] == pytest.approx((16_777_216 + 999) / 1000, rel=1e-12)


def test_consolidated_rows_merge_weighted_by_their_coverage():
    # three 1-minute rows into one: covered 100 %, 50 % and not at all (scale 4 = 100 %)
    avg = np.array([[[10.0], [20.0], [nan]]], np.float32)
    mn = np.array([[[9.0], [15.0], [nan]]], np.float32)
    mx = np.array([[[12.0], [30.0], [nan]]], np.float32)
    cov = np.array([[[4], [2], [0]]], np.uint16)
    m = merge_weighted(avg, mn, mx, cov, 4)
    assert m.avg[0, 0] == pytest.approx((10 * 4 + 20 * 2) / 6)  # 13.33, not 15
    assert m.min[0, 0] == 9.0 and m.max[0, 0] == 30.0
    assert m.known[0, 0] == 1.5  # one and a half rows' worth known


def test_a_row_with_no_coverage_never_counts_even_if_its_cells_hold_numbers():
    avg = np.array([[[10.0], [99.0]]], np.float32)
    cov = np.array([[[65535], [0]]], np.uint16)
    m = merge_weighted(avg, avg, avg, cov, 65535)
    assert m.avg[0, 0] == 10.0 and m.known[0, 0] == 1.0


def test_consolidated_rows_with_nothing_known_merge_to_nan():
    a = np.full((1, 3, 2), nan, np.float32)
    m = merge_weighted(a, a, a, np.zeros((1, 3, 2), np.uint16), 65535)
    assert np.isnan(m.avg).all() and np.isnan(m.min).all() and np.isnan(m.max).all()
    assert (m.known == 0).all()


def test_known_fractions_sum_exactly_from_the_integer_coverage():
    # 0.7 is not a float; the sum of the stored integers divided once is what counts
    cov = np.array([[[45874], [45874], [45875]]], np.uint16)
    a = np.ones((1, 3, 1), np.float32)
    m = merge_weighted(a, a, a, cov, 65535)
    assert m.known[0, 0] == (45874 + 45874 + 45875) / 65535


@pytest.mark.parametrize("gaps", [0.0, 0.01, 0.5, 0.98, 1.0])
def test_raw_merges_agree_with_numpys_nan_functions_however_many_gaps(gaps):
    rng = np.random.default_rng(int(gaps * 100))
    v = rng.integers(-1000, 1000, size=(40, 60, 7)).astype(np.float32) / 4
    v[rng.random(v.shape) < gaps] = nan
    m = merge_values(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy warns on all-NaN groups
        np.testing.assert_array_equal(m.avg, np.nanmean(v.astype(np.float64), axis=1))
        np.testing.assert_array_equal(m.min, np.nanmin(v, axis=1))
        np.testing.assert_array_equal(m.max, np.nanmax(v, axis=1))
    np.testing.assert_array_equal(m.known, (~np.isnan(v)).sum(axis=1))
