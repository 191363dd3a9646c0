"""One article: what it says, why it matched, its story and alerts, and the
verdicts on it (``watcher show``, the article page)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from watcher.config import DedupConfig
from watcher.dedup.story import Stories
from watcher.store import alerts as alert_rows
from watcher.store import articles, embeddings, matches, stories
from watcher.store import feedback as verdict_rows
from watcher.store.database import Store
from watcher.text.highlight import Segment, highlight


@dataclass(frozen=True)
class HitView:
    term: str
    entity: str | None
    field: str  # 'title' or 'text'
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
    problem: str | None = None  # set when the stored hits could not be read
    via: str = "keywords"  # 'keywords' | 'similarity' (matched by meaning)
    similar_to: str | None = None  # "close in meaning to seeds/003.txt (0.91)"


@dataclass(frozen=True)
class NearView:
    """A rule the article came close to in meaning without matching (a near miss)."""

    rule_id: str
    score: float
    reference: str | None


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


JOIN_LABELS: dict[str | None, str | None] = {
    "canonical_url": "same canonical URL",
    "content_hash": "identical text",
    "similar": "near-duplicate",
}


@dataclass(frozen=True)
class JoinView:
    """Why an article is in its story (from ``Stories.explain``)."""

    story_id: int
    opened: bool  # this article opened the story
    reason: str | None  # 'canonical_url' | 'content_hash' | 'similar' (None when opened)
    other_id: int | None  # the earlier member it is most like
    other_feed: str | None
    other_title: str | None
    similarity: float | None  # share of 3-word phrases shared with other_id, 0..1
    distance: int | None  # SimHash bits apart (of 64)
    joined_later: int = 0  # when opened: how many articles joined it since
    sentence: str = ""  # the explanation as one sentence

    @property
    def label(self) -> str | None:
        return JOIN_LABELS.get(self.reason, self.reason)

    @property
    def measure(self) -> str:
        """ "64% of 3-word phrases shared, SimHash 9 of 64 bits apart"; "" when unknown."""
        parts = []
        if self.similarity is not None:
            parts.append(f"{self.similarity:.0%} of 3-word phrases shared")
        if self.distance is not None:
            parts.append(f"SimHash {self.distance} of 64 bits apart")
        return ", ".join(parts)


@dataclass(frozen=True)
class AlertView:
    id: int
    story_id: int | None  # None for an operator notice
    article_id: int | None
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
    language: str | None  # declared by the feed or page
    extraction: str
    extraction_error: str | None
    text: str
    summary: str
    story_id: int | None
    duplicate_of: int | None
    join_reason: str | None
    join_similarity: float | None
    matches: tuple[MatchView, ...]
    members: tuple[MemberView, ...]  # the story's other members
    alerts: tuple[AlertView, ...]
    feedback: tuple[FeedbackView, ...]  # newest first
    join: JoinView | None = None  # why it is in its story
    detected_language: str | None = None  # detected from title + text
    language_confidence: float | None = None
    meaning_error: str | None = None  # why similarity could not be computed for it
    near: tuple[NearView, ...] = ()  # rules it came close to in meaning without matching

    @property
    def language_line(self) -> str:
        """ "tr (detected, 0.99; declared tr-TR)", "en (declared)", "-"."""
        if self.detected_language:
            parts = ["detected"]
            if self.language_confidence is not None:
                parts.append(f"{self.language_confidence:.2f}")
            if self.language:
                parts.append(f"declared {self.language}")
            return f"{self.detected_language} ({', '.join(parts)})"
        return f"{self.language} (declared)" if self.language else "-"

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
    """The hits of each term once, in the order stored: the most telling first."""
    groups: dict[tuple, list[HitView]] = {}
    for hit in hits:
        groups.setdefault((hit.field, hit.term.casefold(), hit.entity), []).append(hit)
    return tuple(HitGroup(h[0].term, h[0].entity, h[0].field, len(h), h[0]) for h in groups.values())


def parse_hits(raw: str | None) -> tuple[tuple[HitView, ...], str | None]:
    """The stored hits JSON -> hits; bad JSON gives no hits and a problem note."""
    try:
        items = json.loads(raw or "[]")
        if not isinstance(items, list):
            raise ValueError("not a list")
        return tuple(
            HitView(
                term=str(h.get("term", "")),
                entity=h.get("entity"),
                field=str(h.get("field", "text")),
                start=int(h.get("start", 0)),
                end=int(h.get("end", 0)),
                snippet=str(h.get("snippet", "")),
            )
            for h in items
        ), None
    except (ValueError, TypeError, AttributeError) as exc:
        return (), f"stored hits unreadable: {exc}"


def show(store: Store, article_id: int) -> ArticleView | None:
    a = articles.with_feed(store, article_id)
    if a is None:
        return None
    found = []
    for m in matches.of_article(store, article_id):
        hits, problem = parse_hits(m["hits"])
        found.append(
            MatchView(
                m["rule_id"],
                m["rule_title"],
                m["severity"],
                m["score"],
                m["matched_at"],
                hits,
                problem,
                m.get("via") or "keywords",
                m.get("similar_to"),
            )
        )
    return ArticleView(
        id=a["id"],
        url=a["url"],
        canonical_url=a["canonical_url"],
        feed=a["feed"],
        title=a["title"] or "",
        author=a["author"],
        published=a["published"],
        fetched_at=a["fetched_at"],
        language=a["language"],
        extraction=a["extraction"],
        extraction_error=a["extraction_error"],
        text=a["text"] or "",
        summary=a["summary"] or "",
        story_id=a["story_id"],
        duplicate_of=a["duplicate_of"],
        join_reason=a["join_reason"],
        join_similarity=a["join_similarity"],
        matches=tuple(found),
        members=_members(store, a["story_id"], article_id),
        alerts=alerts(store, story_id=a["story_id"], article_id=article_id),
        feedback=tuple(
            FeedbackView(f["verdict"], f["note"], f["created_at"])
            for f in verdict_rows.of_article(store, article_id)
        ),
        join=join_view(store, article_id),
        detected_language=a.get("detected_language"),
        language_confidence=a.get("language_confidence"),
        meaning_error=a.get("meaning_error"),
        near=tuple(
            NearView(r["rule_id"], r["score"], r["reference"])
            for r in embeddings.of_article(store, article_id)
            if not r["matched"]
        ),
    )


def join_view(store: Store, article_id: int) -> JoinView | None:
    """Why the article is in its story: which identity joined it to which
    earlier article, and how alike they are; None when it is in no story."""
    found = Stories(store, DedupConfig(), _no_clock).explain(article_id)
    if found is None or found.story_id is None:
        return None
    opened = found.first_article_id == article_id
    other = articles.headline(store, found.matched_article_id) if found.matched_article_id else None
    return JoinView(
        story_id=found.story_id,
        opened=opened,
        reason=None if opened else found.reason,
        other_id=found.matched_article_id,
        other_feed=other["feed"] if other else None,
        other_title=(other["title"] or "(untitled)") if other else None,
        similarity=found.similarity,
        distance=found.distance,
        joined_later=stories.count_others(store, found.story_id, article_id) if opened else 0,
        sentence=found.text,
    )


def _no_clock() -> datetime:
    raise RuntimeError("explaining a story join needs no clock")


def _members(store: Store, story_id: int | None, article_id: int) -> tuple[MemberView, ...]:
    if story_id is None:
        return ()
    return tuple(
        MemberView(
            r["id"],
            r["title"] or "(untitled)",
            r["feed"],
            r["url"],
            r["fetched_at"],
            bool(r["matched"]),
            r["join_reason"],
            r["join_similarity"],
        )
        for r in stories.others(store, story_id, article_id)
    )


def alerts(
    store: Store,
    *,
    story_id: int | None = None,
    article_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> tuple[AlertView, ...]:
    """Alert outbox rows, newest first: of one story (or lone article), or all."""
    return tuple(
        AlertView(
            id=r["id"],
            story_id=r["story_id"],
            article_id=r["article_id"],
            channel=r["channel"],
            mode=r["mode"],
            status=r["status"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            sent_at=r["sent_at"],
            next_attempt_at=r["next_attempt_at"],
            title=r["title"] or "",
        )
        for r in alert_rows.with_titles(
            store, story_id=story_id, article_id=article_id, status=status, limit=limit
        )
    )


# -- highlighting in an article ---------------------------------------------


def field_text(article: ArticleView, field: str) -> str:
    """The stored text a hit's offsets point into ('' for an unknown field)."""
    return {"title": article.title, "text": article.text, "summary": article.summary}.get(field, "")


def highlight_field(article: ArticleView, field: str) -> tuple[Segment, ...]:
    return highlight(field_text(article, field), ((h.start, h.end, rule) for h, rule in article.hits(field)))


def hit_context(article: ArticleView, hit: HitView, width: int = 70) -> tuple[Segment, ...]:
    """The hit in its surrounding words, taken from the stored field; falls back to
    the stored snippet when the offsets do not fit the text."""
    text = field_text(article, hit.field)
    if not 0 <= hit.start < hit.end <= len(text):
        return (Segment(hit.snippet),)
    lo, hi = max(0, hit.start - width), min(len(text), hit.end + width)
    before, after = text[lo : hit.start], text[hit.end : hi]
    before = ("…" if lo else "") + " ".join(before.split()) + (" " if before[-1:].isspace() else "")
    after = (" " if after[:1].isspace() else "") + " ".join(after.split()) + ("…" if hi < len(text) else "")
    return (Segment(before), Segment(text[hit.start : hit.end], True, (hit.term,)), Segment(after))
