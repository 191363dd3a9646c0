"""The schema: migrations keyed on ``PRAGMA user_version``, and what each table is for.

Each migration runs once, in its own transaction (:meth:`Store.migrate
<watcher.store.database.Store.migrate>`); a database written by any earlier
release opens and upgrades in place. A new column or table is a new
migration at the end of :data:`MIGRATIONS`, never an edit of an old one.

Timestamps are ISO-8601 UTC strings (``2026-11-21T05:12:35+00:00``), so
they sort as text and read well in Datasette.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# searchindex and the folding are imported by the migrations that use them:
# opening an up-to-date database (every read-only command) needs neither.
if TYPE_CHECKING:
    import sqlite_utils


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite_utils.Database], None]


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run several statements inside the caller's transaction.

    ``executescript`` would COMMIT first and run outside any transaction, so a
    kill between a migration's statements and its version bump would leave a
    half-applied migration that fails when it runs again; statement by
    statement, a migration stays all or nothing."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                db.conn.execute(pending)
            pending = ""
    if pending.strip(" \t\n;"):
        db.conn.execute(pending)


def _v1_schema(db: sqlite_utils.Database) -> None:
    run_script(db, _V1_SQL)


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
    db.table("articles").enable_fts(
        ["title", "text"],
        fts_version="FTS5",
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )


def _v3_review_indexes(db: sqlite_utils.Database) -> None:
    # Alerts and duplicates of one article: `watcher show/export` look them up,
    # and deleting an article (pruning) checks both foreign keys.
    run_script(
        db,
        """
CREATE INDEX IF NOT EXISTS idx_alerts_article ON alerts(article_id);
CREATE INDEX IF NOT EXISTS idx_articles_duplicate ON articles(duplicate_of);
""",
    )


def _v4_folded_search(db: sqlite_utils.Database) -> None:
    # `watcher search` over text folded as the matcher folds it (Kasım = kasim,
    # أ = ا); see searchindex.py. Back-fills every stored article.
    from watcher.store import searchindex

    searchindex.create(db)


def _v5_entry_revisions(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        ALTER TABLE entries ADD COLUMN updated TEXT;       -- the feed's <updated> time, if any
        ALTER TABLE entries ADD COLUMN summary_hash TEXT;  -- of the feed's summary, to notice edits
    """,
    )


def _v6_meta(db: sqlite_utils.Database) -> None:
    # Facts about the database itself. `fold_version`: the version of
    # watcher/text/fold.py the stored fingerprints and the search index were
    # folded with; a database with articles from before this table was folded
    # with version 1 (see watcher/dedup/refold.py).
    from watcher.text.fold import FOLD_VERSION

    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    has_articles = db.execute("SELECT EXISTS (SELECT 1 FROM articles)").fetchone()[0]
    db.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('fold_version', ?)",
        ["1" if has_articles else str(FOLD_VERSION)],
    )


def _v7_poll_detail(db: sqlite_utils.Database) -> None:
    # What a poll did besides the feed itself: article pages tried and failed,
    # the parse warning (malformed, cut at the entry limit, entries without
    # links); the feed keeps its last ones. An entry whose processing failed
    # keeps the error (and is tried again a few times). An article that matched
    # but must not alert (published before [alerts] max_age, undated in its
    # feed's first poll, or stored by `run --once --no-send`) says why.
    run_script(
        db,
        """
        ALTER TABLE polls ADD COLUMN pages_tried INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE polls ADD COLUMN pages_failed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE polls ADD COLUMN last_page_error TEXT;
        ALTER TABLE polls ADD COLUMN warning TEXT;
        ALTER TABLE feeds ADD COLUMN pages_tried INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE feeds ADD COLUMN pages_failed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE feeds ADD COLUMN last_page_error TEXT;
        ALTER TABLE feeds ADD COLUMN last_warning TEXT;
        ALTER TABLE entries ADD COLUMN error TEXT;
        ALTER TABLE entries ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE articles ADD COLUMN no_alert TEXT;
    """,
    )


