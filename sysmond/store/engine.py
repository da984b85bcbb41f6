"""The round-robin store: a ladder of tiers over segments of series, appends that
consolidate as intervals complete, and reads that pick the right tier.

Series live in *segments*: groups of columns sharing one ring file per tier, so one
tick writes one row per segment and tier. The first segment is made exactly as wide as
the first sample; series that appear later take a spare column, the column of a series
whose history has aged out of every tier, or a new segment (`SPARE_WIDTH` columns).

Time rules (documented in docs/storage.md):
- a sample's time is floored to the base step; the store keeps strictly increasing
  times: a sample for a time already stored or older (a repeated tick, a wall clock
  that stepped back) is dropped and counted, never written over history;
- a clock that jumps forward is downtime: the skipped time reads as gaps;
- a coarse row is written when its interval has completed (the first sample past it
  arrives), from the finer tier's rows on disk, only if at least `xff` of it is known;
  completed intervals are consolidated *before* the new sample is written, so a sample
  never overwrites a finer row that a pending coarse row still needs.

Here: opening, allocation of columns, appends, durability and upkeep. Rings are
tier.py, coarse rows rollup.py (with consolidate.py's arithmetic), and reads of a
ring into buckets read.py.

Durability (see `_reserve`): writer.json records `flushed` (every row up to it is on
disk) and `lease` (the writer never writes a raw row past it without recording a new
lease first). After a power cut the slots of (flushed, lease] are cleared, whichever lap
they hold, so a row whose cells reached the disk without its new `t` cannot pass for an
older lap's data.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sysmond.config import DEFAULT_TIERS, TierConfig
from sysmond.errors import (
    QueryError,
    StoreError,
    StoreFormatError,
    StoreLadderError,
    StoreLockedError,
)
from sysmond.store import format as fmt
from sysmond.store.catalog import (
    CATALOG,
    WRITER,
    Catalog,
    SegmentEntry,
    boot_id,
    load_catalog,
    read_writer_state,
    write_atomic,
)
from sysmond.store.ladder import ladder_problems
from sysmond.store.read import QueryResult, buckets, read_buckets
from sysmond.store.rollup import consolidate_tier
from sysmond.store.tier import NAN32, Ring, Segment, column_selector

log = logging.getLogger(__name__)

SPARE_WIDTH = 16
LOCK = "lock"
# Seconds of data the writer may write past its last flush before it records a new
# lease in writer.json (a flush every `flush_interval` renews it; see `_reserve`); at
# most an eighth of the raw ring.
LEASE = 600


class TierInfo(NamedTuple):
    name: str
    step: int
    retention: int
    rows: int
    first: int | None
    last: int | None
    bytes: int


class StoreInfo(NamedTuple):
    path: str
    base_step: int
    tiers: tuple[TierInfo, ...]
    series: tuple[str, ...]
    segments: int
    files_bytes: int
    last_time: int | None
    dropped: int


def ring_name(segment: int, tier: str) -> str:
    return f"s{segment:04d}-{tier}.ring"


class Store:
    """A directory of ring files. Open it with `Store.open`."""

    def __init__(self, path: Path, catalog: Catalog, *, readonly: bool, xff: float,
                 sample_interval: int | None = None) -> None:
        self.path = path
        self.tiers = catalog.tiers
        self.base_step = catalog.tiers[0].step
        self.readonly = readonly
        self.xff = xff
        # Seconds one raw sample stands for (the collection interval); coverage of a
        # coarse row counts known samples times this.
        self.sample_interval = sample_interval or self.base_step
        self.dropped = 0
        self.recovered: list[str] = []
        self._catalog = catalog
        self._catalog_mtime = 0.0
        self._segments: list[Segment] = []
        self._index: dict[str, tuple[int, int]] = {}
        self._plan_keys: tuple[str, ...] | None = None
        self._plan: list[tuple[Segment, np.ndarray, np.ndarray]] = []
        self._lock_fd: int | None = None
        self.last_time: int | None = None
        self._pending: list[int] = [0] * len(self.tiers)
        self._flushed = 0
        self._lease = 0
        # After a power cut the lease's slots are cleared: keep it a small part of the
        # raw ring (600 s of the default day; 15 s of a 2-minute test ring).
        self.lease = max(self.base_step, min(LEASE, self.tiers[0].retention // 8))
        # Longest stretch of data one consolidation pass may cover: tier k's new rows
        # must not lap over rows of tier k the pending row of tier k+1 still needs.
        self._safe_span = min(
            (fine.retention + fine.step - coarse.step
             for fine, coarse in zip(self.tiers[1:], self.tiers[2:])), default=2**62)

    # --- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], tiers: Sequence[TierConfig] | None = None,
             *, readonly: bool = False, xff: float = 0.5, quarantine: bool = False,
             sample_interval: int | None = None) -> Store:
        """Given a store directory, open it for writing (taking its lock) or reading.

        A new store is created with `tiers` (default: the standard ladder).
        `sample_interval` is the seconds one sample stands for (default: the base step;
        more when samples come less often than the base step). Raise StoreError if the
        ladder or an option is invalid or the ladder differs from the store's,
        StoreLockedError if another process writes to it, StoreFormatError naming the
        file if one is damaged -- unless `quarantine`, in which case damaged files are
        moved aside (listed in `store.recovered`) and fresh ones start.
        """
        path = Path(path)
        if tiers is not None:
            problems = ladder_problems(tiers)
            if problems:
                raise StoreLadderError("invalid tier ladder: " + "; ".join(problems))
        if not 0.0 <= xff <= 1.0:
            raise StoreError(f"xff must be a fraction between 0 and 1, got {xff}")
        if sample_interval is not None and sample_interval <= 0:
            raise StoreError(f"sample_interval must be positive, got {sample_interval}")
        if readonly:
            store = cls(path, load_catalog(path), readonly=True, xff=xff,
                        sample_interval=sample_interval)
            store._open_segments(quarantine=False)
            store._init_positions()
            return store
        path.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise StoreLockedError(f"{path}: another sysmond process is writing to this "
                                   "store") from None
        try:
            store = cls._open_writer(path, tiers, xff, quarantine, sample_interval)
        except BaseException:
            os.close(lock_fd)
            raise
        store._lock_fd = lock_fd
        return store

    @classmethod
    def _open_writer(cls, path: Path, tiers: Sequence[TierConfig] | None, xff: float,
                     quarantine: bool, sample_interval: int | None) -> Store:
        recovered: list[str] = []
        orphans = not (path / CATALOG).exists() and any(path.glob("*.ring"))
        if (path / CATALOG).exists() or orphans:
            try:
                if orphans:  # never start afresh over ring files nobody can read
                    raise StoreFormatError(str(path / CATALOG), "file is missing, but "
                                           "ring files are present")
                catalog = load_catalog(path)
            except StoreFormatError as e:
                if not quarantine:
                    raise
                recovered.append(_move_store_aside(path, e))
                catalog = Catalog(tuple(tiers or DEFAULT_TIERS))
                write_atomic(path / CATALOG, catalog.to_json())
        else:
            catalog = Catalog(tuple(tiers or DEFAULT_TIERS))
            write_atomic(path / CATALOG, catalog.to_json())
        if tiers is not None and tuple(tiers) != catalog.tiers:
            raise StoreLadderError(
                f"{path / CATALOG}: the store was made with tiers "
                f"{_ladder_text(catalog.tiers)}, the configuration asks for "
                f"{_ladder_text(tuple(tiers))}; a new ladder needs a new store (move "
                f"{path} aside, or restore the old tiers)")
        store = cls(path, catalog, readonly=False, xff=xff, sample_interval=sample_interval)
        store.recovered = recovered
        store._open_segments(quarantine=quarantine)
        store._recover_after_power_loss()
        store._init_positions()
        store._catch_up()
        # A predecessor killed with -9 left dirty pages in the page cache: sync them
        # before recording that everything up to last_time is on disk.
        store._sync(store.last_time or 0)
        return store

    def _open_segments(self, *, quarantine: bool) -> None:
        segments = []
        for entry in self._catalog.segments:
            rings = []
            for tier in self.tiers:
                kind = fmt.KIND_RAW if tier is self.tiers[0] else fmt.KIND_CONSOLIDATED
                want = fmt.Header(fmt.FORMAT_VERSION, kind, tier.step, tier.rows,
                                  len(entry.columns), entry.id)
                file = self.path / ring_name(entry.id, tier.name)
                try:
                    header = fmt.read_header(file)
                    if header != want:
                        raise StoreFormatError(str(file), f"header {tuple(header)} does "
                                               f"not match the catalog's {tuple(want)}")
                except StoreFormatError as e:
                    if not quarantine or self.readonly:
                        raise
                    self.recovered.append(_move_file_aside(file, e))
                    fmt.create(file, want)
                    header = want
                rings.append(Ring(file, header, writable=not self.readonly))
            segments.append(Segment(entry, rings))
        self._segments = segments
        self._index = {name: (si, ci) for si, seg in enumerate(segments)
                       for ci, name in enumerate(seg.columns) if name}
        self._plan_keys = None
        try:
            self._catalog_mtime = (self.path / CATALOG).stat().st_mtime
        except OSError:
            self._catalog_mtime = 0.0

    def _recover_after_power_loss(self) -> None:
        """After a crash that took the page cache with it (a new boot id), any row
        written after the last msync may be torn: clear every slot the writer may have
        written since (rows newer than `flushed`, and the slots of (flushed, lease]
        whatever lap they hold) rather than show stale or mixed cells."""
        state = read_writer_state(self.path)
        if not state or state.get("clean"):
            return
        this_boot = boot_id()
        if this_boot and state.get("boot_id") == this_boot:
            return  # the process died, the page cache did not: nothing was lost
        # (no boot id to compare: a power cut cannot be ruled out)
        try:
            flushed = int(state.get("flushed") or 0)
            lease = max(flushed, int(state.get("lease") or 0))
        except (TypeError, ValueError):
            flushed, lease = 0, 2**62  # unreadable: trust nothing written since
        dropped = 0
        for seg in self._segments:
            for k, ring in enumerate(seg.rings):
                # A coarse row is written once its interval has ended: it was written
                # after the flush when its interval ends after `flushed`.
                after = flushed - (self.tiers[k].step if k else 0)
                dropped += ring.invalidate_after(after)
                dropped += ring.invalidate_times(after, lease)
                ring.flush()
        if dropped:
            log.warning("%s: unclean shutdown in an earlier boot; dropped %d rows written "
                        "after the last flush", self.path, dropped)

    def _init_positions(self) -> None:
        lasts = [[r.last_valid() for r in seg.rings] for seg in self._segments]
        raw = [x[0] for x in lasts if x[0] is not None]
        self.last_time = max(raw) if raw else None
        for k, tier in enumerate(self.tiers[1:], start=1):
            done = [x[k] for x in lasts if x[k] is not None]
            # From the interval after the newest coarse row: an interval judged a gap
            # leaves no row, so it is judged again, from the same finer rows (or
            # fewer), and stays a gap. (Not from last_time's interval: a process
            # killed inside append_many leaves raw rows whose intervals it had not
            # consolidated yet.)
            self._pending[k] = (max(done) // tier.step + 1) if done else 0

    def refresh(self) -> None:
        """For readers: pick up segments the writer added since this store was opened."""
        try:
            mtime = (self.path / CATALOG).stat().st_mtime
        except OSError:
            return
        if mtime != self._catalog_mtime:
            self._catalog = load_catalog(self.path)
            self._open_segments(quarantine=False)

    # --- writing -----------------------------------------------------------------------

    def append(self, t: float, values: Mapping[str, float]) -> bool:
        """Store one tick's values at time `t` (floored to the base step) and
        consolidate the coarser tiers whose intervals it completes.

        Return False (and store nothing) if `t` is not newer than the last stored time
        (counted in `dropped`) or `values` is empty (a sample of nothing changes nothing).
        Raise StoreError if the store cannot be written (e.g. no space for a new series).
        """
        if not math.isfinite(t):
            raise StoreError(f"timestamp {t} is not a number")
        if not values:
            return False
        ts = int(t // self.base_step) * self.base_step
        if ts <= 0:
            raise StoreError(f"timestamp {t} is not after 1970")
        if self.last_time is not None and ts <= self.last_time:
            self.dropped += 1
            return False
        self._check_writable()
        vec = np.fromiter(values.values(), np.float32, len(values))
        # Consolidate first: a new series may take the column of one that aged out,
        # judged once its last samples have reached the coarse tiers.
        self._consolidate(ts)
        plan = self._plan_for(values, ts)
        if ts > self._lease:
            self._reserve(ts, ts)
        for seg, dst, src in plan:
            row = np.full(seg.width, NAN32, np.float32)
            row[dst] = vec[src]
            seg.rings[0].write(ts, row)
        self.last_time = ts
        return True

    def append_many(self, ts: Sequence[float] | np.ndarray, names: Sequence[str],
                    values: np.ndarray) -> int:
        """Bulk-append rows (`values[i, j]` is series `names[j]` at `ts[i]`), e.g. to
        backfill. Times must increase; those not newer than the last stored time are
        dropped. Return how many rows were stored."""
        times = np.asarray(ts, dtype=np.float64)
        if not np.isfinite(times).all():
            raise StoreError("append_many: every time must be a number")
        if len(set(names)) != len(names):
            raise StoreError("append_many: a series is named more than once")
        stamps = (times // self.base_step).astype(np.int64) * self.base_step
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(stamps), len(names)):
            raise StoreError(f"values shape {values.shape} does not match "
                             f"{len(stamps)} times x {len(names)} names")
        if len(stamps) > 1 and np.any(np.diff(stamps) <= 0):
            raise StoreError("append_many: times must strictly increase after flooring "
                             f"to the {self.base_step}s step")
        if self.last_time is not None:
            keep = stamps > self.last_time
            self.dropped += int((~keep).sum())
            stamps, values = stamps[keep], values[keep]
        if not len(stamps) or not len(names):
            return 0
        if stamps[0] <= 0:
            raise StoreError("timestamps must be after 1970")
        self._check_writable()
        self._consolidate(int(stamps[0]))
        plan = self._plan_for(dict.fromkeys(names, 0.0), int(stamps[0]))
        self._reserve(int(stamps[0]), int(stamps[-1]))
        # Each chunk is consolidated up to its first row before it is written, and ends
        # before it could lap over a raw row that the pending coarse row still needs.
        coarse_step = self.tiers[1].step if len(self.tiers) > 1 else self.base_step
        i = 0
        while i < len(stamps):
            a = int(stamps[i])
            self._consolidate(a)
            limit = min(a // coarse_step * coarse_step + self.tiers[0].retention,
                        a + self._safe_span)
            j = max(int(np.searchsorted(stamps, limit, side="left")), i + 1)
            for seg, dst, src in plan:
                block = np.full((j - i, seg.width), NAN32, np.float32)
                block[:, dst] = values[i:j][:, src]
                seg.rings[0].write_many(stamps[i:j], block)
            self.last_time = int(stamps[j - 1])
            i = j
        self._consolidate(self.last_time)
        return len(stamps)

    def _reserve(self, first: int, last: int) -> None:
        """Before raw rows at times [first, last] are written (every interval before
        `first` consolidated), make sure writer.json's lease covers them.

        Rows just past the lease renew it (writer.json only). After a jump past the
        lease (downtime, a clock step forward) everything is synced first, so the
        lease restarts at `first` instead of spanning the skipped time.
        """
        if last <= self._lease:
            return
        if first - self.base_step > self._lease:
            self._sync(first - self.base_step, last)
        else:
            self._lease = last + self.lease
            self._write_state(clean=False)

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: store is open read-only")

    def _plan_for(self, values: Mapping[str, float], at: int) -> list[
            tuple[Segment, np.ndarray, np.ndarray]]:
        """Return, per segment, where each of `values` (to be written at `at`) goes
        (cached while the set of names stays the same, which is nearly every tick)."""
        keys = tuple(values)
        if keys == self._plan_keys:
            return self._plan
        missing = [k for k in keys if k not in self._index]
        if missing:
            self._allocate(missing, at, keys)
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for src, name in enumerate(keys):
            si, ci = self._index[name]
            dst_list, src_list = groups.setdefault(si, ([], []))
            dst_list.append(ci)
            src_list.append(src)
        self._plan = [(self._segments[si], np.array(d, np.intp), np.array(s, np.intp))
                      for si, (d, s) in sorted(groups.items())]
        self._plan_keys = keys
        return self._plan

    def _allocate(self, names: list[str], at: int, writing: Sequence[str] = ()) -> None:
        """Give each new series a column: a free one, one whose history will have aged
        out of every tier once time `at` is written (and that is not among `writing`,
        the series of this very sample), or one in a new segment. The catalog is
        rewritten once."""
        names = list(dict.fromkeys(names))
        bad = [n for n in names if not isinstance(n, str) or not n]
        if bad:
            raise StoreError(f"series names must be non-empty strings, got {bad[0]!r}")
        # Copy on write: readers in other threads keep using the old index and segment
        # list, and a failure to record the change (disk full, read-only) leaves the
        # store exactly as it was, so the caller can keep the sample and retry.
        segments = self._segments
        columns = [list(seg.columns) for seg in segments]
        index = dict(self._index)
        free = [(si, ci) for si, cols in enumerate(columns)
                for ci, name in enumerate(cols) if not name]
        if len(free) < len(names):
            free += self._aged_out_columns(at, set(writing))
        taken = free[:len(names)]
        reused = []
        for (si, ci), name in zip(taken, names):
            old = columns[si][ci]
            if old:
                index.pop(old, None)
                reused.append((si, ci, old, name))
            columns[si][ci] = name
            index[name] = (si, ci)
        entries = [SegmentEntry(seg.id, cols) for seg, cols in zip(segments, columns)]
        rest = names[len(taken):]
        added: Segment | None = None
        if rest:
            width = len(rest) if not segments else max(len(rest), SPARE_WIDTH)
            seg_id = max((s.id for s in segments), default=-1) + 1
            entry = SegmentEntry(seg_id, rest + [""] * (width - len(rest)))
            added = Segment(entry, self._create_rings(seg_id, width, len(rest)))
            entries.append(entry)
            for ci, name in enumerate(rest):
                index[name] = (len(segments), ci)
        catalog = Catalog(self.tiers, entries)
        try:
            write_atomic(self.path / CATALOG, catalog.to_json())
        except OSError as e:
            if added is not None:
                self._drop_rings(added.id, added.rings)
            raise StoreError(f"{self.path / CATALOG}: cannot record new series: {e}") from e
        for si, ci, old, name in reused:
            # Rows of an earlier lap may survive downtime in their slots: clear the
            # column everywhere so none reads as the new series' history.
            for ring in segments[si].rings:
                for plane in ring.planes:
                    plane[:, ci] = 0 if plane.dtype.kind == "u" else NAN32
            log.info("series %s aged out; its column now holds %s", old, name)
        new_segments = [Segment(e, seg.rings) for e, seg in zip(entries, segments)]
        if added is not None:
            new_segments.append(added)
        self._catalog = catalog
        self._segments = new_segments
        self._index = index
        self._plan_keys = None

    def _create_rings(self, seg_id: int, width: int, count: int) -> list[Ring]:
        """Create one preallocated ring file per tier for a new segment, or none."""
        rings: list[Ring] = []
        try:
            for k, tier in enumerate(self.tiers):
                kind = fmt.KIND_RAW if k == 0 else fmt.KIND_CONSOLIDATED
                header = fmt.Header(fmt.FORMAT_VERSION, kind, tier.step, tier.rows,
                                    width, seg_id)
                file = self.path / ring_name(seg_id, tier.name)
                fmt.create(file, header)
                rings.append(Ring(file, header, writable=True))
        except OSError as e:
            self._drop_rings(seg_id, rings)
            raise StoreError(f"{self.path}: cannot create files for {count} new series: "
                             f"{e}") from e
        return rings

    def _drop_rings(self, seg_id: int, rings: list[Ring]) -> None:
        for ring in rings:
            ring.close()
        for tier in self.tiers:
            (self.path / ring_name(seg_id, tier.name)).unlink(missing_ok=True)

    def _aged_out_columns(self, at: int, keep: set[str]) -> list[tuple[int, int]]:
        """Columns whose series has no value left in any tier's live rows at `at`
        and is not in `keep`."""
        if self.last_time is None:
            return []
        out = []
        for si, seg in enumerate(self._segments):
            seen = np.zeros(seg.width, bool)
            for ring in seg.rings:
                first = at - ring.retention + ring.step
                first -= first % ring.step
                valid, *planes = ring.read(first, ring.nrows, slice(None))
                seen |= ~np.isnan(planes[0][valid]).all(axis=0)
            out += [(si, int(ci)) for ci in np.nonzero(~seen)[0]
                    if seg.columns[ci] and seg.columns[ci] not in keep]
        return out

    def _consolidate(self, ts: int) -> None:
        """Write the coarse rows of every interval that `ts` shows to be complete."""
        for k in range(1, len(self.tiers)):
            current = ts // self.tiers[k].step
            if current <= self._pending[k]:
                break  # nothing completed here, so nothing coarser can have either
            self._consolidate_tier(k, self._pending[k], current)
            self._pending[k] = current

    def _consolidate_tier(self, k: int, first: int, stop: int,
                          segments: list[Segment] | None = None) -> None:
        consolidate_tier(self.tiers, self._segments if segments is None else segments,
                         k, first, stop, xff=self.xff, sample_interval=self.sample_interval)

    def _catch_up(self) -> None:
        """A writer killed inside a consolidation may have written an interval's coarse
        row to some segments and not to others, and the pending position (after the
        newest coarse row of any segment) would pass the others by: consolidate each
        segment's own intervals up to it. Only intervals a segment holds no row for
        are written, so nothing valid is ever rewritten."""
        for k in range(1, len(self.tiers)):
            step = self.tiers[k].step
            for seg in self._segments:
                last = seg.rings[k].last_valid()
                first = last // step + 1 if last is not None else 0
                if first < self._pending[k]:
                    self._consolidate_tier(k, first, self._pending[k], [seg])

    # --- reading -----------------------------------------------------------------------

    def series(self) -> list[str]:
        """Every series with history in the store, sorted."""
        if self.readonly:
            self.refresh()
        return sorted(self._index)  # never changed in place: safe beside the writer

    def choose_tier(self, start: float, now: float) -> int:
        """Index of the finest tier whose retention reaches back to `start`."""
        for k, tier in enumerate(self.tiers):
            if start >= now - tier.retention:
                return k
        return len(self.tiers) - 1

    def query(self, names: Sequence[str], start: float, end: float, *, points: int = 1000,
              tier: str | None = None, now: float | None = None) -> QueryResult:
        """Given series names and a time range, return avg/min/max per point.

        The finest tier that reaches back to `start` answers (or `tier`). When it holds
        more rows than `points`, rows merge into buckets aligned to multiples of the
        bucket length. Raise QueryError for unknown names or tiers, or a bad range.
        """
        if self.readonly:
            self.refresh()
        if not names:
            raise QueryError("no series asked for")
        index, segments = self._index, self._segments  # one consistent snapshot
        unknown = [n for n in names if n not in index]
        if unknown:
            raise QueryError("unknown series: " + ", ".join(unknown))
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise QueryError(f"bad time range: start {start}, end {end}")
        if points < 1:
            raise QueryError(f"points must be at least 1, got {points}")
        now = time.time() if now is None else now
        if tier is None:
            k = self.choose_tier(start, now)
        else:
            names_ = [t.name for t in self.tiers]
            if tier not in names_:
                raise QueryError(f"unknown tier {tier!r}; tiers are {', '.join(names_)}")
            k = names_.index(tier)
        step = self.tiers[k].step
        per, lo, hi = buckets(start, end, points, step)
        bucket = per * step
        nb = (hi - lo) // bucket + 1
        avg = np.full((len(names), nb), np.nan)
        mn = np.full((len(names), nb), np.nan)
        mx = np.full((len(names), nb), np.nan)
        by_segment: dict[int, list[tuple[int, int]]] = {}
        for j, name in enumerate(names):
            si, ci = index[name]
            by_segment.setdefault(si, []).append((j, ci))
        window_end = hi + bucket - step
        for si, pairs in by_segment.items():
            pairs.sort(key=lambda p: p[1])
            out_idx = np.array([p[0] for p in pairs], np.intp)
            cols = column_selector(np.array([p[1] for p in pairs], np.intp))
            ring = segments[si].rings[k]
            a, b = lo, window_end
            if (b - a) // step + 1 > ring.nrows:
                # Longer than the ring: read only where it holds data.
                span = ring.narrow(a, b)
                if span is None:
                    continue
                a, b = span
            b0, pa, pmn, pmx = read_buckets(ring, a, b, cols, per, raw=k == 0)
            at = (b0 - lo) // bucket
            avg[out_idx, at:at + pa.shape[0]] = pa.T
            mn[out_idx, at:at + pa.shape[0]] = pmn.T
            mx[out_idx, at:at + pa.shape[0]] = pmx.T
        stamps = lo + np.arange(nb, dtype=np.int64) * bucket
        return QueryResult(self.tiers[k].name, bucket, lo, lo + nb * bucket, stamps,
                           tuple(names), avg, mn, mx)

    # --- upkeep --------------------------------------------------------------------------

    def info(self) -> StoreInfo:
        """What a person wants to know about the store: tiers, series, time, size."""
        if self.readonly:
            self.refresh()
        tiers = []
        segments = self._segments
        for k, tier in enumerate(self.tiers):
            spans = [s.rings[k].span() for s in segments]
            firsts = [f for f, _ in spans]
            lasts = [x for _, x in spans]
            size = sum(s.rings[k].path.stat().st_size for s in segments)
            tiers.append(TierInfo(tier.name, tier.step, tier.retention, tier.rows,
                                  min((f for f in firsts if f is not None), default=None),
                                  max((x for x in lasts if x is not None), default=None),
                                  size))
        return StoreInfo(str(self.path), self.base_step, tuple(tiers),
                         tuple(sorted(self._index)), len(segments),
                         sum(t.bytes for t in tiers), tiers[0].last, self.dropped)

    @staticmethod
    def budget(n_series: int, tiers: Sequence[TierConfig] = DEFAULT_TIERS) -> int:
        """Bytes the ring files of a store holding `n_series` series in one segment take
        (each later segment adds its own width's worth, at least SPARE_WIDTH series)."""
        return sum(fmt.file_size(fmt.KIND_RAW if k == 0 else fmt.KIND_CONSOLIDATED,
                                 tier.rows, n_series) for k, tier in enumerate(tiers))

    def flush(self) -> None:
        """msync every file, then record how far the data on disk is known good."""
        if self.readonly:
            return
        self._sync(self.last_time or 0)

    def _sync(self, flushed: int, upto: int | None = None) -> None:
        """msync every file; record that every row up to `flushed` is on disk and that
        the writer may write raw rows up to `upto` (default `flushed`) plus the lease."""
        for seg in self._segments:
            for ring in seg.rings:
                ring.flush()
                ring.release()
        self._flushed = flushed
        self._lease = max(flushed, upto or 0) + self.lease
        self._write_state(clean=False)

    def _write_state(self, *, clean: bool) -> None:
        write_atomic(self.path / WRITER, {"boot_id": boot_id(), "pid": os.getpid(),
                                          "clean": clean, "flushed": self._flushed,
                                          "lease": self._lease})

    def close(self) -> None:
        """Flush (when writing), mark the shutdown clean, release the lock."""
        if not self.readonly and self._lock_fd is not None:
            try:
                self.flush()
                self._write_state(clean=True)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None
        for seg in self._segments:
            for ring in seg.rings:
                ring.close()
        self._segments = []
        self._index = {}

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ladder_text(tiers: Sequence[TierConfig]) -> str:
    return ", ".join(f"{t.name}={t.step}s/{t.retention}s" for t in tiers)


def _move_file_aside(file: Path, error: StoreFormatError) -> str:
    dest = file.with_name(f"{file.name}.corrupt-{int(time.time())}")
    if file.exists():
        os.replace(file, dest)
    log.error("%s; moved it to %s and started it afresh", error, dest.name)
    return f"{error} -> moved to {dest}"


def _move_store_aside(path: Path, error: StoreFormatError) -> str:
    dest = path / f"corrupt-{int(time.time())}"
    dest.mkdir()
    for item in path.iterdir():
        if item.name not in (LOCK, dest.name) and not item.name.startswith("corrupt-"):
            shutil.move(str(item), dest / item.name)
    log.error("%s; moved the store's files to %s and started a fresh store", error, dest)
    return f"{error} -> moved to {dest}"
