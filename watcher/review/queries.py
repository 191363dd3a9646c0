"""Reviewing the log: the queries behind ``watcher log/show/search/status``,
``watcher rules stats`` and the web page, plus log maintenance (``prune``).

Everything returns frozen dataclasses built from the store; nothing here
formats for a terminal or a browser. Both shells (``watcher/commands/review.py``
and ``watcher/web.py``) call these functions.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from watcher import health
from watcher.config import SEVERITIES, DedupConfig, severity_rank
from watcher.duration import DurationError, parse_duration
from watcher.review import search as folded_search
from watcher.text.highlight import Segment, highlight  # noqa: F401 (re-exported)
from watcher.review.retention import Pruned, PruneError, prune  # noqa: F401 (the daemon calls review.prune)
from watcher.store.database import Store
from watcher.errors import ReviewError
from watcher.dedup.story import Stories

SEVERITY_RANK_SQL = ("CASE {col} WHEN 'low' THEN 0 WHEN 'medium' THEN 1 "
                     "WHEN 'high' THEN 2 WHEN 'critical' THEN 3 ELSE -1 END")
MAX_LIMIT = 10_000


# -- filters ---------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    """What ``log``, ``export`` and the stories page narrow down by."""

    rule: str | None = None
    feed: str | None = None          # feed name or URL
    severity: str | None = None      # minimum severity: 'high' keeps high and critical
    since: str | None = None         # ISO-8601 UTC; compared with when the article was fetched
    limit: int | None = 50

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ReviewError(f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        if self.limit is not None and not 0 < self.limit <= MAX_LIMIT:
            raise ReviewError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")


def parse_since(text: str, now: datetime) -> str:
    """``2d``/``12h`` (ago), a date ``2026-11-01`` or an ISO datetime -> ISO UTC string."""
    text = text.strip()
    try:
        return (now - timedelta(seconds=parse_duration(text))).astimezone(timezone.utc).isoformat()
    except DurationError:
        pass
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), time(), timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise ReviewError(f'--since {text!r}: write a period such as "2d" or "12h", '
                          f'or a date such as "2026-11-01"') from None
    return moment.astimezone(timezone.utc).isoformat()



def filter_sql(flt: Filter, *, matched_only: bool) -> tuple[str, dict]:
    """WHERE clause over ``articles a`` joined to ``feeds f``."""
    clauses, params = [], {}
    if matched_only:
        clauses.append("a.matched = 1")
    if flt.feed:
        clauses.append("(f.name = :feed OR f.url = :feed)")
        params["feed"] = flt.feed
    if flt.since:
        clauses.append("a.fetched_at >= :since")
        params["since"] = flt.since
    if flt.rule or flt.severity:
        sub = ["m.article_id = a.id"]
        if flt.rule:
            sub.append("m.rule_id = :rule")
            params["rule"] = flt.rule
        if flt.severity:
            sub.append(SEVERITY_RANK_SQL.format(col="m.severity") + " >= :sev")
            params["sev"] = severity_rank(flt.severity)
        clauses.append(f"EXISTS (SELECT 1 FROM matches m WHERE {' AND '.join(sub)})")
    return (" AND ".join(clauses) or "1"), params


# -- the log: matched stories ----------------------------------------------

@dataclass(frozen=True)
class LogRow:
    story_id: int | None
    article_id: int              # the story's first matched article (within the filter)
    seen: str                    # when the story's newest matching article was fetched
    severity: str                # highest severity among the story's matches
    rules: tuple[str, ...]       # every rule any member matched
    title: str
    feed: str
    url: str
    outlets: int                 # distinct feeds among the story's members
    members: int
    alerts: tuple[tuple[str, int], ...]   # (status, count), e.g. (("sent", 2),)
    other_feeds: tuple[str, ...] = ()     # the other outlets carrying the story (first five)

    @property
    def alert_status(self) -> str:
        if not self.alerts:
            return "none"
        return " · ".join(status if n == 1 else f"{status} {n}" for status, n in self.alerts)


def log(store: Store, flt: Filter) -> tuple[LogRow, ...]:
    """Matched stories, newest first: one row per story (or per lone article)."""
    where, params = filter_sql(flt, matched_only=True)
    sql = f"""
        SELECT COALESCE(a.story_id, -a.id) AS skey, MIN(a.id) AS article_id,
               MAX(a.fetched_at) AS seen
        FROM articles a JOIN feeds f ON f.id = a.feed_id
        WHERE {where}
        GROUP BY skey ORDER BY seen DESC, article_id DESC
        {'LIMIT :limit' if flt.limit else ''}"""
    params["limit"] = flt.limit
    return tuple(_log_row(store, r["skey"], r["article_id"], r["seen"])
                 for r in store.query(sql, params))


def _log_row(store: Store, skey: int, article_id: int, seen: str) -> LogRow:
    story_id = skey if skey > 0 else None
    members = "a.story_id = :key" if story_id else "a.id = :key"
    key = story_id or article_id
    head = store.query("""SELECT a.title, a.url, f.name AS feed FROM articles a
                          JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?""", (article_id,))[0]
    rules = store.query(f"""
        SELECT m.rule_id, m.severity FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE {members} ORDER BY m.id""", {"key": key})
    counts = store.query(f"""SELECT COUNT(DISTINCT a.feed_id) AS outlets, COUNT(*) AS n
                             FROM articles a WHERE {members}""", {"key": key})[0]
    others = store.query(f"""SELECT DISTINCT f.name FROM articles a JOIN feeds f ON f.id = a.feed_id
                             WHERE {members} AND f.name != :feed ORDER BY a.id LIMIT 5""",
                         {"key": key, "feed": head["feed"]})
    alert_col = "story_id" if story_id else "article_id"
    alerts = store.query(f"""SELECT status, COUNT(*) AS n FROM alerts WHERE {alert_col} = ?
                             GROUP BY status ORDER BY status""", (key,))
    return LogRow(
        story_id=story_id, article_id=article_id, seen=seen,
        severity=max((r["severity"] for r in rules), key=severity_rank, default="low"),
        rules=tuple(dict.fromkeys(r["rule_id"] for r in rules)),
        title=head["title"] or "(untitled)", feed=head["feed"], url=head["url"],
        outlets=counts["outlets"], members=counts["n"],
        alerts=tuple((a["status"], a["n"]) for a in alerts),
        other_feeds=tuple(r["name"] for r in others),
    )


def verdicts(store: Store, article_ids: Iterable[int]) -> dict[int, str]:
    """The newest verdict on each of ``article_ids`` that has one."""
    ids = list(article_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r["article_id"]: r["verdict"] for r in store.query(f"""
        SELECT article_id, verdict FROM feedback WHERE id IN (
            SELECT MAX(id) FROM feedback WHERE article_id IN ({marks}) GROUP BY article_id)""", ids)}


# -- one article -------------------------------------------------------------

@dataclass(frozen=True)
class HitView:
    term: str
    entity: str | None
    field: str                   # 'title' or 'text'
    start: int
    end: int
    snippet: str


@dataclass(frozen=True)
class MatchView:
    rule_id: str
    title: str
    severity: str
    score: float
    matched_at: str
    hits: tuple[HitView, ...]
    problem: str | None = None   # set when the stored hits could not be read


@dataclass(frozen=True)
class MemberView:
    id: int
    title: str
    feed: str
    url: str
    fetched_at: str
    matched: bool
    join_reason: str | None
    join_similarity: float | None = None

    @property
    def join_label(self) -> str | None:
        return JOIN_LABELS.get(self.join_reason, self.join_reason)


JOIN_LABELS = {"canonical_url": "same canonical URL", "content_hash": "identical text",
               "similar": "near-duplicate"}


@dataclass(frozen=True)
class JoinView:
    """Why an article is in its story (from ``Stories.explain``)."""

    story_id: int
    opened: bool                 # this article opened the story
    reason: str | None           # 'canonical_url' | 'content_hash' | 'similar' (None when opened)
    other_id: int | None         # the earlier member it is most like
    other_feed: str | None
    other_title: str | None
    similarity: float | None     # share of 3-word phrases shared with other_id, 0..1
    distance: int | None         # SimHash bits apart (of 64)
    joined_later: int = 0        # when opened: how many articles joined it since
    sentence: str = ""           # the explanation as one sentence

    @property
    def label(self) -> str | None:
        return JOIN_LABELS.get(self.reason, self.reason)

    @property
    def measure(self) -> str:
        """"64% of 3-word phrases shared, SimHash 9 of 64 bits apart"; "" when unknown."""
        parts = []
        if self.similarity is not None:
            parts.append(f"{self.similarity:.0%} of 3-word phrases shared")
        if self.distance is not None:
            parts.append(f"SimHash {self.distance} of 64 bits apart")
        return ", ".join(parts)


@dataclass(frozen=True)
class AlertView:
    id: int
    story_id: int
    article_id: int
    channel: str
    mode: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None
    next_attempt_at: str | None = None
    title: str = ""


@dataclass(frozen=True)
class FeedbackView:
    verdict: str
    note: str | None
    created_at: str


@dataclass(frozen=True)
class ArticleView:
    id: int
    url: str
    canonical_url: str
    feed: str
    title: str
    author: str | None
    published: str | None
    fetched_at: str
    language: str | None
    extraction: str
    extraction_error: str | None
    text: str
    summary: str
    story_id: int | None
    duplicate_of: int | None
    join_reason: str | None
    join_similarity: float | None
    matches: tuple[MatchView, ...]
    members: tuple[MemberView, ...]          # the story's other members
    alerts: tuple[AlertView, ...]
    feedback: tuple[FeedbackView, ...]       # newest first
    join: JoinView | None = None             # why it is in its story

    @property
    def verdict(self) -> str | None:
        return self.feedback[0].verdict if self.feedback else None

    def hits(self, field: str) -> tuple[tuple[HitView, str], ...]:
        """(hit, rule id) pairs that point into ``field``."""
        return tuple((h, m.rule_id) for m in self.matches for h in m.hits if h.field == field)


@dataclass(frozen=True)
class HitGroup:
    """The hits of one term in one field: shown once, with how often it occurs."""
    term: str
    entity: str | None
    field: str
    count: int
    first: HitView


def group_hits(hits: Iterable[HitView]) -> tuple[HitGroup, ...]:
    groups: dict[tuple, list[HitView]] = {}
    for hit in hits:
        groups.setdefault((hit.field, hit.term.casefold(), hit.entity), []).append(hit)
    return tuple(HitGroup(h[0].term, h[0].entity, h[0].field, len(h), h[0])
                 for h in sorted(groups.values(), key=lambda hs: (hs[0].field != "title", hs[0].start)))


def parse_hits(raw: str | None) -> tuple[tuple[HitView, ...], str | None]:
    """The stored hits JSON -> hits; bad JSON gives no hits and a problem note."""
    try:
        items = json.loads(raw or "[]")
        if not isinstance(items, list):
            raise ValueError("not a list")
        return tuple(HitView(
            term=str(h.get("term", "")), entity=h.get("entity"),
            field=str(h.get("field", "text")), start=int(h.get("start", 0)),
            end=int(h.get("end", 0)), snippet=str(h.get("snippet", ""))) for h in items), None
    except (ValueError, TypeError, AttributeError) as exc:
        return (), f"stored hits unreadable: {exc}"


def show(store: Store, article_id: int) -> ArticleView | None:
    rows = store.query("""SELECT a.*, f.name AS feed FROM articles a
                          JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?""", (article_id,))
    if not rows:
        return None
    a = rows[0]
    matches = []
    for m in store.query("SELECT * FROM matches WHERE article_id = ? ORDER BY id", (article_id,)):
        hits, problem = parse_hits(m["hits"])
        matches.append(MatchView(m["rule_id"], m["rule_title"], m["severity"], m["score"],
                                 m["matched_at"], hits, problem))
    return ArticleView(
        id=a["id"], url=a["url"], canonical_url=a["canonical_url"], feed=a["feed"],
        title=a["title"] or "", author=a["author"], published=a["published"],
        fetched_at=a["fetched_at"], language=a["language"], extraction=a["extraction"],
        extraction_error=a["extraction_error"], text=a["text"] or "", summary=a["summary"] or "",
        story_id=a["story_id"], duplicate_of=a["duplicate_of"], join_reason=a["join_reason"],
        join_similarity=a["join_similarity"], matches=tuple(matches),
        members=_members(store, a["story_id"], article_id),
        alerts=alerts(store, story_id=a["story_id"], article_id=article_id),
        feedback=tuple(FeedbackView(f["verdict"], f["note"], f["created_at"]) for f in store.query(
            "SELECT * FROM feedback WHERE article_id = ? ORDER BY id DESC", (article_id,))),
        join=join_view(store, article_id),
    )


def join_view(store: Store, article_id: int) -> JoinView | None:
    """Why the article is in its story: which identity joined it to which
    earlier article, and how alike they are; None when it is in no story."""
    found = Stories(store, DedupConfig(), _no_clock).explain(article_id)
    if found is None or found.story_id is None:
        return None
    opened = found.first_article_id == article_id
    other = store.query("""SELECT a.title, f.name FROM articles a JOIN feeds f ON f.id = a.feed_id
                           WHERE a.id = ?""", (found.matched_article_id,)) if found.matched_article_id else []
    later = store.query("SELECT COUNT(*) AS n FROM articles WHERE story_id = ? AND id != ?",
                        (found.story_id, article_id))[0]["n"] if opened else 0
    return JoinView(
        story_id=found.story_id, opened=opened, reason=None if opened else found.reason,
        other_id=found.matched_article_id,
        other_feed=other[0]["name"] if other else None,
        other_title=(other[0]["title"] or "(untitled)") if other else None,
        similarity=found.similarity, distance=found.distance, joined_later=later,
        sentence=found.text)


def _no_clock() -> datetime:
    raise RuntimeError("explaining a story join needs no clock")


def _members(store: Store, story_id: int | None, article_id: int) -> tuple[MemberView, ...]:
    if story_id is None:
        return ()
    return tuple(MemberView(r["id"], r["title"] or "(untitled)", r["feed"], r["url"],
                            r["fetched_at"], bool(r["matched"]), r["join_reason"], r["join_similarity"])
                 for r in store.query("""
        SELECT a.id, a.title, a.url, a.fetched_at, a.matched, a.join_reason, a.join_similarity,
               f.name AS feed
        FROM articles a JOIN feeds f ON f.id = a.feed_id
        WHERE a.story_id = ? AND a.id != ? ORDER BY a.fetched_at, a.id""", (story_id, article_id)))


def alerts(store: Store, *, story_id: int | None = None, article_id: int | None = None,
           status: str | None = None, limit: int = 200) -> tuple[AlertView, ...]:
    """Alert outbox rows, newest first: of one story (or lone article), or all."""
    clauses, params = [], {"limit": limit}
    if story_id is not None:
        clauses.append("al.story_id = :story")
        params["story"] = story_id
    elif article_id is not None:
        clauses.append("al.article_id = :article")
        params["article"] = article_id
    if status:
        clauses.append("al.status = :status")
        params["status"] = status
    rows = store.query(f"""
        SELECT al.*, a.title FROM alerts al LEFT JOIN articles a ON a.id = al.article_id
        WHERE {' AND '.join(clauses) or '1'} ORDER BY al.id DESC LIMIT :limit""", params)
    return tuple(AlertView(
        id=r["id"], story_id=r["story_id"], article_id=r["article_id"], channel=r["channel"],
        mode=r["mode"], status=r["status"], attempts=r["attempts"], last_error=r["last_error"],
        created_at=r["created_at"], sent_at=r["sent_at"], next_attempt_at=r["next_attempt_at"],
        title=r["title"] or "") for r in rows)


# -- highlighting in an article ---------------------------------------------

def field_text(article: ArticleView, field: str) -> str:
    """The stored text a hit's offsets point into ('' for an unknown field)."""
    return {"title": article.title, "text": article.text, "summary": article.summary}.get(field, "")


