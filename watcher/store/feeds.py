"""Feeds, and the log of polling them: ``feeds``, ``polls`` and ``runs``.

A feed row mirrors one configured feed (by URL) and carries its polling state:
validators (ETag, Last-Modified), next due time, last outcome, error count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from watcher.store.database import Store

# Columns of a feed's polling state that :func:`update_state` may set.
STATE_COLUMNS = frozenset(
    {
        "etag",
        "last_modified",
        "next_due",
        "last_polled",
        "last_success",
        "last_status",
        "last_http_status",
        "consecutive_errors",
        "last_error",
        "gone",
        "pages_tried",
        "pages_failed",
        "last_page_error",
        "last_warning",
    }
)


def get(store: Store, url: str) -> dict | None:
    """The feed's whole row, or None when it is not in the database."""
    return store.one("SELECT * FROM feeds WHERE url = ?", (url,))


def add(store: Store, url: str, name: str, now: str) -> int:
    """A new feed, due at once; returns its id."""
    return (
        store.execute(
            "INSERT INTO feeds (url, name, next_due, created_at, consecutive_errors, gone) "
            "VALUES (?, ?, ?, ?, 0, 0)",
            (url, name, now, now),
        ).lastrowid
        or 0
    )


def rename(store: Store, feed_id: int, name: str) -> None:
    store.execute("UPDATE feeds SET name = ? WHERE id = ?", (name, feed_id))


def set_settings(
    store: Store, feed_id: int, *, kind: str, tags: list[str], paused: bool, stored: Mapping | None = None
) -> None:
    """The feed's kind, tags and pause, as the config says (``sources.sync``);
    ``stored``: its row as just read (:func:`settings`), when it says the same
    nothing is written."""
    tags_json = json.dumps(tags, ensure_ascii=False)
    if stored is not None and (stored["kind"], stored["tags"], stored["paused"]) == (
        kind,
        tags_json,
        int(paused),
    ):
        return
    store.execute(
        "UPDATE feeds SET kind = ?, tags = ?, paused = ? WHERE id = ? "
        "AND (kind IS NOT ? OR tags IS NOT ? OR paused IS NOT ?)",
        (kind, tags_json, int(paused), feed_id, kind, tags_json, int(paused)),
    )


def settings(store: Store) -> list[dict]:
    """Every feed's ``id``, ``url``, ``name``, ``kind``, ``tags`` and ``paused``."""
    return store.query("SELECT id, url, name, kind, tags, paused FROM feeds")


def tag_names(store: Store) -> set[str]:
    """Every tag any feed carries (``watcher log --tag`` checks against them)."""
    return {r[0] for r in store.execute("SELECT DISTINCT j.value FROM feeds f, json_each(f.tags) j")}


def due(store: Store, now: str, *, healthy_too: bool = False) -> list[dict]:
    """Rows of feeds not gone whose next poll time has come, soonest first;
    ``healthy_too`` adds feeds without errors that are merely waiting."""
    return store.query(
        "SELECT * FROM feeds WHERE gone = 0 AND (next_due IS NULL OR next_due <= ? "
        "OR (? AND consecutive_errors = 0)) ORDER BY next_due",
        (now, healthy_too),
    )


def update_state(store: Store, feed_id: int, columns: dict) -> None:
    """Set the feed's polling state (a subset of :data:`STATE_COLUMNS`)."""
    unknown = set(columns) - STATE_COLUMNS
    if unknown:
        raise ValueError(f"not a feed state column: {', '.join(sorted(unknown))}")
    if columns:
        names = list(columns)
        store.execute(
            f"UPDATE feeds SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
            (*(columns[n] for n in names), feed_id),
        )


def listing(store: Store) -> list[dict]:
    """Every feed's row (configured now or before)."""
    return store.query("SELECT * FROM feeds")


def with_article_counts(store: Store) -> list[dict]:
    """Every feed's row with ``articles``, ``matched`` and ``last_article`` (when
    its newest article was fetched); gone and failing feeds first."""
    return store.query("""
        SELECT f.*, COALESCE(c.articles, 0) AS articles, COALESCE(c.matched, 0) AS matched, c.last_article
        FROM feeds f LEFT JOIN (
            SELECT feed_id, COUNT(*) AS articles, SUM(matched) AS matched, MAX(fetched_at) AS last_article
            FROM articles GROUP BY feed_id) c ON c.feed_id = f.id
        ORDER BY f.gone DESC, f.consecutive_errors DESC, f.name""")


