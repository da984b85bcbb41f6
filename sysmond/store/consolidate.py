"""Pure numpy: many finer rows into one coarser row (avg, min, max, coverage).

One set of formulas serves both consolidation (finer tier -> coarser tier) and query
merging (many rows -> one point), so a merged query equals what consolidation would
have stored: avg weighted by how much of each finer row was known, min of min, max of
max. Arrays are shaped (groups, rows_per_group, columns); NaN marks an unknown cell.
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
    """Merge raw rows, where each cell is one sample (weight 1 when known)."""
    known = ~np.isnan(v)
    count = known.sum(axis=1, dtype=np.float32)
    total = np.where(known, v, np.float32(0)).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = total / count
    return Merged(avg, _no_warnings_reduce(np.fmin, v), _no_warnings_reduce(np.fmax, v),
                  count)


def merge_weighted(avg: np.ndarray, mn: np.ndarray, mx: np.ndarray,
                   weight: np.ndarray) -> Merged:
    """Merge consolidated rows: `weight` is each row's known fraction (0 when unknown)."""
    w = weight.astype(np.float32)
    known = w.sum(axis=1, dtype=np.float64)
    total = np.where(w > 0, avg * w, np.float32(0)).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / known
    out[known <= 0] = np.nan
    return Merged(out, _no_warnings_reduce(np.fmin, mn), _no_warnings_reduce(np.fmax, mx),
                  known)
