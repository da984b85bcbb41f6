"""API security: the listen check, tokens, JWTs, TLS, rate limits, CORS, headers."""

from __future__ import annotations

import datetime as dt
import ssl
import time

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from sysmond.api import check_listen_safety, create_app, ssl_context
from sysmond.api.auth import TokenAuth
from sysmond.api.errors import ApiError
from sysmond.api.ratelimit import RateLimiter
from sysmond.config import (
    AuthConfig,
    JwtConfig,
    RateLimitConfig,
    ServerConfig,
    TlsConfig,
)
from sysmond.errors import ConfigError

from .conftest import test_config

TOKEN = "s3cret-token-for-the-tests"
SECRET = b"an-hs256-secret-of-at-least-32-bytes!!"


@pytest.fixture
def tokens_file(tmp_path):
    p = tmp_path / "tokens"
    p.write_text(f"# API tokens\n\n{TOKEN}\nanother-token-0123456789\n")
    return str(p)


# --- the listen check ----------------------------------------------------------------


def test_the_default_listens_on_loopback_without_auth_and_passes():
    cfg = ServerConfig()
    assert cfg.host == "127.0.0.1"
    assert check_listen_safety(cfg) == []


@pytest.mark.parametrize("listen", ["127.0.0.1:9180", "[::1]:9180", "localhost:9180",
                                    "127.0.0.53:9180"])
def test_loopback_addresses_need_no_auth(listen):
    assert check_listen_safety(ServerConfig(listen=listen)) == []


@pytest.mark.parametrize("listen", ["0.0.0.0:9180", ":9180", "[::]:9180",
                                    "192.0.2.10:9180", "myhost:9180"])
def test_no_auth_on_a_reachable_address_is_refused_with_a_clear_message(listen):
    with pytest.raises(ConfigError) as e:
        check_listen_safety(ServerConfig(listen=listen))
    text = str(e.value)
    assert "refusing to serve the API without authentication" in text
    assert "allow_insecure_remote" in text and "127.0.0.1" in text


def test_allow_insecure_remote_lets_it_start_with_a_warning():
    cfg = ServerConfig(listen="0.0.0.0:9180", auth=AuthConfig(allow_insecure_remote=True))
    [warning] = check_listen_safety(cfg)
    assert "without authentication" in warning


def test_tokens_on_a_remote_address_without_tls_warn_about_clear_text(tokens_file):
    cfg = ServerConfig(listen="0.0.0.0:9180",
                       auth=AuthConfig(mode="token", tokens_file=tokens_file))
    [warning] = check_listen_safety(cfg)
    assert "clear text" in warning


@pytest.mark.parametrize(("auth", "fragment"), [
    (AuthConfig(mode="token", tokens_file="/nonexistent/tokens"), "/nonexistent/tokens"),
    (AuthConfig(mode="token"), "tokens_file"),
    (AuthConfig(mode="jwt"), "key_file"),
    (AuthConfig(mode="jwt", jwt=JwtConfig(algorithm="none", key_file="/x")), "HS256"),
    (AuthConfig(mode="magic"), "server.auth.mode"),
])
def test_unusable_auth_settings_are_refused_naming_the_key(auth, fragment):
    with pytest.raises(ConfigError, match=fragment):
        check_listen_safety(ServerConfig(auth=auth))


def test_a_short_token_or_secret_is_refused(tmp_path):
    short = tmp_path / "short"
    short.write_text("tooshort\n")
    with pytest.raises(ConfigError, match=r"short:1: a token must be at least 16"):
        check_listen_safety(ServerConfig(auth=AuthConfig(mode="token",
                                                         tokens_file=str(short))))
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        check_listen_safety(ServerConfig(auth=AuthConfig(
            mode="jwt", jwt=JwtConfig(key_file=str(short)))))


def test_a_bad_trusted_proxy_is_refused():
    with pytest.raises(ConfigError, match=r"trusted_proxies\[1\]"):
        check_listen_safety(ServerConfig(rate_limit=RateLimitConfig(
            trusted_proxies=("10.0.0.0/8", "not-an-address"))))


