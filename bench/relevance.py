"""Recall and precision of the rule pack on the labelled set, per rule and per language.

    .venv/bin/python bench/relevance.py [--rules rules/] [--set bench/relevance/labelled.jsonl] [--join]
                                        [--similarity SCORES.json] [--dump-docs DOCS.jsonl] [--show-errors]

Runs the CURRENT rules (the default pack unless --rules) through the library matcher over every
item of the labelled set (title + one-sentence summary, as feeds deliver them) and prints:

  * per rule: items labelled relevant, matched, true/false positives, recall, precision;
  * per rule and language, and per kind of item (paraphrase, collision, old_war, ...);
  * the false-positive rate on the real unrelated articles in ../shared/fixtures/real/
    (every entry of the captured feeds, the 110 gold article bodies of the scrapinghub set and the
    trafilatura evaluation pages, extracted with trafilatura): they are about none of the rules,
    so every match there is a false alarm.

The similarity layer (issue 12) is not in the matcher yet. Its HOOK is ``--similarity``: a JSON
file of precomputed similarities {"scores": {doc_id: {rule_id: float}}} written by
bench/relevance_embed.py (run in a venv that has the embedding model; --dump-docs writes the
documents it must embed). With it, this script adds the tables "with the similarity layer" for
two policies: an article matches a rule when the rules match it, OR (a) it hits the rule's
entities and is at least T close in meaning to the rule's examples, or (b) it is at least T close
(similarity alone). When the layer lands in watcher/, replace ``similarity_scores`` by the
library's own scores and keep the tables.

Experiments for the lead (docs/relevance-evaluation.md): ``--rules DIR`` with the copy of the pack
that bench/relevance/candidate_pack.py writes (candidate aliases merged in), and ``--join``, which
matches the title and summary of a short item as one sentence (what a matcher letting `near` span
both fields of short items would find).

No assertions: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.match.matcher import Document, Matcher  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "real"
LABELLED = ROOT / "bench" / "relevance" / "labelled.jsonl"
LEAD_CHARS = 300

# Entities that must be hit before similarity may add a match (policy a). A rule not listed here
# gets no similarity layer (syria-defence-minister is about a name: similarity cannot find it).
GATES: dict[str, list[set[str]]] = {
    "turkey-syria-defence": [
        {"turkey", "turkish-defence-ministry", "turkish-officials"},
        {"syria", "syrian-army", "syrian-defence-ministry", "abu-qasra", "sharaa", "syrian-officials"},
    ],
    "sdf-integration": [{"sdf", "ypg", "march-agreement"}],
}


@dataclass(frozen=True)
class Doc:
    id: str
    language: str
    title: str
    text: str
    labels: dict[str, bool]
    kind: str
    source: str

    def lead(self) -> str:
        """What the similarity layer embeds: title + the first few hundred characters."""
        return (self.title + "\n" + self.text[:LEAD_CHARS]).strip()


# --- the documents ---------------------------------------------------------------------------


def labelled(path: Path) -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        docs.append(
            Doc(
                item["id"],
                item["language"],
                item["title"],
                item.get("text") or item["summary"],
                item["labels"],
                item["kind"],
                item["source"],
            )
        )
    return docs


def unrelated_fixtures() -> list[Doc]:
    """Every real unrelated article and feed entry in the shared fixtures (none is on topic)."""
    docs: list[Doc] = []
    feeds = FIXTURES / "feeds"
    if not feeds.exists():
        return docs
    import feedparser  # project dependencies; only this loader needs them
    import trafilatura

    for path in sorted(feeds.rglob("*")):
        if not path.is_file() or path.parts[-3:-1][0] in ("defusedxml",) or "defusedxml" in path.parts:
            continue
        parsed = feedparser.parse(path.read_bytes())  # feedparser reports problems as bozo, never raises
        for n, entry in enumerate(parsed.entries):
            title = str(entry.get("title", ""))
            text = str(entry.get("summary", ""))
            if title.strip() or text.strip():
                rel = path.relative_to(FIXTURES)
                docs.append(Doc(f"fx:{rel}#{n}", "", title, _strip(text), {}, "fixture_feed", str(rel)))
    gold = FIXTURES / "html" / "scrapinghub" / "ground-truth.json"
    if gold.exists():
        for key, value in sorted(json.loads(gold.read_text(encoding="utf-8")).items()):
            docs.append(
                Doc(
                    f"fx:scrapinghub/{key[:12]}",
                    "",
                    "",
                    value["articleBody"],
                    {},
                    "fixture_article",
                    value.get("url", ""),
                )
            )
    for path in sorted((FIXTURES / "html" / "trafilatura").glob("*.html")):
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = trafilatura.extract(raw.decode("utf-8", "replace")) or ""
        meta = trafilatura.extract_metadata(raw.decode("utf-8", "replace"))
        title = (meta.title if meta and meta.title else "") or ""
        if text or title:
            docs.append(Doc(f"fx:trafilatura/{path.stem}", "", title, text, {}, "fixture_article", path.name))
    return docs


def _strip(markup: str) -> str:
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


# --- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    rules: frozenset[str]  # rules the pack matched
    entities: frozenset[str]  # entities with at least one hit (for the similarity gates)


def matcher_with_probes(rule_paths: list[Path]) -> tuple[Matcher, list[str]]:
    """The pack plus one probe rule per entity ("probe:<id>": the entity alone), to see entity hits."""
    rules = load_rules(rule_paths)
    probe = "".join(
        f'[[rules]]\nid = "probe.{e.id}"\ntitle = "probe"\ncondition = {{ entity = "{e.id}" }}\n\n'
        for e in rules.entities
    )
    folder = Path(tempfile.mkdtemp(prefix="relevance-probes-"))
    (folder / "probes.toml").write_text(probe, encoding="utf-8")
    return Matcher(load_rules([*rule_paths, folder / "probes.toml"])), [r.id for r in rules.rules]


def run(matcher: Matcher, docs: Iterable[Doc], join: bool = False) -> dict[str, Verdict]:
    """Match each document; with ``join``, a short item's title and summary are ONE text (one sentence),
    to measure what a matcher that lets `near` span title and summary of short items would find."""
    out = {}
    for doc in docs:
        if join and len(doc.title) + len(doc.text) <= 400:
            document = Document(doc.id, "", "", summary=f"{doc.title} {doc.text}".strip())
        else:
            document = Document(doc.id, doc.title, "", summary=doc.text)
        found = matcher.match(document)
        out[doc.id] = Verdict(
            frozenset(m.rule_id for m in found if not m.rule_id.startswith("probe.")),
            frozenset(m.rule_id[6:] for m in found if m.rule_id.startswith("probe.")),
        )
    return out


# --- scoring -----------------------------------------------------------------------------------


def prf(pairs: list[tuple[bool, bool]]) -> tuple[int, int, int, int, float | None, float | None]:
    """(relevant, matched, tp, fp, recall, precision) for (label, predicted) pairs."""
    tp = sum(1 for label, pred in pairs if label and pred)
    fp = sum(1 for label, pred in pairs if pred and not label)
    relevant = sum(1 for label, _ in pairs if label)
    matched = tp + fp
    return (relevant, matched, tp, fp, tp / relevant if relevant else None, tp / matched if matched else None)


def fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:.2f}"


def table(title: str, rows: list[tuple[str, list[tuple[bool, bool]]]]) -> None:
    print(f"\n{title}")
    print(f"  {'':28} {'relevant':>8} {'matched':>7} {'TP':>4} {'FP':>4} {'recall':>6} {'precision':>9}")
    for name, pairs in rows:
        relevant, matched, tp, fp, recall, precision = prf(pairs)
        print(f"  {name:28} {relevant:8} {matched:7} {tp:4} {fp:4} {fmt(recall):>6} {fmt(precision):>9}")


def report(
    name: str,
    docs: list[Doc],
    rule_ids: list[str],
    predict: Callable[[Doc, str], bool],
    fixtures: list[Doc],
    show_errors: bool,
) -> None:
    print(f"\n==================== {name} ====================")
    table(
        "per rule (all languages)",
        [(r, [(d.labels[r], predict(d, r)) for d in docs]) for r in rule_ids]
        + [("ALL RULES (micro)", [(d.labels[r], predict(d, r)) for d in docs for r in rule_ids])],
    )
    languages = sorted({d.language for d in docs}, key=lambda x: (-sum(d.language == x for d in docs), x))
    for rule in rule_ids:
        table(
            f"{rule}: per language",
            [
                (lang, [(d.labels[rule], predict(d, rule)) for d in docs if d.language == lang])
                for lang in languages
            ],
        )
    kinds = sorted({d.kind for d in docs})
    print("\nper kind of item: positives found / labelled, false alarms / items (all rules)")
    for kind in kinds:
        group = [d for d in docs if d.kind == kind]
        pos = [(d, r) for d in group for r in rule_ids if d.labels[r]]
        found = sum(predict(d, r) for d, r in pos)
        false = sum(1 for d in group for r in rule_ids if predict(d, r) and not d.labels[r])
        print(f"  {kind:12} items {len(group):4}  found {found:3}/{len(pos):3}  false alarms {false:3}")
    if fixtures:
        alarms = Counter(r for d in fixtures for r in rule_ids if predict(d, r))
        hit_docs = [d for d in fixtures if any(predict(d, r) for r in rule_ids)]
        print(
            f"\nreal unrelated fixture articles and feed entries: {len(fixtures)}; "
            f"with any alert: {len(hit_docs)} ({100 * len(hit_docs) / len(fixtures):.2f} %)"
        )
        for rule in rule_ids:
            print(f"  {rule:28} alerts {alarms[rule]}")
        for d in hit_docs[:10]:
            print(f"    {d.id}  {d.title[:70]!r}")
    if show_errors:
        print("\nerrors (FN = missed, FP = false alarm):")
        for d in docs:
            for r in rule_ids:
                pred = predict(d, r)
                if pred != d.labels[r]:
                    tag = "FN" if d.labels[r] else "FP"
                    print(f"  {tag} {r:24} {d.id:16} {d.kind:10} {d.title[:60]} / {d.text[:60]}")


# --- the similarity layer hook -------------------------------------------------------------------


def similarity_scores(path: Path) -> tuple[dict[str, dict[str, float]], dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["scores"], data.get("meta", {})


def auc(pos: list[float | None], neg: list[float | None]) -> float | None:
    """ROC AUC (probability that a relevant item scores above an irrelevant one; ties count half)."""
    p = [x for x in pos if x is not None]
    n = [x for x in neg if x is not None]
    if not p or not n:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in p for b in n)
    return wins / (len(p) * len(n))


def gate_open(rule: str, verdict: Verdict) -> bool:
    groups = GATES.get(rule, [])
    return bool(groups) and all(verdict.entities & group for group in groups)


def best_thresholds(
    docs: list[Doc],
    rule: str,
    base: Callable[[Doc], bool],
    extra: Callable[[Doc], float | None],
    fixtures: list[Doc],
) -> list[tuple[float, float, float, int, int, int]]:
    """(T, recall, precision, added TP, added FP, fixture alerts) for T = -0.30..0.95 step 0.01."""
    rows = []
    for step in range(-30, 96):
        t = step / 100

        def added(d: Doc, t: float = t) -> bool:
            s = extra(d)
            return not base(d) and s is not None and s >= t

        _, _, _, _, recall, precision = prf([(d.labels[rule], base(d) or added(d)) for d in docs])
        add_tp = sum(1 for d in docs if added(d) and d.labels[rule])
        add_fp = sum(1 for d in docs if added(d) and not d.labels[rule])
        rows.append((t, recall or 0.0, precision or 0.0, add_tp, add_fp, sum(added(d) for d in fixtures)))
    return rows


def similarity_reports(
    docs: list[Doc],
    fixtures: list[Doc],
    verdicts: dict[str, Verdict],
    rule_ids: list[str],
    scores: dict[str, dict[str, float]],
    meta: dict,
    show_errors: bool,
) -> None:
    print(
        f"\n==================== with the similarity layer ({meta.get('model', '?')}, "
        f"references: {meta.get('references', '?')}) ===================="
    )
    chosen: dict[str, dict[str, float]] = {"gate": {}, "alone": {}}
    for rule in GATES:
        if rule not in rule_ids:
            continue
        evaluable = [d for d in docs if rule in scores.get(d.id, {})]

        def base(d: Doc, rule: str = rule) -> bool:
            return rule in verdicts[d.id].rules

        for policy in ("gate", "alone"):

            def extra(d: Doc, rule=rule, policy=policy) -> float | None:
                s = scores.get(d.id, {}).get(rule)
                if s is None or (policy == "gate" and not gate_open(rule, verdicts[d.id])):
                    return None
                return s

            rows = best_thresholds(evaluable, rule, base, extra, fixtures)
            undecided = [d for d in evaluable if not base(d) and extra(d) is not None]
            pos = [extra(d) for d in undecided if d.labels[rule]]
            neg = [extra(d) for d in undecided if not d.labels[rule]]
            if policy == "gate":
                print(
                    f"\n{rule}: {len(undecided)} items pass the entity gate but not the rule "
                    f"({len(pos)} relevant): similarity AUC among them {fmt(auc(pos, neg))}"
                )
            # highest recall whose additions are at least 90 % right and add no alert on the real fixtures
            ok = [r for r in rows if r[5] == 0 and r[4] <= 0.1 * (r[3] + r[4])]
            pick = max(ok, key=lambda r: (r[1], r[0])) if ok else rows[-1]
            chosen[policy][rule] = pick[0]
            label = "entity gate + similarity" if policy == "gate" else "similarity alone"
            print(f"\n{rule}, keywords OR {label} >= T")
            print(
                f"  {'T':>5} {'recall':>6} {'precision':>9} {'added TP':>8} {'added FP':>8} {'fixture alerts':>14}"
            )
            previous = None
            for t, recall, precision, add_tp, add_fp, alerts in rows:
                state = (add_tp, add_fp, alerts)
                if t == pick[0] or (state != previous and alerts < 50 and add_tp + add_fp):
                    mark = (
                        "  <- chosen: highest recall, additions >= 90 % right, no fixture alert"
                        if t == pick[0]
                        else ""
                    )
                    print(
                        f"  {t:5.2f} {recall:6.2f} {precision:9.2f} {add_tp:8} {add_fp:8} {alerts:14}{mark}"
                    )
                previous = state
    for policy in ("gate", "alone"):

        def predict(d: Doc, rule: str, policy=policy) -> bool:
            if rule in verdicts[d.id].rules:
                return True
            t = chosen[policy].get(rule)
            s = scores.get(d.id, {}).get(rule)
            if t is None or s is None:
                return False
            return s >= t and (policy == "alone" or gate_open(rule, verdicts[d.id]))

        name = (
            "keywords + (entity gate AND similarity)" if policy == "gate" else "keywords + similarity alone"
        )
        thresholds = ", ".join(f"{r} {t:.2f}" for r, t in chosen[policy].items())
        report(f"{name} [{thresholds}]", docs, rule_ids, predict, fixtures, show_errors)


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=Path, action="append", help="rule file or folder (default rules/)")
    parser.add_argument("--set", type=Path, default=LABELLED, help="labelled JSONL")
    parser.add_argument(
        "--similarity", type=Path, help="precomputed similarity scores (bench/relevance_embed.py)"
    )
    parser.add_argument(
        "--dump-docs", type=Path, help="write every document (id, language, lead) as JSONL and stop"
    )
    parser.add_argument("--no-fixtures", action="store_true", help="skip the real unrelated fixture articles")
    parser.add_argument(
        "--join",
        action="store_true",
        help="experiment: match title + summary of short items (<= 400 chars) as one sentence",
    )
    parser.add_argument("--show-errors", action="store_true", help="list every missed item and false alarm")
    args = parser.parse_args()

    docs = labelled(args.set)
    fixtures = [] if args.no_fixtures else unrelated_fixtures()
    if args.dump_docs:
        with args.dump_docs.open("w", encoding="utf-8") as out:
            for d in docs + fixtures:
                out.write(
                    json.dumps(
                        {
                            "id": d.id,
                            "language": d.language,
                            "kind": d.kind,
                            "source": d.source,
                            "lead": d.lead(),
                            "labels": d.labels,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        print(f"wrote {len(docs) + len(fixtures)} documents to {args.dump_docs}")
        return 0
    rule_paths = args.rules or [ROOT / "rules"]
    matcher, rule_ids = matcher_with_probes(rule_paths)
    rule_ids = [r for r in rule_ids if any(r in d.labels for d in docs)]
    verdicts = run(matcher, docs + fixtures, join=args.join)
    print(
        f"labelled items: {len(docs)} ({', '.join(f'{k} {v}' for k, v in Counter(d.language for d in docs).most_common())}); "
        f"rules: {', '.join(rule_ids)}"
    )
    pack = "the current pack" if not args.rules else ", ".join(map(str, args.rules))
    report(
        f"keywords only ({pack}{'; title+summary joined' if args.join else ''})",
        docs,
        rule_ids,
        lambda d, r: r in verdicts[d.id].rules,
        fixtures,
        args.show_errors,
    )
    if args.similarity:
        scores, meta = similarity_scores(args.similarity)
        similarity_reports(docs, fixtures, verdicts, rule_ids, scores, meta, args.show_errors)
    else:
        print(
            "\n(similarity layer: not measured; pass --similarity SCORES.json from bench/relevance_embed.py)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
