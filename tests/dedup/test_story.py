"""Stories on the real store: one story per piece of news, explained."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import REAL, new_article

from watcher.config import DedupConfig
from watcher.dedup.identity import canonical_url, content_hash
from watcher.dedup.similarity import fingerprint
from watcher.dedup.story import Stories
from watcher.store.database import Store

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
OUTLETS = ("Anadolu Agency", "Daily Sabah", "Enab Baladi", "Hürriyet Daily News")


@pytest.fixture(scope="module")
def gold() -> dict[str, str]:
    rows = json.loads((REAL / "html" / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    return {key[:8]: row["articleBody"] for key, row in sorted(rows.items())}


@pytest.fixture(scope="module")
def seeds() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "w.db")
    for name in OUTLETS:
        store.db["feeds"].insert(
            {
                "url": f"http://127.0.0.1/{len(name)}/{name[:3]}.rss",
                "name": name,
                "created_at": T0.isoformat(),
            }
        )
    yield store
    store.close()


@pytest.fixture
def stories(store):
    return Stories(store, DedupConfig(), clock=lambda: T0)


def save(
    store: Store,
    stories: Stories,
    outlet: str,
    url: str,
    text: str,
    at: datetime,
    title: str = "",
    rules: tuple[str, ...] = (),
):
    """Store one article the way the pipeline does: place, insert, attach, in one transaction."""
    feed_id = store.query("SELECT id FROM feeds WHERE name = ?", (outlet,))[0]["id"]
    canonical, chash, fp = canonical_url(url), content_hash(text), fingerprint(text)
    with store.atomic():
        placement = stories.place(
            canonical_url=canonical, content_hash=chash, fingerprint=fp, now=at, text=text
        )
        if placement.reason == "canonical_url":
            article_id = placement.article_id
            store.db["articles"].update(
                article_id, {"text": text, "content_hash": chash, "simhash": fp, "updated_at": at.isoformat()}
            )
        else:
            article_id = new_article(
                store,
                feed_id=feed_id,
                url=url,
                canonical_url=canonical,
                title=title,
                fetched_at=at.isoformat(),
                text=text,
                content_hash=chash,
                simhash=fp,
            )
        story_id = stories.attach(article_id, placement, title=title, now=at)
        new_rules = stories.add_rules(story_id, rules, at)
    return placement, article_id, story_id, new_rules


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def wire_copy(text: str) -> str:
    """Another outlet's re-run: own headline, a sentence cut, own boilerplate."""
    kept = sentences(text)
    del kept[2]
    return (
        "Turkey to train Syrian army, ministry confirms\nShare on Facebook | Twitter | WhatsApp\n"
        + " ".join(kept)
        + "\nFollow us on Telegram for the latest news.\n© 2026 All rights reserved."
    )


def row(store: Store, article_id: int) -> dict:
    return store.query("SELECT * FROM articles WHERE id = ?", (article_id,))[0]


def test_the_first_article_opens_a_story_and_wire_copies_join_it(store, stories, seeds):
    first, a1, s1, _ = save(
        store,
        stories,
        "Anadolu Agency",
        "https://aa.com.tr/en/x/1",
        seeds[0],
        T0,
        title="Türkiye to take active role in restructuring Syrian army",
    )
    assert first.story_id is None and first.duplicate_of is None
    copy, a2, s2, _ = save(
        store,
        stories,
        "Daily Sabah",
        "https://dailysabah.com/x",
        wire_copy(seeds[0]),
        T0 + timedelta(minutes=20),
    )
    same, a3, s3, _ = save(
        store,
        stories,
        "Enab Baladi",
        "https://enabbaladi.net/x?utm_source=rss",
        seeds[0].replace("\n", "\n\n").upper(),
        T0 + timedelta(hours=2),
    )
    assert s1 == s2 == s3
    assert (copy.reason, copy.duplicate_of, copy.article_id) == ("similar", a1, a1)
    assert 0.6 < copy.similarity < 1.0 and copy.distance <= DedupConfig().max_distance
    assert (same.reason, same.similarity, same.duplicate_of) == ("content_hash", 1.0, a1)
    assert (row(store, a2)["story_id"], row(store, a2)["duplicate_of"], row(store, a2)["join_reason"]) == (
        s1,
        a1,
        "similar",
    )
    assert row(store, a2)["join_similarity"] == copy.similarity
    assert row(store, a1)["duplicate_of"] is None and row(store, a1)["join_reason"] is None
    story = store.query("SELECT * FROM stories WHERE id = ?", (s1,))[0]
    assert story["first_article_id"] == a1
    assert story["title"] == "Türkiye to take active role in restructuring Syrian army"
    assert [m.feed for m in stories.members(s1)] == ["Anadolu Agency", "Daily Sabah", "Enab Baladi"]
    assert stories.also_reported_by(s1) == ("Daily Sabah", "Enab Baladi")


