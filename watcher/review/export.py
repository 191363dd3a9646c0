"""Export stored articles as records: one JSON object per line, or CSV.

Records stream from the database in batches, so an export of months of log
never holds more than one batch in memory. The shape of a record:

``id, url, feed, title, published, fetched_at, language, detected_language, text, extraction,
matched, rules, canonical_url, story, duplicate_of, join_reason,
join_similarity, alerts``

where ``rules`` is a list shaped as ``watcher match`` prints
(``{"id","title","severity","score","via","similar_to","hits":[...]}``; ``via`` is
``keywords`` or ``similarity``, ``similar_to`` says how close in meaning it was to the rule's
examples); ``language`` is the declared language and ``detected_language`` the one detected
from the article's title and text and ``alerts`` a list of
``{"channel","status","attempts","last_error","sent_at"}``. ``join_reason`` says
why the article joined its story (``canonical_url``, ``content_hash`` or
``similar``; null for the article that opened it) and ``join_similarity`` the
share of 3-word phrases it had in common with the story when it joined (1.0
for identical text). In CSV, ``rules``
and ``alerts`` are JSON text and ``matched`` is ``true``/``false``; a text
cell that a spreadsheet would run as a formula (starting with ``= + - @``, a
tab or a carriage return), or that starts with ``'``, gets a leading ``'``
(:func:`csv_value` undoes it), so a hostile headline cannot become a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from watcher.review.log import Filter
from watcher.store import alerts, articles, matches
from watcher.store.database import Store

FORMATS = ("jsonl", "csv")
FIELDS = (
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
)
BATCH = 200


def records(store: Store, flt: Filter | None = None, *, matched_only: bool = False) -> Iterator[dict]:
    """Every stored article passing ``flt`` (all of them without), oldest first, as export records."""
    flt = flt or Filter(limit=None)
    selection = flt.selection(matched_only=matched_only)
    last, left = 0, flt.limit
    while left is None or left > 0:
        size = BATCH if left is None else min(BATCH, left)
        rows = articles.page(store, selection, after=last, size=size)
        if not rows:
            return
        for row in rows:
            yield _record(store, row)
        last = rows[-1]["id"]
        left = None if left is None else left - len(rows)


def _record(store: Store, a: dict) -> dict:
    rules = [
        {
            "id": m["rule_id"],
            "title": m["rule_title"],
            "severity": m["severity"],
            "score": m["score"],
            "via": m.get("via") or "keywords",
            "similar_to": m.get("similar_to"),
            "hits": _json_list(m["hits"]),
        }
        for m in matches.of_article(store, a["id"])
    ]
    return {
        "id": a["id"],
        "url": a["url"],
        "feed": a["feed"],
        "title": a["title"],
        "published": a["published"],
        "fetched_at": a["fetched_at"],
        "language": a["language"],
        "detected_language": a.get("detected_language"),
        "text": a["text"],
        "extraction": a["extraction"],
        "matched": bool(a["matched"]),
        "rules": rules,
        "canonical_url": a["canonical_url"],
        "story": a["story_id"],
        "duplicate_of": a["duplicate_of"],
        "join_reason": a["join_reason"],
        "join_similarity": a["join_similarity"],
        "alerts": alerts.of_article(store, a["id"]),
    }


def _json_list(raw: str | None) -> list:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def write_jsonl(rows: Iterator[dict], out: TextIO) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value):
    """A text value made safe to open in a spreadsheet (reversible, see csv_value)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def csv_value(cell: str) -> str:
    """The original text of a CSV cell written by :func:`write_csv`."""
    return cell[1:] if cell.startswith("'") else cell


def write_csv(rows: Iterator[dict], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow(
            {
                **{k: csv_cell(v) for k, v in row.items()},
                "matched": "true" if row["matched"] else "false",
                "rules": json.dumps(row["rules"], ensure_ascii=False),
                "alerts": json.dumps(row["alerts"], ensure_ascii=False),
            }
        )
        n += 1
    return n


def write(fmt: str, rows: Iterator[dict], out: TextIO) -> int:
    """Write ``rows`` to ``out`` in ``fmt`` ('jsonl' or 'csv'); returns the count."""
    return (write_jsonl if fmt == "jsonl" else write_csv)(rows, out)
