"""``[network]``: request limits, private networks allowed, the proxy."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watcher.config.reader import DAY, MAX_TIMEOUT, Reader, Table

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


@dataclass(frozen=True)
class NetworkConfig:
    timeout: float = 30.0  # total deadline per request, seconds
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_connections: int = 4  # feeds polled at once
    proxy: str | None = field(default=None, repr=False)  # feeds, pages and alerts; may hold a password
    per_host: int = 2  # requests at once to one host (feeds and article pages together)
    poll_deadline: float = 600.0  # total seconds one poll of one feed may take; the rest waits


KEYS = {
    "timeout",
    "max_feed_bytes",
    "max_page_bytes",
    "max_redirects",
    "allow_private",
    "max_connections",
    "proxy",
    "proxy_env",
    "per_host",
    "poll_deadline",
}


def read_network(r: Reader, raw: Table) -> NetworkConfig:
    n = r.section(raw, "network", KEYS)
    d = NetworkConfig()
    nets = []
    for i, cidr in enumerate(r.typed(n, "network.", "allow_private", list, [])):
        try:
            nets.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError:
            r.fail(f"network.allow_private[{i}]", f'{cidr!r} is not a CIDR such as "10.0.0.0/8"')
    redirects = r.typed(n, "network.", "max_redirects", int, d.max_redirects)
    if not 0 <= redirects <= 20:
        r.fail("network.max_redirects", "must be between 0 and 20")
        redirects = d.max_redirects
    return NetworkConfig(
        timeout=r.duration(n, "network.", "timeout", d.timeout, MAX_TIMEOUT),
        max_feed_bytes=r.positive_int(n, "network.", "max_feed_bytes", d.max_feed_bytes),
        max_page_bytes=r.positive_int(n, "network.", "max_page_bytes", d.max_page_bytes),
        max_redirects=redirects,
        allow_private=tuple(nets),
        max_connections=r.positive_int(n, "network.", "max_connections", d.max_connections, 256),
        proxy=r.secret_url(n, "network", "proxy", proxy_problem, "http://proxy.example:3128"),
        per_host=r.positive_int(n, "network.", "per_host", d.per_host, 256),
        poll_deadline=r.duration(n, "network.", "poll_deadline", d.poll_deadline, DAY),
    )


def proxy_problem(value: str) -> str | None:
    """Why ``value`` cannot be the proxy URL, or None (never shows the value: it may hold a password)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return 'is not a URL; write it as scheme://host:port, e.g. "http://proxy.example:3128"'
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        return (
            'must be a proxy URL such as "http://proxy.example:3128" or "socks5://127.0.0.1:1080" '
            f"(schemes: {', '.join(PROXY_SCHEMES)})"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must be scheme://[user:password@]host:port, without a path"
    if port == 0:
        return "needs a TCP port (1-65535)"
    return None
