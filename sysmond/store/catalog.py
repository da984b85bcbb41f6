"""The store's small JSON files: the catalog (ladder and series) and the writer's state.

Both are replaced atomically (temp file, fsync, rename, fsync of the directory), so a
crash leaves either the old or the new version, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sysmond.config import TierConfig
from sysmond.errors import StoreFormatError

CATALOG = "catalog.json"
WRITER = "writer.json"
CATALOG_FORMAT = "sysmond-store"
CATALOG_VERSION = 1


@dataclass
class SegmentEntry:
    id: int
    columns: list[str]


@dataclass
class Catalog:
    tiers: tuple[TierConfig, ...]
    segments: list[SegmentEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CATALOG_FORMAT,
            "version": CATALOG_VERSION,
            "tiers": [{"name": t.name, "step": t.step, "retention": t.retention}
                      for t in self.tiers],
            "segments": [{"id": s.id, "columns": s.columns} for s in self.segments],
        }


def write_atomic(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Replace `path` with `data` as JSON, so readers see the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
        f.flush()
        if durable:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def load_catalog(path: Path) -> Catalog:
    """Given a store directory, return its catalog. Raise StoreFormatError naming the
    file if it is unreadable, foreign or of another version."""
    file = path / CATALOG
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreFormatError(str(file), "file is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreFormatError(str(file), f"unreadable: {e}") from None
    if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
        raise StoreFormatError(str(file), "not a sysmond store catalog")
    if data.get("version") != CATALOG_VERSION:
        raise StoreFormatError(str(file), f"format version {data.get('version')}, this "
                               f"sysmond reads {CATALOG_VERSION}")
    try:
        tiers = tuple(TierConfig(str(t["name"]), int(t["step"]), int(t["retention"]))
                      for t in data["tiers"])
        segments = [SegmentEntry(int(s["id"]), [str(c) for c in s["columns"]])
                    for s in data["segments"]]
    except (KeyError, TypeError, ValueError) as e:
        raise StoreFormatError(str(file), f"corrupt catalog: {e!r}") from None
    return Catalog(tiers, segments)


def boot_id() -> str:
    """Return this boot's id: page-cache contents survive exactly as long as it does."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def read_writer_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / WRITER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
