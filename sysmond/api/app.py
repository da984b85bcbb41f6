"""The app factory: `create_app(state)` wires routes, middlewares and helpers around
already-built objects, so tests need no daemon and the daemon owns the loop."""

from __future__ import annotations

import json

from aiohttp import web

from sysmond.api import middlewares
from sysmond.api.auth import build_authenticator
from sysmond.api.handlers import OPENAPI_DOC
from sysmond.api.openapi import build_openapi
from sysmond.api.ratelimit import RateLimiter
from sysmond.api.routes import ROUTES, add_routes
from sysmond.api.server import handler_args
from sysmond.api.services import services_ctx
from sysmond.api.state import STATE, AppState
from sysmond.webui import add_static_routes

# The API takes no request bodies; the dashboard posts nothing either.
CLIENT_MAX_SIZE = 64 * 1024


def create_app(state: AppState) -> web.Application:
    """Given the daemon's built objects, return the aiohttp application.

    Raise ConfigError if the auth or rate-limit settings cannot be used (call
    `check_listen_safety` first for the friendlier, complete message).
    """
    cfg = state.config.server
    chain: list[middlewares.Middleware] = [middlewares.errors,
                                           middlewares.limits(cfg.limits)]
    if cfg.cors_origins:
        chain.append(middlewares.cors_preflight(cfg.cors_origins))
    if cfg.rate_limit.enabled:
        chain.append(middlewares.rate_limit(RateLimiter(cfg.rate_limit)))
    authenticator = build_authenticator(cfg.auth)
    if authenticator is not None:
        chain.append(middlewares.auth(authenticator, cfg.auth))
    app = web.Application(middlewares=chain, client_max_size=CLIENT_MAX_SIZE,
                          handler_args=handler_args(cfg))
    app[STATE] = state
    app[OPENAPI_DOC] = json.dumps(build_openapi(state.config, ROUTES)).encode()
    app.cleanup_ctx.append(services_ctx)
    app.on_response_prepare.append(middlewares.response_headers(cfg))
    add_routes(app)
    add_static_routes(app)  # the dashboard at /
    return app
