"""The review web page: a Datasette plugin with triage views, served by ``watcher serve``.

Datasette browses the whole database (tables, facets, SQL, JSON/CSV export,
canned queries) under ``/<database name>``; this plugin adds the daily views
at ``/`` (stories), ``/article/ID``, ``/search``, ``/feeds``, ``/outbox`` and
``/rules``. The views read through :mod:`watcher.review` and write feedback
through :mod:`watcher.review.feedback`, on their own connection in a worker thread.

Safety: feed text is only ever rendered as escaped text (Jinja autoescape; no
``|safe`` on feed data), links are kept only when they are http(s), and every
response, Datasette's too, carries a Content-Security-Policy that allows no
script. Feedback is a POST protected by Datasette's CSRF token. Binding a
non-loopback address requires ``[serve] password``; with a password set every
request (Datasette's too) needs HTTP Basic credentials (any user name, that
password). A request whose Host is not a loopback name, an IP address or a
name in ``[serve] allowed_hosts`` is refused (421): a web page the analyst
visits cannot reach the server through a DNS-rebinding name. Datasette's
arbitrary SQL is off unless ``[serve] allow_sql`` is set with a password, and
every connection the server opens (Datasette's and ours) refuses dangerous
SQLite functions whatever the settings (``fts3_tokenizer`` hands out and
takes native pointers: one GET crashed the process; ``load_extension``, ...),
ATTACH, and huge strings or blobs (``watcher.store.database.harden``).

The hooks are registered with Datasette's plugin manager once; they act only
on a Datasette instance that carries a :class:`WebContext` (``ds.watcher``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import uvicorn
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm

from watcher.errors import WebError
from watcher.store import database
from watcher.store.schema import CANNED_QUERIES, TABLE_DOCS
from watcher.web.monitoring import healthz_view, metrics_view
from watcher.web.security import CSP, basic_auth, host_guard, security_headers
from watcher.web.settings import WebContext, WebSettings, check_binding, check_port, is_loopback
from watcher.web.views import (
    article_view,
    atom_view,
    feedback_view,
    feeds_view,
    near_view,
    outbox_view,
    rules_view,
    safe_href,
    search_view,
    stories_view,
)

__all__ = [
    "CSP",
    "WebContext",
    "WebError",
    "WebServer",
    "WebSettings",
    "build",
    "check_binding",
    "check_port",
    "is_loopback",
    "safe_href",
    "serve",
]

PACKAGE = Path(__file__).resolve().parent


# -- building and running ------------------------------------------------------------


def build(settings: WebSettings, clock: Callable[[], datetime]) -> Datasette:
    """A Datasette instance over the watcher database, with the triage views."""
    if not pm.has_plugin("watcher"):
        pm.register(sys.modules[__name__], name="watcher")
    ds = Datasette(
        files=[str(settings.database)],
        template_dir=str(PACKAGE / "templates"),
        static_mounts=[("watcher-static", str(PACKAGE / "static"))],
        metadata=_metadata(settings.database),
        settings={
            "default_page_size": 50,
            "sql_time_limit_ms": 3000,
            "default_allow_sql": settings.sql_allowed,
        },
    )
    ds.watcher = WebContext(settings, clock)
    return ds


def serve(settings: WebSettings, *, clock: Callable[[], datetime]) -> None:
    """Serve until interrupted (Ctrl-C)."""
    check_binding(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            build(settings, clock).app(), host=settings.host, port=settings.port, log_level="warning"
        )
    )
    server.run()


class WebServer:
    """The page on a background thread (for tests and embedding): ``start()`` -> URL."""

    def __init__(self, settings: WebSettings, *, clock: Callable[[], datetime]) -> None:
        check_binding(settings)
        self.settings = settings
        self._server = uvicorn.Server(
            uvicorn.Config(
                build(settings, clock).app(),
                host=settings.host,
                port=settings.port,
                log_level="warning",
                lifespan="off",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WebError(f"the web server did not start on {self.settings.host}:{self.settings.port}")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.settings.host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# -- database metadata shown in Datasette ---------------------------------------------


def _metadata(database: Path) -> dict:
    return {
        "title": "watcher log",
        "description": "The watcher database. The review pages are at /.",
        "databases": {
            database.stem: {
                "tables": {name: {"description": doc} for name, doc in TABLE_DOCS.items()},
                "queries": CANNED_QUERIES,
            }
        },
    }


# -- the plugin hooks -------------------------------------------------------------------------


@hookimpl
def register_routes(datasette):
    if not isinstance(getattr(datasette, "watcher", None), WebContext):
        return []
    return [
        (r"^/$", stories_view),
        (r"^/article/(?P<id>\d+)$", article_view),
        (r"^/article/(?P<id>\d+)/feedback$", feedback_view),
        (r"^/search$", search_view),
        (r"^/feeds$", feeds_view),
        (r"^/outbox$", outbox_view),
        (r"^/rules$", rules_view),
        (r"^/matches\.atom$", atom_view),
        (r"^/healthz$", healthz_view),
        (r"^/metrics$", metrics_view),
        (r"^/near-misses$", near_view),
    ]


@hookimpl
def asgi_wrapper(datasette):
    context = getattr(datasette, "watcher", None)
    if not isinstance(context, WebContext):
        return None
    settings = context.settings

    def wrap(app):
        if settings.password:
            app = basic_auth(app, settings.password)
        return security_headers(host_guard(app, settings))

    return wrap


@hookimpl
def prepare_connection(conn, datasette):
    """Every connection Datasette opens for the watcher's server."""
    if isinstance(getattr(datasette, "watcher", None), WebContext):
        database.harden(conn)
