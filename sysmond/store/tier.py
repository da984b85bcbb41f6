"""One ring: a memory-mapped file of fixed-size rows, each stamped with its own time.

Writes and reads follow a small protocol so that a reader in another thread or process
never takes a half-written row for data, and a writer killed mid-row leaves a gap:

- write: set the slot's `t` to -1, write the cells, then set `t` to the row's time;
- read: copy `t`, copy the cells, copy `t` again; a row is data only when both copies
  hold exactly the time expected for that slot. (Queries may compute straight from the
  mapped cells instead of copying them, between two checks that every row is data.)
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from sysmond.store import format as fmt
from sysmond.store.catalog import SegmentEntry

NAN32 = np.float32("nan")
ColumnSelector = slice | np.ndarray


def _take(plane: np.ndarray, slices: list[slice], cols: ColumnSelector,
          width: int) -> np.ndarray:
    """Copy the rows `slices` (one or two, when the window wraps) of columns `cols`."""
    if not slices:
        ncols = len(range(*cols.indices(width))) if isinstance(cols, slice) else len(cols)
        return np.empty((0, ncols), plane.dtype)
    if len(slices) == 1:
        return np.array(plane[slices[0], cols])
    return np.concatenate([plane[s, cols] for s in slices])


def column_selector(cols: np.ndarray) -> ColumnSelector:
    """Return a slice when `cols` is a contiguous ascending run (a view, no gather)."""
    if len(cols) and cols[-1] - cols[0] == len(cols) - 1 and np.all(np.diff(cols) == 1):
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


class Ring:
    """A ring file of one tier of one segment."""

    def __init__(self, path: Path, header: fmt.Header, *, writable: bool) -> None:
        self.path = path
        self.header = header
        self.step = header.step
        self.nrows = header.rows
        self.width = header.columns
        self.raw = header.kind == fmt.KIND_RAW
        self._mm = fmt.open_rows(path, header, writable=writable)
        self.t = self._mm["t"]
        if self.raw:
            self.planes: tuple[np.ndarray, ...] = (self._mm["v"],)
        else:
            self.planes = (self._mm["avg"], self._mm["min"], self._mm["max"], self._mm["cov"])

    @property
    def retention(self) -> int:
        return self.step * self.nrows

    def slot(self, t: int) -> int:
        return (t // self.step) % self.nrows

    def write(self, t: int, *cells: np.ndarray) -> None:
        """Write one row at time `t` (a multiple of step); `cells` match `planes`."""
        i = self.slot(t)
        self.t[i] = -1
        for plane, row in zip(self.planes, cells):
            plane[i] = row
        self.t[i] = t

    def write_many(self, ts: np.ndarray, *cells: np.ndarray) -> None:
        """Write rows at increasing times `ts` spanning less than one lap of the ring."""
        idx = (ts // self.step) % self.nrows
        self.t[idx] = -1
        for plane, rows in zip(self.planes, cells):
            plane[idx] = rows
        self.t[idx] = ts

    def _slices(self, first: int, n: int) -> list[slice]:
        s0 = self.slot(first)
        if s0 + n <= self.nrows:
            return [slice(s0, s0 + n)]
        return [slice(s0, self.nrows), slice(0, s0 + n - self.nrows)]

    def _stamps(self) -> tuple[np.ndarray, np.ndarray]:
        """Copy every slot's `t`; return it with a mask of the slots whose `t` names a
        time that belongs in that slot (the only rows that can be data)."""
        t = np.array(self.t)
        slots = np.arange(self.nrows, dtype=np.int64)
        ok = (t > 0) & (t % self.step == 0) & ((t // self.step) % self.nrows == slots)
        return t, ok

    def read(self, first: int, n: int, cols: ColumnSelector) -> tuple[np.ndarray, ...]:
        """Read `n` rows from time `first` on, the columns `cols` of every plane.

        Return (valid, *planes): `valid` is a bool per row; rows that are not data
        (stale, being written, never written) come back NaN (cov 0). A window longer
        than the ring is read slot by slot: each slot can be data for one of its rows.
        """
        if n > self.nrows:
            return self._read_sparse(first, n, cols)
        slices = self._slices(first, n) if n else []
        t1 = np.concatenate([self.t[s] for s in slices]) if slices else np.empty(0, np.int64)
        planes = [_take(p, slices, cols, self.width) for p in self.planes]
        t2 = np.concatenate([self.t[s] for s in slices]) if slices else t1
        expected = first + np.arange(n, dtype=np.int64) * self.step
        valid = (t1 == expected) & (t2 == expected) & (expected > 0)
        if not valid.all():
            bad = ~valid
            for p in planes:
                p[bad] = 0 if p.dtype.kind == "u" else NAN32
        return (valid, *planes)

    def all_data(self, first: int, n: int) -> bool:
        """Whether every row of [first, first + n) is data now (a window within one lap
        that does not cross the end of the ring)."""
        s0 = self.slot(first)
        expected = first + np.arange(n, dtype=np.int64) * self.step
        return first > 0 and np.array_equal(self.t[s0:s0 + n], expected)

    def views(self, first: int, n: int, cols: ColumnSelector) -> list[np.ndarray] | None:
        """Views (no copy) of the cells of rows [first, first + n), or None when they
        cross the end of the ring. The views are live: a reader computes from them
        between two `all_data` checks of the same rows, and keeps the result only if
        both say yes (the read protocol, without the copy)."""
        s0 = self.slot(first)
        if s0 + n > self.nrows:
            return None
        return [p[s0:s0 + n, cols] for p in self.planes]

    def _read_sparse(self, first: int, n: int, cols: ColumnSelector) -> tuple[np.ndarray, ...]:
        t1, ok = self._stamps()
        last = first + (n - 1) * self.step
        ok &= (t1 >= first) & (t1 <= last)
        slots = np.nonzero(ok)[0]
        cells = [p[slots][:, cols] for p in self.planes]
        t2 = self.t[slots]
        keep = t2 == t1[slots]
        pos = (t1[slots][keep] - first) // self.step
        valid = np.zeros(n, bool)
        valid[pos] = True
        planes = []
        for p, c in zip(self.planes, cells):
            out = np.full((n, c.shape[1]), 0 if p.dtype.kind == "u" else NAN32, p.dtype)
            out[pos] = c[keep]
            planes.append(out)
        return (valid, *planes)

    def data_span(self, first: int, last: int) -> tuple[int, int] | None:
        """Return the oldest and newest times in [first, last] the ring holds as data,
        or None (to narrow a read whose window is longer than the ring)."""
        t, ok = self._stamps()
        ok &= (t >= first) & (t <= last)
        if not ok.any():
            return None
        inside = t[ok]
        return int(inside.min()), int(inside.max())

    def narrow(self, first: int, last: int) -> tuple[int, int] | None:
        """Given a window [first, last] longer than the ring, return a part of it that
        holds every row of it the ring holds as data, or None if there is none.

        In a window less than two laps long only its first `extra` rows share their
        slots (with its last `extra` rows); those slots alone say where data begins
        and ends. A longer window is narrowed by a scan of every slot.
        """
        n = (last - first) // self.step + 1
        extra = n - self.nrows
        if not 0 < extra <= self.nrows:
            return self.data_span(first, last)
        front = first + np.arange(extra, dtype=np.int64) * self.step
        held = np.asarray(self.t)[(front // self.step) % self.nrows]
        in_front = np.nonzero(held == front)[0]
        in_back = np.nonzero(held == front + self.retention)[0]
        a = first + int(in_front[0] if len(in_front) else extra) * self.step
        b = first + int(self.nrows + in_back[-1] if len(in_back) else self.nrows - 1) * self.step
        return a, b

    def last_valid(self) -> int | None:
        """Return the newest time the ring holds as data, or None when empty."""
        t, ok = self._stamps()
        return int(t[ok].max()) if ok.any() else None

    def first_valid(self) -> int | None:
        """Return the oldest time of the ring's newest lap, or None when empty."""
        t, ok = self._stamps()
        if not ok.any():
            return None
        last = int(t[ok].max())
        live = ok & (t > last - self.retention)
        return int(t[live].min())

    def span(self) -> tuple[int | None, int | None]:
        """Return (first_valid, last_valid) from one scan of the stamps, then drop the
        pages that scan mapped: the whole file, which `info()` should not leave in the
        RSS of a daemon whose health is polled."""
        t, ok = self._stamps()
        self.release()
        if not ok.any():
            return None, None
        last = int(t[ok].max())
        return int(t[ok & (t > last - self.retention)].min()), last

    def invalidate_after(self, t: int) -> int:
        """Mark every row newer than `t` as not data; return how many there were."""
        stamps = np.asarray(self.t)
        idx = np.nonzero(stamps > t)[0]
        self.t[idx] = -1
        return len(idx)

    def invalidate_times(self, after: int, upto: int) -> int:
        """Mark as not data every slot that holds, or would hold, a time in
        (after, upto], whichever lap it now holds; return how many slots were data."""
        lo = (after // self.step + 1) * self.step
        if upto < lo:
            return 0
        count = min(self.nrows, (upto - lo) // self.step + 1)
        idx = (lo // self.step + np.arange(count, dtype=np.int64)) % self.nrows
        _, ok = self._stamps()
        was = int(ok[idx].sum())
        self.t[idx] = -1
        return was

    def flush(self) -> None:
        self._mm.flush()

    def release(self) -> None:
        """Drop this process's mapping of the file's pages (MADV_DONTNEED).

        The data stays in the page cache (dirty pages stay dirty there), so nothing is
        lost and the next access maps the page again; but the pages no longer count in
        the daemon's RSS, which would otherwise grow to the whole store as the ring
        turns, or after one long query.
        """
        raw = getattr(self._mm, "_mmap", None)
        if raw is not None and hasattr(raw, "madvise"):
            raw.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        """Drop the mapping; numpy unmaps when the last view goes."""
        del self.t, self.planes, self._mm


class Segment:
    """A group of series (columns) and its rings, one per tier, finest first."""

    def __init__(self, entry: SegmentEntry, rings: list[Ring]) -> None:
        self.id = entry.id
        self.columns = entry.columns
        self.rings = rings

    @property
    def width(self) -> int:
        return len(self.columns)
