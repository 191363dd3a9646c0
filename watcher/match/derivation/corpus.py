"""Reading the corpora: seed documents (text or HTML) and background news."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from watcher.errors import DerivationError

MAX_BACKGROUND_BYTES = 200 * 1024 * 1024


def read_seeds(folder: Path, html_text: Callable[[bytes, str], tuple[str, str]]) -> list[str]:
    texts = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".txt", ".md", ".text", ".html", ".htm"):
            continue
        data = path.read_bytes()
        if suffix in (".html", ".htm"):
            title, text = html_text(data, str(path))
            texts.append(f"{title}\n{text}")
        else:
            texts.append(data.decode("utf-8", errors="replace"))
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DerivationError(f"{folder}: no .txt, .md or .html seed documents found")
    return texts


def read_background(path: Path) -> list[str]:
    """Texts from *.txt files, *.jsonl lines with "text", and JSON gold files
    ("articleBody"/"text"), each possibly gzip-compressed (*.jsonl.gz, ...)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    texts: list[str] = []
    budget = MAX_BACKGROUND_BYTES
    for file in files:
        compressed = file.suffix.lower() == ".gz"
        suffix = (file.with_suffix("") if compressed else file).suffix.lower()
        if suffix not in (".txt", ".json", ".jsonl") or file.stat().st_size > budget:
            continue
        raw = _read_text(file, compressed, budget)
        budget -= len(raw)
        if suffix == ".txt":
            texts.append(raw)
        elif suffix == ".jsonl":
            texts.extend(_texts(_json_lines(raw)))
        else:
            try:
                texts.extend(_texts(json.loads(raw)))
            except json.JSONDecodeError:
                continue
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DerivationError(
            f'{path}: no background texts found (*.txt, *.jsonl with "text", or JSON '
            'with "articleBody" or "text" fields)'
        )
    return texts


def _read_text(file: Path, compressed: bool, budget: int) -> str:
    """The file's text, at most ``budget`` bytes of it (a gzip bomb stops there)."""
    if not compressed:
        return file.read_text(encoding="utf-8", errors="replace")
    try:
        with gzip.open(file, "rb") as stream:
            return stream.read(budget).decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise DerivationError(f"{file}: not a readable gzip file ({exc})") from None


def _json_lines(raw: str) -> list:
    out = []
    for line in raw.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _texts(value) -> Iterable[str]:
    if isinstance(value, dict):
        for key in ("articleBody", "text"):
            if isinstance(value.get(key), str):
                yield value[key]
                return
        for inner in value.values():
            yield from _texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner)
