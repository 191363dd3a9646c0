"""`watcher log/show/search/feedback/rules stats/status` on a database filled by
a real `watcher run --once` against loopback outlets (see review_world.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import review_world
from review_world import invoke
from support import rows

from watcher.review import ReviewError
from watcher.review.article import parse_hits
from watcher.review.log import Filter, matched_stories, parse_since
from watcher.review.retention import PruneError, prune
from watcher.review.search import search
from watcher.review.status import feeds_page
from watcher.review.status import status as database_status
from watcher.store.database import Store
from watcher.text.highlight import Segment, highlight


@pytest.fixture
def own(world, tmp_path):
    """A private copy of the world a test may write to."""
    return world.copy(tmp_path / "own")


def log_json(world, *args) -> list[dict]:
    result = invoke(world, "log", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def article_id(world, title_part: str) -> int:
    found = rows(world.database, "SELECT id FROM articles WHERE title LIKE ?", (f"%{title_part}%",))
    assert found, f"no stored article titled like {title_part!r}"
    return found[0]["id"]


def test_the_run_stored_matches_in_three_languages(world):
    assert "polled 5 feed(s)" in world.run_output
    stories = log_json(world, "--limit", "100")
    titles = " | ".join(s["title"] for s in stories)
    assert "Türkiye ile Suriye arasında savunma işbirliği anlaşması" in titles
    assert "تركيا وسوريا توقعان اتفاقية للتعاون الدفاعي" in titles
    assert "Galatasaray derbide Fenerbahçe'yi yendi" in titles
    assert "ارتفاع أسعار الذهب في الأسواق العربية" not in titles  # unmatched stays out of the log
    seen = [s["seen"] for s in stories]
    assert seen == sorted(seen, reverse=True)


def test_log_table_shows_what_a_person_needs(world):
    result = invoke(world, "log")
    assert result.exit_code == 0
    header = result.stdout.splitlines()[0].split()
    assert header == ["id", "time", "severity", "rules", "headline", "source", "outlets", "alerts"]
    assert "tr-sy-defence" in result.stdout and "Yeni Şafak" in result.stdout
    assert "sent" in result.stdout  # the json:// hook took the alerts
    drones = log_json(world, "--rule", "drones")
    assert drones and all(s["alerts"] == {"sent": 1, "pending": 1} for s in drones)  # the pager is down
    assert "pending · sent" in invoke(world, "log", "--rule", "drones").stdout


def test_log_filters_by_rule_feed_severity_since_and_limit(world):
    everything = log_json(world, "--limit", "100")
    drones = log_json(world, "--rule", "drones")
    assert drones and all("drones" in s["rules"] for s in drones)
    assert len(drones) < len(everything)

    safak = log_json(world, "--feed", "Yeni Şafak")
    assert safak and {s["feed"] for s in safak} == {"Yeni Şafak"}
    jazeera_by_url = log_json(
        world, "--feed", rows(world.database, "SELECT url FROM feeds WHERE name = 'الجزيرة'")[0]["url"]
    )
    assert jazeera_by_url and {s["feed"] for s in jazeera_by_url} == {"الجزيرة"}

    high = log_json(world, "--severity", "high")
    assert high and all(s["severity"] == "high" for s in high)
    medium_up = log_json(world, "--severity", "medium")
    assert {s["severity"] for s in medium_up} <= {"medium", "high", "critical"}
    assert all(s["severity"] != "low" for s in medium_up)
    football = [s for s in everything if s["rules"] == ["football"]]
    assert football and football[0]["severity"] == "low"
    assert football[0]["article_id"] not in {s["article_id"] for s in medium_up}
    assert len(medium_up) == len(everything) - len(football)

    assert len(log_json(world, "--since", "1d", "--limit", "100")) == len(everything)
    assert len(log_json(world, "--since", "2000-01-01", "--limit", "100")) == len(everything)
    future = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    assert log_json(world, "--since", future) == []
    assert len(log_json(world, "--limit", "1")) == 1


def test_log_counts_outlets_of_one_story(world):
    _, title, _ = review_world.seed_articles()[1]
    story = [s for s in log_json(world, "--limit", "100") if s["title"] == title]
    assert len(story) == 1, "the republished copy joined the original's story"
    assert story[0]["outlets"] == 2 and story[0]["members"] == 2
    assert story[0]["feed"] == "Daily Sabah" and story[0]["other_feeds"] == ["Hürriyet Daily News"]


def test_bad_filters_are_refused_with_a_message(world):
    result = invoke(world, "log", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "--since 'last tuesday'" in result.stderr and '"2d"' in result.stderr
    assert invoke(world, "log", "--severity", "urgent").exit_code == 2
    assert invoke(world, "log", "--limit", "0").exit_code == 2


def test_show_explains_the_match_with_highlighted_hits(world):
    aid = article_id(world, "savunma işbirliği")
    result = invoke(world, "show", str(aid))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Why it matched:" in out and "[high] tr-sy-defence" in out
    assert "[[Türkiye]]" in out and "[[Suriye]]" in out  # hits marked (no colour when piped)
    assert "Yeni Şafak" in out
    assert "Alerts:" in out and "hook: sent" in out


def test_show_lists_the_other_outlet_of_the_story(world):
    _, title, _ = review_world.seed_articles()[1]
    first = rows(world.database, "SELECT id FROM articles WHERE title = ? ORDER BY id", (title,))[0]["id"]
    out = invoke(world, "show", str(first), "--no-text").stdout
    assert "Same story elsewhere:" in out and "Hürriyet Daily News" in out


def joined_pair(world, title: str) -> tuple[int, int]:
    """(the story's first article, the copy) for the copy titled ``title``."""
    copy = rows(
        world.database,
        "SELECT id, duplicate_of FROM articles WHERE title = ? AND duplicate_of IS NOT NULL",
        (title,),
    )
    assert len(copy) == 1, f"{title!r} was stored once, as a copy"
    return copy[0]["duplicate_of"], copy[0]["id"]


def test_show_says_why_a_rewritten_copy_joined_the_story(world):
    first, copy = joined_pair(world, review_world.REWRITE_TITLE)
    out = invoke(world, "show", str(copy), "--no-text").stdout
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("joined"))
    _, seed_title, _ = review_world.seed_articles()[review_world.REWRITE_SEED]
    assert f"near-duplicate of #{first} (Daily Sabah: “{seed_title[:40]}" in line
    share, bits = re.search(
        r": (\d+)% of 3-word phrases shared, SimHash (\d+) of 64 bits apart$", line
    ).groups()
    assert 40 <= int(share) < 100 and 0 < int(bits) <= 18  # alike, not identical: the [dedup] limits
    data = json.loads(invoke(world, "show", str(copy), "--json").stdout)["join"]
    assert (data["reason"], data["other_id"], data["other_feed"]) == ("similar", first, "Daily Sabah")
    assert round(data["similarity"] * 100) == int(share) and data["distance"] == int(bits)
    assert data["opened"] is False


