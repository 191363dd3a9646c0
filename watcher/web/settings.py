"""What ``watcher serve`` serves and where: ``WebSettings`` from the config,
and the checks made before listening."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watcher.config import Config, WorkersConfig
from watcher.errors import WebError


@dataclass(frozen=True)
class WebSettings:
    database: Path
    host: str = "127.0.0.1"
    port: int = 8765
    password: str | None = field(default=None, repr=False)
    config_path: str = "watcher.toml"
    allow_sql: bool = False  # Datasette's arbitrary SQL; only ever with a password
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback names and IPs
    public_url: str | None = None  # the page's address for links (the Atom feed), else the request's
    workers: WorkersConfig = field(
        default_factory=WorkersConfig
    )  # distributed mode: /metrics shows its queues

    @classmethod
    def from_config(cls, config: Config, *, host: str | None = None, port: int | None = None) -> WebSettings:
        return cls(
            database=config.database,
            host=host or config.serve.host,
            port=port or config.serve.port,
            password=config.serve.password,
            config_path=str(config.path),
            allow_sql=config.serve.allow_sql,
            allowed_hosts=config.serve.allowed_hosts,
            public_url=config.serve.public_url,
            workers=config.workers,
        )

    @property
    def sql_allowed(self) -> bool:
        return self.allow_sql and bool(self.password)


@dataclass(frozen=True)
class WebContext:
    settings: WebSettings
    clock: Callable[[], datetime]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(settings: WebSettings) -> None:
    """Refuse to expose the log beyond this machine without a password."""
    if not is_loopback(settings.host) and not settings.password:
        raise WebError(
            f"{settings.config_path}: [serve] binding {settings.host} would show the log to the "
            f"network without a password; set [serve] password (or password_env) in "
            f"{settings.config_path}, or bind 127.0.0.1 and use an SSH tunnel or a reverse proxy"
        )


def check_port(settings: WebSettings) -> None:
    """Fail early, with a message, when the address cannot be listened on."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((settings.host.strip("[]"), settings.port))
    except OSError as exc:
        raise WebError(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); "
            f"is another `watcher serve` running? choose another --port or [serve] port "
            f"in {settings.config_path}"
        ) from None
