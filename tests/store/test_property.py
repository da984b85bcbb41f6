"""Random appends -- gaps, repeats, out-of-order times, clock jumps both ways, bulk
batches, series that come and go, reopening -- leave every tier holding exactly what a
plain reference model of the documented rules holds.

The reference keeps each tier as a dict slot -> (time, {series: cell}) and follows
docs/storage.md word for word:
- a sample's time is floored to the base step; one not newer than the newest stored
  time is dropped and counted;
- before a sample is written, every coarse interval that ended at or before it is
  consolidated from the finer tier's rows still in their slots: raw rows merge to the
  mean/min/max of the known values, with coverage = known samples x sample interval /
  coarse step; coarse rows merge weighted by their stored coverage (an integer out of
  65535), coverage = sum of coverage / 65535 x finer step / coarser step; a cell is kept
  when coverage >= xff, and stores round(coverage x 65535);
- a tier keeps (at least) its retention: everything is compared over each tier's newest
  lap, (last - retention, last].
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysmond.store import Store
from sysmond.store import engine as engine_module
from sysmond.store.format import COV_SCALE

from .storekit import SMALL, T0

NAMES = ("a", "b", "c", "d", "e")
POOL = [math.nan] + [k / 4 for k in range(-20, 21)]


class Reference:
    """The documented rules, in dicts and loops."""

    def __init__(self, tiers, xff):
        self.tiers = tiers
        self.xff = xff
        self.unit = tiers[0].step  # sample interval: the base step
        self.rings = [{} for _ in tiers]
        self.pending = [0] * len(tiers)
        self.last = None
        self.dropped = 0
        self.names = set()

    def slot(self, k, t):
        return (t // self.tiers[k].step) % self.tiers[k].rows

    def row(self, k, t):
        held = self.rings[k].get(self.slot(k, t))
        return held[1] if held is not None and held[0] == t else None

    def append(self, t, values):
        b = self.tiers[0].step
        ts = int(t // b) * b
        if not values:
            return False  # a sample of nothing changes nothing
        if self.last is not None and ts <= self.last:
            self.dropped += 1
            return False
        self.names |= set(values)
        self.consolidate(ts)
        cells = {n: float(np.float32(v)) for n, v in values.items()}
        self.rings[0][self.slot(0, ts)] = (ts, cells)
        self.last = ts
        return True

    def consolidate(self, ts):
        for k in range(1, len(self.tiers)):
            fine, coarse = self.tiers[k - 1], self.tiers[k]
            stop = ts // coarse.step
            if stop <= self.pending[k]:
                continue
            intervals = sorted({t // coarse.step for t, _ in self.rings[k - 1].values()
                                if self.pending[k] <= t // coarse.step < stop})
            for interval in intervals:
                start = interval * coarse.step
                rows = [self.row(k - 1, start + i * fine.step)
                        for i in range(coarse.step // fine.step)]
                rows = [r for r in rows if r is not None]
                cells = {}
                for name in sorted({n for r in rows for n in r}):
                    cell = (self.merge_raw if k == 1 else self.merge_coarse)(
                        [r[name] for r in rows if name in r], fine, coarse)
                    if cell is not None:
                        cells[name] = cell
                if cells:
                    self.rings[k][self.slot(k, start)] = (start, cells)
            self.pending[k] = stop

    def merge_raw(self, values, fine, coarse):
        known = [v for v in values if not math.isnan(v)]
        cover = min(len(known) * (self.unit / coarse.step), 1.0)
        if not known or cover < self.xff - 1e-9:
            return None
        avg = float(np.float32(sum(known) / len(known)))
        return (avg, min(known), max(known), round(cover * COV_SCALE))

    def merge_coarse(self, cells, fine, coarse):
        cells = [c for c in cells if c[3] > 0]
        total = sum(c[3] for c in cells)
        cover = min((total / COV_SCALE) * (fine.step / coarse.step), 1.0)
        if not cells or cover < self.xff - 1e-9:
            return None
        avg = float(np.float32(sum(c[0] * c[3] for c in cells) / total))
        return (avg, min(c[1] for c in cells), max(c[2] for c in cells),
                round(cover * COV_SCALE))

    def forget(self, name):
        for ring in self.rings:
            for _, cells in ring.values():
                cells.pop(name, None)
        self.names.discard(name)

    def live_values(self, name, at):
        """Known cells of `name` in each tier's newest lap ending at `at`."""
        out = []
        for k, tier in enumerate(self.tiers):
            for t, cells in self.rings[k].values():
                cell = cells.get(name)
                value = cell if k == 0 else (cell[0] if cell else math.nan)
                if at - tier.retention < t <= at and cell is not None \
                        and not math.isnan(value):
                    out.append((tier.name, t))
        return out

    def expected(self, k, names, first, n):
        """avg, min, max arrays (names x n) of tier k from time `first` on."""
        step = self.tiers[k].step
        out = np.full((3, len(names), n), np.nan)
        for i in range(n):
            cells = self.row(k, first + i * step)
            for j, name in enumerate(names):
                cell = (cells or {}).get(name)
                if cell is None:
                    continue
                out[:, j, i] = (cell, cell, cell) if k == 0 else cell[:3]
        return out


