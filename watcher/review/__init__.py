"""Reviewing the log: what ``watcher log/show/search/export/backtest/status``,
``watcher rules stats`` and the web page show, read from the store.

One module per view: ``log`` (matched stories), ``article`` (one article and
why it matched), ``search``, ``stats`` (per rule), ``status`` (feeds and the
database), ``export``, ``backtest``, ``feedback`` and ``retention`` (pruning).
Everything returns frozen dataclasses; nothing here formats for a terminal or
a browser, and nothing here writes SQL (``watcher.store`` does).
"""

from watcher.errors import ReviewError

MAX_LIMIT = 10_000  # rows one listing may ask for

__all__ = ["MAX_LIMIT", "ReviewError"]
