"""The pipeline: sources -> fetch -> parse -> extract -> match -> dedup -> store -> notify.

One :class:`Pipeline` polls one feed at a time, reading on its own database
connection; the shared, thread-safe parts (HTTP client, extractor, matcher)
live in :class:`Parts`, which ``watcher/app.py`` builds. The daemon and
``watcher run --once`` run several pipelines in worker threads. Poll threads
never write: they prepare each entry (page, text, folding, matches, hashes)
and hand it to the one :class:`Writer`, a thread that owns the write
connection and stores what it is handed in groups, one transaction per
group, each entry in a savepoint of its own (``writer``, ``batch``).

A failure in one entry (any exception: a bug, a page no library expected) is
recorded on that entry (``entries.error``; it is tried again at the next
polls, at most ENTRY_TRIES times) and the poll goes on with the next entry. A
failure of the database itself (disk full, I/O error, locked past the busy
timeout) ends the poll: every later entry would fail the same way, after a
page fetch each. A poll that fails on a bug outside the entries is still only
the feed's recorded error, on one line; its traceback goes to the log.

Each poll has a total deadline (``[network] poll_deadline``): requests are cut
to it, and entries not reached wait for the next poll (the feed's validators
are then not saved, so that poll reads the whole feed again).

Alerts: an entry published more than ``[alerts] max_age`` ago (or the feed's
own ``max_age``), an undated entry in its feed's first successful poll, and
everything stored by ``watcher run --once --no-send`` are stored, matched and
searchable but queue no alert; ``articles.no_alert`` says why ("baseline /
too old to alert" in the log).

Crash safety: everything one entry stores (article, entry, story, matches,
outbox rows) is written in one transaction (a group of entries shares one,
each entry is all or nothing inside it), and the feed's ETag/Last-Modified
are saved only after every entry of the poll is stored. A kill at any moment
therefore leaves either nothing or whole entries, and the next poll re-reads
the feed and skips what is already stored.

One module per step: ``parts`` (what all pipelines share), ``reader`` (fetch
and parse a feed, fetch and extract a page: plain orders in, plain results
out, in this process or in a ``watcher worker``), ``poll`` (one feed: read
it, record its health), ``ingest`` (one entry: its page read ahead,
matching, story, storage, alerts), ``tally`` (what one poll did so far),
``batch`` (what a poll hands the writer), ``writer`` (the one thread that
stores: story, storage, alerts), ``runner`` (threads and ``run_once``).
Import from ``watcher.pipeline``.

Pages are read ahead: once a poll knows which entries are new, their pages
are fetched and extracted at once (as many as there are extraction workers,
``[extraction] workers``), oldest first, while the entries are stored in
order as their pages come in.
"""

from watcher.pipeline.batch import Committed, Item, PollRecord, Stored
from watcher.pipeline.ingest import ENTRY_TRIES, PAGE_ACCEPT, Ingest
from watcher.pipeline.parts import Parts
from watcher.pipeline.poll import Pipeline, PollResult
from watcher.pipeline.reading import FEED_ACCEPT
from watcher.pipeline.runner import RunSummary, ThreadPipelines, poll_due, poll_threads, run_once, summarize
from watcher.pipeline.writer import DirectWriter, Writer

__all__ = [
    "ENTRY_TRIES",
    "Committed",
    "DirectWriter",
    "Item",
    "PollRecord",
    "Stored",
    "Writer",
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "Ingest",
    "Parts",
    "Pipeline",
    "PollResult",
    "RunSummary",
    "ThreadPipelines",
    "poll_due",
    "poll_threads",
    "run_once",
    "summarize",
]
