"""The on-disk format of a store: one documented, versioned layout for every ring file.

A store is a directory::

    Store      = catalog.json, writer.json?, lock, RingFile+
    RingFile   = "sNNNN-TIER.ring": Header, Row{rows}        (one per segment and tier)
    Header     = 4096 bytes, little-endian:
                 magic    8s   b"SYSMRING"
                 version  u32  FORMAT_VERSION
                 kind     u32  1 = raw (one value per cell), 2 = consolidated
                 step     i64  seconds per row
                 rows     i64  slots in the ring
                 columns  i64  series in the segment (cells per row)
                 segment  u32  segment number, as named in catalog.json
                 (zero padding up to 4096 bytes, so rows start page-aligned)
    Row        = t:i64, Cells, Pad
    Cells      = (raw)          value:f32 * columns
               | (consolidated) avg:f32 * columns, min:f32 * columns,
                                max:f32 * columns, cov:u16 * columns
    Pad        = zero bytes up to a multiple of 8

The row for time `t` (a multiple of `step`) lives in slot `(t // step) % rows`, and a row
is data only while its own `t` says so: a slot holding another time (an earlier lap of
the ring, time before downtime, a row being written, `t <= 0`) reads as a gap. So the
ring never needs clearing and downtime costs nothing.

`cov` is the fraction of the row's interval that was known, scaled to 0..65535; queries
weight averages by it. A cell with no data is NaN with `cov` 0.

catalog.json names the ladder, the base step and, per segment, the series in column
order (an empty name is a column never used)::

    {"format": "sysmond-store", "version": 1,
     "tiers": [{"name": "raw", "step": 1, "retention": 86400}, ...],
     "segments": [{"id": 0, "columns": ["cpu.usage_percent", ...]}, ...]}

writer.json is the writer's state, for recovery after a power cut::

    {"boot_id": "...", "pid": 123, "clean": false,
     "flushed": T,   every row up to T (a coarse row: whose interval ends by T) is on disk
     "lease": L}     the writer writes no raw row past L before recording a new lease

Both JSON files are replaced atomically (temp file, fsync, rename, fsync of the
directory). The ring files are preallocated at their final size with posix_fallocate
and never grow: a full disk cannot fault a write later. docs/storage.md tells the rules
(consolidation, time, recovery) these files follow.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sysmond.errors import StoreFormatError

FORMAT_VERSION = 1
MAGIC = b"SYSMRING"
HEADER_SIZE = 4096
KIND_RAW = 1
KIND_CONSOLIDATED = 2
COV_SCALE = 65535

_HEADER = struct.Struct("<8sIIqqqI")


class Header(NamedTuple):
    version: int
    kind: int
    step: int
    rows: int
    columns: int
    segment: int


def row_dtype(kind: int, columns: int) -> np.dtype:
    """Given the file kind and column count, return the numpy dtype of one row."""
    if kind == KIND_RAW:
        fields = [("t", "<i8"), ("v", "<f4", (columns,))]
        size = 8 + 4 * columns
    else:
        fields = [
            ("t", "<i8"),
            ("avg", "<f4", (columns,)),
            ("min", "<f4", (columns,)),
            ("max", "<f4", (columns,)),
            ("cov", "<u2", (columns,)),
        ]
        size = 8 + 14 * columns
    padded = -(-size // 8) * 8
    names = [f[0] for f in fields]
    formats = [np.dtype(f[1]) if len(f) == 2 else np.dtype((f[1], f[2])) for f in fields]
    offsets, at = [], 0
    for fmt in formats:
        offsets.append(at)
        at += fmt.itemsize
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": padded})


def file_size(kind: int, rows: int, columns: int) -> int:
    """Given a ring's shape, return its exact size in bytes."""
    return HEADER_SIZE + rows * row_dtype(kind, columns).itemsize


def create(path: Path, header: Header) -> None:
    """Create a ring file at `path`, preallocated, atomically (temp file + rename).

    Raise OSError (e.g. ENOSPC) if the space cannot be reserved; nothing is left behind.
    """
    tmp = path.with_name(path.name + ".tmp")
    size = file_size(header.kind, header.rows, header.columns)
    raw = _HEADER.pack(MAGIC, FORMAT_VERSION, header.kind, header.step, header.rows,
                       header.columns, header.segment)
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
            os.pwrite(fd, raw.ljust(HEADER_SIZE, b"\0"), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_header(path: Path) -> Header:
    """Given a ring file, return its header. Raise StoreFormatError naming the file if it
    is not a sysmond ring, is of another format version, or is truncated."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_HEADER.size)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise StoreFormatError(str(path), "file is missing") from None
    if len(raw) < _HEADER.size:
        raise StoreFormatError(str(path), f"truncated: {size} bytes, no complete header")
    magic, version, kind, step, rows, columns, segment = _HEADER.unpack(raw)
    if magic != MAGIC:
        raise StoreFormatError(str(path), "not a sysmond ring file (bad magic)")
    if version != FORMAT_VERSION:
        raise StoreFormatError(
            str(path), f"format version {version}, this sysmond reads {FORMAT_VERSION}")
    if kind not in (KIND_RAW, KIND_CONSOLIDATED) or step <= 0 or rows <= 0 or columns <= 0:
        raise StoreFormatError(str(path), "corrupt header")
    expected = file_size(kind, rows, columns)
    if size != expected:
        raise StoreFormatError(str(path), f"truncated or padded: {size} bytes, expected {expected}")
    return Header(version, kind, step, rows, columns, segment)


def open_rows(path: Path, header: Header, *, writable: bool) -> np.memmap:
    """Map the rows of a ring file whose header was checked by read_header."""
    return np.memmap(path, dtype=row_dtype(header.kind, header.columns),
                     mode="r+" if writable else "r", offset=HEADER_SIZE,
                     shape=(header.rows,))
