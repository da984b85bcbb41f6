"""The alert history: firings, recoveries and delivery outcomes, bounded, on disk.

A JSON-lines file in the state directory, appended to as things happen and rewritten
(atomically) to its newest `limit` records once it has grown a quarter past the limit,
so it never holds more than 1.25 x `limit` lines. The newest `limit` records are also
kept in memory for queries. A torn last line (a crash mid-write) is skipped on load.

Records are added on the event-loop thread (`add`) and written later by the engine's
I/O thread (`take` on the loop, then `write` in the thread), so evaluation never waits
for the disk.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from sysmond.alerts.events import HistoryRecord
from sysmond.alerts.persist import write_atomic

log = logging.getLogger(__name__)


class History:
    """The bounded history: in memory for queries, appended to a file for restarts."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = max(1, int(limit))
        self._records: deque[HistoryRecord] = deque(maxlen=self.limit)
        self._unwritten: list[HistoryRecord] = []
        self._lines = 0  # lines in the file
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.readlines()
        except FileNotFoundError:
            return
        except OSError as e:
            log.error("alert history %s cannot be read (%s); starting empty", self.path, e)
            return
        self._lines = len(lines)
        bad = 0
        for line in lines[-self.limit :]:
            try:
                self._records.append(HistoryRecord.from_json(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                bad += 1
        if bad:
            log.warning("alert history %s: skipped %d unreadable line(s)", self.path, bad)

    def set_limit(self, limit: int) -> None:
        """Change the bound (config reload); the file shrinks at the next write."""
        limit = max(1, int(limit))
        if limit != self.limit:
            self.limit = limit
            self._records = deque(self._records, maxlen=limit)

    def add(self, record: HistoryRecord) -> None:
        self._records.append(record)
        self._unwritten.append(record)

    @property
    def dirty(self) -> bool:
        return bool(self._unwritten)

    def take(self) -> tuple[list[HistoryRecord], list[HistoryRecord] | None]:
        """Return what to write: the new records, and the whole newest `limit` if the
        file should be rewritten instead (it grew past 1.25 x limit)."""
        new, self._unwritten = self._unwritten, []
        if self._lines + len(new) > self.limit + max(16, self.limit // 4):
            self._lines = len(self._records)
            return new, list(self._records)
        self._lines += len(new)
        return new, None

    def write(self, new: list[HistoryRecord], rewrite: list[HistoryRecord] | None) -> None:
        """Write what `take` returned. Raise OSError on failure."""
        if rewrite is not None:
            write_atomic(self.path, "".join(_line(r) for r in rewrite))
            return
        if not new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(_line(r) for r in new))

    def unwrite(self, new: list[HistoryRecord]) -> None:
        """Put back records whose write failed, so the next write tries again."""
        self._unwritten[:0] = new
        self._lines = max(0, self._lines - len(new))

    def query(
        self,
        start: float | None = None,
        end: float | None = None,
        rule: str | None = None,
        limit: int = 100,
    ) -> list[HistoryRecord]:
        """Return up to `limit` records with start <= time <= end (and of `rule`),
        newest first."""
        out: list[HistoryRecord] = []
        for r in reversed(self._records):
            if end is not None and r.time > end:
                continue
            if start is not None and r.time < start:
                continue  # not `break`: the wall clock may have stepped back
            if rule is not None and r.rule != rule:
                continue
            out.append(r)
            if len(out) >= limit:
                break
        return out

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[HistoryRecord]:
        return iter(self._records)


def _line(record: HistoryRecord) -> str:
    return json.dumps(record.to_json(), separators=(",", ":")) + "\n"
