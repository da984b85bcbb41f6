"""Top-process history: what the busiest processes were at any moment of the last week.

One fixed-size file, preallocated with posix_fallocate and never grown, holding a ring
of fixed-size records (little-endian numpy structured layouts)::

    File    = Header, Record{capacity}
    Header  = 64 bytes: magic 8s b"SYSMPROC", version u32 (1), header_size u32 (64),
              capacity u32, top_n u32, interval u32 (seconds per slot),
              name_width u16, user_width u16, cmdline_width u16, pad u16,
              record_size u32, created f64 (Unix s), zero padding
    Record  = timestamp f64 (Unix s; 0 = never written), crc u32, count u32 (processes
              seen), n_cpu u16, n_mem u16, pad u32, Entry{2 * top_n}
    Entry   = pid i32, cpu_percent f32, memory_percent f32 (NaN = unknown),
              rss i64, num_threads i32 (-1 = unknown), status u8 (index in STATUSES,
              0 = unknown), flags u8 (1: user known, 2: cmdline known),
              name S{name_width}, user S{user_width}, cmdline S{cmdline_width}
              (UTF-8, cut at a character boundary, zero padded)

Entries 0..n_cpu-1 are the top by CPU, the next n_mem the top by memory. A record for
time t lives in slot (t // interval) % capacity and is returned only while its own
timestamp falls in the bucket asked for, so an earlier lap of the ring or a slot left
from before downtime is never mistaken for data. `crc` (CRC-32 of the timestamp and
everything after `crc`) rejects a record torn by a crash; a write zeroes the timestamp
first and sets it last. A crash or power cut loses at most the records the kernel had
not yet written back (seconds), and never returns a garbled one.

A writer holds an exclusive flock; any number of readonly readers (CLI, report) may
map the file while the daemon writes. An existing file keeps its own layout (interval,
top_n, widths): a changed setting applies to a new file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import mmap
import os
import time
import zlib
from pathlib import Path

import numpy as np

from sysmond.collectors import ProcessInfo, ProcessTable
from sysmond.errors import StoreFormatError, StoreLockedError

log = logging.getLogger(__name__)

MAGIC = b"SYSMPROC"
VERSION = 1
HEADER = np.dtype({"names": ["magic", "version", "header_size", "capacity", "top_n",
                             "interval", "name_width", "user_width", "cmdline_width",
                             "record_size", "created"],
                   "formats": ["S8", "<u4", "<u4", "<u4", "<u4", "<u4", "<u2", "<u2", "<u2",
                               "<u4", "<f8"],
                   "offsets": [0, 8, 12, 16, 20, 24, 28, 30, 32, 36, 40], "itemsize": 64})
STATUSES = ("", "running", "sleeping", "disk-sleep", "zombie", "stopped", "tracing-stop",
            "dead", "wake-kill", "waking", "parked", "idle")
_USER, _CMDLINE = 1, 2


def _layout(top_n: int, widths: tuple[int, int, int]) -> np.dtype:
    entry = np.dtype([("pid", "<i4"), ("cpu", "<f4"), ("mem", "<f4"), ("rss", "<i8"),
                      ("threads", "<i4"), ("status", "u1"), ("flags", "u1"),
                      ("name", f"S{widths[0]}"), ("user", f"S{widths[1]}"),
                      ("cmdline", f"S{widths[2]}")])
    return np.dtype([("ts", "<f8"), ("crc", "<u4"), ("count", "<u4"), ("n_cpu", "<u2"),
                     ("n_mem", "<u2"), ("pad", "<u4"), ("entries", entry, (2 * top_n,))])


def _cut(text: str, width: int) -> bytes:
    """UTF-8 of `text`, at most `width` bytes, never splitting a character."""
    return text.encode("utf-8", "replace")[:width].decode("utf-8", "ignore").encode()


def _num(value: float | None) -> float:
    return math.nan if value is None else value


class ProcessHistory:
    """The ring of top-process snapshots in one file. Use `ProcessHistory.open`."""

    def __init__(self, path: Path, header: np.void, readonly: bool, fd: int | None) -> None:
        self.path, self.readonly, self._fd = path, readonly, fd
        self.capacity = int(header["capacity"])
        self.top_n = int(header["top_n"])
        self.interval = int(header["interval"])
        self.widths = (int(header["name_width"]), int(header["user_width"]),
                       int(header["cmdline_width"]))
        self._dtype = _layout(self.top_n, self.widths)
        self._records = np.memmap(path, dtype=self._dtype, mode="r" if readonly else "r+",
                                  offset=HEADER.itemsize, shape=(self.capacity,))
        self._raw = self._records.view(np.uint8).reshape(self.capacity, self._dtype.itemsize)

    # --- opening -------------------------------------------------------------------

    @staticmethod
    def budget(interval: int = 60, retention: int = 7 * 86_400, top_n: int = 10,
               widths: tuple[int, int, int] = (32, 32, 128)) -> int:
        """Return the exact size in bytes of a file made with these settings."""
        capacity = math.ceil(retention / interval) + 1
        return HEADER.itemsize + capacity * _layout(top_n, widths).itemsize

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, interval: int = 60,
             retention: int = 7 * 86_400, top_n: int = 10,
             widths: tuple[int, int, int] = (32, 32, 128), readonly: bool = False,
             quarantine: bool = False) -> ProcessHistory:
        """Open the history at `path`, creating it (writer only) with the given layout.

        Raise StoreFormatError naming the file if it is truncated, foreign or of another
        version (unless `quarantine`: then a writer moves it aside and starts afresh),
        StoreLockedError if another process writes to it, FileNotFoundError for a
        missing file opened readonly.
        """
        path = Path(path)
        if readonly:
            return cls(path, _read_header(path), True, None)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(f"{path}: another sysmond process writes to it") from None
        try:
            if os.fstat(fd).st_size == 0:
                _create(fd, interval, retention, top_n, widths)
            try:
                header = _read_header(path)
            except StoreFormatError as e:
                if not quarantine:
                    raise
                dest = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
                os.replace(path, dest)
                log.error("%s; moved it to %s and started it afresh", e, dest.name)
                os.close(fd)
                fd = -1  # closed: never close a number the next open may reuse
                return cls.open(path, interval=interval, retention=retention, top_n=top_n,
                                widths=widths)
            return cls(path, header, False, fd)
        except BaseException:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise

    # --- writing and reading ---------------------------------------------------------

    def record(self, t: float, snapshot: ProcessTable) -> None:
        """Store `snapshot` as the top processes at time `t` (Unix seconds)."""
        if self.readonly:
            raise PermissionError(f"{self.path}: opened readonly")
        rec = np.zeros((), dtype=self._dtype)
        by_cpu, by_mem = snapshot.by_cpu[:self.top_n], snapshot.by_memory[:self.top_n]
        rec["ts"], rec["count"] = t, min(snapshot.count, 2**32 - 1)
        rec["n_cpu"], rec["n_mem"] = len(by_cpu), len(by_mem)
        for i, p in enumerate((*by_cpu, *by_mem)):
            rec["entries"][i] = self._entry(p)
        buf = rec.tobytes()
        crc = zlib.crc32(buf[12:], zlib.crc32(buf[:8]))
        slot = int(t // self.interval) % self.capacity
        self._raw[slot, :8] = 0  # invalid while half written
        self._raw[slot, 8:12] = np.frombuffer(crc.to_bytes(4, "little"), np.uint8)
        self._raw[slot, 12:] = np.frombuffer(buf[12:], np.uint8)
        self._raw[slot, :8] = np.frombuffer(buf[:8], np.uint8)

    def _entry(self, p: ProcessInfo) -> tuple[object, ...]:
        nw, uw, cw = self.widths
        flags = (_USER if p.user is not None else 0) | (_CMDLINE if p.cmdline is not None
                                                        else 0)
        status = STATUSES.index(p.status) if p.status in STATUSES else 0
        return (p.pid, _num(p.cpu_percent), _num(p.memory_percent),
                -1 if p.rss is None else p.rss,
                -1 if p.num_threads is None else p.num_threads, status, flags,
                _cut(p.name, nw), _cut(p.user or "", uw), _cut(p.cmdline or "", cw))

    def at(self, t: float, tolerance: float | None = None) -> ProcessTable | None:
        """Return the snapshot closest at or before `t`, if one is at most `tolerance`
        seconds older (default: two intervals); else None."""
        tol = 2.0 * self.interval if tolerance is None else tolerance
        bucket = int(t // self.interval)
        for b in range(bucket, int((t - tol) // self.interval) - 1, -1):
            slot = b % self.capacity
            ts = float(self._records[slot]["ts"])
            if ts <= 0 or int(ts // self.interval) != b or ts > t or t - ts > tol:
                continue
            rec = self._records[slot].copy()  # one copy, checked as a whole
            buf = rec.tobytes()
            if zlib.crc32(buf[12:], zlib.crc32(buf[:8])) != int(rec["crc"]) or \
                    float(rec["ts"]) != ts:
                continue  # torn by a crash, or rewritten while we read
            return self._table(rec)
        return None

    def _table(self, rec: np.void) -> ProcessTable:
        entries = [_info(e) for e in rec["entries"][:int(rec["n_cpu"]) + int(rec["n_mem"])]]
        n_cpu = int(rec["n_cpu"])
        return ProcessTable(float(rec["ts"]), tuple(entries[:n_cpu]),
                            tuple(entries[n_cpu:]), int(rec["count"]))

    def flush(self) -> None:
        """msync, then drop the mapped pages from this process's RSS (they stay in the
        page cache); the daemon calls this every storage.flush_interval."""
        if not self.readonly:
            self._records.flush()
        raw = getattr(self._records, "_mmap", None)
        if raw is not None and hasattr(raw, "madvise"):
            raw.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        """Flush and unmap (the mapping goes with the last reference), drop the lock."""
        if not hasattr(self, "_records"):
            return
        self.flush()
        del self._raw, self._records
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProcessHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _info(e: np.void) -> ProcessInfo:
    flags, status = int(e["flags"]), int(e["status"])
    cpu, mem = float(e["cpu"]), float(e["mem"])
    return ProcessInfo(
        pid=int(e["pid"]), name=e["name"].decode("utf-8", "replace"),
        user=e["user"].decode("utf-8", "replace") if flags & _USER else None,
        cpu_percent=None if math.isnan(cpu) else cpu,
        memory_percent=None if math.isnan(mem) else mem,
        rss=None if int(e["rss"]) < 0 else int(e["rss"]),
        num_threads=None if int(e["threads"]) < 0 else int(e["threads"]),
        status=STATUSES[status] if 0 < status < len(STATUSES) else None,
        cmdline=e["cmdline"].decode("utf-8", "replace") if flags & _CMDLINE else None)


def _create(fd: int, interval: int, retention: int, top_n: int,
            widths: tuple[int, int, int]) -> None:
    if interval < 1 or top_n < 1 or retention < interval:
        raise ValueError("process history: interval, top_n and retention must be positive")
    capacity = math.ceil(retention / interval) + 1
    header = np.zeros((), dtype=HEADER)
    header["magic"], header["version"], header["header_size"] = MAGIC, VERSION, HEADER.itemsize
    header["capacity"], header["top_n"], header["interval"] = capacity, top_n, interval
    header["name_width"], header["user_width"], header["cmdline_width"] = widths
    header["record_size"] = _layout(top_n, widths).itemsize
    header["created"] = time.time()
    size = ProcessHistory.budget(interval, retention, top_n, widths)
    os.posix_fallocate(fd, 0, size)
    os.pwrite(fd, header.tobytes(), 0)
    os.fsync(fd)


def _read_header(path: Path) -> np.void:
    with open(path, "rb") as f:
        raw = f.read(HEADER.itemsize)
        size = os.fstat(f.fileno()).st_size
    if len(raw) < HEADER.itemsize:
        raise StoreFormatError(str(path), f"truncated: {size} bytes, shorter than a header")
    h = np.frombuffer(raw, dtype=HEADER)[0]
    if bytes(h["magic"]) != MAGIC:
        raise StoreFormatError(str(path), "not a sysmond process history file")
    if int(h["version"]) != VERSION:
        raise StoreFormatError(str(path), f"format version {int(h['version'])}; this "
                               f"sysmond reads version {VERSION}")
    widths = (int(h["name_width"]), int(h["user_width"]), int(h["cmdline_width"]))
    if (int(h["header_size"]) != HEADER.itemsize or int(h["capacity"]) < 1
            or int(h["top_n"]) < 1 or int(h["interval"]) < 1 or min(widths) < 1
            or int(h["record_size"]) != _layout(int(h["top_n"]), widths).itemsize):
        raise StoreFormatError(str(path), "damaged header")
    expected = HEADER.itemsize + int(h["capacity"]) * int(h["record_size"])
    if size != expected:
        raise StoreFormatError(str(path), f"truncated or padded: {size} bytes, the header "
                               f"says {expected}")
    return h
