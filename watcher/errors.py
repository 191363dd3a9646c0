"""Every error the watcher raises on purpose, in one tree.

Catch :class:`WatcherError` for all of them, :class:`UserError` for the
mistakes a person can fix by editing a file or a command line. The CLI turns
the tree into exit codes in one place (``watcher/cli/console.py``): a
``UserError`` exits 2, any other ``WatcherError`` exits 1, both with their
message on one line and never a traceback. Anything that is not a
``WatcherError`` is a bug, and keeps its traceback.

The hierarchy::

    WatcherError
    ├── UserError
    │   ├── ConfigError
    │   ├── RulesError
    │   ├── DatabaseOpenError
    │   ├── LockError
    │   ├── DurationError
    │   ├── ReviewError
    │   ├── QueryError
    │   ├── FeedbackError
    │   ├── PruneError
    │   ├── DerivationError
    │   ├── OpmlError
    │   └── WebError
    ├── StoreError
    ├── FetchError
    ├── FeedError
    └── ExtractionError

``UserError`` — a mistake the user can fix; the message names the file, key
or option and the fix:

* ``ConfigError`` — the config file (``path``, one ``problems`` entry per mistake);
* ``RulesError`` — the rule files (one ``problems`` entry per mistake);
* ``DatabaseOpenError`` — ``[watcher] database`` cannot be opened: its folder
  is missing or read-only, it is not a watcher database, or a newer watcher
  wrote it;
* ``LockError`` — another ``watcher run`` already works on this database;
* ``DurationError`` — not a duration ("90s", "15m", "2d");
* ``ReviewError`` — a filter given to a review command (``--since``, a search);
* ``QueryError`` — a search query that cannot be compiled;
* ``FeedbackError`` — a verdict that cannot be recorded (no such article);
* ``PruneError`` — a retention period that is not above zero;
* ``DerivationError`` — ``watcher rules derive`` has no usable seeds or background;
* ``OpmlError`` — an OPML subscription list to import has nothing usable in it;
* ``WebError`` — the review page cannot be served as configured (port, password).

The others happen to a correct setup, while it works:

* ``StoreError`` — the database failed under us (disk full, I/O error);
* ``FetchError`` — a request failed below HTTP (``kind``: timeout, too_large,
  private_address, redirects, scheme, connection, tls, protocol); the
  pipeline records it as the feed's error;
* ``FeedError`` — the bytes are not a feed that can be read; recorded likewise;
* ``ExtractionError`` — a page's text could not be extracted; the article
  keeps the feed's summary.

Some modules raise private errors of their own (``fetch.decompression``,
``fetch.client``, ``fetch.connection``, ``fetch.hosts``, ``fetch.lookup``, ``parse.xmlguard``,
``parse.htmltree``, ``match.regex``, ``match.translation``, ``match.meaning``'s
EmbeddingError, ``notify.sender``); they derive from ``WatcherError`` too and are turned
into one of the public errors before they leave their package.

The classes are defined here; the modules that raise them re-export them
(``from watcher.config import ConfigError`` keeps working).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path


class WatcherError(Exception):
    """Base of every error the watcher raises on purpose."""


class UserError(WatcherError):
    """A mistake the user can fix; the message says where and how (CLI: exit 2)."""


def listing(problems: Sequence[object], what: str) -> str:
    """One problem on one line; several as a list under a heading."""
    if len(problems) == 1:
        return str(problems[0])
    return f"{len(problems)} problems in {what}:\n" + "\n".join(f"  - {p}" for p in problems)


# -- user mistakes ---------------------------------------------------------------


class ConfigError(UserError):
    """The configuration has problems; ``problems`` lists each one."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + listing(problems, "the configuration"))


class RulesError(UserError):
    """The rule files have problems; ``problems`` lists each one (``RuleProblem``)."""

    def __init__(self, problems: Sequence[object]) -> None:
        self.problems = list(problems)
        super().__init__(listing(self.problems, "the rule files"))


class DatabaseOpenError(UserError):
    """The configured database cannot be opened; the message says what to change."""


class LockError(UserError):
    """Another watcher already runs on this database."""


class DurationError(UserError, ValueError):
    """Not a duration as people write them ("90s", "15m", "1h30m", "2d")."""


class ReviewError(UserError, ValueError):
    """A filter or query the user typed cannot be used; the message says why."""


class QueryError(UserError, ValueError):
    """The search query cannot be used; the message says why and what works."""


class FeedbackError(UserError, ValueError):
    """The feedback cannot be recorded; the message says why."""


class PruneError(UserError, ValueError):
    """The retention period cannot be used."""


class DerivationError(UserError):
    """A draft rule file cannot be derived from these folders."""


class OpmlError(UserError):
    """Nothing usable in an OPML document; the message says why."""


class WebError(UserError):
    """The page cannot be served as configured; the message says how to fix it."""


# -- failures while working ----------------------------------------------------------


class StoreError(WatcherError):
    """The database cannot be opened, migrated or written; the message says why."""


_PASSWORD_IN_URL = re.compile(r"(://[^/@\s:]*:)[^/@\s]*@")  # messages never show a URL's password


class FetchError(WatcherError):
    """A fetch failed below HTTP. ``kind`` is one of 'timeout', 'too_large',
    'private_address', 'redirects', 'scheme', 'connection', 'tls', 'protocol'."""

    def __init__(self, kind: str, url: str, detail: str) -> None:
        super().__init__(_PASSWORD_IN_URL.sub(r"\1***@", f"{url}: {detail}"))
        self.kind = kind
        self.url = url
        self.detail = detail


class FeedError(WatcherError):
    """Nothing usable in a feed document; the message says why."""


EXTRACTION_KINDS = ("timeout", "memory", "empty", "failed")
# How an ExtractionError's message begins when the worker process itself died
# or would not start (an operator notice counts these; the extractor uses them).
WORKER_DIED = "the extraction worker died"
WORKER_NOT_STARTED = ("the extraction worker did not start", "the extraction worker exited while starting")
WORKER_DEATHS = (WORKER_DIED, *WORKER_NOT_STARTED, "cannot start the extraction worker")


class ExtractionError(WatcherError):
    """A page could not be extracted; ``kind`` is one of timeout/memory/empty/failed."""

    def __init__(self, kind: str, message: str | None = None) -> None:
        if kind not in EXTRACTION_KINDS:
            raise ValueError(f"unknown extraction error kind {kind!r}")
        self.kind = kind
        super().__init__(message or kind)