def highlight_field(article: ArticleView, field: str) -> tuple[Segment, ...]:
    return highlight(field_text(article, field), ((h.start, h.end, rule) for h, rule in article.hits(field)))


# -- search --------------------------------------------------------------------

@dataclass(frozen=True)
class SearchHit:
    article_id: int
    title: str
    feed: str
    url: str
    fetched_at: str
    matched: bool
    snippet: tuple[Segment, ...]         # the text around the matched words (the title if only it matched)
    title_marked: tuple[Segment, ...] = ()   # the title, matched words marked


def search(store: Store, query: str, *, limit: int = 20, matched_only: bool = False) -> tuple[SearchHit, ...]:
    """Search every stored article's title and text, folded as the matcher
    folds them (see :mod:`watcher.search`); best matches first."""
    if not query.strip():
        raise ReviewError("the search query is empty; give one or more words")
    if not 0 < limit <= MAX_LIMIT:
        raise ReviewError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    try:
        compiled = folded_search.compile_query(query)
    except folded_search.QueryError as exc:
        raise ReviewError(str(exc)) from None
    try:
        return tuple(_search_hit(*row) for row in _search_rows(store, compiled.fts, limit, matched_only))
    except sqlite3.OperationalError as exc:     # never expected: the query is compiled, not typed
        raise ReviewError(f"the search failed ({exc}); {folded_search.HELP}") from None


