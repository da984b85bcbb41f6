"""One ring: a row is data only while its own time says so."""

from __future__ import annotations

import numpy as np
import pytest

from sysmond.store import format as fmt
from sysmond.store.tier import Ring, column_selector


@pytest.fixture
def ring(tmp_path):
    header = fmt.Header(fmt.FORMAT_VERSION, fmt.KIND_RAW, 10, 6, 2, 0)
    fmt.create(tmp_path / "r.ring", header)
    r = Ring(tmp_path / "r.ring", header, writable=True)
    yield r
    r.close()


def row(t):
    return np.array([t, -t], np.float32)


def test_a_fresh_ring_reads_as_all_gaps(ring):
    valid, v = ring.read(1000, 6, slice(None))
    assert not valid.any() and np.isnan(v).all()
    assert ring.last_valid() is None and ring.first_valid() is None


def test_rows_read_back_at_their_times_across_the_end_of_the_ring(ring):
    for t in range(1030, 1100, 10):  # slots 3, 4, 5, 0, 1, 2, 3: 1030 is lapped by 1090
        ring.write(t, row(t))
    valid, v = ring.read(1040, 6, slice(None))
    assert valid.all()
    assert v[:, 0].tolist() == [1040, 1050, 1060, 1070, 1080, 1090]
    assert ring.last_valid() == 1090 and ring.first_valid() == 1040


def test_a_row_from_an_earlier_lap_is_a_gap_not_current_data(ring):
    ring.write(1000, row(1000))
    valid, v = ring.read(1060, 1, slice(None))  # same slot, one lap later
    assert not valid[0] and np.isnan(v[0]).all()


def test_a_row_being_written_is_a_gap(ring):
    ring.write(1000, row(1000))
    ring.t[ring.slot(1000)] = -1  # what a writer killed between its two stamps leaves
    assert not ring.read(1000, 1, slice(None))[0][0]


def test_one_column_can_be_read_alone(ring):
    ring.write(1000, row(1000))
    _, v = ring.read(1000, 1, slice(1, 2))
    assert v.tolist() == [[-1000.0]]
    _, v = ring.read(1000, 1, np.array([1, 0]))
    assert v.tolist() == [[-1000.0, 1000.0]]


def test_a_window_longer_than_the_ring_finds_every_row_the_ring_holds(ring):
    ring.write(1000, row(1000))
    ring.write(5030, row(5030))  # another slot, 400 laps later: both are data
    valid, v = ring.read(900, 500, slice(None))  # 900 .. 5890
    assert np.nonzero(valid)[0].tolist() == [10, 413]
    assert v[10, 0] == 1000 and v[413, 0] == 5030
    assert np.isnan(v[~valid]).all()
    assert ring.data_span(0, 10_000) == (1000, 5030)
    assert ring.data_span(2000, 5020) is None


def test_writing_many_rows_at_once_equals_writing_them_one_by_one(ring, tmp_path):
    ts = np.arange(1000, 1060, 10, dtype=np.int64)
    ring.write_many(ts, np.stack([row(t) for t in ts]))
    valid, v = ring.read(1000, 6, slice(None))
    assert valid.all() and v[:, 1].tolist() == [-t for t in ts]


def test_invalidating_times_clears_their_slots_whatever_lap_they_hold(ring):
    for t in range(1000, 1060, 10):
        ring.write(t, row(t))
    # slots of 1070 and 1080 hold 1010 and 1020 (an earlier lap): cleared too
    assert ring.invalidate_times(1060, 1080) == 2
    valid, _ = ring.read(1000, 6, slice(None))
    assert valid.tolist() == [True, False, False, True, True, True]
    assert ring.invalidate_times(1080, 1080) == 0


def test_invalidating_after_a_time_drops_newer_rows(ring):
    for t in range(1000, 1060, 10):
        ring.write(t, row(t))
    assert ring.invalidate_after(1030) == 2
    assert ring.last_valid() == 1030


def test_a_contiguous_column_run_is_read_as_a_slice():
    assert column_selector(np.array([2, 3, 4])) == slice(2, 5)
    assert isinstance(column_selector(np.array([2, 4])), np.ndarray)
    assert isinstance(column_selector(np.array([3, 3])), np.ndarray)


def test_a_window_a_little_longer_than_the_ring_narrows_to_where_the_data_is(ring):
    for t in range(1030, 1090, 10):  # a full lap: 1030 .. 1080
        ring.write(t, row(t))
    assert ring.narrow(1000, 1090) == (1030, 1080)  # 10 rows, both ends shared
    assert ring.narrow(1030, 1100) == (1030, 1080)  # data only at the front
    # data only at the back: the unshared middle is not looked at, only the ends trimmed
    assert ring.narrow(990, 1060) == (1010, 1060)
    ring.write(1100, row(1100))  # laps 1040; 1030 stays: the data spans more than a lap
    assert ring.narrow(1000, 1110) == (1030, 1100)
    ring.write(1200, row(1200))  # laps 1080; a window of over two laps is scanned
    a, b = ring.narrow(900, 1210)
    assert (a, b) == (1030, 1200)
    valid, v = ring.read(a, (b - a) // 10 + 1, slice(None))
    assert v[valid, 0].tolist() == [1030, 1050, 1060, 1070, 1100, 1200]