# --- bearer tokens ---------------------------------------------------------------------


async def auth_client(aiohttp_client, make_state, auth):
    return await aiohttp_client(create_app(make_state(test_config(auth=auth))))


async def test_tokens_guard_the_api(aiohttp_client, make_state, tokens_file):
    client = await auth_client(aiohttp_client, make_state,
                               AuthConfig(mode="token", tokens_file=tokens_file))
    r = await client.get("/api/v1/metrics/current")
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="sysmond"'
    assert (await r.json())["error"] == "unauthorized"
    r = await client.get("/api/v1/metrics/cpu", headers={"Authorization": "Bearer nope"})
    assert r.status == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    r = await client.get("/api/v1/metrics/cpu", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status == 401
    for token in (TOKEN, "another-token-0123456789"):
        r = await client.get("/api/v1/metrics/current",
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200


async def test_health_metrics_and_the_openapi_document_are_open_by_default(
        aiohttp_client, make_state, tokens_file):
    client = await auth_client(aiohttp_client, make_state,
                               AuthConfig(mode="token", tokens_file=tokens_file))
    for path in ("/api/v1/health", "/metrics", "/api/v1/openapi.json"):
        assert (await client.get(path)).status == 200, path


async def test_health_and_metrics_can_be_protected(aiohttp_client, make_state, tokens_file):
    client = await auth_client(aiohttp_client, make_state, AuthConfig(
        mode="token", tokens_file=tokens_file, protect_health=True, protect_metrics=True))
    for path in ("/api/v1/health", "/metrics"):
        assert (await client.get(path)).status == 401, path
        r = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200, path


def test_a_changed_tokens_file_is_reread_and_a_broken_one_ignored(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("first-token-0123456789\n")
    now = [0.0]
    auth = TokenAuth(str(path), clock=lambda: now[0])
    auth.check("first-token-0123456789")
    path.write_text("second-token-0123456789\n")
    import os

    os.utime(path, (time.time() + 5, time.time() + 5))
    now[0] = 10.0
    auth.check("second-token-0123456789")
    with pytest.raises(ApiError):
        auth.check("first-token-0123456789")
    path.write_text("short\n")
    os.utime(path, (time.time() + 10, time.time() + 10))
    now[0] = 20.0
    auth.check("second-token-0123456789")  # the broken file is not taken


# --- JWT -----------------------------------------------------------------------------


def claims(**kw):
    now = int(time.time())
    base = {"sub": "dashboard", "exp": now + 300, "aud": "sysmond"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def hs_client(aiohttp_client, make_state, tmp_path):
    key = tmp_path / "jwt.secret"
    key.write_bytes(SECRET + b"\n")
    auth = AuthConfig(mode="jwt", jwt=JwtConfig("HS256", str(key), audience="sysmond",
                                                leeway=5))

    async def make():
        return await auth_client(aiohttp_client, make_state, auth)

    return make


@pytest.mark.parametrize(("payload", "status", "fragment"), [
    (claims(), 200, None),
    (claims(exp=int(time.time()) - 60), 401, "expired"),
    (claims(nbf=int(time.time()) + 600), 401, "not valid yet"),
    (claims(aud="someone-else"), 401, "not for this server"),
    (claims(aud=None), 401, "aud"),
    (claims(exp=None), 401, "exp"),
])
async def test_hs256_tokens_are_checked_for_exp_nbf_and_aud(hs_client, payload, status,
                                                            fragment):
    client = await hs_client()
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    r = await client.get("/api/v1/metrics/current",
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status == status
    if fragment:
        assert fragment in (await r.json())["detail"]


async def test_a_token_signed_with_another_key_or_alg_none_is_refused(hs_client):
    client = await hs_client()
    for token in (jwt.encode(claims(), b"x" * 40, algorithm="HS256"),
                  jwt.encode(claims(), None, algorithm="none")):
        r = await client.get("/api/v1/metrics/current",
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status == 401


async def test_rs256_tokens_verify_with_the_public_key(aiohttp_client, make_state, tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "jwt.pub").write_bytes(pem)
    auth = AuthConfig(mode="jwt", jwt=JwtConfig("RS256", str(tmp_path / "jwt.pub"),
                                                audience="sysmond", issuer="idp"))
    client = await auth_client(aiohttp_client, make_state, auth)
    good = jwt.encode(claims(iss="idp"), private, algorithm="RS256")
    r = await client.get("/api/v1/metrics/current", headers={"Authorization": f"Bearer {good}"})
    assert r.status == 200
    wrong_iss = jwt.encode(claims(iss="evil"), private, algorithm="RS256")
    r = await client.get("/api/v1/metrics/current",
                         headers={"Authorization": f"Bearer {wrong_iss}"})
    assert r.status == 401
    # an HS256 token (alg switched by the sender) must not pass an RS256 server
    forged = jwt.api_jws.PyJWS().encode(b'{"exp": 9999999999, "aud": "sysmond"}', b"x" * 32,
                                        algorithm="HS256")
    r = await client.get("/api/v1/metrics/current",
                         headers={"Authorization": f"Bearer {forged}"})
    assert r.status == 401


# --- TLS --------------------------------------------------------------------------------


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


async def test_https_serves_the_api_with_the_configured_certificate(make_state, tmp_path):
    cert, key = self_signed(tmp_path)
    config = test_config(tls=TlsConfig(cert, key))
    server_ctx = ssl_context(config.server)
    assert server_ctx is not None
    runner = web.AppRunner(create_app(make_state(config)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client_ctx = ssl.create_default_context(cafile=cert)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://localhost:{port}/api/v1/metrics/current",
                                ssl=client_ctx) as r:
                assert r.status == 200
                assert r.headers["Strict-Transport-Security"].startswith("max-age=")
                assert (await r.json())["hostname"] == "testhost"
            with pytest.raises(aiohttp.ClientError):  # an unknown CA is not trusted
                async with http.get(f"https://localhost:{port}/api/v1/health") as r:
                    pass
            with pytest.raises(aiohttp.ClientError):  # plain HTTP is not spoken
                async with http.get(f"http://localhost:{port}/api/v1/health") as r:
                    pass
    finally:
        await runner.cleanup()


def test_a_broken_certificate_is_a_config_error(tmp_path):
    (tmp_path / "c.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"c\.pem"):
        ssl_context(ServerConfig(tls=TlsConfig(str(tmp_path / "c.pem"),
                                               str(tmp_path / "c.pem"))))


# --- rate limits --------------------------------------------------------------------------


async def limited_client(aiohttp_client, make_state, **kw):
    kw.setdefault("exempt_loopback", False)
    rl = RateLimitConfig(rate=0.5, burst=3, **kw)
    return await aiohttp_client(create_app(make_state(test_config(rate_limit=rl))))


async def test_a_burst_then_429_with_retry_after(aiohttp_client, make_state):
    client = await limited_client(aiohttp_client, make_state)
    statuses = [(await client.get("/api/v1/metrics/current")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = await client.get("/api/v1/metrics/current")
    assert r.status == 429
    assert r.headers["Retry-After"] == "2"  # 1 token at 0.5/s
    body = await r.json()
    assert body["error"] == "too many requests" and "127.0.0.1" in body["detail"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_loopback_is_exempt_by_default(aiohttp_client, make_state):
    client = await limited_client(aiohttp_client, make_state, exempt_loopback=True)
    for _ in range(10):
        assert (await client.get("/api/v1/metrics/current")).status == 200


async def test_forwarded_for_from_a_trusted_proxy_tells_clients_apart(aiohttp_client,
                                                                      make_state):
    client = await limited_client(aiohttp_client, make_state,
                                  trusted_proxies=("127.0.0.1",), exempt_loopback=True)

    async def get(xff):
        return (await client.get("/api/v1/metrics/current",
                                 headers={"X-Forwarded-For": xff})).status

    assert [await get("203.0.113.5") for _ in range(4)] == [200, 200, 200, 429]
    assert await get("203.0.113.6") == 200  # another user behind the same proxy
    # a client cannot escape by prepending addresses: the proxy appends the real one
    assert await get("198.51.100.1, 203.0.113.5") == 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(aiohttp_client, make_state):
    client = await limited_client(aiohttp_client, make_state, trusted_proxies=("10.0.0.1",))
    statuses = [(await client.get("/api/v1/metrics/current",
                                  headers={"X-Forwarded-For": f"203.0.113.{i}"})).status
                for i in range(4)]
    assert statuses == [200, 200, 200, 429]  # all one client: the peer


def test_the_client_is_the_rightmost_untrusted_hop():
    rl = RateLimiter(RateLimitConfig(trusted_proxies=("10.0.0.0/8", "127.0.0.1")))
    assert rl.client("127.0.0.1", "1.2.3.4, 10.1.1.1") == "1.2.3.4"
    assert rl.client("127.0.0.1", "6.6.6.6, 1.2.3.4") == "1.2.3.4"
    assert rl.client("192.0.2.1", "1.2.3.4") == "192.0.2.1"
    assert rl.client("127.0.0.1", "garbage") == "127.0.0.1"
    assert rl.client("127.0.0.1", "10.0.0.5, 10.0.0.6") == "10.0.0.5"
    assert rl.client("::ffff:127.0.0.1", "1.2.3.4") == "1.2.3.4"


def test_the_bucket_table_is_bounded():
    now = [0.0]
    rl = RateLimiter(RateLimitConfig(rate=1, burst=5), clock=lambda: now[0], max_clients=100)
    for i in range(1_000):
        rl.take(f"10.0.{i // 256}.{i % 256}")
        now[0] += 0.001
    assert len(rl) <= 100


def test_buckets_refill_at_the_configured_rate():
    now = [0.0]
    rl = RateLimiter(RateLimitConfig(rate=2, burst=2), clock=lambda: now[0])
    assert [rl.take("c") for _ in range(2)] == [0, 0]
    assert rl.take("c") == pytest.approx(0.5)
    now[0] = 0.5
    assert rl.take("c") == 0


# --- CORS and headers ----------------------------------------------------------------------

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                    "Content-Security-Policy")


async def test_security_headers_are_on_every_response(client):
    for path in ("/api/v1/metrics/current", "/api/v1/metrics/gpu", "/metrics",
                 "/api/v1/metrics/cpu?points=0", "/api/v1/openapi.json"):
        r = await client.get(path)
        for h in SECURITY_HEADERS:
            assert h in r.headers, (path, h)
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


async def test_the_dashboards_html_gets_a_policy_that_lets_it_run(aiohttp_client,
                                                                  make_state):
    app = create_app(make_state())

    async def page(request):
        return web.Response(text="<html></html>", content_type="text/html")

    app.router.add_get("/", page)
    client = await aiohttp_client(app)
    r = await client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


async def test_cors_is_off_unless_configured(client):
    r = await client.get("/api/v1/metrics/current", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = await client.options("/api/v1/metrics/current", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert r.status == 405


async def test_configured_origins_get_cors_headers_and_preflights(aiohttp_client,
                                                                  make_state):
    config = test_config(cors_origins=("https://grafana.example",))
    client = await aiohttp_client(create_app(make_state(config)))
    r = await client.get("/api/v1/metrics/current",
                         headers={"Origin": "https://grafana.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://grafana.example"
    assert "Origin" in r.headers["Vary"]
    r = await client.options("/api/v1/metrics/cpu", headers={
        "Origin": "https://grafana.example", "Access-Control-Request-Method": "GET"})
    assert r.status == 204
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    r = await client.options("/api/v1/metrics/cpu", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert r.status == 403
    r = await client.get("/api/v1/metrics/current", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
