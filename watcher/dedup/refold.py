"""Stored derived text data kept in step with the folding.

Content hashes, SimHash fingerprints and the folded search index are all made
by :mod:`watcher.text.fold`. When its :data:`~watcher.text.fold.FOLD_VERSION`
changes, a database folded with an older version would miss copies and
searches, so the first opening by a newer watcher recomputes them, in batches
of one transaction each, and then records the new version. An interrupted
refold simply runs again next time (the version is recorded last).
"""

from __future__ import annotations

from watcher.store import articles, meta, searchindex
from watcher.store.database import Store
from watcher.text.fold import FOLD_VERSION

BATCH = 500


def needed(store: Store) -> bool:
    return meta.get(store, "fold_version") != str(FOLD_VERSION)


def refold(store: Store) -> int:
    """Recompute every article's fingerprints and the search index if they were
    folded with another version; returns how many articles were refolded."""
    if not needed(store):
        return 0
    from watcher.dedup import identity, similarity  # courlan, numpy: only when there is work

    done = last = 0
    while rows := articles.texts_after(store, last, BATCH):
        with store.atomic():
            articles.set_fingerprints(
                store,
                [
                    (
                        identity.content_hash(text or "") if (text or "").strip() else None,
                        similarity.fingerprint(text or "") if (text or "").strip() else None,
                        article_id,
                    )
                    for article_id, text in rows
                ],
            )
        last = rows[-1][0]
        done += len(rows)
    with store.atomic():
        searchindex.refresh(store)
        meta.put(store, "fold_version", str(FOLD_VERSION))
    if done:
        import logging  # not at import: every command that opens the store imports this module

        logging.getLogger("watcher.dedup").info(
            "refolded %d stored article(s) for text folding version %d", done, FOLD_VERSION
        )
    return done