def test_different_articles_on_one_topic_get_their_own_stories(store, stories, seeds, gold):
    ids = {
        save(store, stories, OUTLETS[i % 4], f"https://ex.com/{i}", text, T0 + timedelta(minutes=i))[2]
        for i, text in enumerate(seeds)
    }
    assert len(ids) == len(seeds)
    # two outlets' own reports of one event (WeWork investigated by the NY attorney general)
    one = save(store, stories, "Daily Sabah", "https://venturebeat.com/w", gold["06e5123e"], T0)
    other = save(store, stories, "Enab Baladi", "https://techcrunch.com/w", gold["1ace8c85"], T0)
    assert one[2] != other[2] and other[0].story_id is None


def test_the_same_link_through_another_feed_is_the_same_article(store, stories, seeds):
    _, a1, s1, _ = save(
        store, stories, "Anadolu Agency", "https://aa.com.tr/en/x/1?utm_source=rss", seeds[1], T0
    )
    again, a2, s2, _ = save(
        store,
        stories,
        "Daily Sabah",
        "https://AA.com.tr:443/en/x/1/#top",
        seeds[1],
        T0 + timedelta(minutes=5),
    )
    assert (again.reason, again.article_id, a2, s2) == ("canonical_url", a1, a1, s1)
    assert store.query("SELECT count(*) AS n FROM articles")[0]["n"] == 1


def test_an_edited_article_keeps_its_story_and_is_found_by_its_new_text(store, stories, seeds):
    _, a1, s1, _ = save(store, stories, "Anadolu Agency", "https://aa.com.tr/1", seeds[2], T0)
    edited = seeds[2] + "\n" + seeds[3]  # the outlet appended a long update
    upd, a2, s2, _ = save(
        store, stories, "Anadolu Agency", "https://aa.com.tr/1", edited, T0 + timedelta(hours=1)
    )
    assert (upd.reason, a2, s2) == ("canonical_url", a1, s1)
    assert row(store, a1)["text"] == edited
    copy = save(
        store, stories, "Daily Sabah", "https://dailysabah.com/1", wire_copy(edited), T0 + timedelta(hours=2)
    )
    assert copy[2] == s1 and copy[0].reason == "similar"


def test_only_articles_within_the_window_are_compared(store, seeds, tmp_path):
    week = Stories(store, DedupConfig(window_days=7), clock=lambda: T0)
    save(store, week, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0)
    late = save(store, week, "Daily Sabah", "https://ds.com/1", seeds[0], T0 + timedelta(days=8))
    later = save(
        store, week, "Enab Baladi", "https://eb.com/1", wire_copy(seeds[0]), T0 + timedelta(days=8, hours=1)
    )
    assert late[0].story_id is None  # a new story after 8 days...
    assert later[2] == late[2]  # ...which the next copy joins
    fortnight = Stories(store, DedupConfig(window_days=14), clock=lambda: T0)
    placed = fortnight.place(
        canonical_url="https://x.com/new",
        content_hash=content_hash(seeds[0]),
        fingerprint=fingerprint(seeds[0]),
        now=T0 + timedelta(days=9),
        text=seeds[0],
    )
    assert placed.duplicate_of == 1  # the oldest copy in 14 days


