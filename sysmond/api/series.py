"""Time-series answers: which series a request means, the store query, and the
columnar JSON / CSV it becomes.

`parse` runs on the event loop (pure: bad input fails fast, no thread hop); `answer`
runs in a worker thread because it reads the store and encodes possibly large arrays.
Fields come from the metrics catalogue (`sysmond.metrics`), narrowed to the series the
store actually holds, plus any total the store holds that the catalogue does not name.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sysmond.api.errors import ApiError, bad_param, listing, not_found
from sysmond.api.params import (
    Query,
    iso,
    parse_choice,
    parse_int,
    span_text,
    time_range,
)
from sysmond.config import LimitsConfig, TierConfig
from sysmond.metrics import BY_SERIES, METRICS, Metric, split_series
from sysmond.store.read import buckets

if TYPE_CHECKING:
    from sysmond.store import QueryResult, Store

def _dumps(x: object) -> str:
    return json.dumps(x, separators=(",", ":"))


AREAS = ("cpu", "memory", "disk", "network")
TIME_PARAMS = ("start", "end", "range", "points", "tier", "format")
FORMATS = ("json", "csv")
DEFAULT_POINTS = 1000
# Catalogue fields are [a-z0-9_]; a total the store holds outside the catalogue may be
# any series name's tail, so the pattern is wider.
_FIELD = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_MAX_FIELDS = 64


def device_kinds(area: str) -> tuple[str, ...]:
    """The device kinds (= query parameters: core, mount, device, interface) of an area."""
    return tuple(dict.fromkeys(m.device for m in METRICS
                               if m.area == area and m.device != "none"))


def area_metrics(area: str, kind: str | None) -> list[Metric]:
    """Stored fields of `area`: all of them for totals, else those with `kind` devices."""
    return [m for m in METRICS if m.area == area and m.stored
            and (kind is None or m.device == kind)]


class SeriesParams(NamedTuple):
    area: str
    kind: str | None  # device kind, None for the totals
    device: str | None
    start: float
    end: float
    points: int
    tier: str | None
    format: str
    fields: tuple[str, ...] | None = None  # None: every field of the area or device


def allowed(area: str) -> tuple[str, ...]:
    return (*TIME_PARAMS, "fields", *device_kinds(area))


def parse_fields(text: str) -> tuple[str, ...]:
    """`fields=usage_percent,iowait_percent`: the names, in the order given. Whether
    each exists is `resolve`'s question (it depends on the device and the store)."""
    names = tuple(text.split(","))
    if len(names) > _MAX_FIELDS:
        raise bad_param("fields", f"at most {_MAX_FIELDS} names, got {len(names)}")
    for name in names:
        if not _FIELD.fullmatch(name):
            raise bad_param("fields", "expected comma-separated field names (letters, "
                            f"digits, _ . : -), got {name[:70]!r}")
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise bad_param("fields", f"'{dup}' is named twice")
    return names


def parse(area: str, query: Mapping[str, str], now: float, tiers: Sequence[TierConfig],
          limits: LimitsConfig) -> SeriesParams:
    """Given the query string of `/api/v1/metrics/{area}`, return what it asks for.
    Raise ApiError (400) naming the first bad parameter."""
    q = Query(query, allowed(area))
    chosen = [k for k in device_kinds(area) if k in q]
    if len(chosen) > 1:
        raise ApiError(400, "too many device parameters",
                       f"give one of {', '.join(chosen)}, not several")
    kind = chosen[0] if chosen else None
    device = q[kind] if kind else None
    if kind == "core":
        device = str(parse_int("core", q["core"], 0, 1_000_000))
    elif device is not None and (not device or len(device) > 512):
        raise bad_param(kind or "device", "expected a device name of 1 to 512 characters")
    tier = None
    if "tier" in q:
        tier = parse_choice("tier", q["tier"], [t.name for t in tiers])
    span = time_range(q, now, longest=tiers[-1].retention)
    if tier is not None:
        kept = next(t for t in tiers if t.name == tier).retention
        if span.end - span.start > kept:
            raise ApiError(400, "range too long for tier",
                           f"tier {tier} keeps {span_text(kept)}; "
                           f"{span_text(span.end - span.start)} asked: leave tier out or "
                           "choose a coarser one")
    points = DEFAULT_POINTS
    if "points" in q:
        points = parse_int("points", q["points"], 1, limits.max_points)
    fmt = parse_choice("format", q["format"], FORMATS) if "format" in q else "json"
    fields = parse_fields(q["fields"]) if "fields" in q else None
    return SeriesParams(area, kind, device, span.start, span.end, points, tier, fmt, fields)


