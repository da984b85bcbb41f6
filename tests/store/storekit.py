"""Helpers shared by the store's tests: small ladders and values that encode their time."""

from __future__ import annotations

import math

import numpy as np

from sysmond.config import TierConfig

# A small ladder whose rings lap quickly: raw 2 min, 10 s for 10 min, 1 min for 1 hour.
SMALL = (TierConfig("raw", 1, 120), TierConfig("10s", 10, 600), TierConfig("1m", 60, 3600))

# An hour boundary, so every tier's intervals start at T0.
T0 = 1_700_000_000 // 3600 * 3600


def f(series: int, t: int) -> float:
    """The value series number `series` (0..7) holds at time `t`: exact in float32, and
    it names its own time (modulo about 12 days), so a misplaced row is caught."""
    return float((t % 1_000_000) * 8 + series)


def decode(value: float) -> tuple[int, int]:
    """Return (series, t modulo 1_000_000) of a value made by `f`."""
    v = int(value)
    return v % 8, v // 8


def tier_rows(store, tier: str, names, start: int, end: int):
    """Return (timestamps, avg, min, max) of `tier` over [start, end], one point per row."""
    step = next(t.step for t in store.tiers if t.name == tier)
    n = (end // step) - (start // step) + 1
    res = store.query(list(names), start, end, tier=tier, points=n + 1)
    assert res.step == step
    return res.timestamps, res.avg, res.min, res.max


def known(a: np.ndarray) -> np.ndarray:
    return ~np.isnan(a)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
