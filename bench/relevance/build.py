"""Build bench/relevance/labelled.jsonl from the item files, the seeds and the real fixtures.

    .venv/bin/python bench/relevance/build.py [--check]

Sources, in this order:
  * items/*.txt: items written for this set (see items/README.txt for the line format);
  * seeds/*.txt: short items cut from the seed corpus (title or first sentences, verbatim);
  * ../shared/fixtures/real/feeds/: real feed entries (title + summary as the feed gives them),
    none about the watched topics, labelled irrelevant to every rule.

--check rebuilds in memory and fails when labelled.jsonl differs (the file is committed).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "real"
OUT = HERE / "labelled.jsonl"
RULES = ("turkey-syria-defence", "syria-defence-minister", "sdf-integration")
KINDS = {
    "positive",
    "paraphrase",
    "meeting",
    "spelling",
    "role",
    "near_topic",
    "collision",
    "other_ties",
    "civilian",
    "old_war",
    "unrelated",
    "seed",
}
LANGUAGES = {"en", "tr", "ar", "fr", "de", "kmr", "it", "pt"}

# Short items cut verbatim from the seed corpus: (seed file prefix, kind, labels, title, summary).
SEED_ITEMS = [
    (
        "000",
        "seed",
        "100",
        (
            "Türkiye will take an active role in restructuring the Syrian military, Turkish Ministry of National "
            "Defence sources confirms, stating that the proposal came from Syria."
        ),
        "Ankara and Damascus agreed upon a three-phased road map during President Shara’s Ankara visit.",
    ),
    (
        "000",
        "other_ties",
        "000",
        "Previous experience with Azerbaijan and Somalia",
        (
            "Türkiye has been instrumental in rebuilding Azerbaijan’s military since its independence, including "
            "support during the 2020 Karabakh War when Azerbaijan reclaimed its occupied territories."
        ),
    ),
    (
        "000",
        "other_ties",
        "000",
        "",
        (
            "Furthermore, approximately 5,000 Turkish troops are stationed at the joint Türkiye-Qatar base in Qatar. "
            "Defense sources indicate ongoing negotiations for a similar agreement to support Libya’s military "
            "restructuring."
        ),
    ),
    (
        "001",
        "seed",
        "100",
        (
            "On August 21, 2025, Türkiye’s Ministry of National Defense said that technical delegations will soon "
            "travel to Syria to review the country’s defense needs."
        ),
        "These visits are part of a wider effort to help restructure Syria’s armed forces.",
    ),
    (
        "002",
        "seed",
        "100",
        (
            "The Turkish Ministry of Defense announced on Wednesday that it has received a formal request from the "
            "Syrian government to help upgrade Syria’s defensive capabilities and intensify the fight against "
            "extremist groups, foremost among them the so-called Islamic State (ISIS)."
        ),
        "",
    ),
    (
        "002",
        "seed",
        "001",
        "",
        (
            "Separately, Ankara reiterated its readiness to monitor the implementation of the 10 March agreement that "
            "seeks to merge the Kurdish-led Syrian Democratic Forces (SDF) into the Syrian military structure."
        ),
    ),
    (
        "002",
        "seed",
        "110",
        "Deepening military contacts",
        (
            "Last month, Syrian Defense Minister Murhaf Abu Kasra hosted Gürak in Damascus for talks on joint training "
            "programs, modern base construction, and weapons procurement."
        ),
    ),
    (
        "003",
        "seed",
        "100",
        "Turkey Begins Training Syrian Army Units Under New Defense Pact",
        (
            "In a major milestone for regional defense diplomacy, Turkey’s Ministry of Defense confirmed that units "
            "from Syria’s new army have begun training in Turkish military barracks, using Turkish weapons and "
            "equipment."
        ),
    ),
    (
        "003",
        "seed",
        "110",
        "Syria Expands Military Education Abroad",
        (
            "The new cooperation follows the 22 October announcement by Syrian Defense Minister Lt. Gen. Murhaf Abu "
            "Qasra, who confirmed that groups of Syrian officer cadets were departing for military studies in Turkey "
            "and Saudi Arabia."
        ),
    ),
    (
        "004",
        "seed",
        "100",
        "Turkey Begins Training and Technical Support for the Syrian Army",
        (
            "Under the military agreement between the defense ministries of the two countries from August, Turkey "
            "will provide Syria’s armed forces with military training, weapons, and logistical support."
        ),
    ),
    (
        "004",
        "seed",
        "001",
        "",
        (
            "Under the March agreement with the new Syrian government, it is expected to integrate into the new "
            "national Syrian army and hand over occupied territories."
        ),
    ),
    (
        "004",
        "other_ties",
        "000",
        "Israeli Attack in Qatar",
        (
            "Separately, Ministry spokesperson Zeki Aktürk called on the international community to oppose Israel, "
            "warning that if unchecked, reckless attacks like the one in Qatar could plunge the region into disaster."
        ),
    ),
]

# Real feeds with news-like entries: (path under feeds/, language, kind, how many entries at most).
FIXTURE_FEEDS = [
    ("rss-parser/guardian.rss", "en", "unrelated", 55),
    ("rss-parser/heise.atom", "de", "unrelated", 15),
    ("rss-parser/itunes-href.rss", "de", "unrelated", 10),
    ("feed-rs/rss2/rss_2.0_nbcny.xml", "en", "unrelated", 1),
    ("rss-parser/customfields.rss", "en", "unrelated", 15),
]
# Fixture entries that touch the topic's vocabulary: a more precise kind than "unrelated".
FIXTURE_KINDS = {
    "Russia-backed Syrian peace talks agree deal on new constitution": "old_war",
    "'His death kills me each day': Mosul residents return home – to what?": "old_war",
}


def parse_item_line(line: str, where: str) -> dict:
    parts = [p.strip() for p in line.split(" | ")]
    if len(parts) != 7:
        raise SystemExit(f"{where}: expected 7 fields separated by ' | ', got {len(parts)}")
    ident, language, kind, labels, source, title, summary = parts
    if language not in LANGUAGES or kind not in KINDS or not re.fullmatch(r"[01]{3}", labels):
        raise SystemExit(f"{where}: bad language, kind or labels: {language!r} {kind!r} {labels!r}")
    return {
        "id": ident,
        "language": language,
        "title": title,
        "summary": summary,
        "labels": {rule: labels[i] == "1" for i, rule in enumerate(RULES)},
        "source": source,
        "kind": kind,
    }


def hand_items() -> list[dict]:
    items = []
    for path in sorted((HERE / "items").glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                items.append(parse_item_line(line, f"{path.name}:{number}"))
    return items


def seed_items() -> list[dict]:
    seeds = {p.name[:3]: p for p in (ROOT / "seeds").glob("*.txt")}
    items = []
    for n, (seed, kind, labels, title, summary) in enumerate(SEED_ITEMS, 1):
        text = seeds[seed].read_text(encoding="utf-8")
        for part in (title, summary):
            if part and part not in text:
                raise SystemExit(f"seed item {n}: not found verbatim in {seeds[seed].name}: {part[:60]!r}")
        items.append(
            {
                "id": f"seed-{n:03d}",
                "language": "en",
                "title": title,
                "summary": summary,
                "labels": {rule: labels[i] == "1" for i, rule in enumerate(RULES)},
                "source": f"seed:{seeds[seed].name}",
                "kind": kind,
            }
        )
    return items


def _clean(markup: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", html.unescape(markup or "")))
    text = re.sub(r"\s*Continue reading\.\.\.\s*$", "", re.sub(r"\s+", " ", text)).strip()
    return text[:400]


def fixture_items() -> list[dict]:
    import feedparser  # the project's dependency; only the builder needs it

    items = []
    for rel, language, kind, limit in FIXTURE_FEEDS:
        parsed = feedparser.parse((FIXTURES / "feeds" / rel).read_bytes())
        for n, entry in enumerate(parsed.entries[:limit]):
            title = _clean(entry.get("title", ""))
            summary = _clean(entry.get("summary", ""))
            if not (title or summary):
                continue
            items.append(
                {
                    "id": f"fx-{Path(rel).stem}-{n:02d}",
                    "language": language,
                    "title": title,
                    "summary": summary,
                    "labels": {rule: False for rule in RULES},
                    "source": f"fixture:feeds/{rel}#{n}",
                    "kind": FIXTURE_KINDS.get(title, kind),
                }
            )
    return items


def build() -> list[dict]:
    items = hand_items() + seed_items() + fixture_items()
    seen = set()
    for item in items:
        if item["id"] in seen:
            raise SystemExit(f"duplicate id {item['id']}")
        seen.add(item["id"])
    return items


def render(items: list[dict]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when labelled.jsonl is out of date")
    args = parser.parse_args()
    text = render(build())
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run bench/relevance/build.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10))} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
