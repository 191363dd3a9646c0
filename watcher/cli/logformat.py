"""How log records look on stderr: for a terminal, for the journal, for a log shipper.

* ``text`` (a terminal, a file): ``2026-12-07 10:00:00,123 INFO watcher.daemon: message``;
* ``journal``, chosen by itself when stderr *is* the journal (systemd sets
  ``JOURNAL_STREAM`` to the device and inode of the stream it connected):
  no timestamp (the journal adds its own) and the syslog priority as a
  ``<N>`` prefix, which journald reads as the entry's priority;
* ``json`` (``--log-format json``): one JSON object per line with ``time``
  (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, for an error with a
  traceback, ``exception``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone

FORMATS = ("text", "json")

# logging level -> syslog priority (sd-daemon(3): "<3>" error, "<4>" warning, ...)
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


class JournalFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in PRIORITIES if record.levelno >= level), 7)
        text = super().format(record)
        # every line of a traceback is its own journal entry: each keeps the priority
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines() or [""])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def to_journal(environ: Mapping[str, str], fd: int = 2) -> bool:
    """Whether ``fd`` is the stream systemd connected to the journal
    (``JOURNAL_STREAM=device:inode``; a child whose stderr was redirected keeps
    the variable but not the stream, so both are compared)."""
    value = environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def formatter(fmt: str, environ: Mapping[str, str]) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if to_journal(environ):
        return JournalFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
