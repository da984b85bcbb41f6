"""The OpenAPI 3 document of the API, built from the route table, the metrics
catalogue and the configuration (tiers, limits, which paths need a token)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sysmond import __version__
from sysmond.api.middlewares import needs_auth
from sysmond.api.series import DEFAULT_POINTS, FORMATS, area_metrics, device_kinds
from sysmond.config import Config
from sysmond.metrics import PROCESS_FIELDS

Doc = dict[str, Any]
ERR = {"$ref": "#/components/responses/Error"}


def _param(name: str, description: str, schema: Doc, *, where: str = "query") -> Doc:
    return {"name": name, "in": where, "required": False, "description": description,
            "schema": schema}


TIME = {"type": "string", "example": "2026-02-02T10:30:00Z"}
TIME_PARAMS = [
    _param("start", "Start: RFC 3339 with offset, or Unix seconds.", TIME),
    _param("end", "End: RFC 3339 with offset, or Unix seconds. Default: now.", TIME),
    _param("range", "Length instead of start or end: 90s, 15m, 1h, 7d, 2w, 1y "
           "(default 1h). At most two of start, end and range.",
           {"type": "string", "pattern": r"^\d+[smhdwy]$", "example": "1h"}),
]
DEVICE_PARAMS = {
    "core": ("One CPU core by index.", {"type": "integer", "minimum": 0}),
    "mount": ("One file system by mount point, e.g. /home.", {"type": "string"}),
    "device": ("One block device by name, e.g. sda.", {"type": "string"}),
    "interface": ("One network interface by name, e.g. eth0.", {"type": "string"}),
}


def _ok(description: str, schema: Doc, media: str = "application/json") -> Doc:
    return {"description": description, "content": {media: {"schema": schema}}}


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> Doc:
    return {str(c): ERR for c in (400, 405, 429, *codes)}


def _series_op(area: str, cfg: Config) -> Doc:
    tiers = [t.name for t in cfg.storage.tiers]
    params = [*TIME_PARAMS,
              _param("points", "Most points wanted; finer rows merge into buckets "
                     "(avg of avg, min of min, max of max).",
                     {"type": "integer", "minimum": 1,
                      "maximum": cfg.server.limits.max_points, "default": DEFAULT_POINTS}),
              _param("tier", "Read this tier instead of the finest one that covers the "
                     "range.", {"type": "string", "enum": tiers}),
              _param("format", "json (columnar) or csv.",
                     {"type": "string", "enum": list(FORMATS), "default": "json"}),
              _param("fields", "Only these fields, comma-separated, in this order "
                     "(default: all of them).",
                     {"type": "string",
                      "pattern": r"^[A-Za-z0-9_.:-]{1,128}(,[A-Za-z0-9_.:-]{1,128}){0,63}$",
                      "example": "usage_percent,iowait_percent"})]
    kinds = device_kinds(area)
    for kind in kinds:
        text, schema = DEVICE_PARAMS[kind]
        fields = ", ".join(m.field for m in area_metrics(area, kind))
        params.append(_param(kind, f"{text} Fields: {fields}. Without a device "
                             "parameter, the totals.", schema))
    fields = ", ".join(m.field for m in area_metrics(area, None))
    return {
        "summary": f"{area} time series",
        "description": f"avg/min/max per point of the {area} fields ({fields}) over a "
                       "time range; null marks a gap. "
                       + ("Give at most one of " + ", ".join(kinds) + "." if kinds else ""),
        "parameters": params,
        "responses": {"200": {"description": "The series.", "content": {
            "application/json": {"schema": _ref("Series")},
            "text/csv": {"schema": {"type": "string"}}}},
            **_errors(404, 503)},
    }


def operations(cfg: Config) -> dict[str, Doc]:
    """Every route's operation, keyed by route name."""
    ops: dict[str, Doc] = {
        "current": {"summary": "The newest sample",
                    "description": "The PRD's shape, plus per-device objects beside it.",
                    "responses": {"200": _ok("The newest sample.", _ref("Current")),
                                  **_errors(503)}},
        "processes": {
            "summary": "Top processes, now or at a past time",
            "parameters": [
                _param("sort", "Order by cpu or memory.",
                       {"type": "string", "enum": ["cpu", "memory"], "default": "cpu"}),
                _param("limit", "How many.", {"type": "integer", "minimum": 1,
                                              "maximum": 100}),
                _param("at", "A past time (RFC 3339 or Unix seconds): the top processes "
                       "then, from the process history.", TIME)],
            "responses": {"200": _ok("The top processes.", _ref("Processes")),
                          **_errors(404, 503)}},
        "health": {"summary": "The daemon's own state",
                   "description": "503 when sampling has stalled (no sample for 3 "
                                  "intervals + 5 s).",
                   "responses": {"200": _ok("Healthy, starting or degraded.", _ref("Health")),
                                 "503": _ok("Sampling has stalled.", _ref("Health")),
                                 **_errors()}},
        "alerts": {"summary": "Every alert rule instance and its state",
                   "responses": {"200": _ok("Alert states.", _ref("Alerts")), **_errors()}},
        "alerts_history": {
            "summary": "Alert firings, recoveries and deliveries, newest first",
            "parameters": [*TIME_PARAMS,
                           _param("rule", "Only this rule.", {"type": "string"}),
                           _param("limit", "How many records (default 100).",
                                  {"type": "integer", "minimum": 1, "maximum": 10_000})],
            "responses": {"200": _ok("History records.", _ref("AlertHistory")),
                          **_errors()}},
        "openapi": {"summary": "This document",
                    "responses": {"200": _ok("OpenAPI 3 document.", {"type": "object"}),
                                  **_errors()}},
        "prometheus": {"summary": "Prometheus text exposition",
                       "description": "Gauges in base units, raw counters as _total, the "
                                      "daemon's own metrics.",
                       "responses": {"200": _ok("Text format 0.0.4.", {"type": "string"},
                                                "text/plain"), **_errors()}},
    }
    for area in ("cpu", "memory", "disk", "network"):
        ops[f"series_{area}"] = _series_op(area, cfg)
    return ops


