"""The alert engine's state file: pending/firing instances and undelivered notifications.

One JSON document, replaced atomically (write a temporary file, fsync, rename, fsync
the directory), so after a crash or power cut the file is either the previous state or
the new one, never a torn mix. A file that cannot be read is moved aside, logged, and
the engine starts empty: losing alert state must never stop the daemon.

    {"format": "sysmond-alerts-state", "version": 1, "saved": <unix s>,
     "rules": {rule name: {"rule": {name, metric, op, threshold, ...},
                           "instances": [Instance.to_json()...]}},   # not-ok ones
     "outbox": [Job.to_json()...],            # notifications not delivered yet
     "deferred": [AlertEvent.to_json()...]}   # recoveries held back by quiet hours
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = "sysmond-alerts-state"
VERSION = 1


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so readers see the old or the new content, whole.

    Raise OSError if it cannot be written (the caller logs and retries later).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort: not every fs allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class StateFile:
    """The one state document of the alert engine."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """Return the saved state, or an empty one if there is none or it is unreadable
        (then the bad file is kept beside it as `*.corrupt-<time>` for a person)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty_state()
        except OSError as e:
            log.error("alert state %s cannot be read (%s); starting without it", self.path, e)
            return empty_state()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a sysmond alert state file")
            if data.get("version") != VERSION:
                raise ValueError(f"format version {data.get('version')!r}, expected {VERSION}")
        except ValueError as e:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error(
                "alert state %s is unusable (%s); moved to %s, starting empty",
                self.path, e, aside,
            )
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return empty_state()
        data.setdefault("rules", {})
        data.setdefault("outbox", [])
        return data

    def save(self, text: str) -> None:
        """Write a document made by `dump`. Raise OSError on failure."""
        write_atomic(self.path, text)


def empty_state() -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "rules": {}, "outbox": []}


def dump(
    saved: float,
    rules: dict[str, Any],
    outbox: list[dict[str, Any]],
    deferred: list[dict[str, Any]] | None = None,
) -> str:
    """Return the state document as JSON text."""
    doc = {
        "format": FORMAT, "version": VERSION, "saved": saved, "rules": rules,
        "outbox": outbox, "deferred": deferred or [],
    }
    # Python's json writes and reads NaN/Infinity, and this file is only read by us.
    return json.dumps(doc, separators=(",", ":"))
