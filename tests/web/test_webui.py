"""The dashboard's static routes: versioned URLs, caching headers, compression."""

from __future__ import annotations

import gzip
import re
from typing import Any

from aiohttp import web

from sysmond.webui import IMMUTABLE, STATIC_DIR, add_static_routes

Client = Any  # pytest-aiohttp's TestClient


async def client_for(aiohttp_client: Any) -> tuple[Client, str]:
    app = web.Application()
    files = add_static_routes(app)
    return await aiohttp_client(app), files.prefix


async def test_the_dashboard_names_its_files_under_one_versioned_prefix(
        aiohttp_client: Any) -> None:
    client, prefix = await client_for(aiohttp_client)
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert "{{STATIC}}" not in html
    assert f'src="{prefix}/app.js"' in html
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert not re.search(r"https?://", html)


async def test_the_index_revalidates_with_its_etag(aiohttp_client: Any) -> None:
    client, _ = await client_for(aiohttp_client)
    first = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


async def test_versioned_files_are_immutable_and_gzipped(aiohttp_client: Any) -> None:
    client, prefix = await client_for(aiohttp_client)
    resp = await client.get(f"/{prefix}/app.js", headers={"Accept-Encoding": "gzip"},
                            auto_decompress=False)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == IMMUTABLE
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"].startswith("text/javascript")
    body = gzip.decompress(await resp.read())
    assert body == (STATIC_DIR / "app.js").read_bytes()


async def test_plotly_is_served_from_its_precompressed_file(aiohttp_client: Any) -> None:
    client, prefix = await client_for(aiohttp_client)
    resp = await client.get(f"/{prefix}/vendor/plotly.min.js",
                            headers={"Accept-Encoding": "gzip, deflate"},
                            auto_decompress=False)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Cache-Control"] == IMMUTABLE
    body = await resp.read()
    assert len(body) < 2_000_000
    assert gzip.decompress(body) == (STATIC_DIR / "vendor/plotly.min.js").read_bytes()


async def test_an_old_version_still_loads_but_is_not_cached_as_immutable(
        aiohttp_client: Any) -> None:
    client, _ = await client_for(aiohttp_client)
    resp = await client.get("/static/000000000000/style.css")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-cache"


async def test_paths_outside_the_static_directory_are_not_found(aiohttp_client: Any) -> None:
    client, prefix = await client_for(aiohttp_client)
    for path in (f"/{prefix}/../index.html", f"/{prefix}/%2e%2e/%2e%2e/report.py",
                 f"/{prefix}/nope.js"):
        resp = await client.get(path)
        assert resp.status == 404, path
