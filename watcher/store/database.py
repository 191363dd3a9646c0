"""The SQLite store: opening, pragmas, schema migrations, transactions.

This is the only module that imports ``sqlite_utils``. Other modules receive
a :class:`Store` and use ``store.db`` (a ``sqlite_utils.Database``) for table
operations, always inside ``store.atomic()`` when they write more than one
row. A ``with`` block on the raw connection is NOT atomic with sqlite-utils (it commits on its
own); ``store.atomic()`` is.

Timestamps are ISO-8601 UTC strings (``2026-11-21T05:12:35+00:00``), so
they sort as text and read well in Datasette.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from watcher.errors import StoreError

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite_utils.Database], None]


def _v1_schema(db: sqlite_utils.Database) -> None:
    db.executescript(_V1_SQL)


_V1_SQL = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    next_due TEXT,
    last_polled TEXT,
    last_success TEXT,
    last_status TEXT,              -- 'ok', 'not_modified', 'error', 'gone', 'throttled'
    last_http_status INTEGER,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    gone INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE stories (
    id INTEGER PRIMARY KEY,
    first_article_id INTEGER,      -- the article that opened the story (and alerted)
    title TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]'   -- JSON list of rule ids matched by any member
);

CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    url TEXT NOT NULL,
    canonical_url TEXT NOT NULL UNIQUE,
    guid TEXT,
    title TEXT,
    author TEXT,
    published TEXT,
    fetched_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    language TEXT,
    summary TEXT,
    text TEXT,
    extraction TEXT NOT NULL,       -- 'full' or 'summary'
    extraction_error TEXT,
    content_hash TEXT,
    simhash INTEGER,
    story_id INTEGER REFERENCES stories(id),
    duplicate_of INTEGER REFERENCES articles(id),
    join_reason TEXT,               -- 'canonical_url', 'content_hash', 'similar' or NULL
    join_similarity REAL,
    matched INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_articles_feed ON articles(feed_id);
CREATE INDEX idx_articles_story ON articles(story_id);
CREATE INDEX idx_articles_content_hash ON articles(content_hash);
CREATE INDEX idx_articles_fetched ON articles(fetched_at);
CREATE INDEX idx_articles_matched ON articles(matched, fetched_at);

-- Every feed entry ever seen. A known (feed, guid) or canonical URL is never
-- fetched or extracted again.
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    guid TEXT NOT NULL,             -- the entry's id, or its link when it has none
    url TEXT,
    canonical_url TEXT,
    article_id INTEGER REFERENCES articles(id),
    first_seen TEXT NOT NULL,
    UNIQUE (feed_id, guid)
);
CREATE INDEX idx_entries_canonical ON entries(canonical_url);
CREATE INDEX idx_entries_article ON entries(article_id);

CREATE TABLE matches (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    severity TEXT NOT NULL,
    score REAL NOT NULL,
    hits TEXT NOT NULL,             -- JSON list of hits, the shape `watcher match` prints
    matched_at TEXT NOT NULL,
    UNIQUE (article_id, rule_id)
);
CREATE INDEX idx_matches_rule ON matches(rule_id, matched_at);

-- The outbox: one row per (story, channel). Written in the same transaction
-- as the match that caused it.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    story_id INTEGER NOT NULL REFERENCES stories(id),
    article_id INTEGER NOT NULL REFERENCES articles(id),
    channel TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'immediate',   -- 'immediate' or 'digest'
    status TEXT NOT NULL DEFAULT 'pending',   -- 'pending', 'sending', 'sent', 'dead'
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    digest_id INTEGER,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX idx_alerts_due ON alerts(status, next_attempt_at);
CREATE INDEX idx_alerts_story ON alerts(story_id);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    verdict TEXT NOT NULL CHECK (verdict IN ('relevant', 'irrelevant')),
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_feedback_article ON feedback(article_id);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    feeds_polled INTEGER NOT NULL DEFAULT 0,
    entries_new INTEGER NOT NULL DEFAULT 0,
    articles_stored INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0
);

-- Per-poll log: what each poll of each feed did.
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    run_id INTEGER REFERENCES runs(id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT,
    http_status INTEGER,
    entries_new INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX idx_polls_feed ON polls(feed_id, started_at);
"""


def _v1_fts(db: sqlite_utils.Database) -> None:
    db["articles"].enable_fts(
        ["title", "text"], fts_version="FTS5", create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )


def _v3_review_indexes(db: sqlite_utils.Database) -> None:
    # Alerts and duplicates of one article: `watcher show/export` look them up,
    # and deleting an article (pruning) checks both foreign keys.
    db.executescript("""
CREATE INDEX IF NOT EXISTS idx_alerts_article ON alerts(article_id);
CREATE INDEX IF NOT EXISTS idx_articles_duplicate ON articles(duplicate_of);
""")


def _v4_folded_search(db: sqlite_utils.Database) -> None:
    # `watcher search` over text folded as the matcher folds it (Kasım = kasim,
    # أ = ا); see watcher/search.py. Back-fills every stored article.
    from watcher.review import search

    search.create(db)


def _v5_entry_revisions(db: sqlite_utils.Database) -> None:
    db.executescript("""
        ALTER TABLE entries ADD COLUMN updated TEXT;       -- the feed's <updated> time, if any
        ALTER TABLE entries ADD COLUMN summary_hash TEXT;  -- of the feed's summary, to notice edits
    """)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_schema),
    Migration(2, "full-text search over articles", _v1_fts),
    Migration(3, "indexes for reviewing and pruning", _v3_review_indexes),
    Migration(4, "search index folded like the matcher", _v4_folded_search),
    Migration(5, "entry revisions: the feed's updated time and summary", _v5_entry_revisions),
)


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``db.atomic()``, but the outermost block takes the write lock up front
    (``BEGIN IMMEDIATE``), waiting up to the busy timeout. A deferred
    transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


class Store:
    """An open watcher database."""

    def __init__(self, db: sqlite_utils.Database, path: str) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> "Store":
        path = str(path)
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False, isolation_level=None)
            db = sqlite_utils.Database(conn)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if path != ":memory:":
                db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path!r}: {exc}") from exc
        store = cls(db, path)
        if migrate:
            store.migrate()
        return store

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> list[Migration]:
        """Apply pending migrations, each in its own transaction."""
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= self.version:
                continue
            try:
                with self.db.atomic():
                    migration.apply(self.db)
                    self.db.execute(f"PRAGMA user_version = {migration.version}")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{self.path}: migration {migration.version} "
                    f"({migration.name}) failed: {exc}") from exc
            applied.append(migration)
        if self.version > MIGRATIONS[-1].version:
            raise StoreError(
                f"{self.path} has schema version {self.version}, newer than this "
                f"watcher knows ({MIGRATIONS[-1].version}); upgrade watcher")
        return applied

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (nested calls become savepoints); see :func:`immediate`."""
        with immediate(self.db) as db:
            yield db

    def query(self, sql: str, params: dict | tuple = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def close(self) -> None:
        self.db.close()
