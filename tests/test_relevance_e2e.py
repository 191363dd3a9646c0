"""Issue 12 end to end: `watcher run --once` over summary-only feeds in four languages with the
default pack, then what an analyst sees: the detected language (show, export, rules stats), a
match decided by meaning and its explanation, the near misses, alias suggestions from the log,
backtests that embed nothing twice, and a story that spreads alerting once more.

Items come from the labelled relevance set (bench/relevance/labelled.jsonl, written after real
2025 reports); the feeds are served on loopback (tests/httpserver.py)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from alerts_support import Webhook
from newsroom import write_config
from support import rows, watcher

ROOT = Path(__file__).resolve().parents[1]
ITEMS = {
    i["id"]: i
    for i in map(
        json.loads, (ROOT / "bench" / "relevance" / "labelled.jsonl").read_text("utf-8").splitlines()
    )
}
# recent enough to alert ([alerts] max_age: entries published longer ago never alert)
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=6)


def rss(server, items: list[tuple[str, str, str]], title: str = "Outlet") -> str:
    """Publish (path, title, summary) items as an RSS feed; returns its URL."""
    entries = "\n".join(
        f"""<item><title>{html.escape(t)}</title><link>{server.url(p)}</link>
<guid isPermaLink="false">tag:{hashlib.sha1(p.encode()).hexdigest()[:10]}</guid>
<description>{html.escape(s)}</description><pubDate>{format_datetime(START + timedelta(hours=i))}</pubDate></item>"""
        for i, (p, t, s) in enumerate(items)
    )
    body = f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{html.escape(title)}</title>
<link>{server.url("/")}</link><description>test</description>{entries}</channel></rss>""".encode()
    path = f"/{hashlib.sha1(title.encode()).hexdigest()[:8]}.xml"
    server.route(path, body=body, content_type="application/rss+xml; charset=utf-8")
    return server.url(path)


def item(item_id: str) -> tuple[str, str, str]:
    found = ITEMS[item_id]
    return (f"/{item_id}.html", found["title"], found["summary"])


@pytest.fixture
def newsroom(tmp_path, server):
    feeds = [
        (
            "Wire FR",
            rss(server, [item("fr-027"), item("fr-003")], "Wire FR"),
        ),
        ("Haber TR", rss(server, [item("tr-001")], "Haber TR")),
        (
            "Desk EN",
            rss(
                server,
                [
                    item("en-053"),
                    (
                        "/variant.html",
                        "Murhaff Abu Qassra visits the coast",
                        "The defence chief inspected units.",
                    ),
                ],
                "Desk EN",
            ),
        ),
        ("Akhbar AR", rss(server, [item("ar-001")], "Akhbar AR")),
    ]
    config = write_config(tmp_path, feeds, fetch_article=False)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    return config


def article_id(tmp_path, url_end: str) -> int:
    return rows(tmp_path, "SELECT id FROM articles WHERE url LIKE ?", (f"%{url_end}",))[0]["id"]


def test_each_article_keeps_its_detected_and_declared_language(tmp_path, newsroom):
    found = {r["url"].rsplit("/", 1)[1]: r for r in rows(tmp_path, "SELECT * FROM articles")}
    assert {k: v["detected_language"] for k, v in found.items()} == {
        "fr-027.html": "fr",
        "fr-003.html": "fr",
        "tr-001.html": "tr",
        "en-053.html": "en",
        "variant.html": "en",
        "ar-001.html": "ar",
    }
    exported = [json.loads(line) for line in watcher(newsroom, "export").stdout.splitlines()]
    assert {e["detected_language"] for e in exported} == {"fr", "tr", "en", "ar"}
    shown = watcher(newsroom, "show", str(article_id(tmp_path, "tr-001.html")), "--no-text").stdout
    assert "language   tr (detected, " in shown


def test_a_paraphrase_matches_by_meaning_and_says_how_close(tmp_path, newsroom):
    paraphrase = article_id(tmp_path, "fr-027.html")  # "Des commandants kurdes à l'état-major syrien"
    (match,) = rows(tmp_path, "SELECT * FROM matches WHERE article_id = ?", (paraphrase,))
    assert match["rule_id"] == "sdf-integration" and match["via"] == "similarity"
    assert match["similar_to"].startswith("close in meaning to about ")
    shown = watcher(newsroom, "show", str(paraphrase), "--no-text").stdout
    assert "sdf-integration — SDF integration into the Syrian army and state" in shown
    assert "matched by meaning" in shown and f"({match['similarity']:.2f})" in shown


