"""``[serve]``: the review web page's address, password and reach."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from watcher.config.reader import Reader, Table

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)*\.?$"
)


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    password: str | None = field(default=None, repr=False)
    allow_sql: bool = False  # Datasette's arbitrary SQL (needs the password)
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback names and IPs


def read_serve(r: Reader, raw: Table) -> ServeConfig:
    s = r.section(raw, "serve", {"host", "port", "password", "password_env", "allow_sql", "allowed_hosts"})
    d = ServeConfig()
    password = r.typed(s, "serve.", "password", str, None)
    if password:
        r.secrets.append("serve.password")
    env = r.typed(s, "serve.", "password_env", str, None)
    if env is not None:
        password = r.environ.get(env)
        if not password:
            r.fail("serve.password_env", f"environment variable {env} is not set or empty")
    port = r.typed(s, "serve.", "port", int, d.port)
    if not 0 < port < 65536:
        r.fail("serve.port", f"must be a TCP port (1-65535), got {port}")
        port = d.port
    allow_sql = r.typed(s, "serve.", "allow_sql", bool, False)
    if allow_sql and not password:
        r.fail(
            "serve.allow_sql",
            "arbitrary SQL on the web page needs serve.password (or "
            "password_env): without one, any local program or web page could run it",
        )
        allow_sql = False
    hosts = []
    for i, host in enumerate(r.typed(s, "serve.", "allowed_hosts", list, [])):
        if not isinstance(host, str) or not _HOST_NAME.match(host.strip().lower()):
            r.fail(
                f"serve.allowed_hosts[{i}]",
                f"{host!r} is not a host name; write the name "
                'alone, without scheme or port, e.g. "watcher.example.org"',
            )
            continue
        hosts.append(host.strip().lower().rstrip("."))
    return ServeConfig(
        host=r.typed(s, "serve.", "host", str, d.host),
        port=port,
        password=password,
        allow_sql=allow_sql,
        allowed_hosts=tuple(hosts),
    )
