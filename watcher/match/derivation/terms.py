"""Distinguishing terms: words and two-word phrases much more frequent in the
seeds than in the background, by the log-odds ratio with an informative
Dirichlet prior (Monroe, Colaresi and Quinn, 2008)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from watcher.match.derivation.words import STOP
from watcher.text.fold import normalise


@dataclass(frozen=True)
class ProposedTerm:
    term: str
    documents: int  # seed documents that contain it
    score: float  # log-odds z-score against the background


def _grams(text: str) -> tuple[Counter, dict[str, Counter]]:
    view = normalise(text)
    words = view.text.split(" ") if view.text else []
    counts: Counter = Counter()
    shown: dict[str, Counter] = defaultdict(Counter)
    for i in range(len(words)):
        for size in (1, 2):
            gram = words[i : i + size]
            if len(gram) < size or not _useful(gram):
                continue
            key = " ".join(gram)
            counts[key] += 1
            first = view.token_starts[i]
            last = view.token_starts[i + size - 1] + len(gram[-1])
            start, end = view.span(first, last)
            shown[key][text[start:end].replace("’", "'")] += 1
    return counts, shown


def _useful(gram: list[str]) -> bool:
    if any(w.isdigit() or len(w) < 2 for w in gram):
        return False
    if gram[0] in STOP or gram[-1] in STOP:
        return False
    return len(gram) == 2 or len(gram[0]) >= 3


def propose_terms(
    seeds: list[str], background: list[str], limit: int, covered: set[str]
) -> list[ProposedTerm]:
    seed_counts: Counter = Counter()
    seed_docs: Counter = Counter()
    shown: dict[str, Counter] = defaultdict(Counter)
    for text in seeds:
        counts, forms = _grams(text)
        seed_counts.update(counts)
        seed_docs.update(counts.keys())
        for k, v in forms.items():
            shown[k].update(v)
    background_counts: Counter = Counter()
    for text in background:
        background_counts.update(_grams(text)[0])
    scored = _log_odds(seed_counts, background_counts)
    out = []
    for key, z in sorted(scored.items(), key=lambda kv: -kv[1]):
        if (
            seed_docs[key] < min(2, len(seeds))
            or z < 1.96
            or key in covered
            or any(w in covered for w in key.split())
        ):
            continue
        form = shown[key].most_common(1)[0][0]
        out.append(ProposedTerm(form if not form.istitle() else form.lower(), seed_docs[key], round(z, 2)))
        if len(out) >= limit:
            break
    return out


def _log_odds(a: Counter, b: Counter, prior_size: float = 500.0) -> dict[str, float]:
    """z-scores of the log-odds ratio of each key in ``a`` against ``b`` (informative Dirichlet prior)."""
    total = a + b
    n_total = sum(total.values()) or 1
    n_a, n_b = sum(a.values()), sum(b.values())
    scores = {}
    for key, count in a.items():
        alpha = prior_size * total[key] / n_total
        ya, yb = count, b.get(key, 0)
        delta = math.log((ya + alpha) / (n_a + prior_size - ya - alpha)) - math.log(
            (yb + alpha) / (n_b + prior_size - yb - alpha)
        )
        scores[key] = delta / math.sqrt(1 / (ya + alpha) + 1 / (yb + alpha))
    return scores
