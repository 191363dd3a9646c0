"""Articles: ``articles``, one row per stored article (text, dedup fields,
story membership, matched flag), and the selections the review side reads.
:func:`insert` (or :func:`index_many`) puts a new one in ``articles_fts``; updating its
title or text re-indexes it and deleting it drops its ``articles_fts`` and
``search_index`` rows (triggers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.store.database import Store, marks

_INSERT = (
    "INSERT INTO articles (feed_id, url, canonical_url, guid, title, author, published, "
    "fetched_at, updated_at, language, summary, text, extraction, extraction_error, "
    "content_hash, simhash, matched, no_alert, detected_language, language_confidence, meaning_error, "
    "story_id, duplicate_of, join_reason, join_similarity) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert(
    store: Store,
    *,
    feed_id: int,
    url: str,
    canonical_url: str,
    guid: str | None,
    title: str | None,
    author: str | None,
    published: str | None,
    fetched_at: str,
    language: str | None,
    summary: str | None,
    text: str | None,
    extraction: str,
    extraction_error: str | None,
    content_hash: str | None,
    simhash: int | None,
    matched: bool,
    no_alert: str | None = None,
    detected_language: str | None = None,
    language_confidence: float | None = None,
    meaning_error: str | None = None,
    story_id: int | None = None,
    duplicate_of: int | None = None,
    join_reason: str | None = None,
    join_similarity: float | None = None,
    index: bool = True,
) -> int:
    """Store a new article (in ``story_id``, or in no story yet); returns its
    id. ``no_alert``: why its matches must not alert (baseline / too old), or
    None. ``language`` is the declared language, ``detected_language`` the one
    detected from its title and text. ``duplicate_of``, ``join_reason``,
    ``join_similarity``: see :func:`set_story`. ``index``: False when the caller
    indexes it later in the same transaction (:func:`index_many`)."""
    article_id = (
        store.execute(
            _INSERT,
            (
                feed_id,
                url,
                canonical_url,
                guid,
                title,
                author,
                published,
                fetched_at,
                fetched_at,
                language,
                summary,
                text,
                extraction,
                extraction_error,
                content_hash,
                simhash,
                int(matched),
                no_alert,
                detected_language,
                language_confidence,
                meaning_error,
                story_id,
                duplicate_of,
                join_reason,
                join_similarity,
            ),
        ).lastrowid
        or 0
    )
    if index:
        index_many(store, [(article_id, title, text)])
    return article_id


def index_many(store: Store, rows: Sequence[tuple[int, str | None, str | None]]) -> None:
    """Put new articles in ``articles_fts`` (the browser's plain search):
    (id, title, text) each, as stored. Inside the transaction that stored them;
    a writer storing many calls this once after all of them (FTS5 writes its
    pending index at every later statement of the transaction)."""
    if rows:
        store.conn.executemany("INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)", rows)


def revise(
    store: Store,
    article_id: int,
    *,
    title: str,
    text: str,
    summary: str,
    extraction: str,
    extraction_error: str | None,
    content_hash: str | None,
    simhash: int | None,
    updated_at: str,
    matched: bool,
    no_alert: str | None = None,
    detected_language: str | None = None,
    language_confidence: float | None = None,
    meaning_error: str | None = None,
) -> None:
    """An edited article's new text, in place (it keeps its id and story)."""
    store.execute(
        "UPDATE articles SET title = ?, text = ?, summary = ?, extraction = ?, extraction_error = ?, "
        "content_hash = ?, updated_at = ?, matched = ?, simhash = ?, no_alert = ?, detected_language = ?, "
        "language_confidence = ?, meaning_error = ? WHERE id = ?",
        (
            title,
            text,
            summary,
            extraction,
            extraction_error,
            content_hash,
            updated_at,
            int(matched),
            simhash,
            no_alert,
            detected_language,
            language_confidence,
            meaning_error,
            article_id,
        ),
    )


def set_story(
    store: Store,
    article_id: int,
    story_id: int,
    *,
    duplicate_of: int | None,
    reason: str | None,
    similarity: float | None,
) -> None:
    """Put the article in a story: ``duplicate_of`` the story's first article,
    joined for ``reason`` (all None for the article that opens it)."""
    store.execute(
        "UPDATE articles SET story_id = ?, duplicate_of = ?, join_reason = ?, join_similarity = ? "
        "WHERE id = ?",
        (story_id, duplicate_of, reason, similarity, article_id),
    )


def get(store: Store, article_id: int) -> dict | None:
    """The article's whole row, or None."""
    return store.one("SELECT * FROM articles WHERE id = ?", (article_id,))


def with_feed(store: Store, article_id: int) -> dict | None:
    """The article's whole row and its feed's name (``feed``), or None."""
    return store.one(
        "SELECT a.*, f.name AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?",
        (article_id,),
    )


def headline(store: Store, article_id: int) -> dict | None:
    """``title``, ``url``, ``feed`` (the feed's name) and ``feed_tags`` (its tags,
    a JSON list) of one article, or None."""
    return store.one(
        "SELECT a.title, a.url, f.name AS feed, f.tags AS feed_tags FROM articles a "
        "JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?",
        (article_id,),
    )


def headlines(store: Store, article_ids: Sequence[int]) -> dict[int, dict]:
    """:func:`headline` of each of ``article_ids`` that has one (in one query)."""
    return {
        r.pop("id"): r
        for r in store.query(
            "SELECT a.id, a.title, a.url, f.name AS feed, f.tags AS feed_tags FROM articles a "
            "JOIN feeds f ON f.id = a.feed_id WHERE a.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(article_ids)),),
        )
    }


def for_alert(store: Store, article_id: int) -> dict | None:
    """``title``, ``url``, ``published``, ``feed_id`` and ``feed`` (the feed's name,
    None when the feed row is gone) of one article, or None."""
    return store.one(
        "SELECT a.title, a.url, a.published, a.feed_id, f.name AS feed FROM articles a "
        "LEFT JOIN feeds f ON f.id = a.feed_id WHERE a.id = ?",
        (article_id,),
    )


def exists(store: Store, article_id: int) -> bool:
    return store.scalar("SELECT 1 FROM articles WHERE id = ?", (article_id,)) is not None


def totals(store: Store) -> tuple[int, int]:
    """(articles stored, of which matched)."""
    n, matched = store.execute("SELECT COUNT(*), SUM(matched) FROM articles").fetchone()
    return n, matched or 0


def count_by_feed(store: Store) -> dict[int, int]:
    """Feed id -> articles stored from it."""
    return dict(store.execute("SELECT feed_id, count(*) FROM articles GROUP BY feed_id").fetchall())


# -- fingerprints, for finding near-duplicates ----------------------------------------

_SECONDS = "(julianday(fetched_at) - 2440587.5) * 86400.0"  # fetched_at as a Unix time


def max_id(store: Store) -> int:
    return store.scalar("SELECT COALESCE(MAX(id), 0) FROM articles")


def fingerprints_since(store: Store, since: str) -> list[tuple[int, int, float]]:
    """(id, SimHash, fetched at as Unix seconds) of articles fetched since ``since``, oldest first."""
    return store.execute(
        f"SELECT id, simhash, COALESCE({_SECONDS}, 0) FROM articles "
        "WHERE simhash IS NOT NULL AND fetched_at >= ? ORDER BY fetched_at, id",
        (since,),
    ).fetchall()


def fingerprints_after(store: Store, article_id: int) -> list[tuple[int, int, float]]:
    """The same for articles with a larger id than ``article_id``, in id order."""
    return store.execute(
        f"SELECT id, simhash, COALESCE({_SECONDS}, 0) FROM articles "
        "WHERE simhash IS NOT NULL AND id > ? ORDER BY id",
        (article_id,),
    ).fetchall()


def fingerprint(store: Store, article_id: int) -> tuple[int, float] | None:
    """(SimHash, fetched at as Unix seconds) of one article, None without a SimHash."""
    return store.execute(
        f"SELECT simhash, {_SECONDS} FROM articles WHERE id = ? AND simhash IS NOT NULL", (article_id,)
    ).fetchone()


# -- selections: `watcher log`, `export` and the stories page -----------------------


@dataclass(frozen=True)
class Selection:
    """Which articles: all conditions must hold."""

    rule: str | None = None
    feed: str | None = None  # a feed's name or URL
    severities: tuple[str, ...] | None = None  # a match of one of these severities
    since: str | None = None  # fetched at or after (ISO UTC)
    matched_only: bool = False
    unreviewed: bool = False  # no verdict yet on the article or any article of its story
    tag: str | None = None  # from a feed with this tag


def where(sel: Selection) -> tuple[str, dict]:
    """SQL condition (and its parameters) over ``articles a`` joined to ``feeds f``."""
    clauses, params = [], {}
    if sel.matched_only:
        clauses.append("a.matched = 1")
    if sel.feed:
        clauses.append("(f.name = :feed OR f.url = :feed)")
        params["feed"] = sel.feed
    if sel.tag:
        clauses.append("EXISTS (SELECT 1 FROM json_each(f.tags) WHERE value = :tag)")
        params["tag"] = sel.tag
    if sel.since:
        clauses.append("a.fetched_at >= :since")
        params["since"] = sel.since
    if sel.rule or sel.severities is not None:
        sub = ["m.article_id = a.id"]
        if sel.rule:
            sub.append("m.rule_id = :rule")
            params["rule"] = sel.rule
        if sel.severities is not None:
            names = [f"sev{i}" for i in range(len(sel.severities))]
            sub.append(f"m.severity IN ({', '.join(':' + n for n in names)})" if names else "0")
            params.update(zip(names, sel.severities, strict=True))
        clauses.append(f"EXISTS (SELECT 1 FROM matches m WHERE {' AND '.join(sub)})")
    if sel.unreviewed:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM feedback fb JOIN articles b ON b.id = fb.article_id "
            "WHERE b.id = a.id OR (a.story_id IS NOT NULL AND b.story_id = a.story_id))"
        )
    return (" AND ".join(clauses) or "1"), params


