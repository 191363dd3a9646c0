"""Matches: ``matches``, why an article matched, one row per (article, rule).
``hits`` is stored as JSON text (the shape ``watcher match`` prints) and read
back as that text; the reader decides what to do with JSON it cannot read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.store.database import Store


@dataclass(frozen=True)
class NewMatch:
    rule_id: str
    rule_title: str
    severity: str
    score: float
    hits: list  # JSON-ready: [{"term", "entity", "field", "start", "end", "snippet"}]
    via: str = "keywords"  # 'keywords' | 'similarity'
    similarity: float | None = None  # closeness to the rule's examples, when compared
    similar_to: str | None = None  # "close in meaning to seeds/003.txt (0.91)"
    evidence: float | None = None  # how much the hits tell (the alert names the strongest rule)


_INSERT = (
    "INSERT INTO matches (article_id, rule_id, rule_title, severity, score, hits, matched_at, "
    "via, similarity, similar_to, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def replace(store: Store, article_id: int, matches: Sequence[NewMatch], matched_at: str) -> None:
    """The article's matches are now ``matches`` (older ones are deleted).
    Call inside the transaction that stores the article."""
    store.execute("DELETE FROM matches WHERE article_id = ?", (article_id,))
    for m in matches:
        store.execute(
            _INSERT,
            (
                article_id,
                m.rule_id,
                m.rule_title,
                m.severity,
                m.score,
                json.dumps(m.hits, default=repr, ensure_ascii=False),
                matched_at,
                m.via,
                m.similarity,
                m.similar_to,
                m.evidence,
            ),
        )


def of_article(store: Store, article_id: int) -> list[dict]:
    """The article's match rows in the order they were stored."""
    return store.query("SELECT * FROM matches WHERE article_id = ? ORDER BY id", (article_id,))


def by_rule(store: Store, article_id: int) -> list[dict]:
    """``rule_id``, ``rule_title``, ``severity``, ``score``, ``hits`` of the
    article's matches, by rule id (what an alert lists)."""
    return store.query(
        "SELECT rule_id, rule_title, severity, score, hits, via, similar_to, evidence FROM matches "
        "WHERE article_id = ? ORDER BY rule_id",
        (article_id,),
    )


def rule_ids(store: Store) -> set[str]:
    """Every rule that has matched something."""
    return {r[0] for r in store.execute("SELECT DISTINCT rule_id FROM matches")}


def between(store: Store, first: int, last: int) -> dict[int, dict[str, str]]:
    """Article id -> {rule id: rule title} for articles ``first``..``last``."""
    out: dict[int, dict[str, str]] = {}
    for article_id, rule_id, title in store.execute(
        "SELECT article_id, rule_id, rule_title FROM matches WHERE article_id BETWEEN ? AND ?", (first, last)
    ):
        out.setdefault(article_id, {})[rule_id] = title
    return out


def per_day(store: Store, *, since: str, rule: str | None = None) -> list[tuple[str, str, int]]:
    """(YYYY-MM-DD, rule id, matches) of articles fetched since ``since``, by day then rule."""
    return store.execute(
        f"""
        SELECT substr(a.fetched_at, 1, 10) AS day, m.rule_id, COUNT(*) AS n
        FROM matches m JOIN articles a ON a.id = m.article_id
        WHERE a.fetched_at >= :since {"AND m.rule_id = :rule" if rule else ""}
        GROUP BY day, m.rule_id ORDER BY day, m.rule_id""",
        {"since": since, "rule": rule},
    ).fetchall()


def per_rule(store: Store, *, since: str | None = None) -> list[dict]:
    """Per rule, most matches first: ``rule_id``, ``title`` and ``severity`` (of
    its latest match), ``matches`` (articles), ``stories``, ``relevant`` and
    ``irrelevant`` (matched articles by their latest verdict), ``last_match``."""
    return store.query(
        f"""
        WITH latest AS (
            SELECT f.article_id, f.verdict FROM feedback f
            JOIN (SELECT MAX(id) AS id FROM feedback GROUP BY article_id) last ON last.id = f.id),
        per_rule AS (
            SELECT m.rule_id, COUNT(*) AS matches, COUNT(DISTINCT COALESCE(a.story_id, -a.id)) AS stories,
                   SUM(l.verdict = 'relevant') AS relevant, SUM(l.verdict = 'irrelevant') AS irrelevant,
                   MAX(m.matched_at) AS last_match, MAX(m.id) AS last_id
            FROM matches m JOIN articles a ON a.id = m.article_id
            LEFT JOIN latest l ON l.article_id = m.article_id
            {"WHERE a.fetched_at >= :since" if since else ""}
            GROUP BY m.rule_id)
        SELECT p.*, x.rule_title AS title, x.severity FROM per_rule p JOIN matches x ON x.id = p.last_id
        ORDER BY p.matches DESC, p.rule_id""",
        {"since": since},
    )


def count_by_rule(store: Store) -> dict[str, int]:
    """Matched articles per rule id."""
    return dict(
        store.execute("SELECT rule_id, COUNT(*) FROM matches GROUP BY rule_id ORDER BY rule_id").fetchall()
    )


def days_matched(store: Store, *, since: str, until: str) -> dict[str, int]:
    """Rule id -> on how many distinct (UTC) days it matched in [since, until)."""
    return dict(
        store.execute(
            "SELECT rule_id, COUNT(DISTINCT substr(matched_at, 1, 10)) FROM matches "
            "WHERE matched_at >= ? AND matched_at < ? GROUP BY rule_id",
            (since, until),
        ).fetchall()
    )


def per_rule_language(store: Store, *, since: str | None = None) -> list[dict]:
    """Per rule and article language (detected, else declared; '' when unknown): ``rule_id``,
    ``language``, ``matches``, ``relevant``, ``irrelevant`` (by the latest verdict)."""
    return store.query(
        f"""
        WITH latest AS (
            SELECT f.article_id, f.verdict FROM feedback f
            JOIN (SELECT MAX(id) AS id FROM feedback GROUP BY article_id) last ON last.id = f.id)
        SELECT m.rule_id, lower(COALESCE(a.detected_language, substr(a.language, 1, 2), '')) AS lang,
               COUNT(*) AS matches, COALESCE(SUM(l.verdict = 'relevant'), 0) AS relevant,
               COALESCE(SUM(l.verdict = 'irrelevant'), 0) AS irrelevant
        FROM matches m JOIN articles a ON a.id = m.article_id
        LEFT JOIN latest l ON l.article_id = m.article_id
        {"WHERE a.fetched_at >= :since" if since else ""}
        GROUP BY m.rule_id, lang ORDER BY m.rule_id, matches DESC, lang""",
        {"since": since},
    )
