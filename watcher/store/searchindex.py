"""The folded search index: ``search_index``, FTS5 over each article's title
and text folded as the matcher folds them.

SQLite's own tokenizer (``unicode61 remove_diacritics 2``, behind
``articles_fts``) keeps Turkish dotless ``ı`` apart from ``i`` and Arabic hamza
forms apart from their plain letters, so ``watcher search`` uses this second
table (rowid = article id): each article's text as the matcher sees it, folded
words separated by single spaces. :mod:`watcher.review.search` folds queries
with the same :func:`fold` and compiles them into safe FTS5 syntax.

Keeping it in sync: :func:`put` (re)indexes an article, inside the
transaction that stores or updates it; a trigger on ``articles`` deletes an
article's entry when the article is deleted (pruning, or anyone deleting
rows with another SQLite tool). A trigger cannot fold (folding is Python),
which is why writes go through :func:`put`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from watcher.text.fold import Normalised
from watcher.text.fold import fold as fold_text

if TYPE_CHECKING:  # not at run time: schema.py (imported by database.py) imports this module
    from watcher.store.database import Store

TABLE = "search_index"
START, END = "\x01", "\x02"  # what highlight() puts around matched words: char(1), char(2)
REBUILD_BATCH = 500

# The folded text holds only letters, digits and single spaces, so the 'ascii'
# tokenizer (which splits at ASCII non-alphanumerics and keeps every other
# character in a word) cuts it into exactly the normaliser's words.
SCHEMA = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(title, text, tokenize = 'ascii')",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_forget AFTER DELETE ON articles BEGIN "
    f"DELETE FROM {TABLE} WHERE rowid = old.id; END",
)


def fold(text: str | Normalised | None) -> str:
    """Text as the index holds it (and as queries must be folded to find it);
    a text folded already is taken as it is."""
    if isinstance(text, Normalised):
        return text.text
    return fold_text(text or "")


def put(store: Store, article_id: int, title: str | Normalised | None, text: str | Normalised | None) -> None:
    """(Re)index one article's title and text (either may come folded
    already). Call inside the transaction that stores or updates the article."""
    store.execute(f"DELETE FROM {TABLE} WHERE rowid = ?", (article_id,))
    store.execute(
        f"INSERT INTO {TABLE} (rowid, title, text) VALUES (?, ?, ?)", (article_id, fold(title), fold(text))
    )


def put_many(
    store: Store, rows: Sequence[tuple[int, str | Normalised | None, str | Normalised | None]]
) -> None:
    """(Re)index many articles at once: (article id, title, text) each, a later
    row of the same article winning. Call inside the transaction that stores
    them. FTS5 writes its pending index to disk at every statement that opens a
    savepoint, so a writer storing many articles calls this once, after all of
    them, rather than :func:`put` between its other statements."""
    latest = {article_id: (article_id, fold(title), fold(text)) for article_id, title, text in rows}
    if not latest:
        return
    store.conn.executemany(f"DELETE FROM {TABLE} WHERE rowid = ?", [(i,) for i in latest])
    store.conn.executemany(
        f"INSERT INTO {TABLE} (rowid, title, text) VALUES (?, ?, ?)", list(latest.values())
    )


def best(store: Store, match: str, *, limit: int, matched_only: bool) -> list[int]:
    """Ids of the ``limit`` articles that best answer the FTS5 expression
    ``match`` (title words count double), best first."""
    join = f"JOIN articles a ON a.id = {TABLE}.rowid AND a.matched = 1" if matched_only else ""
    return [
        r[0]
        for r in store.execute(
            f"""
        SELECT {TABLE}.rowid FROM {TABLE} {join} WHERE {TABLE} MATCH :q
        ORDER BY bm25({TABLE}, 2.0, 1.0) LIMIT :limit""",
            {"q": match, "limit": limit},
        )
    ]


def highlighted(store: Store, match: str, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """For each of ``ids`` that ``match`` finds: (id, title, text, url, fetched_at,
    matched, feed name, folded title highlighted, folded text highlighted),
    matched words between :data:`START` and :data:`END`."""
    if not ids:
        return {}
    return {
        r[0]: r
        for r in store.execute(
            f"""
        SELECT a.id, a.title, a.text, a.url, a.fetched_at, a.matched, f.name,
               highlight({TABLE}, 0, char(1), char(2)),
               highlight({TABLE}, 1, char(1), char(2))
        FROM {TABLE} JOIN articles a ON a.id = {TABLE}.rowid
        JOIN feeds f ON f.id = a.feed_id
        WHERE {TABLE} MATCH ? AND {TABLE}.rowid IN ({",".join("?" * len(ids))})""",
            (match, *ids),
        )
    }


# -- for migrations (they run on the sqlite_utils database, in a transaction) ----


def create(db: Any) -> None:
    """The table and its delete trigger, filled from every stored article
    (schema migration 4). Call inside a transaction."""
    for statement in SCHEMA:
        db.execute(statement)
    rebuild(db)


def refresh(store: Store) -> None:
    """Fold every stored article again (inside the caller's transaction)."""
    rebuild(store.db)


def rebuild(db: Any) -> None:
    """Fold every stored article again. If the folding ever changes, add a
    schema migration that calls this: queries are folded the new way and
    would miss text folded the old way."""
    db.execute(f"DELETE FROM {TABLE}")
    last = 0
    while True:
        rows = db.execute(
            "SELECT id, title, text FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, REBUILD_BATCH)
        ).fetchall()
        if not rows:
            return
        db.conn.executemany(
            f"INSERT INTO {TABLE} (rowid, title, text) VALUES (?, ?, ?)",
            [(i, fold(title), fold(text)) for i, title, text in rows],
        )
        last = rows[-1][0]
