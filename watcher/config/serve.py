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
    public_url: str | None = None  # where people reach the page; links in structured alerts

    @property
    def page_url(self) -> str:
        """The review page's address for links: public_url, else host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def read_serve(r: Reader, raw: Table) -> ServeConfig:
    s = r.section(
        raw,
        "serve",
        {"host", "port", "password", "password_env", "allow_sql", "allowed_hosts", "public_url"},
    )
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
    public_url = r.typed(s, "serve.", "public_url", str, None)
    if public_url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        r.fail(
            "serve.public_url",
            "must be the http(s) address people open the page at, "
            f'e.g. "https://watcher.example.org", got {public_url!r}',
        )
        public_url = None
    return ServeConfig(
        host=r.typed(s, "serve.", "host", str, d.host),
        port=port,
        password=password,
        allow_sql=allow_sql,
        allowed_hosts=tuple(hosts),
        public_url=public_url,
    )
