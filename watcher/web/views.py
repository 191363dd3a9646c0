"""The triage views: ``/`` (stories), ``/article/ID``, ``/search``, ``/feeds``,
``/outbox`` and ``/rules``. They read through :mod:`watcher.review` and write
feedback through :mod:`watcher.review.feedback`, on a connection of their own in
a worker thread; feed text is only ever rendered as escaped text."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode, urlsplit

from datasette.utils.asgi import Response

from watcher import timestamp
from watcher.config import SEVERITIES
from watcher.review import MAX_LIMIT, ReviewError, chart, feedback
from watcher.review.article import alerts as outbox_rows
from watcher.review.article import group_hits, highlight_field, hit_context
from watcher.review.article import show as load_article
from watcher.review.log import Filter, matched_stories, parse_since
from watcher.review.log import verdicts as latest_verdicts
from watcher.review.nearmiss import near_misses
from watcher.review.search import search as search_articles
from watcher.review.search import searched_for
from watcher.review.stats import matches_per_day, rule_stats
from watcher.review.status import feed_health, feeds_page, outbox_counts
from watcher.store.database import Store
from watcher.web.security import CSP

CHART_DAYS = 30
STORIES_PAGE = 100  # stories per page; "show more" adds as many again
CSRF_COOKIE = "ds_csrftoken"
SINCE_CHOICES = (
    ("1d", "last 24 hours"),
    ("2d", "last 2 days"),
    ("7d", "last 7 days"),
    ("30d", "last 30 days"),
    ("", "all time"),
)


def safe_href(url: str | None) -> str | None:
    """``url`` if it is http(s) with a host, else None (no javascript:, data:, ...)."""
    if not url or not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


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


FILTER_KEYS = ("rule", "feed", "severity", "since", "unreviewed", "tag")


def _story_filter(request, now: datetime, limit: int) -> tuple[dict, Filter, str | None]:
    """The stories page's filters from the query string: (form values, filter, error)."""
    form = {k: _arg(request, k) for k in FILTER_KEYS}
    if form["severity"] not in SEVERITIES:
        form["severity"] = None
    form["unreviewed"] = "1" if form["unreviewed"] in ("1", "on", "true") else None
    try:
        flt = Filter(
            rule=form["rule"],
            feed=form["feed"],
            severity=form["severity"],
            since=parse_since(form["since"], now) if form["since"] else None,
            limit=limit,
            unreviewed=bool(form["unreviewed"]),
            tag=form["tag"],
        )
    except ReviewError as exc:
        return form, Filter(limit=limit), str(exc)
    return form, flt, None


async def stories_view(datasette, request):
    now = datasette.watcher.clock()
    limit = _page_size(request)
    form, flt, error = _story_filter(request, now, limit)

    def load(store):
        rows = matched_stories(store, flt)
        return (
            rows,
            latest_verdicts(store, [r.article_id for r in rows]),
            rule_stats(store),
            feed_health(store, now),
            _chart(store, now, form["rule"]),
        )

    rows, verdicts, rules, feeds, day_chart = await _with_store(datasette, load)
    chosen = {k: v for k, v in form.items() if v}
    more = {**chosen, "limit": limit + STORIES_PAGE}
    kept = {**chosen, **({"limit": limit} if limit != STORIES_PAGE else {})}
    try:
        at = int(request.args.get("at") or 0)
    except ValueError:
        at = 0

    def step_url(article_id: int) -> str:
        """This page, scrolled to (and marking) the story of ``article_id``: j/k and triage come back here."""
        return "/?" + urlencode({**kept, "at": article_id}) + f"#a{article_id}"

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
            "failing": [f for f in feeds if f.state.trouble and not f.paused],
            "here": request.full_path,
            "at": at,
            "step_url": step_url,
            "atom_url": "/matches.atom" + ("?" + urlencode(chosen) if chosen else ""),
            "unreviewed_url": "/?" + urlencode({**chosen, "unreviewed": "1"}),
            "more_url": "/?" + urlencode(more) if len(rows) == limit and limit < MAX_LIMIT else None,
        },
    )


async def atom_view(datasette, request):
    """The matched stories as an Atom feed (``?rule=ID`` and the page's other filters)."""
    from watcher.web import atom

    context = datasette.watcher
    now = context.clock()
    form, flt, error = _story_filter(request, now, STORIES_PAGE)
    if error:
        return Response.text(f"watcher: {error}\n", status=400)
    rows = await _with_store(datasette, lambda s: matched_stories(s, flt))
    base = (context.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")
    chosen = {k: v for k, v in form.items() if v}
    title = "watcher: matched stories" + (f" for rule {form['rule']}" if form["rule"] else "")
    body = atom.feed(
        rows,
        base=base,
        self_url=f"{base}/matches.atom" + ("?" + urlencode(chosen) if chosen else ""),
        title=title,
        now=now,
        href=safe_href,
    )
    return Response(body.decode("utf-8"), status=200, content_type=atom.CONTENT_TYPE)


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
    now = datasette.watcher.clock()
    feeds, database = await _with_store(datasette, lambda s: feeds_page(s, now))
    return await _page(datasette, request, "feeds.html", {"nav": "feeds", "feeds": feeds, "status": database})


async def outbox_view(datasette, request):
    wanted = _arg(request, "status")
    rows = await _with_store(datasette, lambda s: outbox_rows(s, status=wanted, limit=300))
    counts = await _with_store(datasette, outbox_counts)
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


async def near_view(datasette, request):
    rule = _arg(request, "rule")
    misses = await _with_store(datasette, lambda s: near_misses(s, rule=rule, limit=100))
    return await _page(
        datasette,
        request,
        "near.html",
        {"nav": "near", "misses": misses, "rule": rule, "here": request.full_path},
    )
