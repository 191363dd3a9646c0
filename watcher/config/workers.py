"""``[workers]``: distributed mode, through a Redis broker.

Without ``broker`` (the default) everything runs in one process tree on
SQLite, as always. With it, ``watcher run`` hands feed and page reads to
``watcher worker`` processes through Redis and keeps the log itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from watcher.config.reader import MAX_TIMEOUT, Reader, Table

BROKER_SCHEMES = ("redis", "rediss", "unix")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class WorkersConfig:
    broker: str | None = field(
        default=None, repr=False
    )  # redis://[:password@]host:port/db; may hold a password
    namespace: str = "watcher"  # prefix of every key in Redis: one deployment per namespace
    visibility_timeout: float = 60.0  # a task of a worker silent this long goes back to the queue
    threads: int = 8  # tasks one `watcher worker` works on at once
    polls: int = 64  # polls `watcher run` keeps under way at once in distributed mode

    @property
    def distributed(self) -> bool:
        return self.broker is not None


KEYS = {"broker", "broker_env", "namespace", "visibility_timeout", "threads", "polls"}


def read_workers(r: Reader, raw: Table) -> WorkersConfig:
    w = r.section(raw, "workers", KEYS)
    d = WorkersConfig()
    namespace = r.typed(w, "workers.", "namespace", str, d.namespace)
    if not _NAMESPACE.match(namespace):
        r.fail("workers.namespace", "must be 1-64 letters, digits, '.', '_' or '-'")
        namespace = d.namespace
    visibility = r.duration(w, "workers.", "visibility_timeout", d.visibility_timeout, MAX_TIMEOUT)
    if visibility < 1:
        r.fail("workers.visibility_timeout", "must be at least 1 s (default 60 s)")
        visibility = d.visibility_timeout
    return WorkersConfig(
        broker=r.secret_url(w, "workers", "broker", broker_problem, "redis://127.0.0.1:6379/0"),
        namespace=namespace,
        visibility_timeout=visibility,
        threads=r.positive_int(w, "workers.", "threads", d.threads, 1024),
        polls=r.positive_int(w, "workers.", "polls", d.polls, 4096),
    )


def broker_problem(value: str) -> str | None:
    """Why ``value`` cannot be the broker's URL, or None (never shows the value)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return 'is not a URL; write it as redis://host:6379/0, e.g. "redis://127.0.0.1:6379/0"'
    if parts.scheme.lower() not in BROKER_SCHEMES:
        return 'must be a Redis URL such as "redis://127.0.0.1:6379/0" (schemes: redis, rediss, unix)'
    if parts.scheme.lower() != "unix" and not parts.hostname:
        return "needs a host, e.g. redis://127.0.0.1:6379/0"
    return None