class Field(NamedTuple):
    name: str  # the leaf in `current`, e.g. usage_percent
    series: str  # the store's series name, e.g. cpu.usage_percent@3
    unit: str


def resolve(p: SeriesParams, names: Sequence[str]) -> list[Field]:
    """Given what the store holds, return the fields the request means.
    Raise ApiError (404) for an unknown device, listing the known ones, and (400) for
    a name in `fields` the area or device does not have, listing those it has."""
    fields = _resolve_all(p, names)
    if p.fields is None:
        return fields
    # A catalogue field the store does not hold yet (nothing recorded) is left out,
    # as it is without `fields`; a name neither knows is a mistake worth a 400.
    by_name = {f.name: f for f in fields}
    known = [*by_name, *(m.field for m in area_metrics(p.area, p.kind)
                         if m.field not in by_name)]
    missing = next((n for n in p.fields if n not in known), None)
    if missing is not None:
        device = (p.device or "")[:80]
        what = f"{p.area} {p.kind} '{device}'" if p.kind else f"{p.area} totals"
        raise bad_param("fields", f"{what} has no field '{missing[:64]}'; known: "
                        f"{listing(known, 64)}")
    return [by_name[n] for n in p.fields if n in by_name]


def _resolve_all(p: SeriesParams, names: Sequence[str]) -> list[Field]:
    held = set(names)
    metrics = area_metrics(p.area, p.kind)
    if p.kind is None:
        fields = [Field(m.field, m.series, m.unit) for m in metrics if m.series in held]
        prefix = p.area + "."
        fields += [Field(n[len(prefix):], n, "") for n in names
                   if n.startswith(prefix) and "@" not in n and n not in BY_SERIES]
        return fields
    assert p.device is not None
    fields = [Field(m.field, m.device_series(p.device), m.unit) for m in metrics
              if m.device_series(p.device) in held]
    if not fields:
        bases = {m.series for m in metrics}
        known = sorted({dev for base, dev in map(split_series, names)
                        if dev is not None and base in bases},
                       key=lambda d: (len(d), d) if p.kind == "core" else (0, d))
        raise not_found(f"unknown {p.kind} '{p.device[:80]}'",
                        f"{p.area} has no {p.kind} of that name in the store; known: "
                        f"{listing(known)}")
    return fields


