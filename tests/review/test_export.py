"""`watcher export`: every stored article as JSON lines or CSV, round-tripping."""

from __future__ import annotations

import csv
import io
import json

import review_world
from review_world import invoke
from support import values

from watcher.review import export
from watcher.review.log import Filter, matched_stories
from watcher.store.database import Store

KEYS = {
    "id",
    "url",
    "feed",
    "title",
    "published",
    "fetched_at",
    "language",
    "detected_language",
    "text",
    "extraction",
    "matched",
    "rules",
    "canonical_url",
    "story",
    "duplicate_of",
    "join_reason",
    "join_similarity",
    "alerts",
}


def jsonl(world, *args) -> list[dict]:
    result = invoke(world, "export", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_jsonl_without_filters_is_every_stored_article(world):
    records = jsonl(world, "--jsonl")
    assert len(records) == values(world.database, "SELECT COUNT(*) FROM articles")[0][0]
    assert all(set(r) == KEYS for r in records)
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert {r["matched"] for r in records} == {True, False}
    assert jsonl(world) == records  # jsonl is the default format
    assert jsonl(world, "--format", "jsonl", "--all") == records


def test_records_explain_matches_with_offsets_into_the_text(world):
    records = [r for r in jsonl(world) if r["matched"]]
    assert records
    for record in records:
        assert record["rules"], record["id"]
        for rule in record["rules"]:
            assert set(rule) == {"id", "title", "severity", "score", "via", "similar_to", "hits"}
            for hit in rule["hits"]:
                assert set(hit) >= {"term", "entity", "field", "start", "end", "snippet"}
                assert record[hit["field"]][hit["start"] : hit["end"]], (record["id"], hit)
    alerts = [a for r in records for a in r["alerts"]]
    assert {(a["channel"], a["status"]) for a in alerts} == {("hook", "sent"), ("pager", "pending")}
    assert all(set(a) == {"channel", "status", "attempts", "last_error", "sent_at"} for a in alerts)
    pager = [a for a in alerts if a["channel"] == "pager"]
    assert all(a["sent_at"] is None for a in pager)
    # the first alert tried the failing pager; the others wait, untried (no error of their own)
    assert any("500" in (a["last_error"] or "") for a in pager)
    drones = [r for r in records if any(m["id"] == "drones" for m in r["rules"])]
    assert drones and all("pager" in {a["channel"] for a in r["alerts"]} for r in drones)


def test_story_and_duplicate_links(world):
    _, title, _ = review_world.seed_articles()[1]
    copies = [r for r in jsonl(world) if r["title"] == title]
    assert len(copies) == 2
    first, second = copies
    assert first["story"] == second["story"] is not None
    assert second["duplicate_of"] == first["id"] and first["duplicate_of"] is None
    assert {first["feed"], second["feed"]} == {"Daily Sabah", "Hürriyet Daily News"}


def test_records_say_why_each_copy_joined_its_story(world):
    records = jsonl(world)
    by_id = {r["id"]: r for r in records}
    rewrite = next(r for r in records if r["title"] == review_world.REWRITE_TITLE)
    assert rewrite["join_reason"] == "similar" and 0.4 <= rewrite["join_similarity"] < 1
    assert by_id[rewrite["duplicate_of"]]["join_reason"] is None  # the first article opened it
    _, title, _ = review_world.seed_articles()[1]
    exact = [r for r in records if r["title"] == title and r["duplicate_of"]]
    assert [(r["join_reason"], r["join_similarity"]) for r in exact] == [("content_hash", 1.0)]
    assert all(
        r["join_reason"] is None and r["join_similarity"] is None for r in records if not r["duplicate_of"]
    )
    table = {
        int(row["id"]): row for row in csv.DictReader(io.StringIO(invoke(world, "export", "--csv").stdout))
    }
    assert table[rewrite["id"]]["join_reason"] == "similar"
    assert float(table[rewrite["id"]]["join_similarity"]) == rewrite["join_similarity"]


def test_filters_are_those_of_log(world):
    everything = jsonl(world)
    matched = jsonl(world, "--matched")
    assert [r["id"] for r in matched] == [r["id"] for r in everything if r["matched"]]
    drones = jsonl(world, "--rule", "drones")
    assert drones and all(any(m["id"] == "drones" for m in r["rules"]) for r in drones)
    safak = jsonl(world, "--feed", "Yeni Şafak")
    assert len(safak) == len(review_world.TURKISH) and {r["feed"] for r in safak} == {"Yeni Şafak"}
    high = jsonl(world, "--severity", "high")
    assert high and all(any(m["severity"] == "high" for m in r["rules"]) for r in high)
    assert jsonl(world, "--since", "2d") == everything
    assert len(jsonl(world, "--limit", "3")) == 3
    store = Store.open(world.database)
    logged = {row.article_id for row in matched_stories(store, Filter(limit=None))}
    store.close()
    assert logged <= {r["id"] for r in matched}


def test_csv_round_trips_to_the_same_records(world):
    records = jsonl(world)
    result = invoke(world, "export", "--csv")
    assert result.exit_code == 0
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(table[0]) == export.FIELDS
    assert [from_csv(row) for row in table] == [blank_to_empty(r) for r in records]
    assert invoke(world, "export", "--format", "csv").stdout == result.stdout


TYPED = {"id", "story", "duplicate_of", "join_similarity", "matched", "rules", "alerts"}


def blank_to_empty(record: dict) -> dict:
    """CSV cannot tell NULL from an empty string: compare text fields with None as ''."""
    return {k: ("" if v is None and k not in TYPED else v) for k, v in record.items()}


def from_csv(row: dict) -> dict:
    def num(v):
        return int(v) if v else None

    return {
        **{k: export.csv_value(v) for k, v in row.items()},
        "id": int(row["id"]),
        "story": num(row["story"]),
        "duplicate_of": num(row["duplicate_of"]),
        "matched": row["matched"] == "true",
        "join_similarity": float(row["join_similarity"]) if row["join_similarity"] else None,
        "rules": json.loads(row["rules"]),
        "alerts": json.loads(row["alerts"]),
    }


def test_unicode_survives_to_a_file(world, tmp_path):
    out = tmp_path / "log.jsonl"
    result = invoke(world, "export", "--feed", "الجزيرة", "-o", str(out))
    assert result.exit_code == 0 and "exported 3 article(s)" in result.stderr
    text = out.read_text(encoding="utf-8")
    assert "تركيا وسوريا توقعان اتفاقية للتعاون الدفاعي" in text  # not \\u-escaped
    assert len(text.splitlines()) == 3


def test_records_stream_in_batches(world, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 2)
    store = Store.open(world.database)
    ids = [r["id"] for r in export.records(store)]
    assert ids == sorted(ids) and len(ids) == values(world.database, "SELECT COUNT(*) FROM articles")[0][0]
    assert len(list(export.records(store, Filter(limit=5)))) == 5
    store.close()


def test_csv_cells_never_become_spreadsheet_formulas(world):
    records = jsonl(world, "--feed", "Yeni Şafak")
    table = list(csv.DictReader(io.StringIO(invoke(world, "export", "--csv", "--feed", "Yeni Şafak").stdout)))
    hostile = [(r, row) for r, row in zip(records, table, strict=False) if r["title"].startswith("=")]
    assert len(hostile) == 1
    record, row = hostile[0]
    assert row["title"] == "'" + record["title"] and row["text"] == "'" + record["text"]
    assert record["text"].startswith("-5 derece")
    assert [from_csv(row) for row in table] == [blank_to_empty(r) for r in records]
