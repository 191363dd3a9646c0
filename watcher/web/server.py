"""The review web page: a Datasette plugin with triage views, served by ``watcher serve``.

Datasette browses the whole database (tables, facets, SQL, JSON/CSV export,
canned queries) under ``/<database name>``; this plugin adds the daily views
at ``/`` (stories), ``/article/ID``, ``/search``, ``/feeds``, ``/outbox`` and
``/rules``. The views read through :mod:`watcher.review` and write feedback
through :mod:`watcher.feedback`, on their own connection in a worker thread.

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

import asyncio
import base64
import hmac
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import uvicorn
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils.asgi import Response

from watcher import timestamp
from watcher.config import SEVERITIES, Config
from watcher.errors import WebError
from watcher.review import MAX_LIMIT, ReviewError, chart, feedback
from watcher.review.article import alerts as outbox_rows
from watcher.review.article import group_hits, highlight_field, hit_context
from watcher.review.article import show as load_article
from watcher.review.log import Filter, matched_stories, parse_since
from watcher.review.log import verdicts as latest_verdicts
from watcher.review.search import search as search_articles
from watcher.review.search import searched_for
from watcher.review.stats import matches_per_day, rule_stats
from watcher.review.status import feed_health
from watcher.review.status import status as database_status
from watcher.store import database
from watcher.store.database import Store
from watcher.store.schema import CANNED_QUERIES, TABLE_DOCS

PACKAGE = Path(__file__).resolve().parent
CHART_DAYS = 30
STORIES_PAGE = 100  # stories per page; "show more" adds as many again
QUIET_DAYS = 7  # a healthy feed with no new article for this long is flagged
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
LOOPBACK_NAMES = ("localhost",)  # and every IP address: a rebinding attack needs a name
CSRF_COOKIE = "ds_csrftoken"
SINCE_CHOICES = (
    ("1d", "last 24 hours"),
    ("2d", "last 2 days"),
    ("7d", "last 7 days"),
    ("30d", "last 30 days"),
    ("", "all time"),
)


@dataclass(frozen=True)
class WebSettings:
    database: Path
    host: str = "127.0.0.1"
    port: int = 8765
    password: str | None = field(default=None, repr=False)
    config_path: str = "watcher.toml"
    allow_sql: bool = False  # Datasette's arbitrary SQL; only ever with a password
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback names and IPs

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


def safe_href(url: str | None) -> str | None:
    """``url`` if it is http(s) with a host, else None (no javascript:, data:, ...)."""
    if not url or not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


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
    ]


@hookimpl
def asgi_wrapper(datasette):
    context = getattr(datasette, "watcher", None)
    if not isinstance(context, WebContext):
        return None
    settings = context.settings

    def wrap(app):
        if settings.password:
            app = _basic_auth(app, settings.password)
        return _security_headers(_host_guard(app, settings))

    return wrap


@hookimpl
def prepare_connection(conn, datasette):
    """Every connection Datasette opens for the watcher's server."""
    if isinstance(getattr(datasette, "watcher", None), WebContext):
        database.harden(conn)


