"""Editing the config file's ``[[feeds]]`` (``watcher feeds add``, ``remove``,
``import``): the one module that imports tomlkit.

Every comment and the layout stay as they are: a new feed is a ``[[feeds]]``
table appended at the end of the file, written by tomlkit (quoting and
escaping as TOML wants); a removed feed's lines are cut out, with the comment
lines right above its header (its description), and nothing else. The file
as edited is validated like any config (:func:`watcher.config.load`) before
it replaces the old one (atomically, keeping its permissions); a problem
leaves the old file untouched and is raised as ConfigError.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from watcher.config.feeds import channel_name
from watcher.config.file import Config, load
from watcher.errors import ConfigError

_HEADER = re.compile(r"^\s*\[")
_FEEDS_HEADER = re.compile(r"^\s*\[\[\s*feeds\s*\]\]\s*(#.*)?$")


@dataclass(frozen=True)
class Block:
    """One ``[[feeds]]`` table of the file: its lines and its values."""

    start: int  # first line (its own comment lines included)
    end: int  # one past its last line
    values: dict[str, Any]


def table_text(values: Mapping[str, Any]) -> str:
    """``values`` as one ``[[feeds]]`` table, in TOML."""
    table = tomlkit.table()
    for key, value in values.items():
        if value is None or value == () or value == []:
            continue
        table.add(key, list(value) if isinstance(value, tuple) else value)
    document = tomlkit.document()
    array = tomlkit.aot()
    array.append(table)
    document.add("feeds", array)
    return tomlkit.dumps(document)


def blocks(text: str) -> list[Block]:
    """The ``[[feeds]]`` tables of a config file's text, in order."""
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _FEEDS_HEADER.match(line)]
    found = []
    for i in headers:
        end = next((j for j in range(i + 1, len(lines)) if _HEADER.match(lines[j])), len(lines))
        while end > i + 1 and lines[end - 1].lstrip().startswith("#"):
            end -= 1  # comments right above the next header describe it
        start = i
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        try:
            values = tomllib.loads("".join(lines[i:end]))["feeds"][0]
        except (tomllib.TOMLDecodeError, KeyError, IndexError):
            values = {}
        found.append(Block(start, end, values))
    return found


def _check_blocks(text: str, found: list[Block]) -> None:
    """The line scan must see the tables TOML sees (a ``[[feeds]]`` inside a
    multi-line string would fool it): else nothing is edited."""
    feeds = tomlkit.parse(text).get("feeds", [])
    if len(feeds) != len(found) or any(
        b.values.get("url") != f.get("url") for b, f in zip(found, feeds, strict=True)
    ):
        raise ConfigError("", ["[[feeds]] tables could not be located line by line; edit the file by hand"])


def matches(values: Mapping[str, Any], which: str) -> bool:
    """Whether a ``[[feeds]]`` table is the one ``which`` names (its url, its name, or its channel)."""
    if which in (values.get("url"), values.get("name")):
        return True
    wanted = channel_name(which)
    given = values.get("channel")
    return bool(wanted and isinstance(given, str) and channel_name(given) == wanted)


def add_feeds(path: Path, tables: Sequence[Mapping[str, Any]], environ: Mapping[str, str]) -> Config:
    """Append ``tables`` as ``[[feeds]]`` to the config file at ``path``; the config as it now is."""
    text = path.read_text(encoding="utf-8")
    added = "".join("\n" + table_text(t) for t in tables)
    separator = "" if not text or text.endswith("\n") else "\n"
    return _replace(path, text + separator + added, environ)


def remove_feed(path: Path, which: str, environ: Mapping[str, str]) -> tuple[dict[str, Any], Config]:
    """Cut the ``[[feeds]]`` table ``which`` names out of the file; (its values, the config as it now is).
    ConfigError when none or several do."""
    text = path.read_text(encoding="utf-8")
    found = blocks(text)
    _check_blocks_or_fail(path, text, found)
    chosen = [b for b in found if matches(b.values, which)]
    if not chosen:
        listed = ", ".join(str(b.values.get("name") or b.values.get("url")) for b in found) or "none"
        raise ConfigError(path, [f"feeds: no feed with the url, name or channel {which!r}; feeds: {listed}"])
    if len(chosen) > 1:
        raise ConfigError(path, [f"feeds: {len(chosen)} feeds are named {which!r}; give the url instead"])
    block = chosen[0]
    lines = text.splitlines(keepends=True)
    start = block.start
    if (
        start > 0
        and not lines[start - 1].strip()
        and (block.end >= len(lines) or not lines[block.end].strip())
    ):
        start -= 1  # one blank line goes with it, not both
    return block.values, _replace(path, "".join(lines[:start] + lines[block.end :]), environ)


def _check_blocks_or_fail(path: Path, text: str, found: list[Block]) -> None:
    try:
        _check_blocks(text, found)
    except ConfigError as exc:
        raise ConfigError(path, exc.problems) from None
    except Exception as exc:  # tomlkit's own parse errors: the file is read by tomllib already
        raise ConfigError(path, [f"cannot be edited: {exc}"]) from None


def _replace(path: Path, text: str, environ: Mapping[str, str]) -> Config:
    """Write ``text`` beside ``path``, validate it, and move it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        try:
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        except OSError:
            pass
        try:
            config = load(temporary, environ=environ)
        except ConfigError as exc:
            raise ConfigError(
                path, [f"not changed: as edited it would have problems: {p}" for p in exc.problems]
            ) from None
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    from dataclasses import replace

    return replace(config, path=path)