def test_show_says_an_exact_copy_joined_by_identical_text(world):
    _, title, _ = review_world.seed_articles()[1]
    first, copy = joined_pair(world, title)
    out = invoke(world, "show", str(copy), "--no-text").stdout
    assert f"joined     identical text to #{first} (Daily Sabah: “" in out
    assert "the same words once case, punctuation and spacing are ignored" in out
    data = json.loads(invoke(world, "show", str(copy), "--json").stdout)["join"]
    assert (data["reason"], data["similarity"]) == ("content_hash", 1.0)


def test_show_on_the_first_article_lists_how_each_copy_joined(world):
    first, copy = joined_pair(world, review_world.REWRITE_TITLE)
    out = invoke(world, "show", str(first), "--no-text").stdout
    assert "this article opened it" in out and "joined     " not in out
    member = next(ln for ln in out.splitlines() if ln.strip().startswith(f"#{copy}"))
    assert "Hürriyet Daily News: " + review_world.REWRITE_TITLE in member
    assert re.search(r"— joined as near-duplicate, \d+% of 3-word phrases shared$", member), member
    assert json.loads(invoke(world, "show", str(first), "--json").stdout)["join"]["opened"] is True


def test_show_json_and_missing_article(world):
    aid = article_id(world, "تركيا وسوريا")
    data = json.loads(invoke(world, "show", str(aid), "--json").stdout)
    assert data["feed"] == "الجزيرة"
    hits = [h for m in data["matches"] for h in m["hits"]]
    assert hits and all(data[h["field"]][h["start"] : h["end"]] for h in hits)
    missing = invoke(world, "show", "999999")
    assert missing.exit_code == 2 and "no article 999999" in missing.stderr


