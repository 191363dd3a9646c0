"""A rule's examples (``like`` documents and folders, ``about`` and ``unlike`` sentences) as the
``Reference``s the similarity layer embeds: each document gives its start and its longer
paragraphs; a path that cannot be read is a problem naming the fix."""

from __future__ import annotations

import re
from pathlib import Path

from watcher.match.ruleset import Reference

LIKE_SUFFIXES = (".txt", ".md", ".text")
MAX_LIKE_FILES = 200  # documents read from one `like` folder
MAX_LIKE_BYTES = 1024 * 1024  # bytes read from one `like` document
LIKE_PARAGRAPHS = 12  # paragraphs of one document used as references (besides its lead)
LIKE_LEAD = 300  # characters of a document's start used as one reference
MIN_PARAGRAPH = 60  # shorter paragraphs (datelines, captions) are no reference


def quote(text: str, limit: int = 60) -> str:
    return "“" + (text if len(text) <= limit else text[: limit - 1].rstrip() + "…") + "”"


def like_references(path: Path, written: str) -> tuple[list[Reference], str | None]:
    """The references a `like` entry gives: for each document (a file, or the *.txt/*.md files of
    a folder), its start and each paragraph; or a problem naming the fix."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LIKE_SUFFIXES)
        if not files:
            return (
                [],
                f"{written!r}: the folder {path} holds no .txt or .md documents; add examples or fix the path",
            )
        files = files[:MAX_LIKE_FILES]
    elif path.is_file():
        files = [path]
    else:
        return [], f"{written!r}: no such file or folder ({path}); fix the path (relative to the rule file)"
    refs: list[Reference] = []
    for file in files:
        try:
            with open(file, "rb") as handle:
                data = handle.read(MAX_LIKE_BYTES)
        except OSError as exc:
            return (
                [],
                f"{written!r}: cannot read {file}: {exc.strerror or exc}; fix its permissions or the path",
            )
        text = data.decode("utf-8", errors="replace")
        if b"\x00" in data[:4096] or text.count("\ufffd") > len(text) // 10 + 1:
            return [], f"{written!r}: {file} is not a UTF-8 text document; give .txt or .md files"
        label = _label(file, path, written)
        refs.extend(document_references(label, text))
    if not refs:
        return [], f"{written!r}: the documents hold no text to compare with; add text or fix the path"
    return refs, None


def _label(file: Path, path: Path, written: str) -> str:
    if file == path:
        return written
    return f"{written.rstrip('/')}/{file.name}"


def document_references(label: str, text: str) -> list[Reference]:
    """A document's start (title + lead) and its longer paragraphs, each one reference."""
    text = text.strip()
    if not text:
        return []
    lead = " ".join(text[:LIKE_LEAD].split())
    refs = [Reference(label, lead)]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*", text)]
    kept = [p for p in paragraphs if len(p) >= MIN_PARAGRAPH and not lead.startswith(p[:LIKE_LEAD])]
    for n, paragraph in enumerate(kept[:LIKE_PARAGRAPHS], start=1):
        refs.append(Reference(f"{label} ¶{n}", paragraph[:400]))
    return refs
