"""Public Telegram channels through their web preview, ``https://t.me/s/<channel>``.

The preview is an HTML page (no account, no API key) holding the channel's
latest posts, oldest first, each a ``.tgme_widget_message`` with
``data-post="<channel>/<id>"``, its text in ``.tgme_widget_message_text``, its
date in ``.tgme_widget_message_date time[datetime]``. ``?before=<id>`` gives
the posts older than ``id``. Each post becomes a :class:`FeedEntry` whose
guid and link are its permanent link ``https://t.me/<channel>/<id>``.
:func:`read_channel` pages back through a loader the caller gives (the
guarded client's GET, then :func:`parse_preview`), bounded by a page count
and by the newest post already stored.

This markup is Telegram's, undocumented, and can change. When a page holds
no posts in the expected markup and is not Telegram's page for an unknown
name, :func:`parse_preview` raises a :class:`FeedError` that says the markup
changed (the source shows as failing, never as silently empty). A name that
is no public channel ends on Telegram's contact page, which is told apart.

Service messages ("Channel created", "pinned ...") are not posts and are
left out. Posts of another channel on the page (Telegram shows none, but a
proxy or a changed page might) are left out with a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from watcher.errors import FeedError
from watcher.parse import htmltree
from watcher.parse.entry import FeedEntry, ParsedFeed

MAX_POSTS = 100  # per page (Telegram shows about 20)
_TITLE_CHARS = 140
_INVISIBLE = " \u200b\u200c\u200d\u2060\ufeff"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_POST = re.compile(r"^([A-Za-z0-9_]{1,64})/([0-9]{1,12})$")


@dataclass(frozen=True)
class Post:
    entry: FeedEntry
    id: int
    links: tuple[str, ...]  # http(s) links in the text and the link preview, in order
    forwarded_from: str | None  # "Name" or "Name (https://t.me/...)"
    views: str | None  # as shown ("28.6K")


@dataclass(frozen=True)
class ChannelPage:
    channel: str
    title: str | None
    posts: tuple[Post, ...]  # oldest first, as on the page
    feed: ParsedFeed  # the same posts, newest first
    oldest_id: int | None  # fetch preview_url(channel, before=oldest_id) for older posts
    newest_id: int | None
    has_older: bool  # the page links to older posts


def channel_name(value: str) -> str:
    """``name``, ``@name``, ``t.me/name``, ``https://t.me/s/name/123`` -> ``name``.

    ValueError (saying what a channel name looks like) for anything else."""
    text = value.strip()
    if re.match(r"^(https?://)?(www\.)?(t\.me|telegram\.me)/", text, re.IGNORECASE):
        path = urlsplit(text if "://" in text else "https://" + text).path.strip("/").split("/")
        if path and path[0] == "s":
            path = path[1:]
        text = path[0] if path else ""
    text = text.removeprefix("@")
    if not _NAME.match(text):
        raise ValueError(
            f"not a public Telegram channel name: {value!r} (expected a name of 5-32 "
            "letters, digits or _ starting with a letter, @name, or https://t.me/name)"
        )
    return text


def preview_url(channel: str, *, before: int | None = None, base: str = "https://t.me") -> str:
    """``https://t.me/s/<channel>[?before=<id>]`` (``base`` is for tests and mirrors)."""
    page = f"{base.rstrip('/')}/s/{channel}"
    return f"{page}?before={before}" if before is not None else page


def permalink(channel: str, post_id: int) -> str:
    return f"https://t.me/{channel}/{post_id}"


