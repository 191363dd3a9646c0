"""Reading a public Telegram channel: its preview page, then older pages.

``read_channel(channel, get)`` fetches ``https://t.me/s/<channel>`` and, while
the page links to older posts, ``?before=<oldest id on the page>``, up to
``max_pages`` pages (the first poll of a channel reaches back that far). Once
a page reaches ``known_newest`` (the newest post id already stored) it stops:
later polls read one page. Paging stops as well when a page brings no older
post (a loop). A failing first page is the source's error; a failing older
page ends paging with a note.

``get(url)`` is the guarded client's GET with the source's settings; it
returns a ``watcher.fetch.client.Response`` or raises ``FetchError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watcher.fetch.client import FetchError, Response
from watcher.parse.feed import FeedError, ParsedFeed
from watcher.parse.telegram import ChannelPage, Post, parse_preview, preview_url

MAX_PAGES = 5


@dataclass(frozen=True)
class ChannelRead:
    feed: ParsedFeed  # all posts read, newest first
    posts: tuple[Post, ...]  # the same, with links and forwarded-from
    pages: int  # preview pages fetched
    newest_id: int | None


def read_channel(
    channel: str,
    get: Callable[[str], Response],
    *,
    max_pages: int = MAX_PAGES,
    known_newest: int | None = None,
    base: str = "https://t.me",
) -> ChannelRead:
    """Posts of ``channel`` (a name from ``watcher.parse.telegram.channel_name``)."""
    posts: dict[int, Post] = {}
    notes: list[str] = []
    title = None
    pages = 0
    before: int | None = None
    while pages < max(1, max_pages):
        url = preview_url(channel, before=before, base=base)
        try:
            page = _page(url, channel, get)
        except (FetchError, FeedError) as exc:
            if pages == 0:
                raise FeedError(str(exc)) from None
            notes.append(f"older posts not read: {exc}")
            break
        pages += 1
        title = title or page.title
        if page.feed.warning:
            notes.append(page.feed.warning)
        for post in page.posts:
            posts.setdefault(post.id, post)
        if page.oldest_id is None or not page.has_older:
            break
        if known_newest is not None and page.oldest_id <= known_newest:
            break
        if before is not None and page.oldest_id >= before:
            notes.append(f"page before={before} brought no older post; paging stopped")
            break
        before = page.oldest_id
    else:
        if posts and known_newest is None:
            notes.append(
                f"read the newest {pages} preview pages; older posts are left out"
            )
    ordered = tuple(posts[i] for i in sorted(posts, reverse=True))
    return ChannelRead(
        feed=ParsedFeed(
            title=title,
            language=None,
            entries=tuple(p.entry for p in ordered),
            warning="; ".join(notes) or None,
        ),
        posts=ordered,
        pages=pages,
        newest_id=max(posts) if posts else None,
    )


def _page(url: str, channel: str, get: Callable[[str], Response]) -> ChannelPage:
    response = get(url)
    if response.status == 404:
        raise FeedError(
            f"Telegram channel @{channel}: {url} answered 404 (no such public channel)"
        )
    if response.status != 200:
        raise FeedError(f"Telegram preview {url} answered HTTP {response.status}")
    return parse_preview(
        response.body, channel=channel, content_type=response.content_type
    )
