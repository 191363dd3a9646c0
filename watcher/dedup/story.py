"""Stories: one story per piece of news, however many outlets carry it.

The pipeline asks :meth:`Stories.place` where a new article belongs before it
inserts the row, then calls :meth:`Stories.attach` with the new article id, in
the same ``store.atomic()``. The first article of a story is the one that
alerts; later copies join it and never alert on their own.

Where an article belongs, in order:

1. the same canonical URL is already stored -> that article (an update of it);
2. the same content hash within the window -> a copy ('content_hash');
3. a stored fingerprint within ``max_distance`` bits, within the window, whose
   text shares at least ``min_resemblance`` of its word 3-grams -> 'similar';
4. otherwise a new story.

The database is the source of truth. The fingerprint index is a cache of it,
kept current by reading rows with a larger id than it has seen, so articles
stored by another connection are found too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.config import DedupConfig
from watcher.dedup import similarity
from watcher.store import articles, stories
from watcher.store.database import Store
from watcher.text.fold import Normalised

CANDIDATES = 8  # nearest fingerprints whose texts are compared
SURE = 0.9  # a candidate this alike ends the search
EXPLAIN_MEMBERS = 50  # earlier members an explanation compares against


@dataclass(frozen=True)
class Placement:
    story_id: int | None  # None -> open a new story
    duplicate_of: int | None  # the story's first article id
    reason: str | None  # 'canonical_url' | 'content_hash' | 'similar'
    similarity: float | None  # 1.0 for exact identities; word 3-gram resemblance for 'similar'
    article_id: int | None = None  # the stored article that matched
    distance: int | None = None  # SimHash bits apart, for 'similar'


NEW_STORY = Placement(None, None, None, None)


@dataclass(frozen=True)
class Member:
    article_id: int
    feed: str  # the feed's name: the outlet as the user named it
    title: str | None
    url: str
    fetched_at: str
    reason: str | None  # how it joined; None for the first article
    similarity: float | None


@dataclass(frozen=True)
class Explanation:
    article_id: int
    story_id: int | None
    first_article_id: int | None
    reason: str | None
    similarity: float | None  # resemblance to matched_article_id, recomputed now
    matched_article_id: int | None
    distance: int | None
    text: str  # one sentence a person can read


class Stories:
    """Operates on the store's ``articles`` and ``stories`` tables."""

    def __init__(self, store: Store, config: DedupConfig, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.index = similarity.FingerprintIndex()
        self._seen_id: int | None = None

    # -- where does it belong -------------------------------------------------
    def place(
        self,
        *,
        canonical_url: str,
        content_hash: str | None,
        fingerprint: int | None,
        now: datetime,
        text: str | Normalised | None = None,
        url_stored: bool = True,
    ) -> Placement:
        """Where an article not yet stored belongs. ``text`` is the text the
        fingerprint was made from (or that text folded); without it there are
        no 'similar' joins. ``url_stored=False``: the caller has just found no
        article under ``canonical_url``, in this transaction (it is not looked
        up again)."""
        since = now - timedelta(days=self.config.window_days)
        return (
            (self._by_url(canonical_url) if url_stored else None)
            or self._by_hash(content_hash, since)
            or self._by_fingerprint(fingerprint, text, since)
            or NEW_STORY
        )

    def _by_url(self, canonical_url: str) -> Placement | None:
        row = stories.by_url(self.store, canonical_url)
        if row is None:
            return None
        return Placement(row["story_id"], row["duplicate_of"], "canonical_url", 1.0, row["id"])

    def _by_hash(self, content_hash: str | None, since: datetime) -> Placement | None:
        if not content_hash:
            return None
        row = stories.by_content_hash(self.store, content_hash, since.isoformat())
        if row is None:
            return None
        return Placement(row["story_id"], row["first_article_id"], "content_hash", 1.0, row["id"])

    def _by_fingerprint(
        self, fingerprint: int | None, text: str | Normalised | None, since: datetime
    ) -> Placement | None:
        if fingerprint is None or not text:
            return None
        self._sync(since)
        candidates = self.index.near(
            fingerprint, max_distance=self.config.max_distance, since=since.timestamp(), limit=CANDIDATES
        )
        if not candidates:
            return None
        mine = similarity.shingle_set(text)
        best: Placement | None = None
        joined: set[int] = set()  # stories a nearer member already qualified
        for row in stories.candidates(
            self.store, [article_id for article_id, _ in candidates], since.isoformat()
        ):
            d = similarity.distance(fingerprint, row["simhash"])
            if d > self.config.max_distance or row["story_id"] in joined:
                continue  # changed since indexed, or nothing to learn
            r = similarity.resemblance(mine, similarity.shingle_set(row["body"] or ""))
            if r >= self.config.min_resemblance:
                joined.add(row["story_id"])
                if best is None or r > (best.similarity or 0.0):
                    best = Placement(
                        row["story_id"], row["first_article_id"], "similar", round(r, 3), row["id"], d
                    )
            if best is not None and (best.similarity or 0.0) >= SURE:
                break
        return best

    def _sync(self, since: datetime) -> None:
        """Bring the index up to date with the articles table."""
        top = articles.max_id(self.store)
        if self._seen_id is None:
            self._load(articles.fingerprints_since(self.store, since.isoformat()))
        elif top < self._seen_id:
            self.index.drop_after(top)  # a transaction that stored them rolled back
        elif top > self._seen_id:
            self._load(articles.fingerprints_after(self.store, self._seen_id))
        self._seen_id = top
        self.index.expire(since.timestamp())

    def _load(self, rows: list[tuple[int, int, float]]) -> None:
        if rows:
            ids, fps, times = zip(*rows, strict=True)
            self.index.extend(ids, fps, times)

    # -- recording ------------------------------------------------------------
    def attach(self, article_id: int, placement: Placement, *, title: str | None, now: datetime) -> int:
        """Record a stored article in the story ``placement`` chose (opening a
        new one when it chose none); returns the story id."""
        if placement.story_id is None:
            return self.open_story(article_id, title, now)
        with self.store.atomic():
            if placement.article_id != article_id:
                articles.set_story(
                    self.store,
                    article_id,
                    placement.story_id,
                    duplicate_of=placement.duplicate_of,
                    reason=placement.reason,
                    similarity=placement.similarity,
                )
            else:
                self._reindex(article_id)  # the same article, its text maybe edited
            stories.touch(self.store, placement.story_id, now.isoformat())
        return placement.story_id

    def open_story(self, article_id: int, title: str | None, now: datetime) -> int:
        return stories.open_story(self.store, article_id, title, now.isoformat())

    def story_for(self, placement: Placement, *, title: str | None, now: datetime) -> int:
        """The story an article about to be stored goes in (opened now when
        ``placement`` chose none; then call :meth:`opened` with the article's
        id). Storing the article with its story at once spares rewriting its
        row (its whole text) to put it there."""
        if placement.story_id is None:
            return stories.open_empty(self.store, title, now.isoformat())
        stories.touch(self.store, placement.story_id, now.isoformat())
        return placement.story_id

    def opened(self, story_id: int, article_id: int) -> None:
        """The article that opened ``story_id`` (:meth:`story_for`) is stored."""
        stories.set_first(self.store, story_id, article_id)

    def _reindex(self, article_id: int) -> None:
        found = articles.fingerprint(self.store, article_id)
        if found and self._seen_id is not None:
            self.index.add(article_id, found[0], found[1] or 0.0)

    def rules(self, story_id: int) -> tuple[str, ...]:
        """The rules any member of the story has matched so far."""
        return tuple(stories.rules(self.store, story_id) or ())

    def add_rules(
        self, story_id: int, rule_ids: Iterable[str], now: datetime | None = None
    ) -> tuple[str, ...]:
        """Record rules matched by a member; returns those the story had not
        matched before (in the order given). The alerts side decides whether a
        new rule on an old story notifies."""
        known = stories.rules(self.store, story_id)
        if known is None:
            return ()
        new = tuple(dict.fromkeys(r for r in rule_ids if r not in known))
        if new:
            with self.store.atomic():
                stories.set_rules(self.store, story_id, known + list(new), (now or self.clock()).isoformat())
        return new

    # -- reading --------------------------------------------------------------
    def members(self, story_id: int) -> tuple[Member, ...]:
        """The story's articles, first one first."""
        rows = stories.members(self.store, story_id)
        return tuple(
            Member(
                r["id"],
                r["name"],
                r["title"],
                r["url"],
                r["fetched_at"],
                r["join_reason"],
                r["join_similarity"],
            )
            for r in rows
        )

    def also_reported_by(self, story_id: int) -> tuple[str, ...]:
        """Outlets (feed names) that carried the story besides the first
        article's, in the order they did: ("Daily Sabah", "Enab Baladi")."""
        members = self.members(story_id)
        if not members:
            return ()
        first = members[0].feed
        return tuple(dict.fromkeys(m.feed for m in members[1:] if m.feed != first))

    def explain(self, article_id: int) -> Explanation | None:
        """Why the article is in its story; None if there is no such article."""
        row = stories.membership(self.store, article_id)
        if row is None:
            return None
        if row["story_id"] is None:
            return Explanation(
                article_id, None, None, None, None, None, None, f"Article {article_id} is not in a story yet."
            )
        if row["first_article_id"] == article_id:
            others = len(self.members(row["story_id"])) - 1
            return Explanation(
                article_id,
                row["story_id"],
                article_id,
                None,
                None,
                None,
                None,
                f"Article {article_id} opened story {row['story_id']}"
                f" ({others} later cop{'y' if others == 1 else 'ies'} joined it).",
            )
        return self._explain_join(row)

    def _explain_join(self, row: dict) -> Explanation:
        match_id, r, d = self._closest_earlier(row)
        feed = self._feed_name(match_id) if match_id else None
        reason = row["join_reason"]
        head = (
            f"Article {row['id']} joined story {row['story_id']} "
            f"(first article {row['first_article_id']}, {row['story_title']!r})"
        )
        if reason == "content_hash":
            why = (
                f"its text is word for word the same as article {match_id}'s ({feed}) "
                "once case, punctuation and spacing are ignored"
            )
        elif reason == "similar" and match_id is not None:
            why = (
                f"{r:.0%} of its word triples are shared with article {match_id} ({feed}); "
                f"their SimHash fingerprints are {d} of 64 bits apart"
            )
        elif reason == "canonical_url":
            why = "it has the same canonical URL"
        else:
            why = f"reason {reason!r} (the texts it was compared with are gone)"
        return Explanation(
            row["id"], row["story_id"], row["first_article_id"], reason, r, match_id, d, f"{head}: {why}."
        )

    def _closest_earlier(self, row: dict) -> tuple[int | None, float | None, int | None]:
        """The earlier member most like this article (recomputed, for explaining)."""
        earlier = stories.earlier(self.store, row["story_id"], row["id"], row["fetched_at"], EXPLAIN_MEMBERS)
        mine = similarity.shingle_set(row["body"] or "")
        best: tuple[int | None, float | None, int | None] = (None, None, None)
        for other in earlier:
            r = (
                1.0
                if row["content_hash"] and other["content_hash"] == row["content_hash"]
                else similarity.resemblance(mine, similarity.shingle_set(other["body"] or ""))
            )
            d = (
                similarity.distance(row["simhash"], other["simhash"])
                if row["simhash"] is not None and other["simhash"] is not None
                else None
            )
            if best[1] is None or r > best[1]:
                best = (other["id"], round(r, 3), d)
        return best

    def _feed_name(self, article_id: int) -> str | None:
        found = articles.headline(self.store, article_id)
        return found["feed"] if found else None