def parse_preview(data: bytes, *, channel: str, content_type: str | None = None) -> ChannelPage:
    """Posts of one preview page of ``channel`` (a name from :func:`channel_name`)."""
    try:
        root = htmltree.parse_html(data, content_type=content_type)
    except htmltree.MarkupError as exc:
        raise FeedError(f"Telegram preview of @{channel}: {exc}") from None
    history = root.first_by_class("tgme_channel_history")
    messages = list(_messages(root))
    if history is None and not messages:
        raise FeedError(_no_posts_message(root, channel))
    posts: list[Post] = []
    foreign = unreadable = service = 0
    for node in messages[:MAX_POSTS]:
        match = _POST.match(node.attr("data-post") or "")
        if not match:
            unreadable += 1
            continue
        if match.group(1).lower() != channel.lower():
            foreign += 1
            continue
        if node.has_class("service_message"):
            service += 1
            continue
        posts.append(_post(node, match.group(1), int(match.group(2))))
    if messages and not posts and unreadable:
        raise FeedError(
            f"the Telegram preview of @{channel} has changed its markup: {len(messages)} "
            "messages without a readable data-post id; the watcher needs an update "
            "(nothing is wrong with your configuration)"
        )
    posts.sort(key=lambda p: p.id)
    ids = [p.id for p in posts]
    notes = [
        f"{unreadable} messages without a post id were skipped" if unreadable else None,
        f"{foreign} posts of other channels were skipped" if foreign else None,
        f"{len(messages)} messages on the page, only the first {MAX_POSTS} were read"
        if len(messages) > MAX_POSTS
        else None,
    ]
    title = _channel_title(root)
    return ChannelPage(
        channel=channel,
        title=title,
        posts=tuple(posts),
        feed=ParsedFeed(
            title=title,
            language=None,
            entries=tuple(p.entry for p in reversed(posts)),
            warning="; ".join(n for n in notes if n) or None,
        ),
        oldest_id=min(ids) if ids else None,
        newest_id=max(ids) if ids else None,
        has_older=_has_older(root),
    )


def _messages(root: htmltree.Node):
    for node in root.by_class("tgme_widget_message"):
        if node.attr("data-post") is not None or node.has_class("js-widget_message"):
            yield node


def _no_posts_message(root: htmltree.Node, channel: str) -> str:
    if root.first_by_class("tgme_username_link") is not None or root.first_by_class("tgme_page_extra"):
        return (
            f"Telegram channel @{channel} has no public preview: t.me/s/{channel} shows Telegram's "
            "contact page (no such channel, a user or bot, or a private channel); check the name"
        )
    return (
        f"the Telegram preview of @{channel} has changed its markup: no .tgme_widget_message posts "
        "and no .tgme_channel_history section; the watcher needs an update "
        "(nothing is wrong with your configuration)"
    )


def _post(node: htmltree.Node, channel: str, post_id: int) -> Post:
    link = permalink(channel, post_id)
    index = node.class_index()
    text_node = _own(index, "tgme_widget_message_text")
    text = text_node.lines() if text_node else ""
    forwarded = _forwarded(index)
    links = _links(index, text_node)
    media = _media_label(index)
    summary = "\n".join(
        part
        for part in (
            f"Forwarded from {forwarded}" if forwarded else "",
            text or media,
            _preview_text(index),
        )
        if part
    )
    first_line = (text or media or "").split("\n", 1)[0].strip(_INVISIBLE)
    title = first_line if len(first_line) <= _TITLE_CHARS else first_line[: _TITLE_CHARS - 1].rstrip() + "…"
    author_node = _first(index, "tgme_widget_message_from_author")
    owner_node = _first(index, "tgme_widget_message_owner_name")
    author = (author_node.text() if author_node else "") or (owner_node.text() if owner_node else "")
    views_node = _first(index, "tgme_widget_message_views")
    return Post(
        entry=FeedEntry(
            guid=link,
            url=link,
            title=title,
            summary=summary,
            author=author or None,
            published=_date(node, index),
            language=None,
        ),
        id=post_id,
        links=links,
        forwarded_from=forwarded,
        views=(views_node.text() or None) if views_node else None,
    )


Index = dict[str, list[htmltree.Node]]


def _first(index: Index, name: str) -> htmltree.Node | None:
    found = index.get(name)
    return found[0] if found else None


def _own(index: Index, name: str) -> htmltree.Node | None:
    """The first ``name`` element of this post that is not inside a reply quote."""
    for found in index.get(name, ()):
        if not found.within_class("tgme_widget_message_reply"):
            return found
    return None


def _forwarded(index: Index) -> str | None:
    name = _first(index, "tgme_widget_message_forwarded_from_name")
    if name is None:
        return None
    label = name.text()
    href = name.attr("href")
    return f"{label} ({href})" if href and href.startswith("https://t.me/") else label or None


