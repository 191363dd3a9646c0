"""What trafilatura's options buy in quality, against what they cost in time.

    .venv/bin/python bench/extraction_options.py [--rounds 3]

For each combination of ``favor_precision``, the readability/justext fallback
(``fast=True`` turns it off) and ``with_metadata``, over the same real pages
(../shared/fixtures/real/html: the scrapinghub gold pages and the trafilatura
evaluation pages), in this one process with trafilatura called directly:

- F1 on the scrapinghub gold article bodies, scored exactly as
  bench/extraction_quality.py (the benchmark's own evaluate.py) does;
- the share of the trafilatura evaluation's "with" snippets found and
  "without" snippets kept out;
- CPU milliseconds per page (process time, so that other work on a shared
  machine counts less; median of ``--rounds`` rounds after a warm-up round,
  the variants interleaved), and the ratio to the watcher's previous settings
  (precision + fallback + metadata);
- how often metadata gave a title, an author and a date.

Not a test: the times vary with the machine; read the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _quality():
    spec = importlib.util.spec_from_file_location("extraction_quality", HERE / "extraction_quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


VARIANTS = {
    # name: (favor_precision, fast (no fallback), with_metadata)
    "precision+fallback+metadata (before)": (True, False, True),
    "precision+fallback": (True, False, False),
    "precision+metadata, no fallback": (True, True, True),
    "precision, no fallback": (True, True, False),
    "default+fallback+metadata": (False, False, True),
    "default+fallback": (False, False, False),
    "default+metadata, no fallback": (False, True, True),
    "default, no fallback": (False, True, False),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    import trafilatura

    quality = _quality()
    gold, snippets = quality.gold_pages(), quality.snippet_pages()
    pages = [(p.html, p.url) for p in gold] + [(p.html, p.url) for p in snippets]
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outputs: dict[str, list] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms caches up and is not counted
        for name, (precision, fast, metadata) in VARIANTS.items():
            options = {
                "include_comments": False,
                "favor_precision": precision,
                "fast": fast,
                "with_metadata": metadata,
                "deduplicate": False,
            }
            started = time.process_time()
            docs = [trafilatura.bare_extraction(html, url=url, **options) for html, url in pages]
            if round_:
                times[name].append((time.process_time() - started) / len(pages) * 1000)
            outputs[name] = docs
    base = statistics.median(times["precision+fallback+metadata (before)"])
    print(f"{len(gold)} gold pages, {len(snippets)} snippet pages, {args.rounds} rounds\n")
    print(
        f"{'variant':40} {'F1':>6} {'P':>6} {'R':>6} {'with':>6} {'w/out':>6} {'CPU ms':>8} {'ratio':>6}"
        f" {'title':>6} {'author':>6} {'date':>6}"
    )
    for name in VARIANTS:
        docs = outputs[name]
        texts = [(d.text if d is not None else "") or "" for d in docs]
        scores = quality.benchmark_scores(
            [quality.shingle_match(p.body, t) for p, t in zip(gold, texts[: len(gold)], strict=True)]
        )
        snips = quality.snippet_scores(list(zip(snippets, texts[len(gold) :], strict=True)))
        ms = statistics.median(times[name])
        meta = [d for d in docs if d is not None]
        share = {
            field: sum(bool(getattr(d, field, None)) for d in meta) / max(1, len(meta))
            for field in ("title", "author", "date")
        }
        print(
            f"{name:40} {scores['f1']:6.3f} {scores['precision']:6.3f} {scores['recall']:6.3f} "
            f"{snips['with']:6.1%} {snips['without']:6.1%} {ms:8.1f} {ms / base:6.2f}"
            f" {share['title']:6.0%} {share['author']:6.0%} {share['date']:6.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