def searched_for(query: str) -> str:
    """The query's words as search sees them (folded), for "no result" messages;
    "" when the query cannot be used."""
    try:
        return folded_search.describe(folded_search.compile_query(query))
    except folded_search.QueryError:
        return ""


def _search_rows(store: Store, match: str, limit: int, matched_only: bool) -> list[tuple]:
    """The best ``limit`` articles, then their columns and highlights: texts and
    highlights are read for the rows shown only, not for every match."""
    join = ("JOIN articles a ON a.id = search_index.rowid AND a.matched = 1"
            if matched_only else "")
    best = [r[0] for r in store.db.execute(f"""
        SELECT search_index.rowid FROM search_index {join} WHERE search_index MATCH :q
        ORDER BY bm25(search_index, 2.0, 1.0) LIMIT :limit""", {"q": match, "limit": limit})]
    if not best:
        return []
    rows = {r[0]: r for r in store.db.execute(f"""
        SELECT a.id, a.title, a.text, a.url, a.fetched_at, a.matched, f.name,
               highlight(search_index, 0, char(1), char(2)),
               highlight(search_index, 1, char(1), char(2))
        FROM search_index JOIN articles a ON a.id = search_index.rowid
        JOIN feeds f ON f.id = a.feed_id
        WHERE search_index MATCH ? AND search_index.rowid IN ({','.join('?' * len(best))})""",
        (match, *best))}
    return [rows[i] for i in best if i in rows]


