"""kill -9 at random moments never corrupts a store: every file opens, every value read
is one that was written (or a gap), and consolidation carries on."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sysmond.config import TierConfig
from sysmond.store import Store

from .storekit import T0, f

# Small rings that lap many times between kills.
LADDER = (TierConfig("raw", 1, 300), TierConfig("10s", 10, 1200),
          TierConfig("1m", 60, 7200))

WRITER = r"""
import sys
import numpy as np
from sysmond.config import TierConfig
from sysmond.store import Store
LADDER = (TierConfig("raw", 1, 300), TierConfig("10s", 10, 1200),
          TierConfig("1m", 60, 7200))
T0 = int(sys.argv[2])
rows = int(sys.argv[3])  # 0: until killed; n: append n rows, then close cleanly

def f(series, t):
    return float((t % 1_000_000) * 8 + series)

def names_at(t):  # s0..s3 always; s4 comes and goes; s5 appears later
    names = ["s0", "s1", "s2", "s3"]
    if (t // 5000) % 2 == 0:
        names.append("s4")
    if t > T0 + 30_000:
        names.append("s5")
    return names

store = Store.open(sys.argv[1], LADDER)
t = (store.last_time or T0) + 1
print("ready", flush=True)
done = 0
while not rows or done < rows:
    if t % 3001 == 0:
        t += 700  # a stretch of downtime
    names = names_at(t)
    if t % 97 == 0:  # now and then a batch
        ts = np.arange(t, t + 30)
        store.append_many(ts, names, [[f(int(n[1:]), int(x)) for n in names] for x in ts])
        t += 30
        done += 30
    else:
        store.append(t, {n: f(int(n[1:]), t) for n in names})
        t += 1
        done += 1
    if done % 1000 < 30 and t % 7 == 0:
        store.flush()  # as the daemon does every minute
store.close()
print("closed", flush=True)
"""


def start_writer(path, rows=0):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(T0), str(rows)],
                            stdout=subprocess.PIPE, text=True)


def check(path, *, settled=False) -> tuple[int, dict[str, int | None]]:
    """Open the store and check every value of every tier; return (values checked,
    newest time per tier). Unless `settled` (the last writer closed cleanly), the
    intervals after a series' newest coarse row may wait for the next writer: a kill
    inside append_many leaves rows whose intervals it had not consolidated yet."""
    checked = 0
    with Store.open(path, readonly=True) as s:
        info = s.info()
        names = list(info.series)
        last = info.last_time
        if last is None or not names:
            return 0, {}
        series = [int(n[1:]) for n in names]
        results = {}
        for tier in LADDER:
            end = last // tier.step * tier.step
            res = s.query(names, end - tier.retention + tier.step, end, tier=tier.name,
                          points=tier.rows)
            results[tier.name] = res
            for j, idx in enumerate(series):
                for t, a, lo, hi in zip(res.timestamps.tolist(), res.avg[j], res.min[j],
                                        res.max[j]):
                    if np.isnan(a):
                        assert np.isnan(lo) and np.isnan(hi)
                        continue
                    checked += 1
                    if tier.name == "raw":
                        assert a == lo == hi == f(idx, t), (tier.name, names[j], t, a)
                        continue
                    assert lo <= a <= hi, (tier.name, names[j], t, lo, a, hi)
                    for x in (lo, hi):  # written by this series inside this interval
                        assert int(x) % 8 == idx, (tier.name, names[j], t, x)
                        assert (int(x) // 8 - t) % 1_000_000 < tier.step, (tier.name, t, x)
        # every complete 10 s interval the raw ring still holds whole is exactly its
        # merge (a slot left at t = -1 by a kill mid-write lost its earlier lap's row)
        raw, tens = results["raw"], results["10s"]
        newest = [tens.timestamps[np.isfinite(a)].max(initial=0) for a in tens.avg]
        torn = []
        for name in names:
            ring = s._segments[s._index[name][0]].rings[0]
            slots = set(np.nonzero(np.asarray(ring.t) == -1)[0].tolist())
            torn.append({t for t in raw.timestamps.tolist() if ring.slot(t) in slots})
        for b, t in enumerate(tens.timestamps.tolist()):
            if t < raw.timestamps[0] or t + 10 > last:
                continue
            at = int(t - raw.timestamps[0])
            block = raw.avg[:, at:at + 10]
            for j in range(len(names)):
                known = block[j][~np.isnan(block[j])]
                if not settled and t > newest[j]:
                    continue  # not consolidated yet: the next writer will
                if torn[j] & set(range(t, t + 10)):
                    continue
                if len(known) >= 5:
                    assert np.float32(tens.avg[j, b]) == np.float32(known.mean()), (t, j)
                    assert tens.min[j, b] == known.min() and tens.max[j, b] == known.max()
                else:
                    assert np.isnan(tens.avg[j, b]), (t, j)
        return checked, {t.name: t.last for t in info.tiers}


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_leaves_only_written_values_and_goes_on(tmp_path):
    path = tmp_path / "store"
    rng = random.Random(20240501)
    kills = 0
    total = 0
    started = time.monotonic()
    while kills < 60 and (kills < 50 or time.monotonic() - started < 40):
        proc = start_writer(path)
        if rng.random() < 0.15:  # sometimes while it opens the store
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.25))  # a random moment of its writing
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        kills += 1
        if (path / "catalog.json").exists():
            checked, _ = check(path)
            total += checked
    assert kills >= 50
    with Store.open(path, LADDER) as s:  # every file opens for writing too
        before = s.last_time
    proc = start_writer(path, rows=3000)  # and an uninterrupted run carries on
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.split()[-1] == "closed"
    checked, lasts = check(path, settled=True)
    total += checked
    with Store.open(path, readonly=True) as s:
        last = s.info().last_time
    assert last >= before + 3000
    # consolidation kept up: each coarse tier holds the interval just before the last
    assert lasts["10s"] >= last // 10 * 10 - 10
    assert lasts["1m"] >= last // 60 * 60 - 60
    assert total > 100_000
