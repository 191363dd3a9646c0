"""What a ``Client`` may do: its deadline, redirects, private networks, proxy and
requests at once per host."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network

from watcher.config import proxy_problem


@dataclass(frozen=True)
class NetworkPolicy:
    timeout: float  # TOTAL deadline per request incl. redirects, seconds
    user_agent: str
    max_redirects: int = 5
    allow_private: tuple[IPv4Network | IPv6Network, ...] = ()
    proxy: str | None = field(default=None, repr=False)  # may hold credentials
    per_host: int | None = None  # requests at once to one host (None: no limit)

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.max_redirects < 0:
            raise ValueError(f"max_redirects must be 0 or more, got {self.max_redirects!r}")
        problem = proxy_problem(self.proxy) if self.proxy is not None else None
        if problem:
            raise ValueError(f"proxy: {problem}")
        # CIDR strings are accepted for convenience and stored as networks.
        nets = tuple(ip_network(n, strict=False) if isinstance(n, str) else n for n in self.allow_private)
        object.__setattr__(self, "allow_private", nets)
