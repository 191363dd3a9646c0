"""Matcher cost per article as the number of rules grows: 10, 100, 1,000, 10,000.

    .venv/bin/python bench/matcher.py [--rounds 9] [--sizes 10,100,1000,10000] [--baseline] [--source DIR]

Documents: the seed corpus (seeds/) and the real gold article texts in
../shared/fixtures/real/html/scrapinghub/ground-truth.json (when present).
Rules: the default pack (rules/) plus synthetic rules, each with its own
entity (three invented aliases that never occur in the text) combined with
shared common words ("army", "government", "said", ...) that DO occur, some
inside `near` conditions. A matcher whose cost grew with the rule count (a loop
of regexes, or evaluating every rule on every article) would show it here.

Prints, per rule count: time to load+compile the rules, the median over rounds
(rounds interleave the rule counts) of the mean cost per article (folding
included), that cost when the text comes already folded (as the pipeline
hands it: one folding shared with search and dedup), the bare building block
measured in the same rounds (pyahocorasick over ``str.casefold()`` of the
text, with the same terms, no word boundaries, no rules) and the ratio to it;
with --baseline, the cost of the approach it replaces (one regex per alias, in
a loop), which grows with the rules. No assertions: this is a measurement,
not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# --source DIR: measure the matcher of another checkout (before a change), on the same documents.
SOURCE = Path(sys.argv[sys.argv.index("--source") + 1]).resolve() if "--source" in sys.argv else ROOT
sys.path.insert(0, str(SOURCE))

import ahocorasick  # noqa: E402

from watcher.match.matcher import Document, Matcher  # noqa: E402
from watcher.match.rules import load_rules  # noqa: E402
from watcher.text.fold import normalise  # noqa: E402

GOLD = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "scrapinghub" / "ground-truth.json"
COMMON = ["army", "government", "said", "training", "president", "market", "police", "minister", "company"]


def documents() -> list[Document]:
    docs = [
        Document(p.stem, "", p.read_text(encoding="utf-8")) for p in sorted((ROOT / "seeds").glob("*.txt"))
    ]
    if GOLD.exists():
        gold = json.loads(GOLD.read_text(encoding="utf-8"))
        docs += [Document(key, "", value["articleBody"]) for key, value in sorted(gold.items())]
    return docs


def invented(i: int) -> str:
    letters = ""
    n = i
    for _ in range(4):
        letters += "bcdfghjklmnpqrstvwxz"[n % 20] + "aeiou"[(n // 20) % 5]
        n //= 100
    return letters.capitalize()


def synthetic_rules(count: int) -> str:
    out = []
    for i in range(count):
        name = invented(i)
        words = [COMMON[i % len(COMMON)], COMMON[(i * 7 + 3) % len(COMMON)]]
        out.append(
            f'[[entities]]\nid = "syn-{i}"\nname = "{name} Quorvath"\nkind = "person"\n'
            f'aliases = ["{name} Qorvath", "Minister {name}ov"]\n'
        )
        if i % 10 == 0:
            condition = (
                f'{{ near = [{{ entity = "syn-{i}" }}, {{ terms = {json.dumps(words)} }}], within = 10 }}'
            )
        else:
            condition = f'{{ all = [{{ entity = "syn-{i}" }}, {{ terms = {json.dumps(words)} }}] }}'
        out.append(
            f'[[rules]]\nid = "syn-{i}"\ntitle = "Synthetic {i}"\nseverity = "low"\ncondition = {condition}\n'
        )
    return "\n".join(out)


def measure_one(matcher: Matcher, docs: list[Document], views: list[dict] | None = None) -> float:
    start = time.perf_counter()
    if views is None:
        for doc in docs:
            matcher.match(doc)
    else:
        for doc, view in zip(docs, views, strict=True):
            matcher.match(doc, view)
    return (time.perf_counter() - start) / len(docs)


def bare_automaton(matcher: Matcher):
    """The building block alone: pyahocorasick with the matcher's terms."""
    automaton = ahocorasick.Automaton()
    for key in matcher._keys:
        if key:
            automaton.add_word(key, len(key))
    automaton.make_automaton()
    return automaton