def search_json(world, *query) -> list[dict]:
    result = invoke(world, "search", "--json", *query)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_search_finds_turkish_text_ignoring_accents_and_dotted_capitals(world):
    titles = {h["title"] for h in search_json(world, "savunma")}
    assert "Türkiye ile Suriye arasında savunma işbirliği anlaşması" in titles
    assert any("Türkiye" in h["title"] for h in search_json(world, "turkiye"))
    istanbul = search_json(world, "istanbul")
    assert {
        "Galatasaray derbide Fenerbahçe'yi yendi",
        "İstanbul'da Suriyeli subaylar için askeri eğitim programı",
    } <= {h["title"] for h in istanbul}
    assert all(
        any(w.casefold().startswith(("istanbul", "i̇stanbul")) for w in h["highlights"]) for h in istanbul
    )


def test_search_finds_arabic_text_matched_or_not(world):
    hits = search_json(world, "تركيا")
    assert any(h["title"] == "تركيا وسوريا توقعان اتفاقية للتعاون الدفاعي" for h in hits)
    gold = search_json(world, "الذهب")
    assert [h["title"] for h in gold] == ["ارتفاع أسعار الذهب في الأسواق العربية"]
    assert gold[0]["matched"] is False and gold[0]["highlights"] == ["الذهب"]
    assert search_json(world, "--matched", "الذهب") == []


def test_search_accepts_any_input_without_crashing(world):
    for query in ['"unbalanced', "col:umn", "ankara OR şam"]:
        result = invoke(world, "search", query)
        assert result.exit_code == 0, (query, result.output)
    for query in ["NOT", "a AND", "(", "*", "   "]:  # more in test_search.py
        result = invoke(world, "search", query)
        assert result.exit_code == 2 and result.stderr.startswith("watcher: "), (query, result.output)


def test_feedback_counts_in_rule_stats_and_flags_noisy_rules(own):
    football = article_id(own, "Galatasaray")
    defence = [
        r["article_id"]
        for r in rows(
            own.database, "SELECT article_id FROM matches WHERE rule_id = 'tr-sy-defence' ORDER BY article_id"
        )
    ]
    assert len(defence) >= 3
    for aid, verdict in (
        (football, "irrelevant"),
        (defence[0], "irrelevant"),
        (defence[1], "irrelevant"),
        (defence[2], "relevant"),
        (defence[0], "relevant"),
    ):
        result = invoke(own, "feedback", str(aid), verdict, "--note", "checked")
        assert result.exit_code == 0 and f"#{aid} marked {verdict}" in result.stdout
    stats = {
        json.loads(ln)["rule_id"]: json.loads(ln)
        for ln in invoke(own, "rules", "stats", "--json").stdout.splitlines()
    }
    assert stats["football"]["irrelevant"] == 1 and stats["football"]["relevant"] == 0
    # the newest verdict per article counts: defence[0] was changed to relevant
    assert (stats["tr-sy-defence"]["relevant"], stats["tr-sy-defence"]["irrelevant"]) == (2, 1)
    assert stats["tr-sy-defence"]["noisy"] is False
    invoke(own, "feedback", str(defence[2]), "irrelevant")
    stats = {
        json.loads(ln)["rule_id"]: json.loads(ln)
        for ln in invoke(own, "rules", "stats", "--json").stdout.splitlines()
    }
    assert stats["tr-sy-defence"]["noisy"] is True
    table = invoke(own, "rules", "stats").stdout
    assert "noisy" in table and "drones" in table


def test_feedback_mistakes_get_a_message(own):
    assert invoke(own, "feedback", "999999", "relevant").exit_code == 2
    assert invoke(own, "feedback", "1", "maybe").exit_code == 2


