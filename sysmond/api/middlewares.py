"""Everything a request passes through before and after its handler.

Order (outermost first): errors -> limits -> [CORS preflight] -> [rate limit] -> [auth].
Errors is outermost so every refusal below it (429, 401, 431) leaves as the same
`{"error", "detail"}` JSON; the rate limit comes before auth so guessing tokens costs
tokens too. Security and CORS response headers are added in `on_response_prepare`, so
they are on every response: errors, static files and the dashboard included.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from sysmond.api.auth import Authenticator, bearer
from sysmond.api.errors import ApiError
from sysmond.api.ratelimit import RateLimiter, retry_after
from sysmond.config import AuthConfig, LimitsConfig, ServerConfig
from sysmond.errors import QueryError, StoreError
from sysmond.webui import HTML_CSP

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

HEALTH_PATH = "/api/v1/health"
METRICS_PATH = "/metrics"
OPENAPI_PATH = "/api/v1/openapi.json"
SERIES_PREFIX = "/api/v1/metrics/"


def error_response(status: int, error: str, detail: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"error": error, "detail": detail}).encode()
    return web.Response(status=status, body=body, content_type="application/json",
                        headers=headers)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """Turn aiohttp's own refusals (no route, wrong method, body too big) into JSON."""
    path = request.path[:200]
    headers = {k: v for k, v in exc.headers.items()
               if k.lower() in ("allow", "retry-after", "www-authenticate")}
    if exc.status == 404:
        if path.startswith(SERIES_PREFIX) and path.count("/") == 4:
            name = path[len(SERIES_PREFIX):]
            return error_response(404, f"unknown metric '{name[:60]}'",
                                  "metrics are cpu, memory, disk, network, processes "
                                  "and current")
        return error_response(404, "not found", f"no such path: {path}")
    if exc.status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ())) or "GET"
        return error_response(405, "method not allowed",
                              f"{request.method[:20]} is not allowed on {path}; "
                              f"use {allowed}", headers)
    return error_response(exc.status, exc.reason.lower(), exc.text or exc.reason, headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one error middleware: domain errors become 4xx JSON, anything unexpected is
    logged with its traceback and answered 500 without one."""
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.error, e.detail, e.headers)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _http_error(request, e)
    except QueryError as e:
        return error_response(400, "bad query", str(e))
    except StoreError as e:
        log.error("query failed on the store: %s", e)
        return error_response(503, "storage unavailable", str(e), {"Retry-After": "5"})
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(500, "internal error",
                              "the daemon's log has the details")


def limits(cfg: LimitsConfig) -> Middleware:
    """Refuse over-long headers and URLs with a JSON 431/414. aiohttp's own parser
    limits (see `server.handler_args`) sit above these as a backstop."""
    most = cfg.max_header_size

    @web.middleware
    async def check_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(request.raw_path) > most:
            raise ApiError(414, "URL too long",
                           f"{len(request.raw_path)} bytes; the limit is {most}")
        for name, value in request.raw_headers:
            if len(name) + len(value) + 2 > most:
                shown = name.decode("latin-1")[:60]
                raise ApiError(431, "header too large",
                               f"header {shown} has {len(name) + len(value) + 2} bytes; "
                               f"the limit is {most}")
        return await handler(request)

    return check_limits


def cors_preflight(origins: tuple[str, ...]) -> Middleware:
    """Answer CORS preflights for configured origins (CORS is off when none are)."""

    @web.middleware
    async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if (request.method != "OPTIONS" or origin is None
                or "Access-Control-Request-Method" not in request.headers):
            return await handler(request)
        if not origin_allowed(origin, origins):
            raise ApiError(403, "origin not allowed",
                           f"cross-origin requests from {origin[:100]} are not configured "
                           "(server.cors_origins)")
        exc = request.match_info.http_exception
        if exc is not None and not (isinstance(exc, web.HTTPMethodNotAllowed)
                                    and "GET" in exc.allowed_methods):
            raise exc
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, HEAD",
            "Access-Control-Allow-Headers": "Authorization",
            "Access-Control-Max-Age": "600"})

    return preflight


def origin_allowed(origin: str, origins: tuple[str, ...]) -> bool:
    return "*" in origins or origin in origins


def rate_limit(limiter: RateLimiter) -> Middleware:
    text = f"{limiter.rate:g} requests/s with bursts of {limiter.burst:g}"

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = limiter.client(request.remote, request.headers.get("X-Forwarded-For"))
        if not limiter.exempt(client):
            wait = limiter.take(client)
            if wait:
                after = retry_after(wait)
                raise ApiError(429, "too many requests",
                               f"client {client} is over {text}; retry in {after} s",
                               {"Retry-After": after})
        return await handler(request)

    return limit


def needs_auth(path: str, cfg: AuthConfig) -> bool:
    """The API needs a token; health and /metrics as configured; the OpenAPI document
    and the dashboard's static files do not (they hold no data)."""
    if path == METRICS_PATH:
        return cfg.protect_metrics
    if path == HEALTH_PATH:
        return cfg.protect_health
    return path.startswith("/api/") and path != OPENAPI_PATH


def auth(authenticator: Authenticator, cfg: AuthConfig) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" and needs_auth(request.path, cfg):
            authenticator.check(bearer(request.headers.get("Authorization")))
        return await handler(request)

    return authenticate


# --- response headers ----------------------------------------------------------------

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def response_headers(cfg: ServerConfig) -> Callable[[web.Request, web.StreamResponse],
                                                     Awaitable[None]]:
    """Return the on_response_prepare hook that sets security (and CORS) headers on
    every response, leaving alone any a handler set itself."""
    fixed = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
             ("Referrer-Policy", "no-referrer")]
    if cfg.tls.enabled:
        fixed.append(("Strict-Transport-Security", "max-age=31536000"))
    if not cfg.cors_origins:
        fixed.append(("Cross-Origin-Resource-Policy", "same-origin"))
    origins = cfg.cors_origins

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        for name, value in fixed:
            if name not in h:
                h[name] = value
        if "Content-Security-Policy" not in h:
            html = response.content_type == "text/html"
            h["Content-Security-Policy"] = HTML_CSP if html else API_CSP
        if request.path.startswith("/api/") and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
        if origins:
            origin = request.headers.get("Origin")
            if origin is not None and origin_allowed(origin, origins):
                h["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
                h.add("Vary", "Origin")

    return on_prepare
