"""Stories: ``stories``, one row per piece of news, and the membership of
articles in them (``articles.story_id``): where a new article would belong,
who carried a story, why an article joined, and the log of matched stories.

A story's ``rules`` column is a JSON list of the rule ids any member matched;
this module reads and writes it as a list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from watcher.store import articles
from watcher.store.database import Store, marks

# -- where would a new article belong -------------------------------------------------


def by_url(store: Store, canonical_url: str) -> dict | None:
    """The article stored under ``canonical_url``: ``id``, ``story_id``, ``duplicate_of``."""
    return store.one(
        "SELECT id, story_id, duplicate_of FROM articles WHERE canonical_url = ?", (canonical_url,)
    )


def by_content_hash(store: Store, content_hash: str, since: str) -> dict | None:
    """The earliest article fetched since ``since`` with this content hash:
    ``id``, ``story_id``, ``first_article_id`` (of its story)."""
    return store.one(
        "SELECT a.id, a.story_id, s.first_article_id FROM articles a "
        "JOIN stories s ON s.id = a.story_id "
        "WHERE a.content_hash = ? AND a.fetched_at >= ? ORDER BY a.fetched_at, a.id LIMIT 1",
        (content_hash, since),
    )


def candidates(store: Store, ids: Sequence[int], since: str) -> list[dict]:
    """Those of ``ids`` fetched since ``since`` that are in a story and have a
    SimHash, in the order given: ``id``, ``story_id``, ``simhash``, ``body``
    (text, else summary), ``first_article_id``."""
    rows = store.query(
        "SELECT a.id, a.story_id, a.simhash, COALESCE(a.text, a.summary) AS body, "
        "s.first_article_id FROM articles a JOIN stories s ON s.id = a.story_id "
        f"WHERE a.id IN ({marks(ids)}) AND a.simhash IS NOT NULL AND a.fetched_at >= ?",
        (*ids, since),
    )
    order = {article_id: i for i, article_id in enumerate(ids)}
    return sorted(rows, key=lambda r: order[r["id"]])


# -- recording ------------------------------------------------------------------------


def open_story(store: Store, first_article_id: int, title: str | None, now: str) -> int:
    """A new story opened by ``first_article_id`` (which is put in it); returns its id."""
    with store.atomic():
        story_id = (
            store.execute(
                "INSERT INTO stories (first_article_id, title, created_at, updated_at, rules) "
                "VALUES (?, ?, ?, ?, '[]')",
                (first_article_id, title, now, now),
            ).lastrowid
            or 0
        )
        articles.set_story(store, first_article_id, story_id, duplicate_of=None, reason=None, similarity=None)
    return story_id


def open_empty(store: Store, title: str | None, now: str) -> int:
    """A new story whose first article is about to be stored (then :func:`set_first`)."""
    return (
        store.execute(
            "INSERT INTO stories (first_article_id, title, created_at, updated_at, rules) VALUES (NULL, ?, ?, ?, '[]')",
            (title, now, now),
        ).lastrowid
        or 0
    )


def set_first(store: Store, story_id: int, article_id: int) -> None:
    store.execute("UPDATE stories SET first_article_id = ? WHERE id = ?", (article_id, story_id))


def touch(store: Store, story_id: int, now: str) -> None:
    store.execute("UPDATE stories SET updated_at = ? WHERE id = ?", (now, story_id))


def first_article(store: Store, story_id: int) -> int | None:
    return store.scalar("SELECT first_article_id FROM stories WHERE id = ?", (story_id,))


def rules(store: Store, story_id: int) -> list[str] | None:
    """The rules any member matched so far, in the order first matched; None
    when there is no such story."""
    row = store.execute("SELECT rules FROM stories WHERE id = ?", (story_id,)).fetchone()
    return None if row is None else _rule_list(row[0])


def set_rules(store: Store, story_id: int, rule_ids: Sequence[str], now: str) -> None:
    store.execute(
        "UPDATE stories SET rules = ?, updated_at = ? WHERE id = ?",
        (json.dumps(list(rule_ids)), now, story_id),
    )


def _rule_list(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# -- who carried it ---------------------------------------------------------------------


def members(store: Store, story_id: int) -> list[dict]:
    """The story's articles, first one first: ``id``, ``name`` (the feed's),
    ``title``, ``url``, ``fetched_at``, ``join_reason``, ``join_similarity``."""
    return store.query(
        "SELECT a.id, f.name, a.title, a.url, a.fetched_at, a.join_reason, "
        "a.join_similarity FROM articles a JOIN feeds f ON f.id = a.feed_id "
        "JOIN stories s ON s.id = a.story_id "
        "WHERE a.story_id = ? ORDER BY a.id != s.first_article_id, a.fetched_at, a.id",
        (story_id,),
    )


def others(store: Store, story_id: int, article_id: int) -> list[dict]:
    """The story's members but ``article_id``, oldest first: ``id``, ``title``,
    ``url``, ``fetched_at``, ``matched``, ``join_reason``, ``join_similarity``, ``feed``."""
    return store.query(
        """
        SELECT a.id, a.title, a.url, a.fetched_at, a.matched, a.join_reason, a.join_similarity,
               f.name AS feed
        FROM articles a JOIN feeds f ON f.id = a.feed_id
        WHERE a.story_id = ? AND a.id != ? ORDER BY a.fetched_at, a.id""",
        (story_id, article_id),
    )


def count_others(store: Store, story_id: int, article_id: int) -> int:
    return store.scalar(
        "SELECT COUNT(*) FROM articles WHERE story_id = ? AND id != ?", (story_id, article_id)
    )


def other_outlets(store: Store, story_id: int, article_id: int, feed_id: int | None) -> list[str]:
    """Names of the feeds besides ``feed_id`` that carried the story, in the
    order they first did (for an alert's "also reported by")."""
    return [
        r[0]
        for r in store.execute(
            "SELECT f.name, min(a.id) AS first FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.story_id = ? AND a.id != ? AND a.feed_id IS NOT ? GROUP BY f.id ORDER BY first",
            (story_id, article_id, feed_id),
        )
    ]


def reach(store: Store, story_id: int, article_id: int | None) -> dict | None:
    """How far a story has spread: ``created_at``, ``outlets`` (distinct feeds of its members),
    ``languages`` (of its members, first reported first: detected, else declared, primary code),
    and for ``article_id``: its ``language`` and the ``earlier_languages`` of the members before it."""
    row = store.one("SELECT created_at FROM stories WHERE id = ?", (story_id,))
    if row is None:
        return None
    members = store.execute(
        "SELECT id, feed_id, lower(substr(COALESCE(detected_language, language, ''), 1, "
        "CASE WHEN instr(COALESCE(detected_language, language, ''), '-') > 0 "
        "THEN instr(COALESCE(detected_language, language, ''), '-') - 1 ELSE 8 END)) "
        "FROM articles WHERE story_id = ? ORDER BY id",
        (story_id,),
    ).fetchall()
    languages = list(dict.fromkeys(lang for _, _, lang in members if lang))
    own = next((lang for i, _, lang in members if i == article_id), "")
    earlier = list(
        dict.fromkeys(lang for i, _, lang in members if lang and article_id is not None and i < article_id)
    )
    return {
        "created_at": row["created_at"],
        "outlets": len({feed for _, feed, _ in members}),
        "languages": languages,
        "language": own,
        "earlier_languages": earlier,
    }


# -- why an article is in its story -----------------------------------------------------


def membership(store: Store, article_id: int) -> dict | None:
    """``id``, ``story_id``, ``join_reason``, ``content_hash``, ``simhash``,
    ``fetched_at``, ``body``, ``first_article_id`` and ``story_title`` of one
    article (the story's columns None when it is in none), or None."""
    return store.one(
        "SELECT a.id, a.story_id, a.join_reason, a.content_hash, a.simhash, a.fetched_at, "
        "COALESCE(a.text, a.summary) AS body, s.first_article_id, s.title AS story_title "
        "FROM articles a LEFT JOIN stories s ON s.id = a.story_id WHERE a.id = ?",
        (article_id,),
    )


def earlier(store: Store, story_id: int, article_id: int, fetched_at: str, limit: int) -> list[dict]:
    """Up to ``limit`` other members fetched no later than ``fetched_at``, oldest
    first: ``id``, ``content_hash``, ``simhash``, ``body``."""
    return store.query(
        "SELECT id, content_hash, simhash, COALESCE(text, summary) AS body FROM articles "
        "WHERE story_id = ? AND id != ? AND fetched_at <= ? ORDER BY fetched_at LIMIT ?",
        (story_id, article_id, fetched_at, limit),
    )


# -- the log of matched stories ---------------------------------------------------------


def logged(store: Store, sel: articles.Selection, limit: int | None) -> list[tuple[int | None, int, str]]:
    """The selected articles grouped by story (an article in no story is its
    own group), newest first: (story id or None, smallest article id, when
    the newest was fetched)."""
    condition, params = articles.where(sel)
    rows = store.execute(
        f"""
        SELECT COALESCE(a.story_id, -a.id) AS skey, MIN(a.id) AS article_id,
               MAX(a.fetched_at) AS seen
        FROM articles a JOIN feeds f ON f.id = a.feed_id
        WHERE {condition}
        GROUP BY skey ORDER BY seen DESC, article_id DESC
        {"LIMIT :limit" if limit else ""}""",
        {**params, "limit": limit},
    ).fetchall()
    return [(skey if skey > 0 else None, article_id, seen) for skey, article_id, seen in rows]


# A log group's key, as :func:`logged` gives it: a story's id, or minus the id of
# an article in no story. The queries below read the keys of many groups at once
# as two JSON lists (stories, lone articles), one query per fact for the whole page.
_MEMBERS = """(
    SELECT story_id AS g, id, feed_id, no_alert FROM articles
    WHERE story_id IN (SELECT value FROM json_each(:stories))
    UNION ALL
    SELECT -id AS g, id, feed_id, no_alert FROM articles WHERE id IN (SELECT value FROM json_each(:lone))
)"""


def _keys(keys: Sequence[int]) -> dict[str, str]:
    return {
        "stories": json.dumps([k for k in keys if k > 0]),
        "lone": json.dumps([-k for k in keys if k < 0]),
    }


def group_members(
    store: Store, keys: Sequence[int]
) -> dict[int, list[tuple[int, int | None, str | None, str | None]]]:
    """Group key -> its members, first stored first: (article id, feed id, the
    feed's name (None when its row is gone), why it did not alert or None)."""
    out: dict[int, list[tuple[int, int | None, str | None, str | None]]] = {k: [] for k in keys}
    for key, article_id, feed_id, name, no_alert in store.execute(
        f"SELECT m.g, m.id, m.feed_id, f.name, m.no_alert FROM {_MEMBERS} m "
        "LEFT JOIN feeds f ON f.id = m.feed_id ORDER BY m.id",
        _keys(keys),
    ):
        out[key].append((article_id, feed_id, name, no_alert))
    return out


def group_matches(store: Store, keys: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """Group key -> (rule id, severity) of every match of its members, in match order."""
    out: dict[int, list[tuple[str, str]]] = {k: [] for k in keys}
    for key, rule_id, severity in store.execute(
        f"SELECT m.g, x.rule_id, x.severity FROM {_MEMBERS} m JOIN matches x ON x.article_id = m.id ORDER BY x.id",
        _keys(keys),
    ):
        out[key].append((rule_id, severity))
    return out


def group_alerts(store: Store, keys: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
    """Group key -> (status, count) of the alerts of the story (or of the lone article)."""
    out: dict[int, list[tuple[str, int]]] = {k: [] for k in keys}
    for key, status, n in store.execute(
        """
        SELECT story_id AS g, status, COUNT(*) FROM alerts
        WHERE story_id IN (SELECT value FROM json_each(:stories)) GROUP BY story_id, status
        UNION ALL
        SELECT -article_id AS g, status, COUNT(*) FROM alerts
        WHERE article_id IN (SELECT value FROM json_each(:lone)) GROUP BY article_id, status
        ORDER BY 1, 2""",
        _keys(keys),
    ):
        out[key].append((status, n))
    return out