def test_status_shows_size_and_counts(world):
    result = invoke(world, "status")
    assert result.exit_code == 0
    assert re.search(r"\(\d+\.\d (KB|MB), schema v\d+\)", result.stdout), result.stdout
    data = json.loads(invoke(world, "status", "--json").stdout)
    counts = data["counts"]
    assert counts["articles"] == rows(world.database, "SELECT COUNT(*) AS n FROM articles")[0]["n"]
    assert 0 < counts["articles_matched"] < counts["articles"]
    assert counts["feeds_failing"] == 1 and data["keep_days"] == 30
    assert all(" " not in key for key in [*data, *counts, *data["feeds_by_status"]])
    assert data["size_bytes"] > 0


def test_prune_drops_old_unmatched_articles_but_keeps_entries_and_matched_stories(own):
    store = Store.open(own.database)
    before_log = matched_stories(store, Filter(limit=None))
    before = {r["id"]: r for r in rows(own.database, "SELECT id, matched, story_id FROM articles")}
    entries = rows(own.database, "SELECT COUNT(*) AS n FROM entries")[0]["n"]
    later = datetime.now(timezone.utc) + timedelta(days=31)
    result = prune(store, 30, later)
    after = {r["id"] for r in rows(own.database, "SELECT id FROM articles")}
    gone = set(before) - after
    assert result.articles == len(gone) > 0
    assert all(not before[i]["matched"] for i in gone)
    assert all(
        before[i]["story_id"] is None
        or not any(b["matched"] for b in before.values() if b["story_id"] == before[i]["story_id"])
        for i in gone
    )
    assert matched_stories(store, Filter(limit=None)) == before_log
    assert rows(own.database, "SELECT COUNT(*) AS n FROM entries")[0]["n"] == entries  # never refetched
    assert not search(store, "الذهب")
    assert prune(store, 30, later).articles == 0  # idempotent
    assert prune(store, 30, datetime.now(timezone.utc)).articles == 0  # nothing is old yet
    with pytest.raises(PruneError, match="keep_days"):
        prune(store, 0, later)
    store.close()


def test_highlight_survives_bad_offsets():
    seg = highlight(
        "Türkiye ve Suriye",
        [(0, 7, "a"), (5, 9, "b"), (-3, 2, "c"), (11, 99, "d"), (9, 3, "e"), (40, 50, "f")],
    )
    assert "".join(s.text for s in seg) == "Türkiye ve Suriye"
    assert [(s.text, s.labels) for s in seg if s.mark] == [("Türkiye v", ("c", "a", "b")), ("Suriye", ("d",))]
    assert highlight("", [(0, 3, "x")]) == (Segment(""),)


def test_unreadable_stored_hits_are_reported_not_raised():
    assert parse_hits("not json") == ((), parse_hits("not json")[1])
    assert "unreadable" in parse_hits("{").__getitem__(1)
    assert parse_hits('{"a": 1}')[0] == ()
    hits, problem = parse_hits('[{"term": "x", "field": "title", "start": 0, "end": 1}]')
    assert problem is None and hits[0].term == "x"


def test_since_accepts_periods_dates_and_datetimes():
    now = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    assert parse_since("2d", now) == "2026-11-19T12:00:00+00:00"
    assert parse_since("90m", now) == "2026-11-21T10:30:00+00:00"
    assert parse_since("2026-11-01", now) == "2026-11-01T00:00:00+00:00"
    assert parse_since("2026-11-01T05:00:00+03:00", now) == "2026-11-01T02:00:00+00:00"
    with pytest.raises(ReviewError, match="2026-13-01"):
        parse_since("2026-13-01", now)


