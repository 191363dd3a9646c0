"""`watcher search` folds text the way the matcher does (search_index), on a
database filled by a real `watcher run --once` (see review_world.py)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import review_world
from review_world import invoke
from support import values

from watcher.review import search
from watcher.review.retention import prune
from watcher.store import searchindex
from watcher.store.database import Store
from watcher.store.schema import MIGRATIONS
from watcher.text.fold import normalise
from watcher.web import server as web


def found(world, *query, matched: bool = False) -> list[dict]:
    options = ["--json", "--limit", "50"] + (["--matched"] if matched else [])
    result = invoke(world, "search", *options, "--", *query)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def titles(hits) -> set[str]:
    return {h["title"] for h in hits}


TR_PACT = review_world.TURKISH[0][0]
AR_PACT, AR_MINISTER, AR_GOLD = (t for t, _ in review_world.ARABIC)


def test_every_stored_article_is_indexed_as_the_matcher_folds_it(world):
    articles = dict(
        ((i, (t, x)) for i, t, x in values(world.database, "SELECT id, title, text FROM articles"))
    )
    index = {i: (t, x) for i, t, x in values(world.database, "SELECT rowid, title, text FROM search_index")}
    assert index.keys() == articles.keys()
    for article_id, (title, text) in articles.items():
        assert index[article_id] == (normalise(title or "").text, normalise(text or "").text)


def test_turkish_dotless_i_and_accents_fold(world):
    kasim = found(world, "kasim")
    assert titles(kasim) == {TR_PACT}
    assert kasim[0]["highlights"] == ["Kasım"]
    assert "3 Kasım'da Ankara'da savunma" in kasim[0]["snippet"]  # the original words, not folded ones
    assert found(world, "KASIM") == kasim == found(world, "Kasım")
    assert TR_PACT in titles(found(world, "turkiye"))
    yildiz = found(world, "yildiz")  # "Dr. Nilay Yıldız" in a seed article
    assert len(yildiz) == 1 and yildiz[0]["highlights"] == ["Yıldız"]
    assert yildiz[0]["snippet"].startswith("…") and "Nilay Yıldız of the Center" in yildiz[0]["snippet"]


def test_the_terminal_shows_found_words_marked_in_title_and_snippet(world):
    out = invoke(world, "search", "suriye", "savunma", "--limit", "50").stdout
    assert "Türkiye ile [[Suriye]] arasında [[savunma]] işbirliği anlaşması" in out
    assert "Türkiye ile [[Suriye]], 3 Kasım'da Ankara'da [[savunma]] alanında" in out
    hit = next(h for h in found(world, "انقرة") if h["title"] == AR_MINISTER)
    assert hit["title_highlights"] == ["أنقرة"] and hit["highlights"] == ["أنقرة"]


def test_no_result_says_what_was_searched_for(world):
    out = invoke(world, "search", "Suriyeye'de", "KASIMDA").stdout
    assert out.startswith('no article matches that search (searched for: "suriyeye de" kasimda;')
    assert "word* also finds longer words" in out
    assert found(world, "kasim*") == found(world, "kasim")


def test_a_word_with_an_apostrophe_suffix_is_a_phrase(world):
    hits = found(world, "Türkiye'nin")
    assert titles(hits) == {review_world.TURKISH[1][0]}
    assert hits[0]["highlights"] == ["Türkiye'nin"]  # the phrase, marked as written
    assert "Türkiye'nin Suriye ile" in hits[0]["snippet"]


def test_arabic_hamza_ta_marbuta_and_vowel_marks_fold(world):
    ankara = found(world, "انقرة")  # plain alef; the text has أنقرة
    assert titles(ankara) == {AR_PACT, AR_MINISTER}
    assert all(h["highlights"] == ["أنقرة"] for h in ankara)
    assert titles(found(world, "قصره")) == {AR_MINISTER}  # ha for ta marbuta ("أبو قصرة")
    dollar = found(world, "الدولار")  # the text has الدُّولَار (harakat)
    assert titles(dollar) == {AR_GOLD} and dollar[0]["highlights"] == ["الدُّولَار"]
    assert found(world, "الدُّولَار") == dollar
    assert found(world, "تُرْكِيَا") == found(world, "تركيا")  # marks in the query too
    assert found(world, "الـذهـب") == found(world, "الذهب")  # tatweel


def test_arabic_words_are_found_with_a_conjunction_written_on(world):
    syria = found(world, "سوريا")
    assert AR_PACT in titles(syria)  # "تركيا وسوريا"
    assert "وسوريا" in [h for hit in syria for h in hit["highlights"]]


def test_english_phrases_keep_word_order(world):
    phrase = found(world, '"joint training"')
    assert phrase and all(any(h.casefold() == "joint training" for h in hit["highlights"]) for hit in phrase)
    assert titles(phrase) <= titles(found(world, "joint", "training"))
    assert found(world, '"training joint"') == []
    assert found(world, '"defense fair"') and not found(world, '"fair defense"')


def test_or_not_prefix_and_brackets(world):
    both = titles(found(world, "ankara", "OR", "şam"))
    assert titles(found(world, "ankara")) <= both
    no_istanbul = titles(found(world, "suriye", "NOT", "istanbul"))
    assert TR_PACT in no_istanbul and review_world.TURKISH[1][0] not in no_istanbul
    assert titles(found(world, "suriye -istanbul")) == no_istanbul
    assert titles(found(world, "-5 derece")) == titles(found(world, "5 derece"))  # a leading "-" is no NOT
    assert titles(found(world, "(ankara OR şam) savunma")) == {TR_PACT}
    prefix = found(world, "savunm*")
    assert TR_PACT in titles(prefix) and "savunma" in [
        h.casefold() for hit in prefix for h in hit["highlights"]
    ]
    assert titles(found(world, "altın OR الذهب")) == {AR_GOLD}
    assert found(world, "altın OR الذهب", matched=True) == []  # gold is in an unmatched article


HOSTILE = {
    '"': "no word to search for",
    "AND OR": "no word to search for",
    "*": "no word to search for",
    "NEAR(": "bracket is not closed",
    "(": "no word to search for",
    "(ankara": "bracket is not closed",
    "ankara)": "closing bracket has no opening one",
    "a NOT": "NOT needs a word on each side",
    "OR ankara": "OR needs a word on each side",
    "ankara OR": "OR needs a word on each side",
    "() ankara": "brackets must hold words",
    "(" * 500 + "ankara" + ")" * 500: "nested more than 16 deep",
    " ".join(["ankara"] * 65): "search for at most 64",
    "ankara NOT " * 64 + "şam": "search for at most 64",
}


def test_hostile_queries_get_a_message_not_a_traceback(world):
    for query, message in HOSTILE.items():
        result = invoke(world, "search", query)
        assert result.exit_code == 2, (query[:80], result.output)
        assert result.stderr.startswith("watcher: ") and message in result.stderr, (query[:80], result.stderr)
        assert "Traceback" not in result.output
    for query in [
        '"unbalanced quote',
        "col:umn",
        "ankara NEAR şam",
        "a* b*",
        "'; DROP TABLE articles; --",
        "title:ankara",
        "^ankara",
        "ankara + şam",
        "x" * 5000,
        "🙂 ankara",
        "\x00ankara",
        "(" * 16 + "ankara" + ")" * 16,
        " ".join(["تركيا"] * 64),
    ]:
        result = invoke(world, "search", query)
        assert result.exit_code == 0, (query, result.output)
    assert values(world.database, "SELECT COUNT(*) FROM articles")[0][0] > 0
    assert titles(found(world, '"joint training')) == titles(found(world, '"joint training"'))


def test_hostile_queries_on_the_web_page(world):
    server = web.WebServer(
        web.WebSettings(database=world.database, port=0), clock=lambda: datetime.now(timezone.utc)
    )
    url = server.start()
    try:
        page = httpx.get(url + "/search", params={"q": "NEAR("})
        assert page.status_code == 200 and "bracket is not closed" in page.text
        good = httpx.get(url + "/search", params={"q": "Kasım"})
        assert "<mark" in good.text and ">Kasım</mark>" in good.text
        assert '1 result for <code class="searched">kasim</code>.' in good.text
    finally:
        server.stop()


def test_query_compiles_to_quoted_fts5_only():
    query = search.compile_query('kasım "Suriye\'ye" NEAR x* OR (a NOT b)')
    assert query.fts == '(("kasim" AND "suriye ye" AND "near" AND "x"*) OR ("a" NOT "b"))'  # AND before OR
    arabic = search.compile_query("تركيا")
    assert arabic.fts.count('"') == 2 * 12 and '"وتركيا"' in arabic.fts
    with pytest.raises(search.QueryError, match="OR needs a word"):
        search.compile_query("a OR OR b")


def test_snippet_marks_original_words_around_the_densest_hits():
    text = (
        "İstanbul "
        + "filler words here " * 30
        + "Kasım ayında Türkiye ve Suriye görüştü. "
        + "more filler " * 40
    )
    norm = normalise(text).text
    start = norm.index("kasim")
    highlighted = norm[:start] + search.START + "kasim" + search.END + norm[start + 5 :]
    turkiye = highlighted.index("turkiye")
    highlighted = highlighted[:turkiye] + search.START + "turkiye" + search.END + highlighted[turkiye + 7 :]
    segments = search.snippet(text, highlighted)
    assert [s.text for s in segments if s.mark] == ["Kasım", "Türkiye"]
    joined = "".join(s.text for s in segments)
    assert joined.startswith("…") and joined.endswith("…") and "Kasım ayında Türkiye ve Suriye" in joined
    assert len(joined) < 400
    assert search.snippet(text, norm) == ()  # nothing matched in this column


def test_a_database_from_before_the_index_is_back_filled(world, tmp_path):
    old = world.copy(tmp_path / "old")
    with sqlite3.connect(old.database) as conn:  # the tables before schema v4
        conn.execute("DROP TRIGGER search_index_forget")
        conn.execute("DROP TABLE search_index")
    store = Store.open(old.database, migrate=False)
    (v4,) = [m for m in MIGRATIONS if m.version == 4]
    with store.atomic():
        v4.apply(store.db)
    store.close()
    assert titles(found(old, "kasim")) == {TR_PACT}
    assert values(old.database, "SELECT COUNT(*) FROM search_index") == values(
        old.database, "SELECT COUNT(*) FROM articles"
    )
    store = Store.open(old.database)
    with store.atomic():  # the delete trigger came back
        store.db.execute("DELETE FROM feedback")
        store.db.execute("UPDATE entries SET article_id = NULL")
        store.db.execute("DELETE FROM articles WHERE id = (SELECT MAX(id) FROM articles WHERE matched = 0)")
    store.close()
    assert values(old.database, "SELECT COUNT(*) FROM search_index") == values(
        old.database, "SELECT COUNT(*) FROM articles"
    )


def test_pruned_articles_leave_the_index(world, tmp_path):
    own = world.copy(tmp_path / "own")
    assert found(own, "الذهب")
    store = Store.open(own.database)
    pruned = prune(store, 30, datetime.now(timezone.utc) + timedelta(days=31))
    store.close()
    assert pruned.articles > 0
    assert found(own, "الذهب") == []
    assert values(
        own.database, "SELECT COUNT(*) FROM search_index WHERE rowid NOT IN (SELECT id FROM articles)"
    ) == [(0,)]
    assert values(own.database, "SELECT COUNT(*) FROM search_index") == values(
        own.database, "SELECT COUNT(*) FROM articles"
    )


def test_an_article_indexed_again_is_found_by_its_new_words_only(world, tmp_path):
    own = world.copy(tmp_path / "own")
    (article_id,) = values(own.database, "SELECT id FROM articles WHERE title = ?", (AR_GOLD,))[0]
    store = Store.open(own.database)
    with store.atomic():  # what an edited article gets
        store.db["articles"].update(article_id, {"text": "Altın fiyatları Kasım ayında düştü."})
        searchindex.put(store, article_id, AR_GOLD, "Altın fiyatları Kasım ayında düştü.")
    store.close()
    assert found(own, "الذهب") and titles(found(own, "altin")) == {AR_GOLD}  # the title still has الذهب
    assert found(own, "الدولار") == []
    assert titles(found(own, "kasim")) == {TR_PACT, AR_GOLD}
    assert values(own.database, "SELECT COUNT(*) FROM search_index WHERE rowid = ?", (article_id,)) == [(1,)]


REAL = review_world.ROOT.parent / "shared" / "fixtures" / "real" / "html"


def real_texts() -> list[tuple[str, str]]:
    """(title, text) of real articles: scrapinghub's gold bodies, trafilatura's
    multilingual gold titles and snippets, and the seed corpus."""
    gold = json.loads((REAL / "scrapinghub" / "ground-truth.json").read_text(encoding="utf-8"))
    out = [((v.get("headline") or "")[:200], v["articleBody"]) for v in gold.values() if v.get("articleBody")]
    evaldata = json.loads((REAL / "trafilatura" / "evaldata.json").read_text(encoding="utf-8"))
    out += [
        (v.get("title") or "", " ".join(str(v.get("with", "")).strip("[]").split("', '")))
        for v in evaldata.values()
    ]
    return out + [(title, text) for _, title, text in review_world.seed_articles()]


def test_a_rare_word_of_any_real_article_is_found_and_marked_as_written(tmp_path):
    import re

    texts = real_texts()
    store = Store.open(tmp_path / "real.db")
    with store.atomic():
        db = store.db
        db["feeds"].insert({"id": 1, "url": "https://x.example/rss", "name": "x", "created_at": "2026-11-21"})
        for i, (title, text) in enumerate(texts, 1):
            db["articles"].insert(
                {
                    "id": i,
                    "feed_id": 1,
                    "url": f"https://x.example/{i}",
                    "canonical_url": f"https://x.example/{i}",
                    "title": title,
                    "text": text,
                    "fetched_at": "2026-11-21",
                    "updated_at": "2026-11-21",
                    "extraction": "full",
                }
            )
            searchindex.put(store, i, title, text)
    words = {}  # folded word -> (article id, as written)
    seen = {}
    for i, (title, text) in enumerate(texts, 1):
        for w in re.findall(r"\w+", f"{title} {text}"):
            key = search.fold(w)
            seen.setdefault(key, set()).add(i)
            if len(w) >= 5 and w.isalpha() and " " not in key:
                words.setdefault(key, (i, w))
    rare = sorted(
        ((key, i, w) for key, (i, w) in words.items() if seen[key] == {i}), key=lambda r: r[2].isascii()
    )  # accented words first
    picked = {}
    for key, i, w in rare:  # up to three rare words per article
        if len(picked.setdefault(i, [])) < 3:
            picked[i].append((key, w))
    checked = 0
    folded_only = 0
    for i, pairs in picked.items():
        for key, w in pairs:
            for query in {w, key}:  # as written, and folded ("guinee")
                hits = search.search(store, query, limit=5)
                assert [h.article_id for h in hits] == [i], (query, i)
                marks = [s.text for s in hits[0].snippet + hits[0].title_marked if s.mark]
                assert w in marks or key in {search.fold(m) for m in marks}, (query, marks)
                checked += 1
            folded_only += key != w.casefold()
    store.close()
    assert len(picked) > 100 and checked > 600 and folded_only > 40, (len(picked), checked, folded_only)
