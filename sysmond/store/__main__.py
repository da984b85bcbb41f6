"""Inspect a store without the daemon: `python -m sysmond.store PATH`.

Opens the store read-only (safe while the daemon writes) and prints its tiers, the time
each one covers, file sizes and the series it holds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sysmond.errors import StoreError
from sysmond.store.engine import Store, StoreInfo


def span_text(seconds: int) -> str:
    """Given seconds, return the shortest exact reading: 90 -> '90s', 604800 -> '7d'."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration_text(seconds: int) -> str:
    """Given a length of time, return it roughly, in the largest fitting unit."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def size_text(n: int) -> str:
    """Given a byte count, return it in MB (decimal, as disks are sold) or kB."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def when_text(t: int | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def format_info(info: StoreInfo, *, names: bool = True) -> str:
    """Given a store's info, return the report a person reads (times in UTC)."""
    lines = [
        f"store {info.path}",
        f"  base step {span_text(info.base_step)}, {len(info.series)} series in "
        f"{info.segments} segment{'s' if info.segments != 1 else ''}, "
        f"{size_text(info.files_bytes)} of ring files",
        f"  last sample {when_text(info.last_time)} UTC",
        "",
        f"  {'tier':<6} {'step':>5} {'keeps':>6} {'rows':>9}  {'covers (UTC)':<54} "
        f"{'size':>9}",
    ]
    for t in info.tiers:
        if t.first is None or t.last is None:
            covers = "empty"
        else:
            covers = (f"{when_text(t.first)} .. {when_text(t.last)} "
                      f"({duration_text(t.last + t.step - t.first)})")
        lines.append(f"  {t.name:<6} {span_text(t.step):>5} {span_text(t.retention):>6} "
                     f"{t.rows:>9}  {covers:<54} {size_text(t.bytes):>9}")
    if names:
        lines.append("")
        lines.append(f"  series ({len(info.series)}):")
        lines += [f"    {name}" for name in info.series]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sysmond.store",
        description="Show a sysmond store: tiers, time covered, file sizes, series.")
    parser.add_argument("path", help="the store directory (e.g. STATE_DIR/store)")
    parser.add_argument("--no-series", action="store_true",
                        help="leave out the list of series names")
    args = parser.parse_args(argv)
    try:
        store = Store.open(args.path, readonly=True)
    except StoreError as e:
        print(f"python -m sysmond.store: {e}", file=sys.stderr)
        return 1
    with store:
        info = store.info()
    print(format_info(info, names=not args.no_series))
    return 0


if __name__ == "__main__":
    sys.exit(main())
