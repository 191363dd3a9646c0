"""Embeddings and similarities: ``embeddings`` (vectors of embedded texts, keyed by a digest
of model and text) and ``similarities`` (how close each embedded article came to each rule's
examples), with the selections the review side reads: near misses, verdict examples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watcher.store.database import Store, marks

_LATEST = "SELECT MAX(id) FROM feedback GROUP BY article_id"


def get_many(store: Store, digests: Sequence[str]) -> dict[str, bytes]:
    """The stored vectors (raw float32 bytes) of those ``digests`` that have one."""
    found: dict[str, bytes] = {}
    keys = list(dict.fromkeys(digests))
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        found.update(
            store.execute(
                f"SELECT digest, vector FROM embeddings WHERE digest IN ({marks(chunk)})", chunk
            ).fetchall()
        )
    return found


def put_many(store: Store, model: str, rows: Sequence[tuple[str, bytes]], now: str) -> None:
    """Keep (digest, vector bytes) pairs embedded by ``model``."""
    for key, vector in rows:
        store.execute(
            "INSERT OR IGNORE INTO embeddings (digest, model, vector, created_at) VALUES (?, ?, ?, ?)",
            (key, model, vector, now),
        )


def count(store: Store) -> int:
    return store.scalar("SELECT COUNT(*) FROM embeddings")


@dataclass(frozen=True)
class Scored:
    rule_id: str
    score: float
    reference: str | None
    unlike: float | None
    unlike_reference: str | None
    matched: bool


def replace(store: Store, article_id: int, scored: Sequence[Scored], digest: str | None, now: str) -> None:
    """The article's similarities are now ``scored`` (older ones are deleted)."""
    store.execute("DELETE FROM similarities WHERE article_id = ?", (article_id,))
    for s in scored:
        store.execute(
            "INSERT INTO similarities (article_id, rule_id, score, reference, unlike, unlike_reference, "
            "matched, digest, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article_id,
                s.rule_id,
                s.score,
                s.reference,
                s.unlike,
                s.unlike_reference,
                int(s.matched),
                digest,
                now,
            ),
        )


def of_article(store: Store, article_id: int) -> list[dict]:
    return store.query(
        "SELECT rule_id, score, reference, unlike, unlike_reference, matched FROM similarities "
        "WHERE article_id = ? ORDER BY score DESC",
        (article_id,),
    )


def last_verdict(store: Store) -> int:
    """The newest verdict's id (0 without any): a cache of verdict examples is stale when it moves."""
    return store.scalar("SELECT COALESCE(MAX(id), 0) FROM feedback")


def verdict_examples(store: Store, rule_id: str, model: str, limit: int) -> list[dict]:
    """Articles with a latest verdict that matched ``rule_id`` or came close to it, and were
    embedded by ``model``, newest verdict first: ``article_id``, ``verdict``, ``vector``."""
    return store.query(
        f"""
        SELECT f.article_id, f.verdict, e.vector FROM feedback f
        JOIN similarities s ON s.article_id = f.article_id AND s.rule_id = :rule
        JOIN embeddings e ON e.digest = s.digest AND e.model = :model
        WHERE f.id IN ({_LATEST})
        ORDER BY f.id DESC LIMIT :limit""",
        {"rule": rule_id, "model": model, "limit": limit * 2},
    )


def judged(store: Store, rule_id: str | None = None) -> list[dict]:
    """Every (article, rule) similarity whose article has a verdict: ``article_id``, ``rule_id``,
    ``matched`` (by the rule, keywords or similarity), ``verdict``, ``vector`` (None when the
    vector is gone), ``language`` (detected, else declared)."""
    return store.query(
        f"""
        SELECT s.article_id, s.rule_id, s.matched,
               EXISTS (SELECT 1 FROM matches m WHERE m.article_id = s.article_id
                       AND m.rule_id = s.rule_id) AS rule_matched,
               f.verdict, e.vector, COALESCE(a.detected_language, a.language) AS language
        FROM similarities s JOIN feedback f ON f.article_id = s.article_id AND f.id IN ({_LATEST})
        JOIN articles a ON a.id = s.article_id
        LEFT JOIN embeddings e ON e.digest = s.digest
        {"WHERE s.rule_id = :rule" if rule_id else ""}
        ORDER BY s.rule_id, s.article_id""",
        {"rule": rule_id},
    )


def near_misses(
    store: Store, *, rule: str | None, floor: float, limit: int, since: str | None = None
) -> list[dict]:
    """Articles no rule matched, closest to a rule's examples first: ``article_id``, ``rule_id``,
    ``score``, ``reference``, ``unlike``, ``title``, ``url``, ``feed``, ``fetched_at``,
    ``language``, ``verdict`` (latest, or None)."""
    clauses = ["s.matched = 0", "a.matched = 0", "s.score >= :floor"]
    if rule:
        clauses.append("s.rule_id = :rule")
    if since:
        clauses.append("a.fetched_at >= :since")
    return store.query(
        f"""
        SELECT s.article_id, s.rule_id, s.score, s.reference, s.unlike, s.unlike_reference,
               a.title, a.url, f.name AS feed, a.fetched_at,
               COALESCE(a.detected_language, a.language) AS language,
               (SELECT verdict FROM feedback WHERE id = (
                    SELECT MAX(id) FROM feedback WHERE article_id = a.id)) AS verdict
        FROM similarities s JOIN articles a ON a.id = s.article_id JOIN feeds f ON f.id = a.feed_id
        WHERE {" AND ".join(clauses)}
        ORDER BY s.score DESC, a.id DESC LIMIT :limit""",
        {"floor": floor, "rule": rule, "limit": limit, "since": since},
    )


def prune_unused(store: Store, before: str) -> int:
    """Delete vectors made before ``before`` that no stored similarity points at."""
    return store.execute(
        "DELETE FROM embeddings WHERE created_at < ? AND digest NOT IN "
        "(SELECT digest FROM similarities WHERE digest IS NOT NULL)",
        (before,),
    ).rowcount
