"""Per-client rate limiting: a token bucket per client address.

The client is the TCP peer, unless the peer is a configured trusted proxy: then it is
the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries
left of that were written by the client and prove nothing). Loopback clients are
exempt by default: a dashboard on the same host, or `curl` by the admin, should never
be throttled; a reverse proxy on the same host should be listed in `trusted_proxies`
so its users are told apart (and limited) by their own addresses.

The bucket table is bounded: full buckets are forgotten first, then the least recently
seen, so a scan from many addresses cannot grow memory without limit.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

from sysmond.config import RateLimitConfig
from sysmond.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_CLIENTS = 10_000


def parse_networks(items: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Given addresses or CIDR networks, return networks. Raise ConfigError naming the
    bad entry."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as e:
            raise ConfigError(f"server.rate_limit.trusted_proxies[{i}]: {e}") from None
    return tuple(out)


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    addr = _address(host)
    return addr is not None and addr.is_loopback


class RateLimiter:
    """Token buckets: `rate` tokens a second, at most `burst`, one per request."""

    def __init__(self, cfg: RateLimitConfig, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS) -> None:
        if cfg.rate <= 0 or cfg.burst < 1:
            raise ConfigError("server.rate_limit: rate must be > 0 and burst >= 1")
        self.rate = float(cfg.rate)
        self.burst = float(cfg.burst)
        self.exempt_loopback = cfg.exempt_loopback
        self.trusted = parse_networks(cfg.trusted_proxies)
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def _trusted(self, host: str) -> bool:
        addr = _address(host)
        return addr is not None and any(addr in net for net in self.trusted)

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """Return the address that stands for the client of one request."""
        peer = peer or "unknown"
        if not forwarded_for or not self.trusted or not self._trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",")][-32:]
        for hop in reversed(hops):
            if _address(hop) is None:
                return peer  # a malformed chain: fall back to who we can see
            if not self._trusted(hop):
                return str(_address(hop))
        return str(_address(hops[0])) if hops else peer

    def exempt(self, client: str) -> bool:
        return self.exempt_loopback and is_loopback(client)

    def take(self, client: str) -> float:
        """Spend one token of `client`'s bucket. Return 0 if the request may go on,
        else the seconds until a token is back (for Retry-After)."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self._max:
                self._evict(now)
            bucket = self._buckets[client] = [self.burst, now]
        else:
            self._buckets.move_to_end(client)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def _evict(self, now: float) -> None:
        full = self.burst / self.rate
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full]:
            del self._buckets[key]
        while len(self._buckets) >= self._max:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait: float) -> str:
    """Retry-After takes whole seconds; never say 0 to a refused client."""
    return str(max(1, math.ceil(wait)))