def _v8_source_settings(db: sqlite_utils.Database) -> None:
    # What kind of source a feed is (feed, telegram, sitemap, page), its tags
    # (a JSON list: `watcher log --tag`, the web page) and whether it is paused
    # (enabled = false in the config: not polled, its history kept); copied
    # from the config by sources.sync.
    run_script(
        db,
        """
        ALTER TABLE feeds ADD COLUMN kind TEXT NOT NULL DEFAULT 'feed';
        ALTER TABLE feeds ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE feeds ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    """,
    )


def _v9_outbox_health(db: sqlite_utils.Database) -> None:
    # The outbox carries operator notices as well as story alerts (story_id and
    # article_id become nullable, notice_id points at the notice), each row's
    # severity (critical alerts pass quiet hours) and when it was last tried;
    # channel_health is each channel's circuit breaker; notices is the log of
    # operator notices, one row per start or end of a condition's episode; two
    # partial indexes keep a feed's health (store.feeds.activity) quick on a
    # log of months of polls.
    # SQLite cannot relax NOT NULL in place: the table is rebuilt, rows and ids kept.
    for statement in _V9_SQL.split(";\n"):
        if statement.strip():
            db.execute(statement)


_V9_SQL = """
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,              -- the condition: 'feed-failing:<url>', 'channel-failing:<name>', ...
    event TEXT NOT NULL CHECK (event IN ('start', 'end')),
    subject TEXT NOT NULL,          -- what it is about: 'feed Example News', 'channel ops'
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    severity TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_notices_key ON notices(key, id);
CREATE TABLE alerts_v9 (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    story_id INTEGER REFERENCES stories(id),      -- NULL for an operator notice
    article_id INTEGER REFERENCES articles(id),   -- NULL for an operator notice
    notice_id INTEGER REFERENCES notices(id),
    channel TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'immediate',   -- 'immediate', 'digest' or 'notice'
    severity TEXT,                            -- the alert's rule severity (critical passes quiet hours)
    status TEXT NOT NULL DEFAULT 'pending',   -- 'pending', 'sending', 'sent', 'dead'
    attempts INTEGER NOT NULL DEFAULT 0,      -- times it was itself tried
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    digest_id INTEGER,                        -- the message it went in, when it shared one
    created_at TEXT NOT NULL,
    sent_at TEXT,
    tried_at TEXT                             -- when it was last tried
);
INSERT INTO alerts_v9 (id, idempotency_key, story_id, article_id, channel, mode, status, attempts,
    next_attempt_at, last_error, digest_id, created_at, sent_at)
    SELECT id, idempotency_key, story_id, article_id, channel, mode, status, attempts,
    next_attempt_at, last_error, digest_id, created_at, sent_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v9 RENAME TO alerts;
CREATE INDEX idx_alerts_due ON alerts(status, next_attempt_at);
CREATE INDEX idx_alerts_story ON alerts(story_id);
CREATE INDEX idx_alerts_article ON alerts(article_id);
CREATE INDEX idx_alerts_channel ON alerts(channel, status, sent_at);
CREATE INDEX idx_polls_pages ON polls(feed_id, started_at) WHERE pages_tried > 0;
CREATE INDEX idx_polls_new ON polls(feed_id, finished_at) WHERE entries_new > 0;
CREATE TABLE channel_health (
    channel TEXT PRIMARY KEY,
    failing_since TEXT,             -- NULL: the circuit is closed (the last try worked)
    failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failed tries, the opening one included
    next_probe TEXT,                -- while failing: when one alert may try the channel again
    last_error TEXT,
    last_success TEXT
);
"""