def test_near_misses_list_what_came_close_without_matching(tmp_path, newsroom):
    clash = article_id(tmp_path, "en-053.html")  # SDF and government forces clash
    assert rows(tmp_path, "SELECT matched FROM articles WHERE id = ?", (clash,)) == [{"matched": 0}]
    listed = watcher(newsroom, "rules", "near-misses", "--json").stdout.splitlines()
    near = [json.loads(line) for line in listed]
    assert [(n["article_id"], n["rule_id"]) for n in near] == [(clash, "sdf-integration")]
    assert near[0]["score"] > 0.5 and near[0]["language"] == "en"
    # marked irrelevant, it becomes an example of what the rule is not about
    assert watcher(newsroom, "feedback", str(clash), "irrelevant").exit_code == 0
    listed = watcher(newsroom, "rules", "near-misses").stdout
    assert "irrelevant" in listed and "SDF and government forces clash" in listed
    from watcher.match.embedder import model_name
    from watcher.match.meaning import StoredVectors
    from watcher.store.database import Store

    class Model:  # the examples come from the database alone: no worker is started
        model = model_name()

    store = Store.open(tmp_path / "watcher.db")
    try:
        learnt = StoredVectors(store, Model()).examples("sdf-integration")
    finally:
        store.close()
    assert [e.label for e in learnt.irrelevant] == [f"#{clash} marked irrelevant"] and learnt.relevant == ()
    assert len(learnt.irrelevant[0].vector) == 384


def test_rules_stats_show_what_verdicts_would_do_to_precision(tmp_path, newsroom):
    for item_id, verdict in (("ar-001", "relevant"), ("tr-001", "relevant"), ("fr-003", "irrelevant")):
        assert (
            watcher(newsroom, "feedback", str(article_id(tmp_path, f"{item_id}.html")), verdict).exit_code
            == 0
        )
    stats = [json.loads(line) for line in watcher(newsroom, "rules", "stats", "--json").stdout.splitlines()]
    learning = {s["rule_id"]: s["learning"] for s in stats}["turkey-syria-defence"]
    assert (learning["judged"], learning["relevant"], learning["unjudgeable"]) == (3, 2, 0)
    assert learning["precision_now"] == pytest.approx(2 / 3)
    assert learning["precision_with_verdicts"] is not None
    table = watcher(newsroom, "rules", "stats").stdout
    assert "with verdicts 67% → " in table


def test_rules_stats_break_counts_down_per_language(tmp_path, newsroom):
    stats = [json.loads(line) for line in watcher(newsroom, "rules", "stats", "--json").stdout.splitlines()]
    by_rule = {s["rule_id"]: s for s in stats}
    languages = {x["language"]: x["matches"] for x in by_rule["turkey-syria-defence"]["languages"]}
    assert languages == {"fr": 1, "tr": 1, "ar": 1}
    table = watcher(newsroom, "rules", "stats").stdout
    assert "· tr" in table and "· ar" in table


def test_suggest_proposes_a_new_spelling_with_its_articles(tmp_path, newsroom):
    variant = article_id(tmp_path, "variant.html")
    out = watcher(newsroom, "rules", "suggest").stdout
    assert '"Murhaff Abu Qassra",' in out
    assert f"#{variant}" in out and "abu-qasra (Murhaf Abu Qasra)" in out
    found = [json.loads(line) for line in watcher(newsroom, "rules", "suggest", "--json").stdout.splitlines()]
    assert [(s["spelling"], s["articles"], s["like"]) for s in found if s["entity"] == "abu-qasra"] == [
        ("Murhaff Abu Qassra", [variant], "Murhaf Abu Qasra")
    ]


def test_a_backtest_embeds_nothing_the_run_embedded(tmp_path, newsroom):
    before = rows(tmp_path, "SELECT digest FROM embeddings ORDER BY digest")
    assert before  # the run embedded the gated items and the rules' examples
    result = watcher(newsroom, "backtest")
    assert result.exit_code == 0, result.output
    assert "+0 new hit(s), -0 lost" in result.output
    assert rows(tmp_path, "SELECT digest FROM embeddings ORDER BY digest") == before


