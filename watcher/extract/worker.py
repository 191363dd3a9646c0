"""The extraction worker: trafilatura in a child process behind a memory bound.

Started by :class:`watcher.extract.extractor.Extractor` (through
:class:`watcher.workerprocess.WorkerProcess`) as
``python -m watcher.extract.worker FD MEMORY_BYTES [POST]``, talking pickled
messages over the socket FD (a ``multiprocessing.connection.Connection``).
trafilatura is imported inside :func:`serve`, in the child only. The child caps its own
address space (RLIMIT_AS), says ``("ready", None)`` and then answers requests
from its pipe until it receives ``None`` or the pipe closes:

    request:  (html: bytes, url: str, metadata: bool)
    reply:    ("ok", {"text", "title", "author", "published", "language", "derived"})
              | ("empty" | "memory" | "failed", message)

POST ("module:function", optional) is imported once at start-up and called on
each extracted text; the dict it returns is the reply's ``derived`` (empty when
it fails: the parent then computes the same itself).

After a ``MemoryError`` the child replies and exits (its heap is suspect); the
parent starts a fresh one for the next page. The parent enforces the
wall-clock deadline by killing the child.
"""

from __future__ import annotations

import importlib
import logging
import re
import signal
import sys
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection

from watcher import workerprocess

_NEAR_BOUND = 0.75  # share of the memory bound that marks a page as a memory hog
_LANG_SNIFF = 200_000  # bytes of the page searched for a declared language
_DECLARED_LANGUAGE = [
    re.compile(rb"<html\b[^<>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)", re.I),
    re.compile(
        rb"<meta\b[^<>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^<>]*?"
        rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)",
        re.I,
    ),
    re.compile(
        rb"<meta\b[^<>]*?property\s*=\s*[\"']?og:locale[\"']?[^<>]*?"
        rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)",
        re.I,
    ),
]

# trafilatura's settings, chosen by bench/extraction_options.py (README, "Parsing and
# extraction"): precision favoured (higher precision at no cost), the fallback
# extractors kept (F1 0.967 against 0.962 without, for a fifth of the time), comments
# are not the article. Metadata (title, author, date: another fifth of the time) only
# when the caller asks, i.e. when the feed did not give a title and a date.
_OPTIONS = {
    "include_comments": False,
    "favor_precision": True,
    "fast": False,
    "deduplicate": False,
}


def serve(conn, memory_bytes: int, post: str | None = None) -> None:
    """Child process entry point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    logging.disable(logging.CRITICAL)  # trafilatura's warnings would go to our stderr
    warnings.simplefilter("ignore")
    import trafilatura

    try:
        derive = _load(post)
    except Exception as exc:  # a wrong name is a bug in the caller: say so, once, at start-up
        conn.send(("failed", f"cannot load the post-extraction function {post}: {exc}"))
        return
    if not workerprocess.bound_and_ready(
        conn, memory_bytes, 1.5, "the extraction worker", "raise [extraction] memory_mb"
    ):
        return

    def answer(request) -> tuple[str, object]:
        return _near_bound(_derived(_extract(trafilatura, *request), derive), memory_bytes)

    def near_bound(reply: tuple[str, object]) -> bool:  # a fresh worker for the next page
        return _peak_address_space() >= _NEAR_BOUND * memory_bytes

    workerprocess.serve(conn, answer, near_bound)


def _load(post: str | None) -> Callable[[str], dict] | None:
    if not post:
        return None
    module, _, name = post.partition(":")
    return getattr(importlib.import_module(module), name)


def _derived(reply: tuple, derive: Callable[[str], dict] | None) -> tuple:
    """The post-extraction text work, here rather than in the parent."""
    if reply[0] != "ok":
        return reply
    derived: dict = {}
    if derive is not None:
        try:
            derived = dict(derive(reply[1]["text"]))
        except MemoryError:
            return ("memory", "the page needed more memory than the extraction bound allows")
        except Exception:
            derived = {}  # the parent computes the same itself
    return ("ok", {**reply[1], "derived": derived})


def _near_bound(reply: tuple, memory_bytes: int) -> tuple:
    """libxml2 out of memory does not always raise: it may hand back a partial
    tree and trafilatura then finds nothing. A failure after the worker came
    close to its bound is reported as what it is."""
    if reply[0] in ("empty", "failed") and _peak_address_space() >= _NEAR_BOUND * memory_bytes:
        return ("memory", "the page needed more memory than the extraction bound allows")
    return reply


def _peak_address_space() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _extract(trafilatura, html: bytes, url: str, metadata: bool = True) -> tuple:
    try:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=metadata, **_OPTIONS)
        text = (document.text if document is not None else "") or ""
        if not text.strip():
            return ("empty", "no main text found on the page")
        return (
            "ok",
            {
                "text": text,
                "title": document.title or None,
                "author": document.author or None,
                "published": document.date or None,
                "language": document.language or _declared_language(html),
            },
        )
    except MemoryError:
        return ("memory", "the page needed more memory than the extraction bound allows")
    except RecursionError:
        return ("failed", "the page is nested too deeply to extract")
    except Exception as exc:
        return ("failed", f"{type(exc).__name__}: {exc}"[:500])


def _declared_language(html: bytes) -> str | None:
    head = html[:_LANG_SNIFF]
    for pattern in _DECLARED_LANGUAGE:
        if match := pattern.search(head):
            return match.group(1).decode("ascii").replace("_", "-").lower()
    return None


def main(argv: list[str]) -> int:
    fd, memory_bytes = int(argv[1]), int(argv[2])
    post = argv[3] if len(argv) > 3 else None
    with Connection(fd) as conn:
        serve(conn, memory_bytes, post)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