def measure_bare(automaton, docs: list[Document]) -> float:
    start = time.perf_counter()
    for doc in docs:
        for _ in automaton.iter(doc.title.casefold()):
            pass
        for _ in automaton.iter(doc.text.casefold()):
            pass
    return (time.perf_counter() - start) / len(docs)


def naive_cost(rules, docs: list[Document]) -> float:
    """The approach this matcher replaces: one compiled regex per alias/term, tried in a loop."""
    import re

    strings = {a for e in rules.entities for a in e.aliases}
    patterns = [re.compile(r"\b" + re.escape(s.rstrip("*")) + r"\b", re.IGNORECASE) for s in strings]
    start = time.perf_counter()
    for doc in docs:
        for pattern in patterns:
            pattern.search(doc.text)
    return (time.perf_counter() - start) / len(docs)


def normalisation_cost(docs: list[Document], rounds: int) -> float:
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for doc in docs:
            normalise(doc.title)
            normalise(doc.text)
        per_round.append((time.perf_counter() - start) / len(docs))
    return statistics.median(per_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose matcher is measured")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time a loop of one regex per alias (on 10 articles, one round)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    docs = documents()
    chars = sum(len(d.text) for d in docs) / len(docs)
    print(f"{len(docs)} articles, {chars:.0f} characters on average; median of {args.rounds} rounds")
    built = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "synthetic.toml"
            path.write_text(synthetic_rules(size - 3), encoding="utf-8")  # + the 3 rules of the pack
            start = time.perf_counter()
            rules = load_rules([ROOT / "rules", path])
            matcher = Matcher(rules)
            built.append((rules, matcher, time.perf_counter() - start))
    # Rounds interleave the rule counts, so drift in machine load hits every size alike.
    samples: list[list[float]] = [[] for _ in sizes]
    prefolded: list[list[float]] = [[] for _ in sizes]
    bare: list[list[float]] = [[] for _ in sizes]
    automata = [bare_automaton(matcher) for _, matcher, _ in built]
    views: list[dict] | None = [{"title": normalise(d.title), "text": normalise(d.text)} for d in docs]
    try:
        built[0][1].match(docs[0], views[0])  # type: ignore[index]
    except TypeError:  # a matcher from before the shared folding
        views = None
    normalising: list[float] = []
    for _ in range(args.rounds):
        normalising.append(normalisation_cost(docs, 1))
        for i, (_, matcher, _) in enumerate(built):
            samples[i].append(measure_one(matcher, docs))
            prefolded[i].append(measure_one(matcher, docs, views) if views else float("nan"))
            bare[i].append(measure_bare(automata[i], docs))
    base_norm = statistics.median(normalising)
    print(f"folding alone: {base_norm * 1000:.3f} ms/article (independent of the rules)")
    print(
        f"{'rules':>7} {'load+compile s':>15} {'ms/article':>11} {'text folded':>12} "
        f"{'bare aho+casefold':>18} {'ratio':>6} {'matches':>8}"
        + (f" {'regex loop ms':>14}" if args.baseline else "")
    )
    for (rules, matcher, compile_time), costs, folded, plain in zip(
        built, samples, prefolded, bare, strict=True
    ):
        cost, given, block = statistics.median(costs), statistics.median(folded), statistics.median(plain)
        matches = sum(len(matcher.match(d)) for d in docs)
        naive = f" {naive_cost(rules, docs[:10]) * 1000:>14.2f}" if args.baseline else ""
        print(
            f"{len(rules.rules):>7} {compile_time:>15.2f} {cost * 1000:>11.3f} {given * 1000:>12.3f} "
            f"{block * 1000:>18.3f} {cost / block:>6.1f} {matches:>8}{naive}"
        )


if __name__ == "__main__":
    main()
