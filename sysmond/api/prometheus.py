"""`/metrics`: the newest sample in the Prometheus text exposition format (0.0.4).

Naming follows Prometheus' rules, driven by the catalogue (`sysmond.metrics`):
- gauges whose catalogue entry has a `prom_name`, in base units (`prom_scale`: percent
  becomes a 0-1 ratio, MHz becomes hertz); a per-device field gets a label (`cpu`,
  `mountpoint`, `device`, `interface`) and its total is left out — PromQL `sum`/`max`
  gives it, and mixing a total with its parts in one family double-counts;
- every raw counter of the sample (`Sample.counters`) as `sysmond_<name>` (`_total`;
  network counters labelled `interface`, not `device`, beside disks' `device`), so
  rates are computed by Prometheus over its own window with `rate()`: the per-second
  fields of the catalogue are exactly those, and are not exported a second time;
- a few facts (core counts, frequency limits, file system info) and the daemon's own
  health: collector duration and success, tick lag, store writes and drops.
A gap (NaN) is left out rather than exported as NaN: "no value" is what it means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from sysmond import __version__
from sysmond.api.health import collectors
from sysmond.api.state import Latest
from sysmond.metrics import COUNTERS, METRICS, split_series

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "sysmond_"
LABELS = {"core": "cpu", "mount": "mountpoint", "device": "device", "interface": "interface"}

Labels = tuple[tuple[str, str], ...]


class Family:
    """One metric family: its HELP, TYPE and samples."""

    __slots__ = ("help", "kind", "name", "samples")

    def __init__(self, name: str, kind: str, help: str) -> None:
        self.name, self.kind, self.help = name, kind, help
        self.samples: list[tuple[Labels, float]] = []


class Exposition:
    """Families in the order first added; render() writes the text format."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def add(self, name: str, kind: str, help: str, value: float | None,
            labels: Labels = ()) -> None:
        if value is None or not math.isfinite(value):
            return
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = Family(name, kind, help)
        fam.samples.append((labels, float(value)))

    def render(self) -> str:
        lines: list[str] = []
        for fam in self._families.values():
            lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
            lines.append(f"# TYPE {fam.name} {fam.kind}")
            for labels, value in fam.samples:
                lines.append(f"{fam.name}{_labels(labels)} {_value(value)}")
        return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels) + "}"


def _value(v: float) -> str:
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def _number(x: Any) -> float | None:
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if isinstance(x, (int, float)):
        return float(x)
    return None


def sample_families(out: Exposition, latest: Latest) -> None:
    """Add the gauges, counters and facts of one sample."""
    values, info = latest.sample.values, latest.sample.info
    by_base: dict[str, list[tuple[str | None, float]]] = {}
    for name, value in values.items():
        base, dev = split_series(name)
        by_base.setdefault(base, []).append((dev, value))
    for m in METRICS:
        if not m.prom_name or not m.stored:
            continue
        help = m.help + (" As a ratio (0-1)." if m.prom_name.endswith("_ratio") else "")
        for dev, value in by_base.get(m.series, ()):
            if m.device == "none" and dev is None:
                out.add(PREFIX + m.prom_name, "gauge", help, value * m.prom_scale)
            elif m.device != "none" and dev is not None:
                out.add(PREFIX + m.prom_name, "gauge", help, value * m.prom_scale,
                        ((LABELS[m.device], dev),))
    helps = {c.name: c.help for c in COUNTERS}
    for c in latest.sample.counters:
        labels = tuple(c.labels)
        if c.name.startswith("network_"):  # an interface is not a block device
            labels = tuple(("interface" if k == "device" else k, v) for k, v in labels)
        out.add(PREFIX + c.name, "counter", helps.get(c.name, f"Raw counter {c.name}."),
                c.value, labels)
    for key, name, help, scale in (
            ("cpu.logical_count", "cpus_logical", "Logical CPUs online.", 1.0),
            ("cpu.physical_count", "cpus_physical", "Physical cores.", 1.0),
            ("cpu.frequency_min", "cpu_frequency_min_hertz", "Lowest clock frequency.", 1e6),
            ("cpu.frequency_max", "cpu_frequency_max_hertz", "Highest clock frequency.",
             1e6)):
        v = _number(info.get(key))
        out.add(PREFIX + name, "gauge", help, None if v is None else v * scale)
    for key, dev in sorted(info.items()):
        base, mount = split_series(key)
        if base == "disk.fstype" and mount is not None:
            out.add(PREFIX + "filesystem_info", "gauge",
                    "A watched file system: its mount point, device and type (always 1).",
                    1.0, (("mountpoint", mount), ("device", str(info.get(f"disk.device@{mount}",
                                                                          ""))),
                          ("fstype", str(dev))))
    out.add(PREFIX + "last_sample_timestamp_seconds", "gauge",
            "Wall time of the newest sample.", latest.sample.timestamp)


def daemon_families(out: Exposition, facts: Mapping[str, Any], started_at: float,
                    own: Mapping[str, Any]) -> None:
    """Add the daemon's own metrics from its health facts."""
    out.add(PREFIX + "build_info", "gauge", "sysmond's version (always 1).", 1.0,
            (("version", __version__),))
    out.add(PREFIX + "start_time_seconds", "gauge", "Wall time the daemon started.",
            started_at)
    for name, c in sorted(collectors(facts).items()):
        label = (("collector", name),)
        out.add(PREFIX + "collector_duration_seconds", "gauge",
                "How long the collector took in the last tick.", _number(c.get("duration")),
                label)
        out.add(PREFIX + "collector_success", "gauge",
                "1 if the collector succeeded in the last tick, else 0.",
                1.0 if c.get("ok", True) else 0.0, label)
    out.add(PREFIX + "tick_lag_seconds", "gauge",
            "How late the last collection tick started, after its grid time.",
            _number(facts.get("tick_lag")))
    out.add(PREFIX + "tick_lag_max_seconds", "gauge",
            "The latest any collection tick started since the daemon started.",
            _number(facts.get("tick_lag_max")))
    out.add(PREFIX + "series", "gauge", "Series in the store.", _number(facts.get("series")))
    store = facts.get("store")
    if isinstance(store, Mapping):
        out.add(PREFIX + "store_healthy", "gauge", "1 if the store can be written, else 0.",
                1.0 if store.get("state", "ok") == "ok" else 0.0)
        out.add(PREFIX + "store_writes_total", "counter", "Samples written to the store.",
                _number(store.get("writes")))
        out.add(PREFIX + "store_dropped_samples_total", "counter",
                "Samples the store refused (not newer than the last one, or lost while "
                "the store was failing and the buffer was full).",
                _number(store.get("dropped")))
        out.add(PREFIX + "store_pending_samples", "gauge",
                "Samples waiting in memory for the store to be writable again.",
                _number(store.get("pending")))
    out.add("process_cpu_seconds_total", "counter",
            "User and system CPU time of the daemon.", _number(own.get("cpu_seconds")))
    out.add("process_resident_memory_bytes", "gauge", "Resident memory of the daemon.",
            _number(own.get("rss")))


def render(latest: Latest | None, facts: Mapping[str, Any], started_at: float,
           own: Mapping[str, Any]) -> str:
    out = Exposition()
    if latest is not None:
        sample_families(out, latest)
    daemon_families(out, facts, started_at, own)
    return out.render()


def families(text: str) -> Iterable[str]:
    """The family names of an exposition (for tests and the docs)."""
    return [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
