"""The pipeline: sources -> fetch -> parse -> extract -> match -> dedup -> store -> notify.

One :class:`Pipeline` polls one feed at a time on its own database connection;
the shared, thread-safe parts (HTTP client, extractor, matcher) live in
:class:`Parts`, which ``watcher/app.py`` builds. The daemon and ``watcher run
--once`` run several pipelines in worker threads.

A poll that fails on a bug (anything but the fetch and feed errors, which are
the feed's fault) is still only the feed's recorded error, on one line; its
traceback goes to the log at ERROR.

Crash safety: everything one entry stores (article, entry, story, matches,
outbox rows) is written in one transaction, and the feed's ETag/Last-Modified
are saved only after every entry of the poll is stored. A kill at any moment
therefore leaves either nothing or a whole entry, and the next poll re-reads
the feed and skips what is already stored.

One module per step: ``parts`` (what all pipelines share), ``poll`` (one
feed: fetch, parse, record its health), ``ingest`` (one entry: page,
extraction, matching, story, storage, alerts), ``runner`` (threads and
``run_once``). Import from ``watcher.pipeline``.
"""

from watcher.pipeline.ingest import PAGE_ACCEPT, Ingest
from watcher.pipeline.parts import Parts
from watcher.pipeline.poll import FEED_ACCEPT, Pipeline, PollResult
from watcher.pipeline.runner import RunSummary, ThreadPipelines, poll_due, run_once, summarize

__all__ = [
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "Ingest",
    "Parts",
    "Pipeline",
    "PollResult",
    "RunSummary",
    "ThreadPipelines",
    "poll_due",
    "run_once",
    "summarize",
]