def test_thresholds_come_from_the_config(store, seeds):
    strict = Stories(store, DedupConfig(min_resemblance=0.99), clock=lambda: T0)
    save(store, strict, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0)
    assert save(store, strict, "Daily Sabah", "https://ds.com/1", wire_copy(seeds[0]), T0)[0].story_id is None
    other_copy = wire_copy(seeds[0]).replace(sentences(seeds[0])[6], "")
    blind = Stories(store, DedupConfig(max_distance=0), clock=lambda: T0)
    assert (
        blind.place(
            canonical_url="u", content_hash=None, fingerprint=fingerprint(other_copy), now=T0, text=other_copy
        ).story_id
        is None
    )
    default = Stories(store, DedupConfig(), clock=lambda: T0)
    assert (
        default.place(
            canonical_url="u", content_hash=None, fingerprint=fingerprint(other_copy), now=T0, text=other_copy
        ).reason
        == "similar"
    )


def test_short_stubs_never_join_on_their_text(store, stories):
    stub = "Subscribe to continue reading. Already a subscriber? Log in."
    p1 = save(store, stories, "Daily Sabah", "https://ds.com/a", stub, T0)
    p2 = save(store, stories, "Daily Sabah", "https://ds.com/b", stub, T0 + timedelta(minutes=1))
    assert p1[0].story_id is None and p2[0].story_id is None and p1[2] != p2[2]


def test_without_the_text_only_exact_identities_join(store, stories, seeds):
    save(store, stories, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0)
    copy = wire_copy(seeds[0])
    assert (
        stories.place(
            canonical_url="https://ds.com/1",
            content_hash=content_hash(copy),
            fingerprint=fingerprint(copy),
            now=T0,
        ).story_id
        is None
    )
    assert (
        stories.place(
            canonical_url="https://ds.com/1",
            content_hash=content_hash(copy),
            fingerprint=fingerprint(copy),
            now=T0,
            text=copy,
        ).reason
        == "similar"
    )


def test_new_rules_on_a_story_are_reported_once(store, stories, seeds):
    _, _, s1, new1 = save(
        store,
        stories,
        "Anadolu Agency",
        "https://aa.com.tr/1",
        seeds[0],
        T0,
        rules=("tr-sy-defence", "tr-sy-defence"),
    )
    _, _, s2, new2 = save(
        store,
        stories,
        "Daily Sabah",
        "https://ds.com/1",
        wire_copy(seeds[0]),
        T0,
        rules=("tr-sy-defence", "syria-army"),
    )
    _, _, _, new3 = save(
        store, stories, "Enab Baladi", "https://eb.com/1", seeds[0], T0, rules=("syria-army",)
    )
    assert s1 == s2 and new1 == ("tr-sy-defence",) and new2 == ("syria-army",) and new3 == ()
    assert json.loads(store.query("SELECT rules FROM stories WHERE id = ?", (s1,))[0]["rules"]) == [
        "tr-sy-defence",
        "syria-army",
    ]
    assert stories.add_rules(999, ["x"]) == ()


def test_explanations_name_the_identity_the_outlet_and_the_similarity(store, stories, seeds):
    _, a1, s1, _ = save(
        store, stories, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0, title="Road map"
    )
    copy, a2, _, _ = save(
        store, stories, "Daily Sabah", "https://ds.com/1", wire_copy(seeds[0]), T0 + timedelta(minutes=1)
    )
    _, a3, _, _ = save(
        store, stories, "Enab Baladi", "https://eb.com/1", seeds[0].lower(), T0 + timedelta(minutes=2)
    )
    first, similar, exact = stories.explain(a1), stories.explain(a2), stories.explain(a3)
    assert (
        first.reason is None and first.text == f"Article {a1} opened story {s1} (2 later copies joined it)."
    )
    assert (similar.reason, similar.matched_article_id, similar.similarity) == (
        "similar",
        a1,
        copy.similarity,
    )
    assert (
        f"{copy.similarity:.0%} of its word triples are shared with article {a1} (Anadolu Agency)"
        in similar.text
    )
    assert f"{similar.distance} of 64 bits" in similar.text
    assert (exact.reason, exact.matched_article_id, exact.similarity) == ("content_hash", a1, 1.0)
    assert "word for word the same as article" in exact.text and "'Road map'" in exact.text
    assert stories.explain(12345) is None