def _v10_feed_counts(db: sqlite_utils.Database) -> None:
    # `watcher status`, `watcher feeds` and the feeds page count each feed's
    # articles, matched articles and newest fetch time: with (feed_id) alone
    # that read every article row (0.2 s on 20,000 articles); this index
    # answers from itself and takes the place of idx_articles_feed (its prefix).
    # Pages that could not be extracted are few: a partial index counts them.
    run_script(
        db,
        """
        CREATE INDEX IF NOT EXISTS idx_articles_feed_counts ON articles(feed_id, matched, fetched_at);
        DROP INDEX IF EXISTS idx_articles_feed;
        CREATE INDEX IF NOT EXISTS idx_articles_extraction_failed ON articles(id)
            WHERE extraction_error IS NOT NULL;
    """,
    )


def _v11_meaning(db: sqlite_utils.Database) -> None:
    # Issue 12. The language detected from each article's title and text, beside the declared
    # one (`language`); why similarity could not be computed for it; how a rule matched
    # ('keywords' or 'similarity') and how close in meaning the article was to the rule's
    # examples; the vectors of embedded texts (keyed by a digest of model and text, so a
    # backtest never embeds twice); and every similarity computed, matched or not (the "near
    # misses" an analyst can mark).
    run_script(
        db,
        """
        ALTER TABLE articles ADD COLUMN detected_language TEXT;
        ALTER TABLE articles ADD COLUMN language_confidence REAL;
        ALTER TABLE articles ADD COLUMN meaning_error TEXT;
        CREATE INDEX IF NOT EXISTS idx_articles_detected_language ON articles(detected_language);
        ALTER TABLE matches ADD COLUMN via TEXT NOT NULL DEFAULT 'keywords';
        ALTER TABLE matches ADD COLUMN similarity REAL;
        ALTER TABLE matches ADD COLUMN similar_to TEXT;
        ALTER TABLE matches ADD COLUMN evidence REAL;
        CREATE TABLE IF NOT EXISTS embeddings (
            digest TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS similarities (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            score REAL NOT NULL,
            reference TEXT,
            unlike REAL,
            unlike_reference TEXT,
            matched INTEGER NOT NULL DEFAULT 0,
            digest TEXT,
            scored_at TEXT NOT NULL,
            PRIMARY KEY (article_id, rule_id)
        );
        CREATE INDEX IF NOT EXISTS idx_similarities_rule ON similarities(rule_id, matched, score);
        CREATE INDEX IF NOT EXISTS idx_similarities_digest ON similarities(digest);
    """,
    )


def _v12_fts_on_text_only(db: sqlite_utils.Database) -> None:
    # articles_fts (the browser's plain search) is re-indexed when an article's
    # title or text changes, not on every update of its row: putting a new
    # article in its story (story_id, duplicate_of) re-tokenized its whole text.
    db.execute("DROP TRIGGER IF EXISTS articles_au")
    db.execute(
        'CREATE TRIGGER "articles_au" AFTER UPDATE OF "title", "text" ON "articles" BEGIN\n'
        '  INSERT INTO "articles_fts" ("articles_fts", rowid, "title", "text") '
        'VALUES(\'delete\', old.rowid, old."title", old."text");\n'
        '  INSERT INTO "articles_fts" (rowid, "title", "text") VALUES (new.rowid, new."title", new."text");\n'
        "END"
    )