def answer(store: Store, p: SeriesParams, now: float, limits: LimitsConfig) -> bytes:
    """Read the store and return the encoded body (JSON or CSV). Runs in a thread."""
    fields = resolve(p, store.series())
    k = _tier_index(store, p, now)
    tier = store.tiers[k]
    rows = int(p.end // tier.step - p.start // tier.step) + 1
    cells = rows * max(1, len(fields))
    if cells > limits.max_scan_cells:
        raise ApiError(400, "query too large",
                       f"{rows} rows of tier {tier.name} x {len(fields)} series = {cells} "
                       f"cells, over the limit of {limits.max_scan_cells}: shorten the "
                       "range or choose a coarser tier")
    if not fields:
        res = None
    else:
        res = store.query([f.series for f in fields], p.start, p.end, points=p.points,
                          tier=tier.name, now=now)
    if p.format == "csv":
        return to_csv(fields, res)
    return to_json(p, fields, res, tier, raw=k == 0)


def cache_key(store: Store, p: SeriesParams, now: float) -> tuple[object, ...]:
    """What makes two requests' answers equal: the same fields, tier and buckets over
    the same stored data (`last_time` moves on with every tick), the buckets being
    the store's own (`sysmond.store.read.buckets`). A hundred dashboards asking for the
    last hour within the same bucket then cost one query."""
    k = _tier_index(store, p, now)
    step = store.tiers[k].step
    per, lo, hi = buckets(p.start, p.end, p.points, step)
    return (p.area, p.kind, p.device, p.format, p.fields, k, per, lo, hi,
            getattr(store, "last_time", None))


def _tier_index(store: Store, p: SeriesParams, now: float) -> int:
    if p.tier is not None:
        return [t.name for t in store.tiers].index(p.tier)
    return store.choose_tier(p.start, now)


# --- encoding --------------------------------------------------------------------------

def rounded(a: np.ndarray) -> np.ndarray:
    """Round to about 7 significant digits (what float32 storage holds) and at most 4
    decimals, so the JSON carries no noise digits; non-finite becomes NaN."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        a = np.where(np.isfinite(a), a, np.nan)
        mag = np.floor(np.log10(np.abs(a)))
        decimals = np.where(np.isfinite(mag), np.clip(6 - mag, 0, 4), 4)
        scale = 10.0 ** decimals
        return np.round(a * scale) / scale


def json_array(a: np.ndarray) -> str:
    """Encode floats as a JSON array: NaN as null, integral values without `.0`.

    Integral arrays (bytes, counts: most large values) go through int64, whose text
    costs a third of a float's; the float path is stdlib json's own repr."""
    r = rounded(a)
    gaps = np.isnan(r)
    known = r[~gaps]
    if known.size and np.all(known == np.trunc(known)) and np.all(np.abs(known) < 2**53):
        values = np.where(gaps, 0, r).astype(np.int64).tolist()
    else:
        values = r.tolist()
    for i in np.flatnonzero(gaps).tolist():
        values[i] = None
    return _dumps(values)


def to_json(p: SeriesParams, fields: list[Field], res: QueryResult | None,
            tier: TierConfig, raw: bool = False) -> bytes:
    """The columnar document; `raw` says `tier` is the store's base tier."""
    if res is None:
        head = {"metric": p.area, "device": p.device, "tier": tier.name, "step": tier.step,
                "start": int(p.start), "end": int(p.end), "timestamps": [], "series": {},
                "units": {}}
        return _dumps(head).encode()
    head = _dumps({"metric": p.area, "device": p.device, "tier": res.tier,
                       "step": res.step, "start": res.start, "end": res.end})
    parts = [head[:-1], ',"timestamps":', _dumps(res.timestamps.tolist()),
             ',"series":{']
    for i, f in enumerate(fields):
        if i:
            parts.append(",")
        avg = json_array(res.avg[i])
        if raw and res.step == tier.step:  # one sample a point: min = max = avg
            lo = hi = avg
        else:
            lo, hi = json_array(res.min[i]), json_array(res.max[i])
        parts += [_dumps(f.name), ':{"avg":', avg, ',"min":', lo, ',"max":', hi, "}"]
    parts += ['},"units":', _dumps({f.name: f.unit for f in fields}), "}"]
    return "".join(parts).encode()


def to_csv(fields: list[Field], res: QueryResult | None) -> bytes:
    """One row per point: `timestamp,time,<field>_avg,<field>_min,<field>_max,...`;
    an empty cell is a gap."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["timestamp", "time", *(f"{f.name}_{s}" for f in fields
                                       for s in ("avg", "min", "max"))])
    if res is None:
        return out.getvalue().encode()
    cols = []
    for i in range(len(fields)):
        for plane in (res.avg, res.min, res.max):
            cols.append(["" if v != v else _INTEGRAL_CELL.sub("", repr(v))
                         for v in rounded(plane[i]).tolist()])
    for j, t in enumerate(res.timestamps.tolist()):
        w.writerow([t, iso(t), *(c[j] for c in cols)])
    return out.getvalue().encode()


_INTEGRAL_CELL = re.compile(r"\.0$")
