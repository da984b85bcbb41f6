"""The on-disk format: headers round-trip, and every kind of bad file is named in the
error and can be moved aside so a fresh store starts."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from sysmond.errors import StoreFormatError
from sysmond.store import Store
from sysmond.store import format as fmt
from sysmond.store.catalog import CATALOG

from .storekit import SMALL, T0


def a_header(kind=fmt.KIND_CONSOLIDATED, step=60, rows=100, columns=3, segment=7):
    return fmt.Header(fmt.FORMAT_VERSION, kind, step, rows, columns, segment)


def test_a_header_written_by_create_reads_back_equal(tmp_path):
    path = tmp_path / "s0007-1m.ring"
    fmt.create(path, a_header())
    assert fmt.read_header(path) == a_header()


def test_a_ring_file_is_preallocated_to_its_exact_size_with_rows_page_aligned(tmp_path):
    path = tmp_path / "r.ring"
    fmt.create(path, a_header(kind=fmt.KIND_RAW, rows=10, columns=3))
    assert path.stat().st_size == fmt.file_size(fmt.KIND_RAW, 10, 3) == 4096 + 10 * 24
    assert path.stat().st_blocks * 512 >= path.stat().st_size  # space reserved, not sparse
    assert not list(tmp_path.glob("*.tmp"))


def test_row_layouts_match_the_grammar():
    raw = fmt.row_dtype(fmt.KIND_RAW, 3)
    assert raw.itemsize == 24  # t:i64, 3 x f32 = 20, padded to 24
    assert raw.fields["v"][1] == 8
    cons = fmt.row_dtype(fmt.KIND_CONSOLIDATED, 3)
    assert cons.itemsize == 56  # 8 + 3 x 14 = 50, padded to 56
    assert [cons.fields[n][1] for n in ("t", "avg", "min", "max", "cov")] == [0, 8, 20, 32, 44]


def test_a_written_row_sits_where_the_grammar_says(tmp_path):
    path = tmp_path / "r.ring"
    header = a_header(kind=fmt.KIND_RAW, step=10, rows=4, columns=2)
    fmt.create(path, header)
    rows = fmt.open_rows(path, header, writable=True)
    rows["t"][(1030 // 10) % 4] = 1030
    rows["v"][(1030 // 10) % 4] = [1.5, -2.0]
    rows.flush()
    data = path.read_bytes()
    at = 4096 + 3 * 16
    assert struct.unpack("<qff", data[at:at + 16]) == (1030, 1.5, -2.0)


def truncated(path):
    path.write_bytes(path.read_bytes()[:-1])


def foreign(path):
    path.write_bytes(b"GIF89a" + b"\0" * (path.stat().st_size - 6))


def wrong_version(path):
    data = bytearray(path.read_bytes())
    data[8:12] = struct.pack("<I", fmt.FORMAT_VERSION + 1)
    path.write_bytes(bytes(data))


def wrong_size(path):
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)


def header_only_half(path):
    path.write_bytes(path.read_bytes()[:20])


@pytest.mark.parametrize(("damage", "words"), [
    (truncated, "truncated"),
    (header_only_half, "truncated"),
    (foreign, "not a sysmond ring"),
    (wrong_version, "format version"),
    (wrong_size, "expected"),
])
def test_a_damaged_ring_file_gives_a_format_error_naming_the_file(tmp_path, damage, words):
    path = tmp_path / "s0000-raw.ring"
    fmt.create(path, a_header(kind=fmt.KIND_RAW))
    damage(path)
    with pytest.raises(StoreFormatError, match=words) as e:
        fmt.read_header(path)
    assert e.value.path == str(path)
    assert str(path) in str(e.value)


def a_store_with_data(path):
    with Store.open(path, SMALL) as store:
        store.append_many(T0 + np.arange(100), ["a", "b"], np.ones((100, 2)))


@pytest.mark.parametrize("damage", [truncated, foreign, wrong_version, wrong_size])
def test_opening_a_store_with_a_damaged_ring_names_that_file(tmp_path, damage):
    a_store_with_data(tmp_path)
    bad = tmp_path / "s0000-10s.ring"
    damage(bad)
    with pytest.raises(StoreFormatError) as e:
        Store.open(tmp_path, SMALL)
    assert e.value.path == str(bad)
    with pytest.raises(StoreFormatError):
        Store.open(tmp_path, readonly=True)


def test_a_ring_whose_header_disagrees_with_the_catalog_is_a_format_error(tmp_path):
    a_store_with_data(tmp_path)
    other = tmp_path / "other.ring"
    fmt.create(other, fmt.Header(fmt.FORMAT_VERSION, fmt.KIND_CONSOLIDATED, 10, 60, 5, 0))
    other.replace(tmp_path / "s0000-10s.ring")
    with pytest.raises(StoreFormatError, match="does not match the catalog"):
        Store.open(tmp_path, SMALL)


def test_quarantine_moves_a_damaged_ring_aside_and_keeps_the_rest(tmp_path):
    a_store_with_data(tmp_path)
    bad = tmp_path / "s0000-10s.ring"
    foreign(bad)
    with Store.open(tmp_path, SMALL, quarantine=True) as store:
        assert len(store.recovered) == 1
        assert "s0000-10s.ring" in store.recovered[0]
        assert "not a sysmond ring" in store.recovered[0]
        aside = list(tmp_path.glob("s0000-10s.ring.corrupt-*"))
        assert len(aside) == 1 and aside[0].read_bytes().startswith(b"GIF89a")
        assert fmt.read_header(bad).step == 10  # a fresh, empty ring
        raw = store.query(["a"], T0, T0 + 99, tier="raw", points=1000)
        assert np.all(raw.avg == 1.0)  # the raw tier's history survived
        assert store.append(T0 + 100, {"a": 2.0})


@pytest.mark.parametrize("catalog", [
    b"{not json",
    json.dumps({"format": "something-else", "version": 1}).encode(),
    json.dumps({"format": "sysmond-store", "version": 99, "tiers": [], "segments": []}).encode(),
    json.dumps({"format": "sysmond-store", "version": 1, "tiers": [{"name": "raw"}],
                "segments": []}).encode(),
])
def test_a_bad_catalog_is_a_format_error_naming_it(tmp_path, catalog):
    a_store_with_data(tmp_path)
    (tmp_path / CATALOG).write_bytes(catalog)
    with pytest.raises(StoreFormatError) as e:
        Store.open(tmp_path, SMALL)
    assert e.value.path == str(tmp_path / CATALOG)


def test_quarantine_moves_a_store_with_a_bad_catalog_aside_and_starts_fresh(tmp_path):
    a_store_with_data(tmp_path)
    (tmp_path / CATALOG).write_text("{not json")
    with Store.open(tmp_path, SMALL, quarantine=True) as store:
        assert len(store.recovered) == 1 and CATALOG in store.recovered[0]
        assert store.series() == []
        assert store.last_time is None
        assert store.append(T0 + 500, {"c": 1.0})
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("corrupt-")]
    assert len(aside) == 1
    assert (aside[0] / CATALOG).read_text() == "{not json"
    assert (aside[0] / "s0000-raw.ring").exists()


def test_ring_files_without_a_catalog_are_not_silently_overwritten(tmp_path):
    a_store_with_data(tmp_path)
    (tmp_path / CATALOG).unlink()
    with pytest.raises(StoreFormatError, match="ring files are present"):
        Store.open(tmp_path, SMALL)
    with Store.open(tmp_path, SMALL, quarantine=True) as store:
        assert store.recovered and store.series() == []
    aside = next(p for p in tmp_path.iterdir() if p.name.startswith("corrupt-"))
    assert (aside / "s0000-raw.ring").exists()


def test_a_missing_store_opened_read_only_names_its_catalog(tmp_path):
    with pytest.raises(StoreFormatError) as e:
        Store.open(tmp_path / "nothing", readonly=True)
    assert e.value.path == str(tmp_path / "nothing" / CATALOG)