def test_the_web_page_shows_language_meaning_and_near_misses(tmp_path, newsroom):
    import httpx

    from watcher.web import server as web

    site = web.WebServer(
        web.WebSettings(database=tmp_path / "watcher.db", port=0), clock=lambda: datetime.now(timezone.utc)
    )
    url = site.start()
    try:
        paraphrase = article_id(tmp_path, "fr-027.html")
        page = httpx.get(f"{url}/article/{paraphrase}").text
        assert "Matched by meaning:" in page and "close in meaning to about" in page
        assert "fr (detected, " in page
        near = httpx.get(f"{url}/near-misses").text
        assert "SDF and government forces clash" in near and 'value="irrelevant"' in near
        rules = httpx.get(f"{url}/rules").text
        assert 'language <span lang="tr">tr</span>' in rules and 'language <span lang="ar">ar</span>' in rules
    finally:
        site.stop()


def test_a_story_that_spreads_alerts_once_more(tmp_path, server):
    hook = Webhook()
    try:
        base = ITEMS["en-001"]
        report = " ".join(ITEMS[i]["summary"] for i in ("en-001", "en-002", "en-003", "en-004"))
        # the same report, lightly rewritten, by outlet after outlet (near-duplicates: one story)
        feeds = []
        for n in range(6):
            summary = report + f" Reported by outlet {n}."
            feeds.append(
                (f"Outlet {n}", rss(server, [(f"/o{n}/a.html", base["title"], summary)], f"Outlet {n}"))
            )
        extra = f'[[channels]]\nname = "hook"\nurl = "{hook.url()}"\n'
        first = write_config(tmp_path, feeds[:1], fetch_article=False, extra=extra)
        assert watcher(first, "run", "--once").exit_code == 0
        assert len(hook.titles()) == 1 and not hook.titles()[0].startswith("[spreading")
        everyone = write_config(tmp_path, feeds, fetch_article=False, extra=extra)
        assert watcher(everyone, "run", "--once").exit_code == 0
        assert watcher(everyone, "run", "--once").exit_code == 0
        titles = hook.titles()
        assert len(titles) == 2, titles
        assert titles[1].startswith("[spreading: Turkey–Syria defence cooperation")
        body = hook.posts[1].payload["message"]
        assert "now reported by 5 outlets in 1 language (en)" in body or "now reported by 6 outlets" in body
        assert len(rows(tmp_path, "SELECT DISTINCT story_id FROM articles")) == 1
    finally:
        hook.close()


EXTRA_RULES = """
[[rules]]
id = "syria-in-turkish"
title = "Syria in Turkish"
severity = "low"
condition = { all = [{ entity = "syria" }, { language = ["tr"] }] }

[[rules]]
id = "kurdish-forces-join"
title = "Kurdish forces join the army (by example)"
severity = "low"
like = ["examples/"]
min_similarity = 0.9
gate = { entities = ["sdf"] }
"""
EXAMPLE = (
    "Kurdish-led SDF to be absorbed into Syria's new army\n\n"
    "The Syrian Democratic Forces agreed to fold their fighters into the national army's divisions "
    "under the defence ministry in Damascus.\n"
)