def _search_hit(article_id, title, text, url, fetched_at, matched, feed, title_hl, text_hl) -> SearchHit:
    title = title or "(untitled)"
    title_marked = folded_search.marked(title, title_hl or "")
    snippet = folded_search.snippet(text or "", text_hl or "") or title_marked
    return SearchHit(article_id, title, feed, url, fetched_at, bool(matched), snippet, title_marked)


# -- rule statistics -------------------------------------------------------------

@dataclass(frozen=True)
class RuleStat:
    rule_id: str
    title: str
    severity: str
    matches: int                 # matched articles
    stories: int
    relevant: int                # matched articles whose latest feedback says relevant
    irrelevant: int
    last_match: str | None

    @property
    def judged(self) -> int:
        return self.relevant + self.irrelevant

    @property
    def precision(self) -> float | None:
        return self.relevant / self.judged if self.judged else None

    @property
    def noisy(self) -> bool:
        """At least 3 judgements and half or more of them irrelevant."""
        return self.judged >= 3 and self.irrelevant * 2 >= self.judged


def rule_stats(store: Store, *, since: str | None = None,
               known: Iterable[tuple[str, str, str]] = ()) -> tuple[RuleStat, ...]:
    """Per-rule counts of matches and of feedback, most matches first.
    ``known`` (rule id, title, severity) adds configured rules that never matched."""
    rows = store.query(f"""
        WITH latest AS (
            SELECT f.article_id, f.verdict FROM feedback f
            JOIN (SELECT MAX(id) AS id FROM feedback GROUP BY article_id) last ON last.id = f.id),
        per_rule AS (
            SELECT m.rule_id, COUNT(*) AS matches, COUNT(DISTINCT COALESCE(a.story_id, -a.id)) AS stories,
                   SUM(l.verdict = 'relevant') AS relevant, SUM(l.verdict = 'irrelevant') AS irrelevant,
                   MAX(m.matched_at) AS last_match, MAX(m.id) AS last_id
            FROM matches m JOIN articles a ON a.id = m.article_id
            LEFT JOIN latest l ON l.article_id = m.article_id
            {'WHERE a.fetched_at >= :since' if since else ''}
            GROUP BY m.rule_id)
        SELECT p.*, x.rule_title AS title, x.severity FROM per_rule p JOIN matches x ON x.id = p.last_id
        ORDER BY p.matches DESC, p.rule_id""", {"since": since})
    stats = [RuleStat(r["rule_id"], r["title"], r["severity"], r["matches"], r["stories"],
                      r["relevant"] or 0, r["irrelevant"] or 0, r["last_match"]) for r in rows]
    seen = {s.rule_id for s in stats}
    stats += [RuleStat(rid, title, sev, 0, 0, 0, 0, None) for rid, title, sev in known if rid not in seen]
    return tuple(stats)