def page(store: Store, sel: Selection, *, after: int, size: int) -> list[dict]:
    """Up to ``size`` selected articles with an id above ``after``, in id order:
    whole rows plus their feed's name (``feed``)."""
    condition, params = where(sel)
    return store.query(
        f"""
        SELECT a.*, f.name AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id
        WHERE a.id > :last AND {condition} ORDER BY a.id LIMIT :size""",
        {**params, "last": after, "size": size},
    )


def count(store: Store, *, since: str | None = None) -> int:
    """Articles fetched at or after ``since`` (all of them without)."""
    if since:
        return store.scalar("SELECT COUNT(*) FROM articles WHERE fetched_at >= ?", (since,))
    return store.scalar("SELECT COUNT(*) FROM articles")


def documents(store: Store, *, after: int, since: str | None, size: int) -> list[dict]:
    """What a matcher reads of up to ``size`` articles with an id above ``after``
    (fetched at or after ``since``), in id order."""
    return store.query(
        f"""
        SELECT id, guid, title, text, summary, url, published, language, detected_language FROM articles
        WHERE id > :last {"AND fetched_at >= :since" if since else ""}
        ORDER BY id LIMIT :batch""",
        {"last": after, "since": since, "batch": size},
    )


def recent_texts(store: Store, *, limit: int) -> list[str]:
    """The newest ``limit`` articles' titles and texts (or summaries), one string each."""
    rows = store.execute(
        "SELECT title, COALESCE(NULLIF(text, ''), summary, '') FROM articles ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [f"{title or ''}\n{body}" for title, body in rows if (title or body or "").strip()]


def span(store: Store) -> tuple[str | None, str | None]:
    """When the oldest and the newest stored article were fetched."""
    lo, hi = store.execute(  # each from its end of idx_articles_fetched
        "SELECT (SELECT MIN(fetched_at) FROM articles), (SELECT MAX(fetched_at) FROM articles)"
    ).fetchone()
    return lo, hi


# -- pruning ----------------------------------------------------------------------


def prunable(store: Store, cutoff: str, limit: int) -> list[int]:
    """Up to ``limit`` unmatched articles fetched before ``cutoff`` that nothing
    keeps: no match, alert or feedback points at them, and no member of their
    story matched."""
    return [
        r[0]
        for r in store.execute(
            """
        SELECT a.id FROM articles a
        WHERE a.matched = 0 AND a.fetched_at < :cutoff
          AND a.id NOT IN (SELECT article_id FROM matches)
          AND a.id NOT IN (SELECT article_id FROM alerts WHERE article_id IS NOT NULL)
          AND a.id NOT IN (SELECT article_id FROM feedback)
          AND (a.story_id IS NULL OR a.story_id NOT IN (
               SELECT story_id FROM articles WHERE matched = 1 AND story_id IS NOT NULL))
        LIMIT :batch""",
            {"cutoff": cutoff, "batch": limit},
        )
    ]


def delete(store: Store, ids: Sequence[int]) -> tuple[int, int]:
    """Delete articles, in one transaction; returns (articles, stories) deleted.

    Their entries stay (``article_id`` set to NULL, so they are not fetched
    again); a story left with no member goes too (unless an alert points at
    it), and a story whose first article went starts at its oldest remaining one."""
    ids = list(ids)
    with store.atomic():
        story_ids = [
            r[0]
            for r in store.execute(
                f"SELECT DISTINCT story_id FROM articles WHERE id IN ({marks(ids)}) AND story_id IS NOT NULL",
                ids,
            ).fetchall()
        ]
        store.execute(f"UPDATE entries SET article_id = NULL WHERE article_id IN ({marks(ids)})", ids)
        store.execute(f"UPDATE articles SET duplicate_of = NULL WHERE duplicate_of IN ({marks(ids)})", ids)
        deleted = store.execute(f"DELETE FROM articles WHERE id IN ({marks(ids)})", ids).rowcount
        gone = 0
        for story_id in story_ids:
            if not store.execute("SELECT 1 FROM articles WHERE story_id = ? LIMIT 1", (story_id,)).fetchone():
                gone += store.execute(
                    "DELETE FROM stories WHERE id = ? AND NOT EXISTS ("
                    "SELECT 1 FROM alerts WHERE story_id = ?)",
                    (story_id, story_id),
                ).rowcount
            else:
                store.execute(
                    """UPDATE stories SET first_article_id = (
                                     SELECT MIN(id) FROM articles WHERE story_id = :s)
                                 WHERE id = :s AND first_article_id NOT IN (
                                     SELECT id FROM articles WHERE story_id = :s)""",
                    {"s": story_id},
                )
    return deleted, gone


def texts_after(store: Store, article_id: int, size: int) -> list[tuple[int, str | None]]:
    """(id, text) of the next ``size`` articles after ``article_id``, by id."""
    return [
        (r[0], r[1])
        for r in store.execute(
            "SELECT id, text FROM articles WHERE id > ? ORDER BY id LIMIT ?", (article_id, size)
        ).fetchall()
    ]


def set_fingerprints(store: Store, rows: Sequence[tuple[str | None, int | None, int]]) -> None:
    """(content_hash, simhash, id) for each article."""
    store.db.conn.executemany("UPDATE articles SET content_hash = ?, simhash = ? WHERE id = ?", rows)


def extraction_failures(store: Store) -> int:
    """Stored articles whose page could not be extracted (kept with the feed's summary)."""
    return store.scalar("SELECT COUNT(*) FROM articles WHERE extraction_error IS NOT NULL")


def extraction_errors_since(store: Store, *, since: str, patterns: Sequence[str]) -> int:
    """Articles fetched since ``since`` whose extraction error contains one of ``patterns``."""
    if not patterns:
        return 0
    return store.scalar(
        "SELECT COUNT(*) FROM articles WHERE fetched_at >= ? AND ("
        + " OR ".join("instr(extraction_error, ?) > 0" for _ in patterns)
        + ")",
        (since, *patterns),
    )