def test_commands_on_an_empty_database(tmp_path):
    config = tmp_path / "watcher.toml"
    config.write_text(f'[watcher]\ndatabase = "{tmp_path / "w.db"}"\nrules = ["{review_world.RULES_V1}"]\n')
    from click.testing import CliRunner

    from watcher.cli.main import main

    run = lambda *a: CliRunner().invoke(main, ["--config", str(config), *a], catch_exceptions=False)  # noqa: E731
    assert run("log").exit_code == 2  # no database yet: the read-only commands create none
    Store.open(tmp_path / "w.db").close()  # what a first `watcher run --once` leaves with no feed polled
    assert run("log").stdout.startswith("no article stored yet: `watcher run --once` polls the feeds")
    assert run("search", "anything").stdout.startswith(
        "no article matches that search (searched for: anything;"
    )
    assert run("export").stdout == ""
    assert "0 article(s) scanned" in run("backtest").stdout
    stats = run("rules", "stats").stdout
    assert "tr-sy-defence" in stats and "drones" in stats  # configured rules listed with zeros
    assert "articles" in run("status").stdout


def test_search_ignores_arabic_vowel_marks_in_the_query(world):
    plain = search_json(world, "تركيا")
    assert plain and search_json(world, "تُرْكِيَا") == plain
    assert search_json(world, "الـذهـب") == search_json(world, "الذهب")  # tatweel


def test_pruned_entries_are_not_fetched_again(tmp_path):
    from httpserver import LoopbackServer

    with LoopbackServer() as server:
        world = review_world.fill(tmp_path / "w", server)
        store = Store.open(world.database)
        pruned = prune(store, 30, datetime.now(timezone.utc) + timedelta(days=31))
        store.close()
        left = rows(world.database, "SELECT id FROM articles ORDER BY id")
        assert pruned.articles > 0
        page_hits = len(server.requests)
        again = invoke(world, "run", "--once")
        assert again.exit_code == 0, again.output
        assert "0 new entries, 0 articles stored" in again.stdout
        assert rows(world.database, "SELECT id FROM articles ORDER BY id") == left
        assert not [r for r in server.requests[page_hits:] if r.path.endswith(".html")]  # no page refetched


def test_a_paused_failing_feed_counts_as_paused_not_failing(tmp_path, server):
    """enabled = false: the feed is no longer polled; its last polls failed, but
    `watcher status`, its --json and /metrics count it as paused, as `watcher
    feeds` shows it, never among the failing feeds."""
    from newsroom import Newsroom, write_config
    from support import watcher

    room = Newsroom(server)
    room.add_seed_articles()
    room.publish("/feed.xml")
    server.route("/gone-quiet.xml", b"not here", status=404)
    config = write_config(
        tmp_path,
        [("Wire", server.url("/feed.xml")), ("Quiet", server.url("/gone-quiet.xml"))],
        fetch_article=False,
    )
    assert watcher(config, "run", "--once").exit_code == 3  # Quiet failed
    failing = json.loads(watcher(config, "status", "--json").stdout)
    assert (failing["counts"]["feeds_failing"], failing["counts"]["feeds_paused"]) == (1, 0)
    assert re.search(r"feeds failing +1\n", watcher(config, "status").stdout)

    config.write_text(config.read_text().replace('name = "Quiet"\n', 'name = "Quiet"\nenabled = false\n'))
    assert watcher(config, "run", "--once").exit_code == 0  # Quiet is not polled
    data = json.loads(watcher(config, "status", "--json").stdout)
    assert (data["counts"]["feeds_failing"], data["counts"]["feeds_paused"], data["counts"]["feeds"]) == (
        0,
        1,
        2,
    )
    assert data["feeds_by_status"]["failing"] == 0 and data["feeds_by_status"]["paused"] == 1
    assert sum(n for word, n in data["feeds_by_status"].items()) == 2  # every feed counted once
    shown = watcher(config, "status").stdout
    assert "feeds failing" not in shown and re.search(r"feeds paused +1\n", shown), shown
    listed = [json.loads(line) for line in watcher(config, "feeds", "--json").stdout.splitlines()]
    assert {r["name"]: r["status"] for r in listed}["Quiet"] == "paused"
    # the web page's feeds tab reads the polls once and shows the same counts as `status`
    store = Store.open(tmp_path / "watcher.db")
    try:
        now = datetime.now(timezone.utc)
        feeds, shown_status = feeds_page(store, now)
        assert shown_status == database_status(store, now)
        assert dict(shown_status.counts)["feeds paused"] == 1 and len(feeds) == 2
    finally:
        store.close()