@dataclass(frozen=True)
class DayCount:
    day: str                     # YYYY-MM-DD (UTC)
    rule_id: str
    count: int


def matches_per_day(store: Store, *, since: str, rule: str | None = None) -> tuple[DayCount, ...]:
    rows = store.query(f"""
        SELECT substr(a.fetched_at, 1, 10) AS day, m.rule_id, COUNT(*) AS n
        FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE a.fetched_at >= :since {'AND m.rule_id = :rule' if rule else ''}
        GROUP BY day, m.rule_id ORDER BY day, m.rule_id""", {"since": since, "rule": rule})
    return tuple(DayCount(r["day"], r["rule_id"], r["n"]) for r in rows)


# -- feeds and the database ------------------------------------------------------

@dataclass(frozen=True)
class FeedHealth:
    id: int
    name: str
    url: str
    last_polled: str | None
    last_success: str | None
    last_status: str | None
    last_http_status: int | None
    consecutive_errors: int
    last_error: str | None
    next_due: str | None
    gone: bool
    articles: int
    matched: int
    last_article: str | None = None      # when the newest article from this feed was fetched

    @property
    def state(self) -> health.Status:
        """The feed's health, in the words the CLI, the web page and the logs use."""
        return health.FeedState(self.last_polled, self.last_status, self.consecutive_errors,
                                self.gone).status


