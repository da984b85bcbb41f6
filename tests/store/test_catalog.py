"""The store's JSON files: catalog round trip, atomic replacement, writer state."""

from __future__ import annotations

import json
from pathlib import Path

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

from .storekit import SMALL


def test_a_catalog_reads_back_as_written(tmp_path):
    catalog = Catalog(SMALL, [SegmentEntry(0, ["a", "b"]), SegmentEntry(3, ["c", ""])])
    write_atomic(tmp_path / CATALOG, catalog.to_json())
    assert load_catalog(tmp_path) == catalog


def test_an_atomic_write_leaves_no_temp_file_and_replaces_the_old_content(tmp_path):
    write_atomic(tmp_path / "x.json", {"a": 1})
    write_atomic(tmp_path / "x.json", {"a": 2}, durable=False)
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_the_boot_id_is_this_boots_uuid():
    source = Path("/proc/sys/kernel/random/boot_id")
    if not source.exists():
        assert boot_id() == ""
        return
    b = boot_id()
    assert len(b) == 36 and b.count("-") == 4
    assert b == boot_id() == source.read_text().strip()


def test_an_unreadable_writer_state_reads_as_none(tmp_path):
    assert read_writer_state(tmp_path) is None
    (tmp_path / WRITER).write_text("[1, 2")
    assert read_writer_state(tmp_path) is None
    (tmp_path / WRITER).write_text("[1, 2]")
    assert read_writer_state(tmp_path) is None
    (tmp_path / WRITER).write_text('{"clean": true}')
    assert read_writer_state(tmp_path) == {"clean": True}
