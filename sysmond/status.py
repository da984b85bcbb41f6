"""`sysmond status`: current values and daemon health, read from the files directly.

Works while the daemon runs (the store is opened read-only, the lock only probed) and
when it does not, and says plainly when there is nothing to show.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from sysmond.config import Config
from sysmond.daemon import DAEMON_FILE, LOCK_FILE, STORE_DIR
from sysmond.errors import StoreError
from sysmond.store import Store


def daemon_running(state_dir: Path) -> int | None:
    """Return the pid of the sysmond holding the state directory's lock, or None."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _human_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def latest_values(store: Store) -> tuple[int | None, dict[str, float]]:
    """Return the newest stored time and every series' value at it (gaps left out)."""
    last = store.last_time
    names = store.series()
    if last is None or not names:
        return last, {}
    res = store.query(names, last, last, points=1, tier=store.tiers[0].name, now=last)
    return last, {n: float(v) for n, v in zip(res.names, res.avg[:, -1]) if v == v}


def render_status(state_dir: Path, config: Config, now: float | None = None) -> str:
    """Given a state directory, return a readable table of values and health."""
    now = time.time() if now is None else now
    lines: list[str] = []
    pid = daemon_running(state_dir)
    info: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((state_dir / DAEMON_FILE).read_text())
    if pid:
        started = info.get("started_at")
        up = f", up {_human_age(now - started)}" if isinstance(started, (int, float)) else ""
        lines.append(f"daemon     running, pid {pid}{up}, version {info.get('version', '?')}")
        if info.get("url"):
            lines.append(f"dashboard  {info['url']}")
    else:
        lines.append("daemon     not running (start it with `sysmond run`)")
    lines.append(f"state dir  {state_dir}")
    try:
        store = Store.open(state_dir / STORE_DIR, readonly=True)
    except StoreError as e:
        lines.append(f"store      no data yet ({e})")
        return "\n".join(lines) + "\n"
    try:
        st = store.info()
        last, values = latest_values(store)
    finally:
        store.close()
    if last is None:
        lines.append("store      empty: no sample stored yet")
        return "\n".join(lines) + "\n"
    age = now - last
    stale = "  (STALE)" if age > 3 * max(1, int(info.get("interval", 1))) + 5 else ""
    lines.append(f"last       {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(last))}, "
                 f"{_human_age(age)} ago{stale}")
    lines.append(f"store      {len(st.series)} series, {_human_bytes(st.files_bytes)} on disk")
    for t in st.tiers:
        span = f"{_human_age(t.last - t.first + t.step)}" if t.first and t.last else "empty"
        lines.append(f"  tier {t.name:<5} every {t.step}s, keeps {_human_age(t.retention)}, "
                     f"holds {span}")
    lines.append("")
    lines += _value_table(values)
    return "\n".join(lines) + "\n"


def _value_table(v: dict[str, float]) -> list[str]:
    def pct(key: str) -> str:
        return f"{v[key]:5.1f} %" if key in v else "    - "

    out = [f"cpu        {pct('cpu.usage_percent')}   load "
           + " ".join(f"{v[k]:.2f}" for k in ("cpu.load_average_1", "cpu.load_average_5",
                                               "cpu.load_average_15") if k in v)]
    if "memory.total" in v:
        out.append(f"memory     {pct('memory.percent')}   "
                   f"{_human_bytes(v.get('memory.used', 0))} of "
                   f"{_human_bytes(v['memory.total'])}, swap {pct('memory.swap_percent')}")
    mounts = sorted({k.split("@", 1)[1] for k in v if k.startswith("disk.percent@")})
    for m in mounts:
        out.append(f"disk {m:<10} {pct('disk.percent@' + m)}   "
                   f"{_human_bytes(v.get('disk.free@' + m, 0))} free")
    if "disk.read_bytes_per_sec" in v:
        out.append(f"disk io    read {_human_bytes(v['disk.read_bytes_per_sec'])}/s, write "
                   f"{_human_bytes(v.get('disk.write_bytes_per_sec', 0))}/s")
    nics = sorted({k.split("@", 1)[1] for k in v if k.startswith("network.bytes_recv_per_sec@")})
    for n in nics:
        out.append(f"net {n:<11} rx {_human_bytes(v['network.bytes_recv_per_sec@' + n])}/s, "
                   f"tx {_human_bytes(v.get('network.bytes_sent_per_sec@' + n, 0))}/s")
    return out
