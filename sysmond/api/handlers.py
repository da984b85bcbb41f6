"""Request handlers: parse, ask the state or a query thread, answer. Nothing else.

The work lives in `series`, `health`, `prometheus` and `openapi`; a handler is the
glue between a request and one of them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from sysmond.api import health as health_mod
from sysmond.api import prometheus, series
from sysmond.api.errors import ApiError, not_found
from sysmond.api.params import Query, iso, parse_choice, parse_int, parse_time, time_range
from sysmond.api.services import SERVICES
from sysmond.api.state import STATE, AppState

JSON = "application/json"
Handler = Callable[[web.Request], Any]
OPENAPI_DOC = web.AppKey("sysmond_openapi", bytes)


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type=JSON)


def _no_params(request: web.Request) -> None:
    if request.query_string:
        Query(request.query, ())


async def current(request: web.Request) -> web.Response:
    """The PRD-shaped newest sample, encoded once per tick by the daemon."""
    _no_params(request)
    latest = request.app[STATE].latest()
    if latest is None:
        raise ApiError(503, "no sample yet", "the first sample is being collected",
                       {"Retry-After": "1"})
    return web.Response(body=latest.current_json, content_type=JSON)


async def health(request: web.Request) -> web.Response:
    _no_params(request)
    state: AppState = request.app[STATE]
    services = request.app[SERVICES]
    facts = state.health()
    try:
        storage = await services.storage(state.store)
    except Exception as e:  # the verdict must come even when the store cannot answer
        storage = {"error": str(e)}
    alerts = _alert_status(state)
    status, body = health_mod.document(state, facts, state.clock(), storage,
                                       services.own.read(), alerts)
    return _json(body, status)


def _alert_status(state: AppState) -> dict[str, Any]:
    if state.alerts is None:
        return {"enabled": False}
    status = getattr(state.alerts, "status", None)
    out = {"enabled": True}
    if callable(status):
        out.update(status())
    return out


def series_handler(area: str) -> Handler:
    """The handler of `/api/v1/metrics/{area}`."""

    async def handle(request: web.Request) -> web.Response:
        state: AppState = request.app[STATE]
        now = state.clock()
        limits = state.config.server.limits
        p = series.parse(area, request.query, now, state.store.tiers, limits)
        services = request.app[SERVICES]
        body = await services.answers.get(series.cache_key(state.store, p, now),
                                          lambda: services.pool.run(_answer, state, p, now))
        if p.format == "csv":
            return web.Response(body=body, content_type="text/csv", charset="utf-8",
                                headers={"Content-Disposition":
                                         f'inline; filename="{area}.csv"'})
        return web.Response(body=body, content_type=JSON)

    handle.__name__ = f"series_{area}"
    handle.__doc__ = f"Time series of {area}."
    return handle


def _answer(state: AppState, p: series.SeriesParams, now: float) -> bytes:
    # The store swaps in new series copy-on-write: a read beside the tick is consistent.
    return series.answer(state.store, p, now, state.config.server.limits)


# --- processes --------------------------------------------------------------------------

SORTS = ("cpu", "memory")
MAX_PROCESSES = 100


async def processes(request: web.Request) -> web.Response:
    """Top processes now, or at a past time (`at`) from the process history."""
    state: AppState = request.app[STATE]
    q = Query(request.query, ("sort", "limit", "at"))
    sort = parse_choice("sort", q["sort"], SORTS) if "sort" in q else "cpu"
    limit = parse_int("limit", q["limit"], 1, MAX_PROCESSES) if "limit" in q else \
        state.config.collection.top_n
    if "at" in q:
        at = parse_time("at", q["at"])
        if state.processes is None:
            raise not_found("no process history", "this daemon keeps no process history")
        table = await request.app[SERVICES].pool.run(state.processes.at, at)
        if table is None:
            raise not_found("no process history at that time",
                            f"nothing recorded at or before {iso(at)}")
    else:
        latest = state.latest()
        table = None if latest is None else (latest.processes or latest.sample.processes)
        if table is None:
            raise ApiError(503, "no process sample yet",
                           "processes are sampled every "
                           f"{state.config.collection.process_interval} s; retry soon",
                           {"Retry-After": "1"})
        if not table.timestamp and latest is not None:
            table = table._replace(timestamp=latest.sample.timestamp)
    rows = table.by_cpu if sort == "cpu" else table.by_memory
    return _json({"timestamp": iso(table.timestamp), "time": table.timestamp,
                  "sort": sort, "count": table.count, "total": table.count,
                  "processes": [_process(p) for p in rows[:limit]]})


def _process(p: Any) -> dict[str, Any]:
    row = p._asdict()
    for key in ("cpu_percent", "memory_percent"):
        if isinstance(row.get(key), float):
            row[key] = round(row[key], 2)
    return row


# --- alerts --------------------------------------------------------------------------------


def _record(x: Any) -> Any:
    if hasattr(x, "to_json"):
        return x.to_json()
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.asdict(x)
    if hasattr(x, "_asdict"):
        return x._asdict()
    return x


async def alerts(request: web.Request) -> web.Response:
    """Every rule instance and its state."""
    _no_params(request)
    state: AppState = request.app[STATE]
    if state.alerts is None:
        return _json({"enabled": False, "alerts": []})
    records: Sequence[Any] = state.alerts.states()
    return _json({**_alert_status(state), "alerts": [_record(r) for r in records]})


async def alerts_history(request: web.Request) -> web.Response:
    """Firings, recoveries and deliveries, newest first, filtered by time and rule."""
    state: AppState = request.app[STATE]
    q = Query(request.query, ("start", "end", "range", "rule", "limit"))
    start = end = None
    if any(k in q for k in ("start", "end", "range")):
        start, end = time_range(q, state.clock())
    limit = parse_int("limit", q["limit"], 1, 10_000) if "limit" in q else 100
    rule = q.get("rule")
    if state.alerts is None:
        return _json({"enabled": False, "records": []})
    records = state.alerts.history(start, end, rule=rule, limit=limit)
    return _json({"enabled": True, "start": start, "end": end, "rule": rule,
                  "records": [_record(r) for r in list(records)[:limit]]})


# --- Prometheus and OpenAPI --------------------------------------------------------------


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of the newest sample and the daemon's health."""
    _no_params(request)
    state: AppState = request.app[STATE]
    facts: Mapping[str, Any] = state.health()
    text = prometheus.render(state.latest(), facts, state.started_at,
                             request.app[SERVICES].own.read())
    return web.Response(body=text.encode(),
                        headers={"Content-Type": prometheus.CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    _no_params(request)
    return web.Response(body=request.app[OPENAPI_DOC], content_type=JSON)
