"""Extraction quality and speed through watcher's Extractor, over ALL real pages.

    .venv/bin/python bench/extraction_quality.py

Prints, for the scrapinghub article-extraction-benchmark pages (gold
articleBody), precision / recall / F1 computed exactly as that benchmark's
evaluate.py does (token 4-gram shingles, per-page tp/fp/fn normalised to sum
to 1, precision and recall averaged over pages, F1 of the two means), plus
the mean per-page F1; for the trafilatura evaluation pages, the share of
"with" snippets present and "without" snippets absent; then pages per second
and the worker's peak RSS. tests/test_extraction.py imports the scoring from
here (by path) and asserts the thresholds.
"""

from __future__ import annotations

import gzip
import json
import re
import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real" / "html"
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class GoldPage:
    name: str
    url: str
    html: bytes
    body: str  # scrapinghub gold articleBody


@dataclass(frozen=True)
class SnippetPage:
    name: str
    url: str
    html: bytes
    present: tuple[str, ...]  # trafilatura eval "with"
    absent: tuple[str, ...]  # trafilatura eval "without"


def gold_pages(root: Path = REAL) -> list[GoldPage]:
    truth = json.loads((root / "scrapinghub" / "ground-truth.json").read_text("utf-8"))
    return [
        GoldPage(
            key,
            item["url"],
            gzip.decompress((root / "scrapinghub" / f"{key}.html.gz").read_bytes()),
            item.get("articleBody", ""),
        )
        for key, item in sorted(truth.items())
    ]


def snippet_pages(root: Path = REAL) -> list[SnippetPage]:
    data = json.loads((root / "trafilatura" / "evaldata.json").read_text("utf-8"))
    return [
        SnippetPage(
            item["file"],
            url,
            (root / "trafilatura" / item["file"]).read_bytes(),
            tuple(item.get("with", [])),
            tuple(item.get("without", [])),
        )
        for url, item in sorted(data.items())
    ]


# --- the scrapinghub benchmark's metric -------------------------------------


def shingle_match(true: str, pred: str, n: int = 4) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) over token n-gram shingles, as evaluate.py does."""
    truth, guess = _shingles(true, n), _shingles(pred, n)
    tp = fp = fn = 0
    for key in truth.keys() | guess.keys():
        tp += min(truth[key], guess[key])
        fp += max(0, guess[key] - truth[key])
        fn += max(0, truth[key] - guess[key])
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _shingles(text: str, n: int) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def benchmark_scores(matches: list[tuple[float, float, float]]) -> dict[str, float]:
    precision = statistics.mean(_precision(*m) for m in matches if m[0] + m[1] > 0)
    recall = statistics.mean(_recall(*m) for m in matches if m[0] + m[2] > 0)
    per_page = [_f1(_precision(*m), _recall(*m)) for m in matches]
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "mean_page_f1": statistics.mean(per_page),
        "pages": len(matches),
    }


def snippet_scores(results: list[tuple[SnippetPage, str]]) -> dict[str, float]:
    present = [s in text for page, text in results for s in page.present]
    absent = [s not in text for page, text in results for s in page.absent]
    return {
        "with": sum(present) / len(present),
        "without": sum(absent) / len(absent),
        "all": (sum(present) + sum(absent)) / (len(present) + len(absent)),
        "pages": len(results),
    }


# --- running the Extractor --------------------------------------------------


def extract_text(extractor, html: bytes, url: str) -> str:
    from watcher.extract.extractor import ExtractionError

    try:
        return extractor.extract(html, url=url).text
    except ExtractionError:
        return ""


def score_gold(extractor, pages: list[GoldPage]) -> dict[str, float]:
    return benchmark_scores([shingle_match(p.body, extract_text(extractor, p.html, p.url)) for p in pages])


def score_snippets(extractor, pages: list[SnippetPage]) -> dict[str, float]:
    return snippet_scores([(p, extract_text(extractor, p.html, p.url)) for p in pages])


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from watcher.extract.extractor import Extractor

    gold, snippets = gold_pages(), snippet_pages()
    with Extractor() as extractor:
        extract_text(extractor, gold[0].html, gold[0].url)  # warm the worker
        started = time.perf_counter()
        gold_scores = score_gold(extractor, gold)
        snip_scores = score_snippets(extractor, snippets)
        elapsed = time.perf_counter() - started
    pages = len(gold) + len(snippets)
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"scrapinghub ({gold_scores['pages']} pages): precision {gold_scores['precision']:.3f}  "
        f"recall {gold_scores['recall']:.3f}  F1 {gold_scores['f1']:.3f}  "
        f"mean page F1 {gold_scores['mean_page_f1']:.3f}"
    )
    print(
        f"trafilatura eval ({snip_scores['pages']} pages): with {snip_scores['with']:.1%}  "
        f"without {snip_scores['without']:.1%}  all {snip_scores['all']:.1%}"
    )
    print(
        f"speed: {pages} pages in {elapsed:.1f} s = {pages / elapsed:.1f} pages/s "
        f"(mean page {sum(len(p.html) for p in gold) // len(gold) // 1024} kB)"
    )
    print(
        f"peak RSS: worker {worker_rss:.0f} MB, parent "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
