"""The dashboard's static files: `/` and `/static/<version>/...`, cached and compressed.

The files live in the package (`sysmond/web`, the repository's `web/`), so a wheel,
the deb/rpm and a fresh clone all serve the same bytes, and nothing is fetched from
outside. Why the URLs carry a version: the dashboard is a handful of ES modules that
import each other by relative path; putting one content hash of the whole static tree
in the directory part (`static/3f2a.../app.js`) versions every nested import too, so
the browser may keep them for a year (`immutable`) and an upgrade is picked up at the
next page load. `/` itself is small and always revalidated (ETag).

Compression: Plotly (1.2 MB) ships with a pre-compressed `plotly.min.js.gz` beside it,
served by aiohttp's FileResponse (sendfile, no CPU, no memory held); the small files of
our own are gzipped once, on first request, and kept in memory (tens of kB).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from pathlib import Path
from typing import NamedTuple

from aiohttp import web

WEB_DIR = Path(__file__).resolve().parent / "web"
STATIC_DIR = WEB_DIR / "static"
# Replaced in index.html by the versioned static prefix, e.g. `static/3f2a9c0d1e2b`.
STATIC_MARK = "{{STATIC}}"
VERSION_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The dashboard's policy (the API's middleware sets it on every HTML response too): its
# own scripts, styles (Plotly sets inline styles and draws some markers from data:
# URLs) and API calls only.
HTML_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'")
_MIN_GZIP = 512  # bytes; smaller bodies are not worth a Content-Encoding


class _Cached(NamedTuple):
    body: bytes
    gz: bytes | None
    etag: str
    content_type: str


def static_version(static_dir: Path = STATIC_DIR) -> str:
    """Return a short hash of every static file's path and bytes.

    Computed once when the routes are added (hashing the 6 MB tree takes ~10 ms).
    """
    h = hashlib.sha256()
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        h.update(path.relative_to(static_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:VERSION_LENGTH]


def _content_type(path: Path) -> str:
    if path.suffix in (".js", ".mjs"):
        return "text/javascript; charset=utf-8"
    guess = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return guess + ("; charset=utf-8" if guess.startswith("text/") else "")


def _cache(body: bytes, content_type: str) -> _Cached:
    gz = gzip.compress(body, 6, mtime=0) if len(body) >= _MIN_GZIP else None
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return _Cached(body, gz, etag, content_type)


def _respond(request: web.Request, item: _Cached, cache_control: str,
             extra: dict[str, str] | None = None) -> web.Response:
    headers = {"Cache-Control": cache_control, "ETag": item.etag,
               "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff",
               **(extra or {})}
    if item.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = item.body
    if item.gz is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = item.gz
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = item.content_type
    return web.Response(body=body, headers=headers)


class StaticFiles:
    """The handlers for `/` and `/static/...`, over one directory of web files."""

    def __init__(self, web_dir: Path = WEB_DIR) -> None:
        self.web_dir = web_dir
        self.static_dir = web_dir / "static"
        self.version = static_version(self.static_dir)
        self.prefix = f"static/{self.version}"
        self._files: dict[Path, _Cached] = {}
        self._index: _Cached | None = None

    async def index(self, request: web.Request) -> web.StreamResponse:
        if self._index is None:
            text = (self.web_dir / "index.html").read_text(encoding="utf-8")
            self._index = _cache(text.replace(STATIC_MARK, self.prefix).encode(),
                                 "text/html; charset=utf-8")
        return _respond(request, self._index, REVALIDATE,
                        {"Content-Security-Policy": HTML_CSP, "Referrer-Policy": "no-referrer"})

    async def static(self, request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        rel = request.match_info["path"]
        path = (self.static_dir / rel).resolve()
        if not path.is_relative_to(self.static_dir.resolve()) or not path.is_file():
            raise web.HTTPNotFound(text=f"no static file {rel!r}")
        # An old version's URL (a page loaded before an upgrade) still gets the file,
        # but must not be cached as if it were that version's.
        cache = IMMUTABLE if version == self.version else REVALIDATE
        if path.with_name(path.name + ".gz").is_file() or path.stat().st_size > 1 << 20:
            resp = web.FileResponse(path, headers={
                "Cache-Control": cache, "Content-Type": _content_type(path),
                "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"})
            return resp
        item = self._files.get(path)
        if item is None:
            item = self._files[path] = _cache(path.read_bytes(), _content_type(path))
        return _respond(request, item, cache)


def add_static_routes(app: web.Application, web_dir: Path = WEB_DIR) -> StaticFiles:
    """Register `GET /` (the dashboard) and `GET /static/{version}/{path}` on `app`.

    These routes need no authentication: they hold no data; the dashboard asks for a
    token when the API answers 401. Return the handler object (its `version` is the
    static prefix's hash).
    """
    files = StaticFiles(web_dir)
    app.router.add_get("/", files.index, name="dashboard")
    app.router.add_get("/static/{version}/{path:.+}", files.static, name="static")
    return files
