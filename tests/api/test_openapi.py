"""The OpenAPI document is valid and describes every registered route."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from sysmond.api import create_app
from sysmond.config import AuthConfig

from .conftest import test_config


def template(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


@pytest.mark.parametrize("mode", ["none", "token"])
async def test_the_document_is_valid_and_covers_every_route(aiohttp_client, make_state,
                                                            tmp_path, mode):
    tokens = tmp_path / "tokens"
    tokens.write_text("a-long-enough-test-token\n")
    config = test_config(auth=AuthConfig(mode=mode, tokens_file=str(tokens)))
    app = create_app(make_state(config))
    client = await aiohttp_client(app)
    r = await client.get("/api/v1/openapi.json")
    assert r.status == 200
    doc = await r.json()
    validate(doc)
    registered = {(template(res.canonical), route.method.lower())
                  for res in app.router.resources() for route in res
                  if route.method != "HEAD"}
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert registered == described


async def test_series_parameters_carry_the_configured_tiers_and_limits(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/metrics/disk"]["get"]["parameters"]}
    assert params["tier"]["schema"]["enum"] == ["raw", "5m", "1h"]
    assert params["points"]["schema"]["maximum"] == 10_000
    assert {"mount", "device"} <= set(params)
    assert "core" not in params


async def test_with_auth_open_paths_say_so(aiohttp_client, make_state, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("a-long-enough-test-token\n")
    config = test_config(auth=AuthConfig(mode="token", tokens_file=str(tokens)))
    client = await aiohttp_client(create_app(make_state(config)))
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/metrics/cpu"]["get"]
    assert "401" in doc["paths"]["/api/v1/metrics/cpu"]["get"]["responses"]