def feed_health(store: Store) -> tuple[FeedHealth, ...]:
    """Every feed's last poll, errors and next due time; failing feeds first."""
    rows = store.query("""
        SELECT f.*, COALESCE(c.articles, 0) AS articles, COALESCE(c.matched, 0) AS matched, c.last_article
        FROM feeds f LEFT JOIN (
            SELECT feed_id, COUNT(*) AS articles, SUM(matched) AS matched, MAX(fetched_at) AS last_article
            FROM articles GROUP BY feed_id) c ON c.feed_id = f.id
        ORDER BY f.gone DESC, f.consecutive_errors DESC, f.name""")
    return tuple(FeedHealth(
        r["id"], r["name"], r["url"], r["last_polled"], r["last_success"], r["last_status"],
        r["last_http_status"], r["consecutive_errors"], r["last_error"], r["next_due"],
        bool(r["gone"]), r["articles"], r["matched"], r["last_article"]) for r in rows)


@dataclass(frozen=True)
class Status:
    path: str
    size_bytes: int              # database file plus its write-ahead log
    schema_version: int
    counts: tuple[tuple[str, int], ...]        # (what, how many) in display order
    alerts: tuple[tuple[str, int], ...]        # (status, how many)
    oldest_article: str | None
    newest_article: str | None
    last_run: str | None