def _links(index: Index, text_node: htmltree.Node | None) -> tuple[str, ...]:
    found: list[str] = []
    candidates = list(text_node.iter("a")) if text_node else []
    preview = _first(index, "tgme_widget_message_link_preview")
    if preview is not None:
        candidates.append(preview)
    for anchor in candidates:
        href = (anchor.attr("href") or "").strip()
        if href.startswith("?"):  # hashtag search inside the channel
            continue
        absolute = urljoin("https://t.me/", href)
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in found:
            found.append(absolute)
    return tuple(found)


def _preview_text(index: Index) -> str:
    preview = _first(index, "tgme_widget_message_link_preview")
    if preview is None:
        return ""
    parts = [
        n.text()
        for name in (
            "link_preview_site_name",
            "link_preview_title",
            "link_preview_description",
        )
        for n in [preview.first_by_class(name)]
        if n is not None
    ]
    return " — ".join(p for p in parts if p)


_MEDIA = (
    ("tgme_widget_message_photo_wrap", "[Photo]"),
    ("tgme_widget_message_video_player", "[Video]"),
    ("tgme_widget_message_roundvideo_player", "[Video]"),
    ("tgme_widget_message_voice", "[Voice]"),
    ("tgme_widget_message_document_wrap", "[Document]"),
    ("tgme_widget_message_poll", "[Poll]"),
    ("tgme_widget_message_location_wrap", "[Location]"),
    ("tgme_widget_message_sticker", "[Sticker]"),
)


def _media_label(index: Index) -> str:
    for name, label in _MEDIA:
        if name in index:
            if label == "[Poll]":
                question = _first(index, "tgme_widget_message_poll_question")
                return f"[Poll] {question.text()}" if question else label
            return label
    return ""


def _date(node: htmltree.Node, index: Index) -> datetime | None:
    holder = _first(index, "tgme_widget_message_date") or node
    for time_node in holder.iter("time"):
        value = time_node.attr("datetime")
        if value:
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                return None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def _channel_title(root: htmltree.Node) -> str | None:
    for name in ("tgme_channel_info_header_title", "tgme_header_title"):
        node = root.first_by_class(name)
        if node is not None and node.text():
            return node.text()
    for meta in root.iter("meta"):
        if meta.attr("property") == "og:title" and meta.attr("content"):
            return " ".join((meta.attr("content") or "").split())
    return None


def _has_older(root: htmltree.Node) -> bool:
    return any(n.attr("data-before") for n in root.by_class("tme_messages_more"))


# --- reading a channel: the first page, then older pages ---------------------------

MAX_PAGES = 5


@dataclass(frozen=True)
class ChannelRead:
    feed: ParsedFeed  # all posts read, newest first
    posts: tuple[Post, ...]  # the same, with links and forwarded-from
    pages: int  # preview pages loaded
    newest_id: int | None


def read_channel(
    channel: str,
    load: Callable[[str], ChannelPage],
    *,
    errors: tuple[type[Exception], ...] = (FeedError,),
    max_pages: int = MAX_PAGES,
    known_newest: int | None = None,
    base: str = "https://t.me",
) -> ChannelRead:
    """Posts of ``channel``: its preview page, then ``?before=<oldest id>`` while the
    page links to older posts, up to ``max_pages`` pages (the first poll of a
    channel reaches back that far). A page reaching ``known_newest`` (the newest
    post id already stored) ends paging, so later polls load one page; so does a
    page that brings no older post (a loop).

    ``load(url)`` fetches through the guarded client and returns
    :func:`parse_preview` of the body (FeedError for an HTTP error: a 404 is a
    channel that does not exist); it raises one of ``errors``. A failing first
    page is the source's error (FeedError); a failing older page ends paging
    with a note."""
    posts: dict[int, Post] = {}
    notes: list[str] = []
    title = None
    pages = 0
    before: int | None = None
    while pages < max(1, max_pages):
        try:
            page = load(preview_url(channel, before=before, base=base))
        except errors as exc:
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
            notes.append(f"read the newest {pages} preview pages; older posts are left out")
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
