"""What the daemon needs to serve the app safely: the listen check, the parser limits
and the TLS context.

```python
warnings = check_listen_safety(config.server)    # raises ConfigError to refuse
for w in warnings: log.warning(w)
runner = web.AppRunner(create_app(state))        # parser limits are in the app
await runner.setup()
site = web.TCPSite(runner, config.server.host, config.server.port,
                   ssl_context=ssl_context(config.server))
```
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import Any

from sysmond.api.auth import build_authenticator
from sysmond.api.ratelimit import parse_networks
from sysmond.config import ServerConfig
from sysmond.errors import ConfigError


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; an empty host or 0.0.0.0 / :: listen
    on every interface and are not."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen_safety(cfg: ServerConfig) -> list[str]:
    """Refuse a configuration that would expose the API unsafely; return warnings.

    Raise ConfigError (every problem, with its key) if the API would be served without
    authentication on a non-loopback address and `allow_insecure_remote` is not set, or
    if the auth, TLS or proxy settings cannot be used (files unreadable, weak keys).
    """
    problems: list[str] = []
    warnings: list[str] = []
    try:
        if not 0 <= cfg.port < 65_536:
            problems.append(f"server.listen: port {cfg.port} is out of range")
    except ValueError:
        problems.append(f"server.listen: expected HOST:PORT, got {cfg.listen!r}")
    host = cfg.host
    remote = not is_loopback_host(host)
    if cfg.auth.mode == "none" and remote:
        where = host or "every interface"
        if not cfg.auth.allow_insecure_remote:
            problems.append(
                f"server.listen: refusing to serve the API without authentication on "
                f"{where} ({cfg.listen}), where other machines can reach it. Set "
                "server.auth.mode to token or jwt, listen on 127.0.0.1, or set "
                "server.auth.allow_insecure_remote: true if a proxy in front does the "
                "authentication")
        else:
            warnings.append(f"serving the API without authentication on {where} "
                            "(server.auth.allow_insecure_remote is true)")
    for key, check in (("server.auth", lambda: build_authenticator(cfg.auth)),
                       ("server.tls", lambda: ssl_context(cfg)),
                       ("server.rate_limit", lambda: parse_networks(
                           cfg.rate_limit.trusted_proxies))):
        try:
            check()
        except ConfigError as e:
            problems += [p if p.startswith(("server.", "/")) else f"{key}: {p}"
                         for p in e.problems]
    if remote and cfg.auth.mode != "none" and not cfg.tls.enabled:
        warnings.append(f"API tokens will cross the network in clear text on {cfg.listen}: "
                        "configure server.tls or put a TLS proxy in front")
    if bool(cfg.tls.cert_file) != bool(cfg.tls.key_file):
        problems.append("server.tls: cert_file and key_file go together; one is missing")
    if problems:
        raise ConfigError(problems)
    return warnings


def handler_args(cfg: ServerConfig) -> dict[str, Any]:
    """aiohttp's HTTP parser limits (request line, one header field). They are set at
    twice `max_header_size`, so a header just over the limit reaches the limits
    middleware and gets a JSON 431; past this backstop aiohttp answers a plain 400."""
    most = 2 * cfg.limits.max_header_size
    return {"max_line_size": most, "max_field_size": most, "max_headers": 100}


def ssl_context(cfg: ServerConfig) -> ssl.SSLContext | None:
    """Return a server TLS context (TLS 1.2+) when a certificate and key are
    configured, else None. Raise ConfigError naming the files if they do not load."""
    if not cfg.tls.enabled:
        return None
    assert cfg.tls.cert_file and cfg.tls.key_file
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.tls.cert_file, cfg.tls.key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"server.tls: cannot load {cfg.tls.cert_file} with "
                          f"{cfg.tls.key_file}: {e}") from e
    return ctx
