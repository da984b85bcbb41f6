"""Rolling finer rows up into coarser ones: which intervals of a tier have finer data,
and their coarse rows (avg, min, max, coverage), written only where at least `xff` of
the interval is known. The arithmetic is consolidate.py's; this module reads the finer
ring and writes the coarser one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sysmond.config import TierConfig
from sysmond.store import format as fmt
from sysmond.store.consolidate import merge_values, merge_weighted
from sysmond.store.tier import Segment


def consolidate_tier(tiers: Sequence[TierConfig], segments: Sequence[Segment], k: int,
                     first: int, stop: int, *, xff: float, sample_interval: int) -> None:
    """Consolidate the intervals [first, stop) of tier k that have finer data in
    `segments`: write a coarse row where at least `xff` of the interval is known,
    a known raw row counting for `sample_interval` seconds."""
    fine, coarse = tiers[k - 1], tiers[k]
    ratio = coarse.step // fine.step
    # After downtime or at start, only the intervals the finer ring has rows for.
    runs = ([(first, 1)] if stop - first == 1
            else _runs_with_data(tiers, k - 1, first, stop, segments))
    per_read = max(1, tiers[k - 1].rows // ratio)
    unit = sample_interval if k == 1 else fine.step  # seconds a known finer row stands for
    for begin, count in runs:
        for at in range(begin, begin + count, per_read):
            _consolidate_run(tiers, k, at, min(per_read, begin + count - at), ratio,
                             segments, xff=xff, unit=unit)



def _runs_with_data(tiers: Sequence[TierConfig], k: int, first: int, stop: int,
                    segments: Sequence[Segment]) -> list[tuple[int, int]]:
    """Runs (first interval, count) of tier k+1's intervals in [first, stop) that
    hold at least one data row of tier k. Intervals older than one lap of tier k+1
    count too (after a long downtime): tier k+2 still needs them."""
    coarse = tiers[k + 1]
    times: list[np.ndarray] = []
    for seg in segments:
        t, ok = seg.rings[k]._stamps()
        times.append(t[ok])
    if not times:
        return []
    intervals = np.unique(np.concatenate(times) // coarse.step)
    intervals = intervals[(intervals >= first) & (intervals < stop)]
    if not len(intervals):
        return []
    breaks = np.nonzero(np.diff(intervals) != 1)[0] + 1
    return [(int(run[0]), len(run)) for run in np.split(intervals, breaks)]



def _consolidate_run(tiers: Sequence[TierConfig], k: int, first: int, n: int, ratio: int,
                     segments: Sequence[Segment], *, xff: float, unit: int) -> None:
    """Write the coarse rows of tier k's intervals [first, first + n): one read of
    `n * ratio` finer rows per segment, merged `ratio` to a row."""
    coarse = tiers[k]
    start = first * coarse.step
    stamps = start + np.arange(n, dtype=np.int64) * coarse.step
    for seg in segments:
        valid, *planes = seg.rings[k - 1].read(start, n * ratio, slice(None))
        if not valid.any():
            continue
        shape = (n, ratio, seg.width)
        if k == 1:
            merged = merge_values(planes[0].reshape(shape))
        else:
            avg, mn, mx, cov = (p.reshape(shape) for p in planes)
            merged = merge_weighted(avg, mn, mx, cov, fmt.COV_SCALE)
        cover = np.minimum(merged.known * (unit / coarse.step), 1.0)
        ok = cover >= xff - 1e-9
        rows = ok.any(axis=1)
        if not rows.any():
            continue
        ok = ok[rows]
        avg = np.where(ok, merged.avg[rows], np.nan).astype(np.float32)
        mn = np.where(ok, merged.min[rows], np.nan).astype(np.float32)
        mx = np.where(ok, merged.max[rows], np.nan).astype(np.float32)
        cov = np.where(ok, np.rint(cover[rows] * fmt.COV_SCALE), 0).astype(np.uint16)
        seg.rings[k].write_many(stamps[rows], avg, mn, mx, cov)