def activity(
    store: Store, pages_since: str, rhythm_since: str, pages_polls: int = 10, rhythm_polls: int = 100
) -> dict[int, dict]:
    """Feed id -> what its recent polls say: ``pages_tried``/``pages_failed``
    summed over its last ``pages_polls`` polls since ``pages_since`` that
    tried article pages, ``last_new_entry`` (when a poll last found a new
    entry), ``new_entry_polls`` (when its last ``rhythm_polls`` polls since
    ``rhythm_since`` that found new entries did, oldest first) and
    ``failing_since`` (its first failed poll since its last success).

    One statement; per feed, each fact is a range of a (partial) index, so a
    log of months of polls costs milliseconds (and 1,000 feeds one statement,
    not thousands)."""
    facts: dict[int, dict] = {}
    for feed_id, tried, failed, last_new, polls, failing_since in store.execute(
        """
        SELECT f.id,
            (SELECT COALESCE(SUM(pages_tried), 0) FROM (
                SELECT pages_tried FROM polls p WHERE p.feed_id = f.id AND p.pages_tried > 0
                AND p.started_at >= :pages_since ORDER BY p.started_at DESC LIMIT :pages_polls)),
            (SELECT COALESCE(SUM(pages_failed), 0) FROM (
                SELECT pages_failed FROM polls p WHERE p.feed_id = f.id AND p.pages_tried > 0
                AND p.started_at >= :pages_since ORDER BY p.started_at DESC LIMIT :pages_polls)),
            (SELECT MAX(finished_at) FROM polls p WHERE p.feed_id = f.id AND p.entries_new > 0),
            (SELECT json_group_array(finished_at) FROM (
                SELECT finished_at FROM polls p WHERE p.feed_id = f.id AND p.entries_new > 0
                AND p.finished_at >= :rhythm_since ORDER BY p.finished_at DESC LIMIT :rhythm_polls)),
            CASE WHEN f.consecutive_errors THEN (
                SELECT MIN(started_at) FROM polls p WHERE p.feed_id = f.id
                AND p.started_at > COALESCE(f.last_success, '')
                AND p.status NOT IN ('ok', 'not_modified', 'interrupted')) END
        FROM feeds f""",
        {
            "pages_since": pages_since,
            "pages_polls": pages_polls,
            "rhythm_since": rhythm_since,
            "rhythm_polls": rhythm_polls,
        },
    ):
        facts[feed_id] = {
            "pages_tried": tried,
            "pages_failed": failed,
            "last_new_entry": last_new,
            "new_entry_polls": sorted(json.loads(polls)),  # oldest first
            "failing_since": failing_since,
        }
    return facts


def last_polled(store: Store) -> str | None:
    """When any feed was last polled."""
    return store.scalar("SELECT MAX(last_polled) FROM feeds")


# -- polls and runs ---------------------------------------------------------------


def add_poll(
    store: Store,
    feed_id: int,
    *,
    started: str,
    finished: str,
    status: str,
    http_status: int | None,
    entries_new: int,
    error: str | None,
    pages_tried: int = 0,
    pages_failed: int = 0,
    last_page_error: str | None = None,
    warning: str | None = None,
) -> None:
    store.execute(
        "INSERT INTO polls (feed_id, started_at, finished_at, status, http_status, entries_new, error, "
        "pages_tried, pages_failed, last_page_error, warning) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            feed_id,
            started,
            finished,
            status,
            http_status,
            entries_new,
            error,
            pages_tried,
            pages_failed,
            last_page_error,
            warning,
        ),
    )


def schedule(store: Store) -> list[dict]:
    """Every feed's ``url``, ``next_due`` and ``gone``: where the daemon's schedule starts."""
    return store.query("SELECT url, next_due, gone FROM feeds")


def start_run(store: Store, started: str) -> int:
    """A ``watcher run --once`` pass begins; returns its id."""
    return store.execute("INSERT INTO runs (started_at) VALUES (?)", (started,)).lastrowid or 0


def finish_run(
    store: Store,
    run_id: int,
    *,
    finished: str,
    feeds_polled: int,
    entries_new: int,
    articles_stored: int,
    errors: int,
) -> None:
    store.execute(
        "UPDATE runs SET finished_at = ?, feeds_polled = ?, entries_new = ?, articles_stored = ?, "
        "errors = ? WHERE id = ?",
        (finished, feeds_polled, entries_new, articles_stored, errors, run_id),
    )


def last_run(store: Store) -> str | None:
    """When the last ``watcher run --once`` started."""
    return store.scalar("SELECT MAX(started_at) FROM runs")


def poll_outcomes(store: Store) -> dict[str, int]:
    """How many polls came to each outcome (``ok``, ``not_modified``, ``error``, ...)."""
    return dict(
        store.execute("SELECT status, COUNT(*) FROM polls GROUP BY status ORDER BY status").fetchall()
    )
