"""Reading: everything a poll does before it touches the log — fetch the feed
and parse it, fetch the article pages and extract their text.

One order in, one plain result out (frozen dataclasses of strings, numbers
and parsed entries, no database row), so that the same code serves a poll in
this process (:class:`LocalReader`) and a ``watcher worker`` on another
machine (``watcher/workers/``, which sends the orders through a queue and
implements :class:`Reader` on ``watcher run``'s side).

A poll reads its article pages ahead: :meth:`Reader.read_pages` starts them
all (oldest entry first) and returns a :class:`PageBatch`; the entries are
stored one by one as their pages come in, so several pages are fetched and
extracted at once (as many as there are extraction workers) while the first
ones are already matched and stored.

Deadlines cross machines as seconds left (``FeedOrder.seconds``), never as a
clock reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from watcher.config import Config, FeedConfig
from watcher.extract.extractor import ExtractionError, Extractor
from watcher.fetch.client import Client, FetchError
from watcher.fetch.response import Response
from watcher.parse.feed import FeedError, ParsedFeed

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class FeedOrder:
    url: str  # the source's url (its kind and settings are the config's [[feeds]] of that url)
    etag: str | None
    last_modified: str | None
    seconds: float  # time left for the poll
    recent: tuple[
        str, ...
    ] = ()  # guids of the newest stored entries (where a Telegram channel's paging stops)


@dataclass(frozen=True)
class FeedRead:
    """What reading a feed gave: an HTTP answer (any status) with the parsed
    feed when it was 2xx and parsed, or why there is none."""

    url: str  # the final URL (the order's when the fetch failed)
    status: int  # HTTP status; 0 when the fetch failed below HTTP (``error`` says why)
    error: str | None = None  # the fetch's error (status 0) or the parser's (a 2xx that is no feed)
    timeout: bool = False  # the fetch ran into its deadline
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None
    feed: ParsedFeed | None = None  # a 2xx parsed
    text_only: tuple[str, ...] = ()  # GUIDs whose entry is the article itself (Telegram posts)
    validators: bool = True  # whether the ETag/Last-Modified stand for all that was read


@dataclass(frozen=True)
class PageOrder:
    url: str
    seconds: float  # time left for the poll
    metadata: bool = True  # the page's title, author and date too (the feed lacks a title or a date)
    headers: tuple[tuple[str, str], ...] = ()  # the source's own headers, on its own host


@dataclass(frozen=True)
class PageRead:
    """An article page's text, or why there is none."""

    url: str  # as ordered
    text: str = ""
    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    derived: Mapping[str, object] = field(default_factory=dict)  # computed in the extraction worker
    error: str | None = None  # "page: ..." or "extraction: ...", as the feed's health shows it
    timeout: bool = False  # the fetch ran into its deadline
    missing: bool = False  # no answer in time (a remote worker did not answer): try at the next poll

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


class PageBatch(Protocol):
    """The pages of one poll, being read."""

    def get(self, url: str) -> PageRead | None:
        """The page's read, waiting for it; None when it was not ordered here."""
        ...

    def close(self) -> None:
        """Pages not needed any more (the poll ended): drop what has not started."""
        ...


class Reader(Protocol):
    def read_feed(self, order: FeedOrder, feed: FeedConfig) -> FeedRead: ...

    def read_pages(self, orders: Sequence[PageOrder], stop: threading.Event) -> PageBatch: ...


