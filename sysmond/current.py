"""Sample -> the `current` JSON: exactly the PRD's key tree, plus extras beside it.

The shape is driven by the catalogue (`metrics.METRICS`): each metric's `json_path`
places its total, and its device kind places per-device values under `cpu.per_core`
(a list indexed by core), `disk.mounts`, `disk.devices` or `network.interfaces`
(objects keyed by device name, each with the same leaves as the total). Every device
object carries all its keys; a gap (NaN, a stuck mount) is `null`. Built once per tick;
the result is plain JSON-ready data.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

from sysmond.collectors import Sample
from sysmond.metrics import BY_SERIES, DEVICE_CONTAINERS, METRICS, Metric, split_series


def iso_utc(t: float) -> str:
    """Return `t` (Unix seconds) as ISO-8601 UTC with a Z, milliseconds if fractional."""
    dt = datetime.fromtimestamp(t, timezone.utc)
    if t == int(t):
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _json_value(metric: Metric, value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    v = float(value)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return None
    return round(v) if metric.integer else v


def _put(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    node: Any = doc
    for key, nxt in pairwise(path):
        if isinstance(key, int):
            node = node[key]
            continue
        if key not in node:
            node[key] = [] if isinstance(nxt, int) else {}
        node = node[key]
    last = path[-1]
    if isinstance(last, int):
        node.extend([None] * (last + 1 - len(node)))
    node[last] = value


def _devices(sample: Sample) -> dict[str, set[str]]:
    """Return the devices of each kind present in the sample (values or info)."""
    found: dict[str, set[str]] = {kind: set() for kind in DEVICE_CONTAINERS}
    for name in (*sample.values, *sample.info):
        base, device = split_series(name)
        metric = BY_SERIES.get(base)
        if device is not None and metric is not None and metric.device != "none":
            found[metric.device].add(device)
        elif device is not None and base.startswith("disk."):  # disk.fstype@/, stuck
            found["mount"].add(device)
    return found


def build_current(sample: Sample, hostname: str) -> dict[str, Any]:
    """Given one Sample and the host name, return the `current` document."""
    doc: dict[str, Any] = {"timestamp": iso_utc(sample.timestamp), "hostname": hostname}
    devices = _devices(sample)
    cores = sample.info.get("cpu.logical_count")
    if isinstance(cores, int):
        devices["core"] |= {str(i) for i in range(cores)}
    last_of_kind = {m.device: m for m in METRICS if m.device != "none"}
    for metric in METRICS:
        source = sample.info if metric.kind == "info" else sample.values
        _put(doc, metric.json_path, _json_value(metric, source.get(metric.series)))
        if last_of_kind.get(metric.device) is metric:
            _put_devices(doc, sample, metric.device, devices[metric.device])
    return doc


def _put_devices(doc: dict[str, Any], sample: Sample, kind: str, names: set[str]) -> None:
    container = DEVICE_CONTAINERS[kind]
    metrics = [m for m in METRICS if m.device == kind]
    if kind == "core":  # a plain list of usage per core, as in the PRD
        (metric,) = metrics
        indices = sorted(int(n) for n in names if n.isdigit())
        per_core: list[object] = [None] * (indices[-1] + 1 if indices else 0)
        for i in indices:
            per_core[i] = _json_value(metric, sample.values.get(metric.device_series(i)))
        _put(doc, container, per_core)
        return
    objects: dict[str, dict[str, object]] = {}
    for name in sorted(names):
        objects[name] = {
            str(m.leaf): _json_value(m, sample.values.get(m.device_series(name)))
            for m in metrics}
    _put(doc, container, objects)