def test_language_like_documents_acronyms_and_evidence_through_a_run(tmp_path, server):
    """The rest of the rule language through `watcher run --once`: a `language` condition, a rule
    that matches by its `like` documents alone, acronym collisions that stay silent (and are never
    embedded), and alerts whose title names the rule with the strongest evidence."""
    rules = tmp_path / "rules"
    (rules / "examples").mkdir(parents=True)
    (rules / "examples" / "absorbed.txt").write_text(EXAMPLE, encoding="utf-8")
    (rules / "extra.toml").write_text(EXTRA_RULES, encoding="utf-8")
    pack = (ROOT / "rules" / "turkey-syria-defence.toml").read_text(encoding="utf-8")
    (rules / "turkey-syria-defence.toml").write_text(pack, encoding="utf-8")
    hook = Webhook()
    try:
        feeds = [
            ("Haber TR", rss(server, [item("tr-010")], "Haber TR")),  # Tokel meets Ebu Kasra in Damascus
            ("Desk EN", rss(server, [item("en-038"), item("en-001")], "Desk EN")),
            # Japan's SDF, a Sustainable Development Fund, the Quad (QSD): other bodies, same letters
            ("Wire", rss(server, [item("en-063"), item("en-064"), item("en-069")], "Wire")),
        ]
        extra = f'[[channels]]\nname = "hook"\nurl = "{hook.url()}"\n'
        config = write_config(tmp_path, feeds, rules=rules, fetch_article=False, extra=extra)
        result = watcher(config, "run", "--once")
        assert result.exit_code == 0, result.output

        def matched(item_id: str) -> dict[str, dict]:
            found = rows(
                tmp_path,
                "SELECT m.* FROM matches m JOIN articles a ON a.id = m.article_id WHERE a.url LIKE ?",
                (f"%/{item_id}.html",),
            )
            return {m["rule_id"]: m for m in found}

        # language: the Turkish item, not the English ones, though all name Syria
        assert "syria-in-turkish" in matched("tr-010")
        assert "syria-in-turkish" not in matched("en-001") and "syria-in-turkish" not in matched("en-038")
        # like documents: a paraphrase of the example, matched by meaning and naming it
        joined = matched("en-038")["kurdish-forces-join"]
        assert joined["via"] == "similarity" and joined["similarity"] >= 0.9
        assert joined["similar_to"].startswith("close in meaning to examples/absorbed.txt")
        # acronym collisions: no match, and no similarity computed (no supported SDF hit opens a gate)
        for collision in ("en-063", "en-064", "en-069"):
            assert matched(collision) == {}, collision
            assert (
                rows(
                    tmp_path,
                    "SELECT s.* FROM similarities s JOIN articles a ON a.id = s.article_id WHERE a.url LIKE ?",
                    (f"%/{collision}.html",),
                )
                == []
            ), collision
        # evidence: two rules of the same severity; the title names the one whose hits tell more
        # (named people and an agreement), not the first by id
        for item_id in ("tr-010", "en-001"):
            found = matched(item_id)
            strongest = max(found.values(), key=lambda m: m["evidence"])
            assert strongest["rule_id"] == "turkey-syria-defence", found
            assert found["syria-defence-minister"]["severity"] == strongest["severity"]
            headline = ITEMS[item_id]["title"]
            (post,) = [p for p in hook.posts if p.payload.get("title", "").endswith(headline)]
            assert post.payload["title"].startswith("[Turkey–Syria defence cooperation +")
            body = post.payload["message"]
            assert headline not in body  # the headline is the title, never quoted again for a title hit
            block = body.split("Rule: Turkey–Syria defence cooperation (high)\n", 1)[1].split("\nRule: ")[0]
            tags = re.findall(r"^  • (?:in the headline: )?“[^”]+” \[([\w-]+)\]", block, re.M)
            people = [i for i, t in enumerate(tags) if t in ("abu-qasra", "turkish-defence-officials")]
            places = [i for i, t in enumerate(tags) if t in ("syria", "turkey")]
            assert people[:1] == [0] and max(people) < min(places, default=99), (
                tags
            )  # people before countries
    finally:
        hook.close()


def test_a_poll_writes_nothing_itself_the_vectors_it_embeds_go_through_the_writer(tmp_path, server):
    """Poll threads never write (README, "One writer"): the vectors a poll embeds for
    the meaning rules are kept by the writer, not on the poll's own connection."""
    from watcher import app
    from watcher import config as config_mod
    from watcher.match.rules import load_rules
    from watcher.pipeline import Pipeline, Writer
    from watcher.sources import schedule

    def clock() -> datetime:
        return datetime.now(timezone.utc)

    url = rss(server, [item("tr-001"), item("fr-027"), item("ar-001")], "Haber")
    config = config_mod.load(write_config(tmp_path, [("Haber", url)], fetch_article=False))
    parts = app.build_parts(config, clock, load_rules(list(config.rules)))
    store = app.open_store(config)
    writer = Writer(app.open_store(config), config, clock, parts.matcher.rules)
    try:
        assert parts.matcher.embedder is not None  # the default pack decides by meaning too
        schedule.sync(store, config.feeds, clock())
        changed = store.conn.total_changes
        result = Pipeline(parts, store, writer).poll(config.feeds[0])
        assert result.status == "ok" and result.articles_stored == 3
        assert store.conn.total_changes == changed  # the poll's own connection wrote nothing
    finally:
        writer.close()
        store.close()
        parts.client.close()
        parts.extractor.close()
        parts.matcher.close()
    kept = rows(tmp_path, "SELECT count(*) AS n FROM embeddings")[0]["n"]
    assert kept >= 3  # the gated items' vectors (and the rules' examples) are in the cache
