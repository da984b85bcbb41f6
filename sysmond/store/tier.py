"""One ring: a memory-mapped file of fixed-size rows, each stamped with its own time.

Writes and reads follow a small protocol so that a reader in another thread or process
never takes a half-written row for data, and a writer killed mid-row leaves a gap:

- write: set the slot's `t` to -1, write the cells, then set `t` to the row's time;
- read: copy `t`, copy the cells, copy `t` again; a row is data only when both copies
  hold exactly the time expected for that slot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sysmond.store import format as fmt

NAN32 = np.float32("nan")
ColumnSelector = slice | np.ndarray


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

    def read(self, first: int, n: int, cols: ColumnSelector) -> tuple[np.ndarray, ...]:
        """Read `n` rows from time `first` on, the columns `cols` of every plane.

        Return (valid, *planes): `valid` is a bool per row; rows that are not data
        (stale, being written, older than the ring keeps) come back NaN (cov 0).
        """
        width = self.width if isinstance(cols, slice) and cols == slice(None) else (
            len(range(*cols.indices(self.width))) if isinstance(cols, slice) else len(cols))
        lost = max(0, n - self.nrows)  # older than one lap: never in the ring
        start = first + lost * self.step
        m = n - lost
        slices = self._slices(start, m) if m else []
        t1 = np.concatenate([self.t[s] for s in slices]) if slices else np.empty(0, np.int64)
        planes = [np.concatenate([p[s, cols] for s in slices]) if slices
                  else np.empty((0, width), p.dtype) for p in self.planes]
        t2 = np.concatenate([self.t[s] for s in slices]) if slices else t1
        expected = start + np.arange(m, dtype=np.int64) * self.step
        valid = (t1 == expected) & (t2 == expected) & (expected > 0)
        if not valid.all():
            bad = ~valid
            for p in planes:
                p[bad] = 0 if p.dtype.kind == "u" else NAN32
        if lost:
            valid = np.concatenate([np.zeros(lost, bool), valid])
            planes = [np.concatenate([np.full((lost, width), 0 if p.dtype.kind == "u"
                                              else NAN32, p.dtype), p]) for p in planes]
        return (valid, *planes)

    def last_valid(self) -> int | None:
        """Return the newest time the ring holds as data, or None when empty."""
        t = np.asarray(self.t)
        slots = np.arange(self.nrows, dtype=np.int64)
        ok = (t > 0) & (t % self.step == 0) & ((t // self.step) % self.nrows == slots)
        return int(t[ok].max()) if ok.any() else None

    def first_valid(self) -> int | None:
        t = np.asarray(self.t)
        slots = np.arange(self.nrows, dtype=np.int64)
        ok = (t > 0) & (t % self.step == 0) & ((t // self.step) % self.nrows == slots)
        if not ok.any():
            return None
        last = int(t[ok].max())
        live = ok & (t > last - self.retention)
        return int(t[live].min())

    def invalidate_after(self, t: int) -> int:
        """Mark every row newer than `t` as not data; return how many there were."""
        stamps = np.asarray(self.t)
        idx = np.nonzero(stamps > t)[0]
        self.t[idx] = -1
        return len(idx)

    def flush(self) -> None:
        self._mm.flush()

    def close(self) -> None:
        """Drop the mapping; numpy unmaps when the last view goes."""
        del self.t, self.planes, self._mm
