"""Pure numpy: many finer rows into one coarser row (avg, min, max, coverage).

One set of formulas serves both consolidation (finer tier -> coarser tier) and query
merging (many rows -> one point), so a merged query equals what consolidation would
have stored: avg weighted by how much of each finer row was known, min of min, max of
max. Arrays are shaped (groups, rows_per_group, columns); NaN marks an unknown cell.
`known` is what coverage is computed from: a count of samples for raw rows, a sum of
known fractions for consolidated rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Merged(NamedTuple):
    """avg/min/max per (group, column), and `known`, the summed weight of known rows."""

    avg: np.ndarray
    min: np.ndarray
    max: np.ndarray
    known: np.ndarray


def _no_warnings_reduce(func: np.ufunc, a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return func.reduce(a, axis=1)


def merge_values(v: np.ndarray) -> Merged:
    """Merge raw rows, where each cell is one sample (weight 1 when known).

    The sum is taken in float64. Cells without a gap (nearly all of them) take three
    passes over the data (sum, fmin, fmax); only the groups and columns where some sum
    came out NaN are summed again with their NaNs left out.
    """
    groups, per, width = v.shape
    total = np.add.reduce(v, axis=1, dtype=np.float64)
    mn = _no_warnings_reduce(np.fmin, v)
    mx = _no_warnings_reduce(np.fmax, v)
    count = np.full((groups, width), per, np.float64)
    nan = np.isnan(total)
    if nan.any():
        rows = np.nonzero(nan.any(axis=1))[0]
        cols = np.nonzero(nan.any(axis=0))[0]
        if len(rows) * len(cols) * 4 > groups * width:  # gaps nearly everywhere
            known = ~np.isnan(v)
            count = known.sum(axis=1, dtype=np.float64)
            total = np.where(known, v, np.float32(0)).sum(axis=1, dtype=np.float64)
        else:
            rows, cols = rows[:, None], cols[None, :]
            sub = v[rows, :, cols]  # (rows, cols, per)
            known = ~np.isnan(sub)
            count[rows, cols] = known.sum(axis=2)
            total[rows, cols] = np.where(known, sub, np.float32(0)).sum(axis=2,
                                                                        dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = total / count
    return Merged(avg, mn, mx, count)


def merge_weighted(avg: np.ndarray, mn: np.ndarray, mx: np.ndarray, cov: np.ndarray,
                   scale: float = 1.0) -> Merged:
    """Merge consolidated rows. `cov` is each row's integer coverage (its known fraction
    times `scale`; 0 when unknown): the avg is sum(avg * cov) / sum(cov) in float64 (the
    products are exact), and `known`, the summed known fraction, is the exact integer
    sum divided by `scale`.

    A row with no coverage holds NaN cells; only the groups and columns where the sum
    came out NaN are summed again without them.
    """
    weight = np.add.reduce(cov, axis=1, dtype=np.int64)
    product = avg * cov.astype(np.float64)
    total = np.add.reduce(product, axis=1)
    nan = np.isnan(total)
    if nan.any():
        rows = np.nonzero(nan.any(axis=1))[0][:, None]
        cols = np.nonzero(nan.any(axis=0))[0][None, :]
        sub = product[rows, :, cols]  # (rows, cols, per)
        total[rows, cols] = np.where(cov[rows, :, cols] > 0, sub, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / weight
    out[weight <= 0] = np.nan
    return Merged(out, _no_warnings_reduce(np.fmin, mn), _no_warnings_reduce(np.fmax, mx),
                  weight / scale)
