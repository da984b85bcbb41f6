"""Who may call the API: nobody checked, static bearer tokens, or JWTs.

Keys and tokens are read once when the app is built (a bad file is a ConfigError at
start, not a 401 storm later); a tokens file is re-read when its modification time
changes, so a token can be revoked without a restart. Tokens are compared in constant
time over fixed-length digests, so neither their content nor their length leaks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from sysmond.api.errors import ApiError
from sysmond.config import AuthConfig, JwtConfig
from sysmond.errors import ConfigError

log = logging.getLogger(__name__)

MODES = ("none", "token", "jwt")
MIN_TOKEN_LENGTH = 16
MIN_HMAC_KEY_BYTES = 32  # RFC 7518 3.2: a key at least as long as the hash output
MIN_RSA_BITS = 2048
_RECHECK = 5.0  # seconds between looks at the tokens file's mtime
_MAX_CREDENTIAL = 8_192


class Authenticator(Protocol):
    def check(self, credential: str) -> None:
        """Return if `credential` (the text after `Bearer `) is accepted, else raise
        ApiError(401)."""


def unauthorized(detail: str, *, invalid: bool = True) -> ApiError:
    challenge = 'Bearer realm="sysmond"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, "unauthorized", detail, {"WWW-Authenticate": challenge})


def bearer(header: str | None) -> str:
    """Return the token of an `Authorization: Bearer TOKEN` header, or raise a 401."""
    if not header:
        raise unauthorized("this endpoint needs an Authorization: Bearer header",
                           invalid=False)
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise unauthorized("expected Authorization: Bearer <token>")
    if len(credential) > _MAX_CREDENTIAL:
        raise unauthorized("the token is too long")
    return credential


def _digest(text: str | bytes) -> bytes:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return hashlib.sha256(data).digest()


def read_tokens(path: str) -> list[bytes]:
    """Given a tokens file (one token a line; blank lines and `#` comments skipped),
    return their digests. Raise ConfigError naming the file and line if one is unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the API tokens file: {e}") from e
    digests, problems = [], []
    for n, line in enumerate(lines, 1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            problems.append(f"{path}:{n}: a token must be at least {MIN_TOKEN_LENGTH} "
                            "characters without spaces")
            continue
        digests.append(_digest(token))
    if problems:
        raise ConfigError(problems)
    if not digests:
        raise ConfigError(f"{path}: the API tokens file holds no token")
    return digests


class TokenAuth:
    """Static bearer tokens from a file."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._digests = read_tokens(path)
        self._mtime = self._stat()
        self._checked = clock()

    def _stat(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return None

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._checked < _RECHECK:
            return
        self._checked = now
        mtime = self._stat()
        if mtime == self._mtime or mtime is None:
            return
        try:
            self._digests = read_tokens(self.path)
            log.info("API tokens re-read from %s", self.path)
        except ConfigError as e:  # keep the tokens we had; say so once per change
            log.error("API tokens file changed but is unusable, keeping the old tokens: %s",
                      e)
        self._mtime = mtime

    def check(self, credential: str) -> None:
        self._maybe_reload()
        given = _digest(credential)
        ok = False
        for d in self._digests:  # no early exit: time does not depend on which matched
            ok |= hmac.compare_digest(given, d)
        if not ok:
            raise unauthorized("the token is not accepted")


def load_jwt_key(cfg: JwtConfig) -> Any:
    """Read the verification key: the HS256 shared secret or the RS256 public key.
    Raise ConfigError naming the file if it is missing, unreadable, weak or foreign."""
    if cfg.algorithm not in ("HS256", "RS256"):
        raise ConfigError(f"server.auth.jwt.algorithm: expected HS256 or RS256, got "
                          f"{cfg.algorithm!r}")
    if not cfg.key_file:
        raise ConfigError("server.auth.jwt.key_file: needed when server.auth.mode is jwt")
    try:
        with open(cfg.key_file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"{cfg.key_file}: cannot read the JWT key: {e}") from e
    # PyJWT and cryptography cost ~15 MB of memory: loaded only when JWT is configured.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if cfg.algorithm == "HS256":
        secret = data.strip()
        if len(secret) < MIN_HMAC_KEY_BYTES:
            raise ConfigError(f"{cfg.key_file}: an HS256 secret must be at least "
                              f"{MIN_HMAC_KEY_BYTES} bytes, it has {len(secret)}")
        return secret
    try:
        key = load_pem_public_key(data)
    except ValueError as e:
        raise ConfigError(f"{cfg.key_file}: not a PEM public key ({e})") from e
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(f"{cfg.key_file}: RS256 needs an RSA public key")
    if key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"{cfg.key_file}: the RSA key has {key.key_size} bits; at least "
                          f"{MIN_RSA_BITS} are needed")
    return key


class JwtAuth:
    """JWTs signed with one algorithm and key; exp is required, nbf, aud and iss are
    checked (aud and iss when configured), with `leeway` seconds of clock skew."""

    def __init__(self, cfg: JwtConfig) -> None:
        import jwt

        self._key = load_jwt_key(cfg)
        self._cfg = cfg
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    def check(self, credential: str) -> None:
        import jwt  # already loaded by __init__: a dictionary look-up

        cfg = self._cfg
        try:
            self._jwt.decode(credential, self._key, algorithms=[cfg.algorithm],
                             audience=cfg.audience, issuer=cfg.issuer, leeway=cfg.leeway,
                             options={"require": ["exp"]})
        except jwt.ExpiredSignatureError:
            raise unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("the token is not valid yet (nbf or iat in the future)") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as e:
            raise unauthorized(f"the token is not for this server ({e})") from None
        except jwt.MissingRequiredClaimError as e:
            raise unauthorized(f"the token lacks a claim: {e.claim}") from None
        except jwt.InvalidTokenError:
            raise unauthorized("the token is not accepted") from None


def build_authenticator(cfg: AuthConfig) -> Authenticator | None:
    """Return the authenticator `cfg` describes, None for mode none.
    Raise ConfigError if its files are unusable."""
    if cfg.mode == "none":
        return None
    if cfg.mode == "token":
        if not cfg.tokens_file:
            raise ConfigError("server.auth.tokens_file: needed when server.auth.mode is "
                              "token")
        return TokenAuth(cfg.tokens_file)
    if cfg.mode == "jwt":
        return JwtAuth(cfg.jwt)
    raise ConfigError(f"server.auth.mode: expected one of {', '.join(MODES)}, got "
                      f"{cfg.mode!r}")