values_of_a_tick = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(POOL), max_size=5)
steps = st.one_of(st.just(1), st.just(1), st.just(1), st.integers(-3, 0),
                  st.integers(2, 30), st.integers(-200, -4), st.integers(100, 2500))
tick = st.tuples(st.just("tick"), steps, st.booleans(), values_of_a_tick)
batch = st.tuples(st.just("batch"), st.integers(-20, 20),
                  st.lists(st.sampled_from([1, 1, 1, 2, 9, 40]), min_size=1, max_size=60),
                  st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
                  st.integers(0, 2**32 - 1))
reopen = st.just(("reopen",))
operations = st.lists(st.one_of(tick, tick, tick, tick, batch, reopen), min_size=1,
                      max_size=70)


def run(ops, xff, path: Path):
    ref = Reference(SMALL, xff)
    store = Store.open(path, SMALL, xff=xff)
    engine_dropped = 0
    now = float(T0)
    try:
        for op in ops:
            if op[0] == "tick":
                _, dt, half, values = op
                now = max(1.0, now + dt)
                t = now + (0.5 if half else 0.0)
                assert store.append(t, values) == ref.append(t, values)
            elif op[0] == "batch":
                _, offset, gaps, names, seed = op
                times = now + offset + np.cumsum(gaps)
                rng = np.random.default_rng(seed)
                values = rng.choice(np.array(POOL), size=(len(times), len(names)))
                stored = store.append_many(times, names, values)
                expected = sum(ref.append(float(t), dict(zip(names, row.tolist())))
                               for t, row in zip(times, values))
                assert stored == expected
                now = max(now, float(times[-1]))
            else:
                engine_dropped += store.dropped
                store.close()
                store = Store.open(path, SMALL, xff=xff)
            assert store.last_time == ref.last
            series = set(store.series())
            for gone in ref.names - series:  # its column went to a new series
                assert not ref.live_values(gone, store.last_time), gone
                ref.forget(gone)
            assert series == ref.names
        assert engine_dropped + store.dropped == ref.dropped
        compare(store, ref)
    finally:
        store.close()


def compare(store, ref):
    if ref.last is None:
        return
    names = sorted(ref.names)
    if not names:
        return
    for k, tier in enumerate(SMALL):
        last = ref.last // tier.step * tier.step
        first = last - tier.retention + tier.step
        res = store.query(names, first, last, tier=tier.name, points=tier.rows)
        assert res.step == tier.step and res.start == first
        want = ref.expected(k, names, first, tier.rows)
        for got, exp, what in zip((res.avg, res.min, res.max), want, ("avg", "min", "max")):
            np.testing.assert_allclose(got, exp, rtol=1e-6, atol=0,
                                       err_msg=f"tier {tier.name} {what}")
        for per in (2, 7):  # merged buckets, as consolidation would merge them
            merged = store.query(names, first, last, tier=tier.name,
                                 points=-(-tier.rows // per) + 1)
            check_merged(merged, ref, k, names, first, last)


def check_merged(res, ref, k, names, first, last):
    step = ref.tiers[k].step
    per = res.step // step
    got, want = [], []
    for b, start in enumerate(res.timestamps.tolist()):
        if start < first or start + res.step - step > last:
            continue  # a bucket reaching out of the lap: older rows may still be there
        for j, name in enumerate(names):
            cells = [ref.row(k, start + i * step) for i in range(per)]
            cells = [c[name] for c in cells if c is not None and name in c]
            if k == 0:
                known = [v for v in cells if not math.isnan(v)]
                want.append((sum(known) / len(known), min(known), max(known)) if known
                            else (math.nan,) * 3)
            else:
                total = sum(c[3] for c in cells)
                want.append((sum(c[0] * c[3] for c in cells) / total,
                             min(c[1] for c in cells), max(c[2] for c in cells)) if total
                            else (math.nan,) * 3)
            got.append((res.avg[j, b], res.min[j, b], res.max[j, b]))
    np.testing.assert_allclose(np.array(got).reshape(-1, 3), np.array(want).reshape(-1, 3),
                               rtol=1e-6, err_msg=f"tier {k}, {per} rows a bucket")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=operations, xff=st.sampled_from([0.5, 0.5, 0.3, 1.0, 0.0]))
def test_random_appends_leave_every_tier_as_the_reference_model_says(ops, xff):
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        mp.setattr(engine_module, "SPARE_WIDTH", 2)  # small segments: columns get reused
        run(ops, xff, Path(tmp) / "store")


def test_the_reference_model_itself_consolidates_a_simple_minute():
    ref = Reference(SMALL, 0.5)
    for t in range(T0, T0 + 61):
        ref.append(t, {"a": float(t - T0)})
    assert ref.row(1, T0) == {"a": (4.5, 0.0, 9.0, COV_SCALE)}
    assert ref.row(2, T0) == {"a": (29.5, 0.0, 59.0, COV_SCALE)}
    assert ref.row(2, T0 + 60) is None
