"""Reading: a time range of one ring merged into buckets of whole multiples of the
tier's step, aligned to multiples of their own length, so the same question asked a
second later lands on the same buckets (and the API's answer cache can say so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from sysmond.store import format as fmt
from sysmond.store.consolidate import Merged, merge_values, merge_weighted
from sysmond.store.tier import ColumnSelector, Ring

# Queries merge straight from the mapped rows when they select at least this many
# columns of a segment (and copy the cells out first when fewer).
IN_PLACE_COLUMNS = 16


class QueryResult(NamedTuple):
    """Columnar answer of a query: one row of avg/min/max per name, NaN for gaps."""

    tier: str
    step: int  # seconds per point
    start: int  # time of the first point
    end: int  # end of the last point's interval (exclusive)
    timestamps: np.ndarray  # int64, start of each point's interval
    names: tuple[str, ...]
    avg: np.ndarray  # float64[len(names), points]
    min: np.ndarray
    max: np.ndarray



def buckets(start: float, end: float, points: int, step: int) -> tuple[int, int, int]:
    """Return (rows per point, first bucket, last bucket) of a query over [start, end]
    of a tier with `step`: whole buckets, aligned to multiples of their length, at most
    `points` of them."""
    first, last = int(start // step) * step, int(end // step) * step
    per = max(1, -(-((last - first) // step + 1) // points))
    while True:  # aligning to whole buckets can add one; never return more than asked
        bucket = per * step
        lo, hi = first // bucket * bucket, last // bucket * bucket
        if (hi - lo) // bucket + 1 <= points:
            return per, lo, hi
        per += 1


def read_buckets(ring: Ring, first: int, last: int, cols: ColumnSelector, per: int, *,
                  raw: bool) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Read rows [first, last] of `ring` and merge them `per` rows to a bucket (buckets
    aligned to multiples of per x step). Return the first bucket's time and avg/min/max
    shaped (buckets, columns).

    Whole buckets that do not cross the end of the ring are merged straight from the
    mapped rows when every row is data (no copy); partial buckets at either end, a
    bucket across the end of the ring, and any run with a gap are read (copied, gaps
    masked) and merged on their own.
    """
    step = ring.step
    bucket = per * step
    b0 = first // bucket * bucket
    if per == 1:
        _, *planes = ring.read(first, (last - first) // step + 1, cols)
        if raw:
            return b0, planes[0], planes[0], planes[0]
        return b0, planes[0], planes[1], planes[2]
    bl = last // bucket * bucket
    pieces: list[tuple[int, int, bool]] = []  # (first, last, whole buckets within a lap)
    if b0 == bl:
        pieces.append((first, last, False))
    else:
        body_first = first
        if first != b0:
            pieces.append((first, b0 + bucket - step, False))
            body_first = b0 + bucket
        whole_last = last == bl + bucket - step
        body_last = last if whole_last else bl - step
        if body_last >= body_first:
            pieces += _split_at_ring_end(ring, body_first, body_last, bucket)
        if not whole_last:
            pieces.append((bl, last, False))
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    # In place only for a wide selection: a few columns are cheaper to copy out of
    # their rows than to reduce through strided views.
    wide = (len(range(*cols.indices(ring.width))) if isinstance(cols, slice)
            else len(cols)) >= IN_PLACE_COLUMNS
    for a, b, whole in pieces:
        n = (b - a) // step + 1
        merged = _merge_mapped(ring, a, n, cols, per, raw) if whole and wide else None
        if merged is None:
            _, *planes = ring.read(a, n, cols)
            pad_front = (a - a // bucket * bucket) // step
            pad_back = (-(pad_front + n)) % per
            if pad_front or pad_back:
                planes = [np.pad(p, ((pad_front, pad_back), (0, 0)),
                                 constant_values=0 if p.dtype.kind == "u" else np.nan)
                          for p in planes]
            merged = _merge(planes, per, raw)
        out.append((merged.avg, merged.min, merged.max))
    return (b0, *(np.concatenate([o[i] for o in out]) for i in range(3)))


def _split_at_ring_end(ring: Ring, first: int, last: int,
                       bucket: int) -> list[tuple[int, int, bool]]:
    """Split whole buckets [first, last] where the ring wraps: the runs on either side
    can be merged in place, a bucket straddling the wrap is read on its own."""
    lap = ring.retention
    if (last - first) // ring.step + 1 > ring.nrows:
        return [(first, last, False)]  # longer than a lap: a sparse read
    wrap = (first // lap + 1) * lap
    if wrap > last:
        return [(first, last, True)]
    cut = wrap // bucket * bucket
    if cut == wrap:
        return [(first, wrap - ring.step, True), (wrap, last, True)]
    pieces = []
    if cut > first:
        pieces.append((first, cut - ring.step, True))
    pieces.append((cut, cut + bucket - ring.step, False))
    if cut + bucket <= last:
        pieces.append((cut + bucket, last, True))
    return pieces


def _merge(planes: Sequence[np.ndarray], per: int, raw: bool) -> Merged:
    shape = (planes[0].shape[0] // per, per, planes[0].shape[1])
    if raw:
        return merge_values(planes[0].reshape(shape))
    a, lo, hi, cov = (p.reshape(shape) for p in planes)
    return merge_weighted(a, lo, hi, cov, fmt.COV_SCALE)


def _merge_mapped(ring: Ring, first: int, n: int, cols: ColumnSelector, per: int,
                  raw: bool) -> Merged | None:
    """Merge rows [first, first + n) straight from the mapping, or None if they cross
    the end of the ring or a row is not data (before or after the merge)."""
    views = ring.views(first, n, cols)
    if views is None or not ring.all_data(first, n):
        return None
    merged = _merge(views if not raw else views[:1], per, raw)
    return merged if ring.all_data(first, n) else None
