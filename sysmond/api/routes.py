"""The route table: every path the API serves, in one place.

The OpenAPI document (`openapi.py`) describes each route by its name, and a test checks
that every route here appears there.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import web

from sysmond.api import handlers
from sysmond.api.series import AREAS


class Route(NamedTuple):
    method: str
    path: str
    handler: handlers.Handler
    name: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/metrics/current", handlers.current, "current"),
    *(Route("GET", f"/api/v1/metrics/{area}", handlers.series_handler(area), f"series_{area}")
      for area in AREAS),
    Route("GET", "/api/v1/metrics/processes", handlers.processes, "processes"),
    Route("GET", "/api/v1/health", handlers.health, "health"),
    Route("GET", "/api/v1/alerts", handlers.alerts, "alerts"),
    Route("GET", "/api/v1/alerts/history", handlers.alerts_history, "alerts_history"),
    Route("GET", "/api/v1/openapi.json", handlers.openapi, "openapi"),
    Route("GET", "/metrics", handlers.metrics, "prometheus"),
)


def add_routes(app: web.Application) -> None:
    """Register the table; every GET also answers HEAD (monitors probe with it)."""
    for r in ROUTES:
        if r.method == "GET":
            app.router.add_get(r.path, r.handler, name=r.name)
        else:
            app.router.add_route(r.method, r.path, r.handler, name=r.name)