def _security_headers(app):
    """The watcher pages' headers on every response (Datasette's pages send none)."""

    async def with_headers(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await app(scope, receive, sending)

    return with_headers


def _host_guard(app, settings: WebSettings):
    """Answer only requests addressed to this server by a name it was given."""
    allowed = {h.lower().rstrip(".") for h in (*LOOPBACK_NAMES, *settings.allowed_hosts)}

    async def guarded(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await app(scope, receive, send)
        raw = dict(scope.get("headers") or []).get(b"host")
        host = _host_name(raw.decode("latin-1")) if raw else None
        if host is not None and (host in allowed or _is_ip(host)):
            return await app(scope, receive, send)
        if scope["type"] != "http":
            return await send({"type": "websocket.close", "code": 1008})
        shown = "".join(c for c in (raw or b"").decode("latin-1")[:100] if c.isprintable())
        message = (
            (
                f"watcher: this server answers to {', '.join(sorted(allowed))} and IP addresses, "
                f"not to the host {shown!r}; if that name is yours, add it to [serve] "
                f"allowed_hosts in {settings.config_path}\n"
            )
            if raw
            else "watcher: a Host header is required\n"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 421 if raw else 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": message.encode("utf-8")})

    return guarded


def _host_name(value: str) -> str | None:
    """The host of a Host header (no port, lower case, no final dot), or None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        return inside if bracket and (not rest or rest[1:].isdigit() and rest[0] == ":") else None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _basic_auth(app, password: str):
    expected = password.encode("utf-8")

    async def guarded(scope, receive, send):
        if scope["type"] != "http" or _authorised(scope, expected):
            return await app(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Basic realm="watcher", charset="UTF-8"'),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"watcher: password required\n"})

    return guarded


def _authorised(scope, expected: bytes) -> bool:
    header = dict(scope.get("headers") or []).get(b"authorization", b"")
    if not header.lower().startswith(b"basic "):
        return False
    try:
        _, _, given = base64.b64decode(header[6:].strip(), validate=True).partition(b":")
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)


async def _with_store(datasette, fn):
    """Run ``fn(store)`` on a fresh connection in a worker thread."""
    path = datasette.watcher.settings.database

    def work():
        store = Store.open(path, migrate=False, hardened=True)
        try:
            return fn(store)
        finally:
            store.close()

    return await asyncio.to_thread(work)


async def _page(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    db_name = datasette.get_database().name
    now = datasette.watcher.clock()
    html = await datasette.render_template(
        f"review_{template}",
        {
            **context,
            "safe_href": safe_href,
            "db_name": db_name,
            "nav": context.get("nav", ""),
            "short_time": _short_time,
            "severities": SEVERITIES,
            "ago": lambda value: _ago(value, now),
        },
        request=request,
    )
    response = Response.html(html, status=status)
    response.headers["content-security-policy"] = CSP
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    return response


def _ago(value: str | None, now: datetime) -> str:
    """'5 min ago', '3 h ago', '4 days ago' (or '' when unknown)."""
    if not value:
        return ""
    try:
        seconds = (now - datetime.fromisoformat(value)).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''} ago"
    return "just now"


def _short_time(value: str | None) -> str:
    return timestamp.short(value, empty="–")


def _arg(request, name: str) -> str | None:
    value = (request.args.get(name) or "").strip()
    return value or None


# -- views ---------------------------------------------------------------------------------


async def stories_view(datasette, request):
    now = datasette.watcher.clock()
    form = {k: _arg(request, k) for k in ("rule", "feed", "severity", "since")}
    if form["severity"] not in SEVERITIES:
        form["severity"] = None
    limit = _page_size(request)
    error = None
    try:
        flt = Filter(
            rule=form["rule"],
            feed=form["feed"],
            severity=form["severity"],
            since=parse_since(form["since"], now) if form["since"] else None,
            limit=limit,
        )
    except ReviewError as exc:
        error, flt = str(exc), Filter(limit=limit)

    def load(store):
        rows = matched_stories(store, flt)
        return (
            rows,
            latest_verdicts(store, [r.article_id for r in rows]),
            rule_stats(store),
            feed_health(store),
            _chart(store, now, form["rule"]),
        )

    rows, verdicts, rules, feeds, day_chart = await _with_store(datasette, load)
    more = {**{k: v for k, v in form.items() if v}, "limit": limit + STORIES_PAGE}
    return await _page(
        datasette,
        request,
        "stories.html",
        {
            "nav": "stories",
            "rows": rows,
            "rules": rules,
            "feeds": feeds,
            "form": form,
            "since_choices": SINCE_CHOICES,
            "chart": day_chart,
            "error": error,
            "verdicts": verdicts,
            "failing": [f for f in feeds if f.state.trouble],
            "here": request.full_path,
            "more_url": "/?" + urlencode(more) if len(rows) == limit and limit < MAX_LIMIT else None,
        },
    )


def _page_size(request) -> int:
    try:
        return min(MAX_LIMIT, max(STORIES_PAGE, int(request.args.get("limit", STORIES_PAGE))))
    except ValueError:
        return STORIES_PAGE


def _chart(store: Store, now: datetime, rule: str | None) -> chart.Chart:
    first = (now - timedelta(days=CHART_DAYS - 1)).date()
    days = [(first + timedelta(days=i)).isoformat() for i in range(CHART_DAYS)]
    counts = matches_per_day(store, since=first.isoformat(), rule=rule)
    return chart.build(counts, days=days)


async def article_view(datasette, request):
    article_id = int(request.url_vars["id"])
    article = await _with_store(datasette, lambda s: load_article(s, article_id))
    if article is None:
        return await _page(datasette, request, "missing.html", {"what": f"article #{article_id}"}, status=404)
    return await _page(
        datasette,
        request,
        "article.html",
        {
            "nav": "stories",
            "a": article,
            "title_segments": highlight_field(article, "title"),
            "text_segments": highlight_field(article, "text"),
            "explained": [
                (m, [(g, hit_context(article, g.first)) for g in group_hits(m.hits)]) for m in article.matches
            ],
        },
    )


async def feedback_view(datasette, request):
    article_id = int(request.url_vars["id"])
    if request.method != "POST":
        return Response.redirect(f"/article/{article_id}")
    if not _same_origin_form(request):
        return Response.text(
            "watcher: this form must be sent from the watcher page itself "
            "(CSRF check failed); reload the page and try again\n",
            status=403,
        )
    form = await request.post_vars()
    verdict, note = form.get("verdict", ""), form.get("note")
    if any(ord(c) < 32 or ord(c) == 127 for c in form.get("next") or ""):
        return Response.text(
            "watcher: the form's return address holds a line break or a control "
            "character; reload the page and try again\n",
            status=400,
        )
    back = _local_path(form.get("next")) or f"/article/{article_id}"
    now = datasette.watcher.clock()
    try:
        await _with_store(datasette, lambda s: feedback.record(s, article_id, verdict, note=note, now=now))
    except feedback.FeedbackError as exc:
        datasette.add_message(request, str(exc), datasette.ERROR)
    else:
        datasette.add_message(
            request,
            f"Marked #{article_id} {verdict}. Thank you — it counts in the rule statistics.",
            datasette.INFO,
        )
    return Response.redirect(back)


def _local_path(value: str | None) -> str | None:
    """A path on this site to go back to (never another site: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return quote(value, safe="/?&=#%:+@!$'()*,;~-._")  # a header value: ASCII only


def _same_origin_form(request) -> bool:
    """Datasette's CSRF middleware checks the form token against the cookie, but
    skips requests that carry no cookie at all (a cross-site POST, where the
    cookie is withheld). Require the cookie, and a matching Origin if sent."""
    if CSRF_COOKIE not in request.cookies:
        return False
    origin = request.headers.get("origin")
    return origin in (None, "null") or urlsplit(origin).netloc == request.headers.get("host")


async def search_view(datasette, request):
    query = _arg(request, "q")
    matched_only = request.args.get("matched") == "1"
    hits, error = (), None
    if query:
        try:
            hits = await _with_store(
                datasette, lambda s: search_articles(s, query, limit=50, matched_only=matched_only)
            )
        except ReviewError as exc:
            error = str(exc)
    return await _page(
        datasette,
        request,
        "search.html",
        {
            "nav": "search",
            "q": query or "",
            "matched": matched_only,
            "hits": hits,
            "error": error,
            "searched": searched_for(query) if query else "",
        },
    )


async def feeds_view(datasette, request):
    feeds = await _with_store(datasette, feed_health)
    database = await _with_store(datasette, database_status)
    quiet_since = (datasette.watcher.clock() - timedelta(days=QUIET_DAYS)).isoformat()
    quiet = {f.id for f in feeds if f.state.healthy and (f.last_article or "") < quiet_since}
    return await _page(
        datasette,
        request,
        "feeds.html",
        {"nav": "feeds", "feeds": feeds, "status": database, "quiet": quiet, "quiet_days": QUIET_DAYS},
    )


async def outbox_view(datasette, request):
    wanted = _arg(request, "status")
    rows = await _with_store(datasette, lambda s: outbox_rows(s, status=wanted, limit=300))
    counts = await _with_store(datasette, lambda s: database_status(s).alerts)
    return await _page(
        datasette,
        request,
        "outbox.html",
        {"nav": "outbox", "alerts": rows, "counts": counts, "wanted": wanted},
    )


async def rules_view(datasette, request):
    now = datasette.watcher.clock()
    stats, day_chart = await _with_store(datasette, lambda s: (rule_stats(s), _chart(s, now, None)))
    return await _page(datasette, request, "rules.html", {"nav": "rules", "stats": stats, "chart": day_chart})
