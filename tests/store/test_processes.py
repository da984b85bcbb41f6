"""The top-process history file: fixed size, stale slots never returned, clear errors."""

import os

import pytest

from sysmond.collectors import ProcessInfo, ProcessTable
from sysmond.errors import StoreFormatError, StoreLockedError
from sysmond.store.processes import ProcessHistory

T0 = 1_700_000_040  # a multiple of 60


def _info(pid, cpu=1.0, **kw):
    fields = dict(pid=pid, name=f"proc{pid}", user="root", cpu_percent=cpu,
                  memory_percent=0.5, rss=1 << 20, num_threads=4, status="sleeping",
                  cmdline=f"/usr/bin/proc{pid} --flag")
    return ProcessInfo(**(fields | kw))


def _table(n=3, t=0.0):
    return ProcessTable(t, tuple(_info(i, cpu=float(10 - i)) for i in range(n)),
                        tuple(_info(100 + i) for i in range(n)), 321)


@pytest.fixture
def history(tmp_path):
    h = ProcessHistory.open(tmp_path / "processes.ring", interval=60, retention=3600,
                            top_n=3)
    yield h
    h.close()


def test_the_file_is_preallocated_at_its_final_size_and_never_grows(tmp_path, history):
    size = os.path.getsize(history.path)
    assert size == ProcessHistory.budget(60, 3600, 3) and history.capacity == 61
    for k in range(200):
        history.record(T0 + 60 * k, _table())
    assert os.path.getsize(history.path) == size
    assert os.stat(history.path).st_blocks * 512 >= size  # allocated, not sparse


def test_a_snapshot_reads_back_as_it_was_written(history):
    history.record(T0, _table())
    got = history.at(T0)
    assert got == _table(t=T0)


def test_at_returns_the_closest_snapshot_at_or_before_within_the_tolerance(history):
    history.record(T0, _table(1))
    history.record(T0 + 60, _table(2))
    assert len(history.at(T0 + 90).by_cpu) == 2
    assert history.at(T0 + 59).timestamp == T0
    assert history.at(T0 - 1) is None
    assert history.at(T0 + 60 + 121) is None  # older than two intervals
    assert history.at(T0 + 60 + 200, tolerance=300).timestamp == T0 + 60


def test_a_slot_from_an_earlier_lap_of_the_ring_is_never_returned(history):
    history.record(T0, _table())
    lap = history.capacity * 60
    assert history.at(T0 + lap) is None
    history.record(T0 + lap, _table(1))
    assert history.at(T0) is None  # overwritten by the newer lap


def test_unknown_fields_come_back_as_none_and_long_text_is_cut_cleanly(history):
    odd = _info(5, cpu=None, user=None, rss=None, num_threads=None, status=None,
                cmdline="é" * 200, memory_percent=None, name="n" * 50)
    history.record(T0, ProcessTable(T0, (odd,), (), 1))
    (p,) = history.at(T0).by_cpu
    assert p.cpu_percent is None and p.user is None and p.rss is None
    assert p.num_threads is None and p.status is None and p.memory_percent is None
    assert p.cmdline == "é" * 64 and p.name == "n" * 32  # 128 and 32 bytes of UTF-8


def test_a_reader_sees_what_the_writer_records(tmp_path, history):
    reader = ProcessHistory.open(history.path, readonly=True)
    try:
        history.record(T0, _table())
        assert reader.at(T0 + 5).count == 321
        with pytest.raises(PermissionError):
            reader.record(T0, _table())
    finally:
        reader.close()


def test_a_second_writer_is_refused(history):
    with pytest.raises(StoreLockedError):
        ProcessHistory.open(history.path)


def test_a_torn_record_is_not_returned(history):
    history.record(T0, _table())
    history.flush()
    slot = (T0 // 60) % history.capacity
    with open(history.path, "r+b") as f:
        f.seek(64 + slot * history._dtype.itemsize + 100)
        f.write(b"\xff" * 8)
    assert history.at(T0) is None


def test_an_existing_file_keeps_its_own_layout(tmp_path, history):
    history.record(T0, _table())
    history.close()
    again = ProcessHistory.open(history.path, interval=10, top_n=20)
    try:
        assert again.interval == 60 and again.top_n == 3
        assert again.at(T0) is not None
    finally:
        again.close()


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "truncated"),
    (lambda p: p.write_bytes(b"GIF89a" + bytes(5000)), "not a sysmond process history"),
    (lambda p: p.write_bytes(p.read_bytes()[:8] + b"\x07" + p.read_bytes()[9:]), "version 7"),
    (lambda p: p.write_bytes(b"short"), "truncated"),
])
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, damage, message):
    path = tmp_path / "processes.ring"
    ProcessHistory.open(path, retention=600).close()
    damage(path)
    for readonly in (True, False):
        with pytest.raises(StoreFormatError, match=message) as err:
            ProcessHistory.open(path, readonly=readonly)
        assert err.value.path == str(path)


def test_quarantine_moves_a_damaged_file_aside_and_starts_afresh(tmp_path):
    path = tmp_path / "processes.ring"
    path.write_bytes(b"not ours")
    with ProcessHistory.open(path, retention=600, quarantine=True) as h:
        h.record(T0, _table())
        assert h.at(T0) is not None
    assert [p.name.split(".corrupt-")[0] for p in tmp_path.glob("*.corrupt-*")] == [
        "processes.ring"]


def test_a_missing_file_opened_readonly_is_not_created(tmp_path):
    with pytest.raises(FileNotFoundError):
        ProcessHistory.open(tmp_path / "nope", readonly=True)
    assert not (tmp_path / "nope").exists()


def test_the_defaults_keep_at_least_a_week_of_minutes_in_under_50_mb(tmp_path):
    with ProcessHistory.open(tmp_path / "p.ring") as h:
        assert (h.capacity - 1) * h.interval >= 7 * 86400 and h.top_n == 10
        assert os.path.getsize(h.path) == ProcessHistory.budget() < 50e6