NUMS = {"type": "array", "items": {"type": "number", "nullable": True}}
SCHEMAS: Doc = {
    "Error": {"type": "object", "required": ["error", "detail"], "properties": {
        "error": {"type": "string", "description": "What is wrong, in a few words."},
        "detail": {"type": "string", "description": "Why, and what would be accepted."}}},
    "Series": {"type": "object",
               "required": ["metric", "tier", "step", "start", "end", "timestamps",
                            "series"],
               "properties": {
                   "metric": {"type": "string"},
                   "device": {"type": "string", "nullable": True},
                   "tier": {"type": "string"},
                   "step": {"type": "integer", "description": "Seconds per point."},
                   "start": {"type": "integer"}, "end": {"type": "integer"},
                   "timestamps": {"type": "array", "items": {"type": "integer"},
                                  "description": "Unix seconds, start of each point."},
                   "series": {"type": "object", "additionalProperties": {
                       "type": "object", "required": ["avg", "min", "max"],
                       "properties": {"avg": NUMS, "min": NUMS, "max": NUMS}}},
                   "units": {"type": "object",
                             "additionalProperties": {"type": "string"}}}},
    "Current": {"type": "object",
                "required": ["timestamp", "hostname", "cpu", "memory", "disk", "network"],
                "properties": {"timestamp": {"type": "string", "format": "date-time"},
                               "hostname": {"type": "string"},
                               **{k: {"type": "object"}
                                  for k in ("cpu", "memory", "disk", "network")}}},
    "Health": {"type": "object", "required": ["status", "version", "uptime"],
               "properties": {
                   "status": {"type": "string",
                              "enum": ["ok", "starting", "degraded", "stalled"]},
                   "reason": {"type": "string", "nullable": True},
                   "version": {"type": "string"}, "hostname": {"type": "string"},
                   "uptime": {"type": "number"}, "interval": {"type": "number"},
                   "last_sample": {"type": "object", "nullable": True},
                   "tick_lag": {"type": "number", "nullable": True},
                   "collectors": {"type": "object"}, "storage": {"type": "object"},
                   "alerts": {"type": "object"}, "process": {"type": "object"}}},
    "Process": {"type": "object", "properties": {
        f.name: ({"type": "integer"} if f.unit in ("id", "bytes", "count") else
                 {"type": "number"} if f.unit == "percent" else {"type": "string"})
        | {"description": f.help, "nullable": f.name not in ("pid", "name")}
        for f in PROCESS_FIELDS}},
    "Processes": {"type": "object", "required": ["timestamp", "sort", "processes"],
                  "properties": {"timestamp": {"type": "string", "format": "date-time"},
                                 "time": {"type": "number"},
                                 "sort": {"type": "string"},
                                 "count": {"type": "integer", "description":
                                           "processes seen in the sampling pass"},
                                 "total": {"type": "integer", "description":
                                           "same as count: every process seen"},
                                 "processes": {"type": "array", "items": _ref("Process")}}},
    "Alerts": {"type": "object", "required": ["enabled", "alerts"], "properties": {
        "enabled": {"type": "boolean"},
        "alerts": {"type": "array", "items": {"type": "object"}}}},
    "AlertHistory": {"type": "object", "required": ["enabled", "records"], "properties": {
        "enabled": {"type": "boolean"},
        "records": {"type": "array", "items": {"type": "object"}}}},
}


def _dashboard_paths(with_auth: bool) -> Doc:
    """The dashboard's page and its static files (sysmond/webui.py): never behind auth,
    the page asks for a token itself."""
    open_ = {"security": []} if with_auth else {}
    return {
        "/": {"get": {"operationId": "dashboard", "summary": "The web dashboard.",
                      **open_, "responses": {"200": {
                          "description": "The dashboard page.",
                          "content": {"text/html": {"schema": {"type": "string"}}}}}}},
        "/static/{version}/{path}": {"get": {
            "operationId": "static", "summary": "The dashboard's scripts, styles and "
            "Plotly, cached for a year under a versioned URL.", **open_,
            "parameters": [
                {"name": "version", "in": "path", "required": True,
                 "schema": {"type": "string"}, "description": "Hash of the static tree."},
                {"name": "path", "in": "path", "required": True,
                 "schema": {"type": "string"}, "description": "File below web/static."}],
            "responses": {"200": {"description": "The file."},
                          "404": {"description": "No such file or version."}}}},
    }


def build_openapi(cfg: Config, routes: Sequence[Any]) -> Doc:
    """Given the config and the route table, return the OpenAPI 3.0 document.
    Raise KeyError if a route has no description here (a test catches it)."""
    ops = operations(cfg)
    auth = cfg.server.auth
    paths: Doc = {}
    for r in routes:
        op = dict(ops[r.name])
        op["operationId"] = r.name
        if auth.mode != "none" and not needs_auth(r.path, auth):
            op["security"] = []
        if auth.mode != "none" and needs_auth(r.path, auth):
            op["responses"] = {**op["responses"], "401": ERR}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    paths.update(_dashboard_paths(auth.mode != "none"))
    doc: Doc = {
        "openapi": "3.0.3",
        "info": {"title": "sysmond", "version": __version__,
                 "description": "System resource monitor for one Linux server."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _ok("The request cannot be answered as asked.",
                                       _ref("Error"))},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A static token or a JWT."}}},
    }
    if auth.mode != "none":
        doc["security"] = [{"bearer": []}]
    return doc