def test_an_article_stored_by_another_connection_is_found(store, stories, seeds, tmp_path):
    stories.place(canonical_url="warm-up", content_hash=None, fingerprint=1, now=T0, text="x")
    other = Store.open(tmp_path / "w.db")  # e.g. a second pipeline thread
    save(
        other,
        Stories(other, DedupConfig(), clock=lambda: T0),
        "Anadolu Agency",
        "https://aa.com.tr/1",
        seeds[0],
        T0,
    )
    other.close()
    copy = wire_copy(seeds[0])
    assert (
        stories.place(
            canonical_url="https://ds.com/1",
            content_hash=content_hash(copy),
            fingerprint=fingerprint(copy),
            now=T0,
            text=copy,
        ).reason
        == "similar"
    )


def test_a_rolled_back_article_leaves_no_trace(store, stories, seeds):
    save(store, stories, "Anadolu Agency", "https://aa.com.tr/0", seeds[4], T0)
    with pytest.raises(RuntimeError), store.atomic():
        save(store, stories, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0)
        stories.place(canonical_url="probe", content_hash=None, fingerprint=1, now=T0, text="x")
        raise RuntimeError("network died mid-poll")
    # the id the rolled-back article had goes to a different article
    _, a2, s2, _ = save(store, stories, "Daily Sabah", "https://ds.com/2", seeds[1], T0)
    copy = wire_copy(seeds[0])
    placed = stories.place(
        canonical_url="https://eb.com/1",
        content_hash=content_hash(copy),
        fingerprint=fingerprint(copy),
        now=T0,
        text=copy,
    )
    assert placed.story_id is None  # nothing of seeds[0] survived
    assert save(store, stories, "Enab Baladi", "https://eb.com/2", wire_copy(seeds[1]), T0)[2] == s2


def test_members_of_an_unknown_story_and_feeds_renamed(store, stories, seeds):
    assert stories.members(99) == () and stories.also_reported_by(99) == ()
    _, _, s1, _ = save(store, stories, "Daily Sabah", "https://ds.com/1", seeds[0], T0)
    save(store, stories, "Daily Sabah", "https://ds.com/2", wire_copy(seeds[0]), T0)
    assert stories.also_reported_by(s1) == ()  # the outlet that broke it is not "also"


def test_config_validation_names_the_dedup_keys(tmp_path):
    from watcher.config import ConfigError, load

    path = tmp_path / "watcher.toml"
    path.write_text("[dedup]\nwindow_days = 0\nmax_distance = 40\nmin_resemblance = 1.5\n")
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    text = str(err.value)
    assert "dedup.window_days" in text and "dedup.max_distance" in text and "dedup.min_resemblance" in text
    path.write_text("[dedup]\nwindow_days = 3\nmax_distance = 16\nmin_resemblance = 0.5\n")
    assert load(path, environ={}).dedup == replace(
        DedupConfig(), window_days=3.0, max_distance=16, min_resemblance=0.5
    )


def test_after_a_restart_the_index_is_rebuilt_from_the_window_only(store, seeds, gold):
    before = Stories(store, DedupConfig(), clock=lambda: T0)
    old = list(gold.values())[:5]
    for i, text in enumerate(old):  # a month ago
        save(store, before, "Daily Sabah", f"https://ds.com/old/{i}", text, T0 - timedelta(days=30))
    save(store, before, "Anadolu Agency", "https://aa.com.tr/1", seeds[0], T0)
    restarted = Stories(store, DedupConfig(), clock=lambda: T0)
    copy = wire_copy(seeds[0])
    placed = restarted.place(
        canonical_url="https://eb.com/1",
        content_hash=content_hash(copy),
        fingerprint=fingerprint(copy),
        now=T0 + timedelta(hours=1),
        text=copy,
    )
    assert placed.reason == "similar" and placed.article_id == 6
    assert len(restarted.index) == 1  # the month-old five were not loaded


def test_odd_input_is_placed_not_raised(store, stories):
    for text in ("", "   ", "!!! ??? ...", "\x00\x01 binary \ufffd garbage " * 30):
        placed = stories.place(
            canonical_url="",
            content_hash=content_hash(text),
            fingerprint=fingerprint(text),
            now=T0,
            text=text,
        )
        assert placed.story_id is None
    assert (
        stories.place(canonical_url="x", content_hash=None, fingerprint=12345, now=T0, text=None).story_id
        is None
    )