STATUS_COUNTS = (
    ("feeds", "SELECT COUNT(*) FROM feeds"),
    ("entries seen", "SELECT COUNT(*) FROM entries"),
    ("articles", "SELECT COUNT(*) FROM articles"),
    ("articles matched", "SELECT COUNT(*) FROM articles WHERE matched = 1"),
    ("stories", "SELECT COUNT(*) FROM stories"),
    ("matches", "SELECT COUNT(*) FROM matches"),
    ("feedback", "SELECT COUNT(*) FROM feedback"),
)


def status(store: Store) -> Status:
    one = lambda sql: store.db.execute(sql).fetchone()[0]  # noqa: E731
    size = one("PRAGMA page_count") * one("PRAGMA page_size")
    if store.path != ":memory:" and os.path.exists(store.path):
        size = sum(os.path.getsize(p) for p in (store.path, store.path + "-wal") if os.path.exists(p))
    span = store.query("SELECT MIN(fetched_at) AS lo, MAX(fetched_at) AS hi FROM articles")[0]
    return Status(
        path=store.path, size_bytes=size, schema_version=store.version,
        counts=_with_feed_statuses(tuple((name, one(sql)) for name, sql in STATUS_COUNTS),
                                   feed_health(store)),
        alerts=tuple((r["status"], r["n"]) for r in store.query(
            "SELECT status, COUNT(*) AS n FROM alerts GROUP BY status ORDER BY status")),
        oldest_article=span["lo"], newest_article=span["hi"],
        last_run=one("SELECT MAX(started_at) FROM runs"),
    )


def _with_feed_statuses(counts: tuple[tuple[str, int], ...],
                        feeds: tuple[FeedHealth, ...]) -> tuple[tuple[str, int], ...]:
    """The counts with, after "feeds", how many feeds are in each status ("feeds failing")."""
    by_status = Counter(f.state for f in feeds)
    per_status = tuple((f"feeds {s}", by_status[s]) for s in health.Status)
    return counts[:1] + per_status + counts[1:]


def hit_context(article: ArticleView, hit: HitView, width: int = 70) -> tuple[Segment, ...]:
    """The hit in its surrounding words, taken from the stored field; falls back to
    the stored snippet when the offsets do not fit the text."""
    text = field_text(article, hit.field)
    if not 0 <= hit.start < hit.end <= len(text):
        return (Segment(hit.snippet),)
    lo, hi = max(0, hit.start - width), min(len(text), hit.end + width)
    before, after = text[lo:hit.start], text[hit.end:hi]
    before = ("…" if lo else "") + " ".join(before.split()) + (" " if before[-1:].isspace() else "")
    after = (" " if after[:1].isspace() else "") + " ".join(after.split()) + ("…" if hi < len(text) else "")
    return (Segment(before), Segment(text[hit.start:hit.end], True, (hit.term,)), Segment(after))