def _v13_fts_after_the_rows(db: sqlite_utils.Database) -> None:
    # articles_fts is written by whoever stores an article (articles.insert, or
    # articles.index_many once per group of articles), no longer by a trigger
    # on each INSERT: FTS5 writes its pending index to disk at every later
    # statement of the transaction, so indexing each article between the other
    # rows of its entry cost more than storing them. Updates and deletes keep
    # their triggers.
    db.execute("DROP TRIGGER IF EXISTS articles_ai")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_schema),
    Migration(2, "full-text search over articles", _v1_fts),
    Migration(3, "indexes for reviewing and pruning", _v3_review_indexes),
    Migration(4, "search index folded like the matcher", _v4_folded_search),
    Migration(5, "entry revisions: the feed's updated time and summary", _v5_entry_revisions),
    Migration(6, "a meta table: the folding the fingerprints were made with", _v6_meta),
    Migration(7, "poll detail: pages, warnings, failed entries, alert baseline", _v7_poll_detail),
    Migration(8, "source settings: kind, tags, paused", _v8_source_settings),
    Migration(9, "operator notices, channel health and alert severity in the outbox", _v9_outbox_health),
    Migration(10, "indexes for counting each feed's articles and the failed extractions", _v10_feed_counts),
    Migration(11, "detected language, similarity to the rules' examples, embeddings", _v11_meaning),
    Migration(12, "articles_fts re-indexed only when a title or text changes", _v12_fts_on_text_only),
    Migration(
        13, "articles_fts written with the articles, not by a trigger per row", _v13_fts_after_the_rows
    ),
)


# What Datasette shows beside each table, and the canned queries it offers
# (``watcher serve``).
TABLE_DOCS = {
    "feeds": "One row per configured feed: its kind (feed, telegram, sitemap, page), tags, whether "
    "it is paused, polling state, last error and warning, article pages tried and failed in its last "
    "poll, next due time.",
    "entries": "Every feed entry ever seen (never fetched twice); article_id is NULL once pruned, "
    "or while error says why storing it failed (tried again up to 3 times).",
    "articles": "Stored articles: extracted text, dedup fields, story membership, matched flag; "
    "no_alert says why a match did not alert (baseline / too old to alert).",
    "stories": "One story per distinct event; rules lists every rule any member matched.",
    "matches": "Why an article matched: one row per (article, rule); hits is JSON with offsets.",
    "alerts": "The alert outbox: one row per (story, channel) or (operator notice, channel) "
    "with delivery status.",
    "notices": "Operator notices: one row per start or end of a condition (a feed failing, "
    "silent or degraded, a channel failing, ...).",
    "channel_health": "Each channel's circuit breaker: failing since when, and when it is probed next.",
    "feedback": "Relevant/irrelevant verdicts on articles; the newest per article counts.",
    "runs": "One row per polling run.",
    "polls": "One row per poll of one feed: outcome, new entries, article pages tried and failed, warning.",
    "embeddings": "Vectors of embedded texts (title + lead), keyed by a digest of model and text.",
    "similarities": "How close in meaning each embedded article was to each rule's examples, matched "
    "or not; the unmatched ones closest to a rule are its near misses.",
    "search_index": "What `watcher search` searches: each article's title and text (rowid = article id) "
    "folded as the rules fold them (Kasım -> kasim, أنقرة -> انقره). "
    "articles_fts is the plain index behind this browser's search box.",
}

CANNED_QUERIES = {
    "matches_per_day": {
        "title": "Matches per day per rule",
        "sql": "SELECT substr(a.fetched_at, 1, 10) AS day, m.rule_id, count(*) AS matches "
        "FROM matches m JOIN articles a ON a.id = m.article_id "
        "GROUP BY day, m.rule_id ORDER BY day DESC, matches DESC",
    },
    "rule_feedback": {
        "title": "Feedback per rule (latest verdict per article)",
        "sql": "SELECT m.rule_id, count(*) AS matches, sum(f.verdict = 'relevant') AS relevant, "
        "sum(f.verdict = 'irrelevant') AS irrelevant FROM matches m LEFT JOIN feedback f "
        "ON f.id = (SELECT max(id) FROM feedback WHERE article_id = m.article_id) "
        "GROUP BY m.rule_id ORDER BY irrelevant DESC",
    },
    "failing_feeds": {
        "title": "Failing feeds",
        "sql": "SELECT name, url, last_status, consecutive_errors, last_error, last_success, "
        "next_due FROM feeds WHERE consecutive_errors > 0 OR gone = 1 "
        "ORDER BY consecutive_errors DESC",
    },
}