def read_feed(reader: LocalReader, order: FeedOrder, feed: FeedConfig) -> FeedRead:
    """Fetch the source's first document (conditionally) and read a 2xx by the
    source's kind (``watcher.pipeline.reading``: feeds, Telegram, sitemaps, index
    pages; further documents through the same client, within the deadline)."""
    from watcher.pipeline import reading  # (it imports the pipeline's parts)
    from watcher.pipeline.tally import Tally

    deadline = time.monotonic() + order.seconds
    try:
        response = reader.client.get(
            order.url,
            max_bytes=reader.config.network.max_feed_bytes,
            etag=order.etag,
            last_modified=order.last_modified,
            accept=reading.accept(feed),
            deadline=deadline,
            headers=reading.request_headers(feed, order.url),
        )
    except FetchError as exc:
        return FeedRead(order.url, 0, error=str(exc), timeout=exc.kind == "timeout")
    answer = FeedRead(
        response.url,
        response.status,
        etag=response.etag,
        last_modified=response.last_modified,
        retry_after=response.retry_after,
    )
    if not 200 <= response.status < 300:
        return answer
    try:
        got = reading.read(
            reader, feed, response, Tally(deadline=deadline, first_poll=False), list(order.recent)
        )
    except FeedError as exc:
        return FeedRead(response.url, response.status, error=str(exc))
    return FeedRead(
        answer.url,
        answer.status,
        etag=answer.etag,
        last_modified=answer.last_modified,
        retry_after=answer.retry_after,
        feed=got.parsed,
        text_only=tuple(sorted(got.text_only)),
        validators=got.validators,
    )


def read_page(client: Client, extractor: Extractor, config: Config, order: PageOrder) -> PageRead:
    """Fetch an article page and extract its text."""
    try:
        page = client.get(
            order.url,
            max_bytes=config.network.max_page_bytes,
            accept=PAGE_ACCEPT,
            deadline=time.monotonic() + order.seconds,
            headers=order.headers,
        )
    except FetchError as exc:
        return PageRead(order.url, error=f"page: {exc}", timeout=exc.kind == "timeout")
    return page_read(extractor, page, order.url, metadata=order.metadata)


def page_read(extractor: Extractor, page: Response, url: str, *, metadata: bool) -> PageRead:
    """The text of a fetched page (``url``: as ordered)."""
    if page.status != 200:
        return PageRead(url, error=f"page: HTTP {page.status} from {page.url}")
    try:
        got = extractor.extract(page.body, url=page.url, metadata=metadata)
    except ExtractionError as exc:
        return PageRead(url, error=f"extraction: {exc} ({page.url})")
    return PageRead(
        url,
        text=got.text,
        title=got.title,
        author=got.author,
        published=got.published,
        language=got.language,
        derived=got.derived,
    )


class LocalReader:
    """Reads in this process: the guarded client and the extraction pool."""

    def __init__(self, client: Client, extractor: Extractor, config: Config) -> None:
        self.client = client
        self.extractor = extractor
        self.config = config

    def read_feed(self, order: FeedOrder, feed: FeedConfig) -> FeedRead:
        return read_feed(self, order, feed)

    def read_pages(self, orders: Sequence[PageOrder], stop: threading.Event) -> PageBatch:
        return _LocalBatch(self, orders, stop)

    def read_page(self, order: PageOrder) -> PageRead:
        return read_page(self.client, self.extractor, self.config, order)


class _LocalBatch:
    """Pages read by threads of this process, as many at once as there are
    extraction workers (a page waits for its fetch, then for a worker)."""

    def __init__(self, reader: LocalReader, orders: Sequence[PageOrder], stop: threading.Event) -> None:
        self._futures: dict[str, Future[PageRead]] = {}
        self._pool: ThreadPoolExecutor | None = None
        if not orders:
            return
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(orders), reader.extractor.workers)), thread_name_prefix="page"
        )
        started = time.monotonic()

        def read(order: PageOrder) -> PageRead:
            left = order.seconds - (time.monotonic() - started)
            if stop.is_set() or left <= 0:  # the poll is over: not even a request
                return PageRead(order.url, missing=True)
            return reader.read_page(PageOrder(order.url, left, order.metadata, order.headers))

        for order in orders:
            if order.url not in self._futures:
                self._futures[order.url] = self._pool.submit(read, order)

    def get(self, url: str) -> PageRead | None:
        future = self._futures.get(url)
        if future is None:
            return None
        try:
            return future.result()
        except Exception as exc:  # a bug in reading one page is that page's error
            return PageRead(url, error=f"page: internal error: {type(exc).__name__}: {exc}"[:500])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
