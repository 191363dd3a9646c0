"""watcher.extraction: quality on real gold pages, and the worker's bounds
(deadline, memory, garbage, a dead worker) as a user of Extractor sees them."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path

from concurrent.futures import ThreadPoolExecutor

import pytest
from support import wait_for

from watcher import app
from watcher.dedup import digest, identity, similarity
from watcher.extract.extractor import Extracted, ExtractionError, Extractor

ROOT = Path(__file__).resolve().parents[2]
REAL_HTML = ROOT.parent / "shared" / "fixtures" / "real" / "html"
VENTUREBEAT = "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85"


def _quality_module():
    """bench/extraction_quality.py holds the benchmark's metric; one copy of it."""
    spec = importlib.util.spec_from_file_location(
        "extraction_quality", ROOT / "bench" / "extraction_quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


quality = _quality_module()


@pytest.fixture(scope="module")
def extractor():
    with Extractor(timeout=30, memory_mb=768) as shared:
        yield shared


@pytest.fixture(scope="module")
def normal_page() -> tuple[bytes, str]:
    page = next(p for p in quality.gold_pages(REAL_HTML) if p.name == VENTUREBEAT)
    return page.html, page.url


def flat_divs(size: int = 12_000_000) -> bytes:
    """The hostile page: 12 MB of tiny sibling <div>s (trafilatura alone: minutes, GBs)."""
    return b"<html><body>" + b"<div>x</div>" * (size // 12) + b"</body></html>"


# --- quality, through our Extractor -----------------------------------------


def test_scrapinghub_gold_f1(extractor):
    pages = quality.gold_pages(REAL_HTML)
    assert len(pages) >= 100
    scores = quality.score_gold(extractor, pages)
    assert scores["f1"] >= 0.93, scores
    assert scores["mean_page_f1"] >= 0.93, scores


def test_trafilatura_eval_snippets(extractor):
    pages = quality.snippet_pages(REAL_HTML)
    assert len(pages) >= 35
    scores = quality.score_snippets(extractor, pages)
    assert scores["with"] >= 0.90, scores
    assert scores["without"] >= 0.90, scores


def test_metric_matches_the_benchmark_on_known_cases():
    assert quality.shingle_match("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    assert quality.shingle_match("a b c d", "") == (0.0, 0.0, 1.0)
    tp, fp, fn = quality.shingle_match("one two three four five", "one two three four six")
    assert (tp, fp, fn) == (1 / 3, 1 / 3, 1 / 3)
    scores = quality.benchmark_scores([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5


def test_text_and_metadata_of_a_real_article(extractor, normal_page):
    html, url = normal_page
    result = extractor.extract(html, url=url)
    assert isinstance(result, Extracted)
    assert result.text.startswith(
        "(Reuters) — The New York State Attorney General (NYAG) is investigating WeWork"
    )
    assert result.title == "New York State Attorney General investigating WeWork and former CEO"
    assert result.author == "Reuters"
    assert result.published == "2019-11-18"
    assert result.language == "en-us"


def test_legacy_turkish_encoding_is_decoded(extractor):
    paragraph = (
        "Türkiye ile Suriye arasındaki savunma işbirliği görüşmeleri Ankara'da "
        "yeniden başladı; heyetler güvenlik, sınır ve eğitim konularını ele aldı. "
    )
    body = "".join(f"<p>{paragraph * 3}</p>" for _ in range(5))
    html = (
        f'<html lang="tr"><head><meta charset="iso-8859-9"><title>Savunma işbirliği</title></head>'
        f"<body><article><h1>Savunma işbirliği</h1>{body}</article></body></html>"
    ).encode("iso-8859-9")
    result = extractor.extract(html, url="https://haber.example.com.tr/savunma")
    assert "savunma işbirliği görüşmeleri" in result.text
    assert result.language == "tr"


# --- bounds ------------------------------------------------------------------


def test_hostile_page_is_cut_by_the_deadline_and_the_extractor_recovers(normal_page):
    html, url = normal_page
    with Extractor(timeout=2, memory_mb=4096) as short:
        with pytest.raises(ExtractionError) as caught:
            short.extract(flat_divs(), url="https://hostile.example/")
        assert caught.value.kind == "timeout"
        assert "longer than 2 s" in str(caught.value)
        assert short.extract(html, url=url).title.startswith("New York State Attorney General")


def test_memory_bomb_is_cut_by_the_memory_bound_and_the_extractor_recovers(normal_page):
    html, url = normal_page
    with Extractor(timeout=300, memory_mb=300) as small:
        with pytest.raises(ExtractionError) as caught:
            small.extract(flat_divs(), url="https://hostile.example/")
        assert caught.value.kind == "memory"
        assert small.extract(html, url=url).author == "Reuters"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"   \n\t ",
        os.urandom(200_000),
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400,
        b"%PDF-1.7\n" + b"\x00" * 10_000,
        b"<html><body></body></html>",
        b"<" * 100_000,
    ],
    ids=["empty", "blank", "random", "png", "pdf", "no-text", "angles"],
)
def test_garbage_is_an_error_not_a_crash(extractor, normal_page, garbage):
    with pytest.raises(ExtractionError) as caught:
        extractor.extract(garbage, url="https://garbage.example/")
    assert caught.value.kind in ("empty", "failed")
    html, url = normal_page
    assert extractor.extract(html, url=url).text


def test_the_worker_stays_warm_and_a_killed_worker_is_replaced(normal_page):
    html, url = normal_page
    with Extractor(timeout=30, workers=1) as extractor:
        first = extractor.extract(html, url=url)
        [pid] = extractor.pids()
        assert extractor.extract(html, url=url) == first and extractor.pids() == [pid]
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
        assert extractor.extract(html, url=url) == first
        assert extractor.pids() != [pid]


def test_the_worker_is_recycled_after_some_pages(normal_page):
    html, url = normal_page
    with Extractor(timeout=30, recycle_after=2, workers=1) as extractor:
        pids = []
        for _ in range(5):
            extractor.extract(html, url=url)
            pids += extractor.pids()
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


# --- the pool (issue 11) ------------------------------------------------------


def test_pages_are_extracted_by_several_workers_at_once(normal_page):
    html, url = normal_page
    pages = quality.gold_pages(REAL_HTML)[:6]
    with Extractor(timeout=60, workers=2) as extractor:
        with ThreadPoolExecutor(4) as pool:
            titles = list(pool.map(lambda p: extractor.extract(p.html, url=p.url).title, pages))
        assert len(extractor.pids()) == 2  # both workers took pages
    assert titles[0] == "New York State Attorney General investigating WeWork and former CEO"
    assert all(titles)
    assert extractor.pids() == []  # closed: no worker left


def test_a_hung_page_never_stalls_the_pages_behind_it(normal_page):
    html, url = normal_page
    with Extractor(timeout=10, memory_mb=4096, workers=2) as extractor:
        hostile = ThreadPoolExecutor(1).submit(extractor.extract, flat_divs(), url="https://hostile.example/")
        done_while_hung = 0
        for _ in range(4):
            assert extractor.extract(html, url=url).author == "Reuters"
            done_while_hung += not hostile.done()
        assert done_while_hung >= 1  # the other worker went on while one was stuck
        with pytest.raises(ExtractionError) as caught:
            hostile.result(timeout=120)
        assert caught.value.kind == "timeout"
        assert extractor.extract(html, url=url).author == "Reuters"


def test_idle_workers_exit_and_come_back_on_demand(normal_page):
    html, url = normal_page
    with Extractor(timeout=30, workers=2, idle_exit=0.5) as extractor:
        assert extractor.pids() == []  # nothing runs before the first page
        first = extractor.extract(html, url=url)
        assert len(extractor.pids()) == 1  # a light load keeps one worker, not the pool
        [pid] = extractor.pids()
        wait_for(lambda: extractor.pids() == [], timeout=60, interval=0.1)
        with pytest.raises(ProcessLookupError):  # the process is gone, not a zombie
            os.kill(pid, 0)
        assert extractor.extract(html, url=url) == first
        assert len(extractor.pids()) == 1


def test_the_watchers_workers_hash_and_fingerprint_the_text(normal_page):
    html, url = normal_page
    with app.extractor() as extractor:
        got = extractor.extract(html, url=url)
    assert got.derived["content_hash"] == identity.content_hash(got.text)
    assert got.derived["fingerprint"] == similarity.fingerprint(got.text)
    assert digest.of(got.text, got.derived) == digest.of(got.text)


def test_the_run_process_stores_what_it_would_have_folded_and_hashed_itself():
    """The fold, content hash and SimHash come back from the worker with the text
    (issue 11): on real pages in several languages they are what the run process
    made of the same text before, so stored hashes, fingerprints and the search
    index do not change."""
    from watcher.pipeline.batch import Body
    from watcher.pipeline.ingest import fold

    pages = sorted((REAL_HTML / "trafilatura").glob("*.html"))[::3][:12]
    assert len(pages) == 12
    with app.extractor() as extractor:
        for page in pages:
            got = extractor.extract(page.read_bytes(), url=f"https://example.com/{page.name}")
            assert got.derived["folded"].original == got.text  # folded in the worker
            title = got.title or page.stem
            shipped = fold(title, Body(got.text, "full", None, derived=got.derived))
            here = fold(title, Body(got.text, "full", None))  # as the run process folded it before
            assert shipped.text is got.derived["folded"]  # reused, not folded again
            assert shipped.text.text == here.text.text and shipped.title.text == here.title.text
            assert shipped.text.first == here.text.first
            assert shipped.text.word_starts == here.text.word_starts
            assert shipped.text.words == here.text.words
            assert (shipped.content_hash, shipped.simhash) == (here.content_hash, here.simhash)
            assert shipped.content_hash is not None and shipped.simhash is not None
            hit = here.text.text.split()[len(here.text.words) // 2]
            at = here.text.text.index(hit)
            assert shipped.text.span(at, at + len(hit)) == here.text.span(at, at + len(hit))


def test_deeply_nested_divs_end_quickly_as_empty(extractor):
    depth = 1_000_000
    html = b"<html><body>" + b"<div>x" * depth + b"</div>" * depth + b"</body></html>"
    with pytest.raises(ExtractionError) as caught:
        extractor.extract(html, url="https://hostile.example/nested")
    assert caught.value.kind == "empty"


def test_too_small_memory_bound_says_which_setting_to_raise(normal_page):
    html, url = normal_page
    with Extractor(timeout=30, memory_mb=16) as tiny, pytest.raises(ExtractionError) as caught:
        tiny.extract(html, url=url)
    assert caught.value.kind == "failed"
    assert "memory_mb" in str(caught.value)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Extractor(timeout=0)
    with pytest.raises(ValueError):
        Extractor(memory_mb=0)
    with pytest.raises(ValueError):
        Extractor(recycle_after=0)
    with pytest.raises(ValueError):
        Extractor(workers=0)
    with pytest.raises(ValueError):
        Extractor(idle_exit=0)
