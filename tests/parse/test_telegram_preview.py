"""Telegram channel previews: real captured pages, paging on loopback, failures that say so."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sourcesite import channel_pages

from watcher.fetch.client import Client, FetchError
from watcher.parse.feed import FeedError
from watcher.parse.telegram import channel_name, parse_preview, preview_url, read_channel

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "telegram"
ERRORS = (FeedError, FetchError)
XCAREERS = (DATA / "xcareers.html").read_bytes()
TCHAN = (DATA / "tchantest_assembled.html").read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the real saved page of t.me/s/xCareers (2020) ----------------------------------


def test_every_post_of_a_real_preview_page_is_an_entry_with_its_permanent_link_and_date():
    page = parse_preview(XCAREERS, channel="xCareers")
    ids = [p.id for p in page.posts]
    assert ids == sorted(ids) and ids[0] == 1491 and ids[-1] == 1511
    assert len(ids) == len(set(ids)) == 19  # 20 messages on the page, one a service message
    first = page.posts[0].entry
    assert first.guid == first.url == "https://t.me/xCareers/1491"
    assert first.published == utc(2020, 4, 30, 17, 0, 4)
    assert first.title == "РАЗРАБОТЧИК IOS 🔥"
    assert "Опыт разработки мобильных приложений от двух лет" in first.summary
    assert "\n" in first.summary  # <br> kept as line breaks
    assert page.feed.entries[0].url == "https://t.me/xCareers/1511"  # the feed: newest first
    assert page.title == "xCareers: Digital Jobs"


def test_the_oldest_post_id_pages_back_with_before():
    page = parse_preview(XCAREERS, channel="xCareers")
    assert page.oldest_id == 1491 and page.newest_id == 1511 and page.has_older
    assert preview_url("xCareers", before=page.oldest_id) == "https://t.me/s/xCareers?before=1491"


def test_links_in_a_post_are_absolute_and_hashtag_searches_are_not_links():
    page = parse_preview(XCAREERS, channel="xCareers")
    post = next(p for p in page.posts if p.id == 1495)
    assert post.links[0] == "http://chnly.pro/file/cf505ef9a0ef41d58507cb544ecb0478"
    assert any(link.startswith("https://zimad.com/ru/careers/aso-specialist") for link in post.links)
    assert not any("?q=" in link for p in page.posts for link in p.links)
    assert not page.posts[0].entry.title.startswith("\u200b")


# --- real 2023 message blocks (tchan's test suite) in a page shell --------------------


def test_forwarded_from_signed_edited_and_link_posts_as_tchan_recorded_them():
    page = parse_preview(TCHAN, channel="tchantest")
    by_id = {p.id: p for p in page.posts}
    forwarded = by_id[89]
    assert forwarded.forwarded_from == "Some user (https://t.me/some_user)"
    assert forwarded.entry.summary.startswith("Forwarded from Some user")
    assert forwarded.entry.published == utc(2023, 2, 24, 12, 13, 31)
    assert by_id[79].entry.author == "Álvaro Justen"  # signed post
    assert by_id[79].entry.title == "Signed and not edited"
    assert by_id[24].links == ("https://brasil.io/",)
    assert by_id[24].entry.summary == "This is a message with a link\nhttps://brasil.io/"
    assert by_id[94].links[0].startswith("https://agenciabrasil.ebc.com.br/justica/noticia/2022-08/")
    assert by_id[24].entry.published == utc(2023, 2, 24, 7, 48, 2)


def test_service_messages_are_not_posts_and_media_posts_say_what_they_are():
    page = parse_preview(TCHAN, channel="tchantest")
    ids = {p.id for p in page.posts}
    assert not ids & {1, 2, 3, 92}  # created, renamed, photo changed, pinned
    by_id = {p.id: p for p in page.posts}
    assert by_id[9].entry.title == "[Sticker]"
    assert by_id[11].entry.title.startswith("[Poll] ")
    assert not page.has_older  # post 1 is on the page: nothing older


# --- failures are errors that say what happened --------------------------------------


def test_a_channel_that_does_not_exist_is_an_error_naming_it():
    with pytest.raises(FeedError, match=r"@no_such_channel_x has no public preview.*check the name"):
        parse_preview(
            (DATA / "reconstructed_unknown_channel.html").read_bytes(),
            channel="no_such_channel_x",
        )


def test_a_page_in_changed_markup_is_an_error_that_says_so():
    with pytest.raises(FeedError, match="changed its markup.*not.*your configuration"):
        parse_preview(
            (DATA / "reconstructed_markup_changed.html").read_bytes(),
            channel="examplechannel",
        )


def test_posts_without_a_readable_id_are_a_markup_change_not_an_empty_channel():
    broken = re.sub(rb'data-post="xCareers/(\d+)"', rb'data-post-id="\1"', XCAREERS)
    with pytest.raises(FeedError, match="changed its markup"):
        parse_preview(broken, channel="xCareers")


def test_posts_of_another_channel_are_left_out_with_a_note():
    page = parse_preview(XCAREERS, channel="xcareers")  # names are case-insensitive
    assert len(page.posts) == 19
    other = parse_preview(
        XCAREERS.replace(b'data-post="xCareers/1491"', b'data-post="other/1491"'),
        channel="xCareers",
    )
    assert 1491 not in {p.id for p in other.posts}
    assert "1 posts of other channels were skipped" in (other.feed.warning or "")


@pytest.mark.parametrize(
    "given",
    [
        "Durov_news",
        "@Durov_news",
        "t.me/Durov_news",
        "https://t.me/Durov_news",
        "https://t.me/s/Durov_news",
        "https://t.me/s/Durov_news/123",
        "http://telegram.me/Durov_news/",
    ],
)
def test_channel_names_are_read_from_names_and_links(given):
    assert channel_name(given) == "Durov_news"


@pytest.mark.parametrize(
    "given",
    ["", "ab", "https://t.me/", "https://example.com/chan", "chan nel", "1channel"],
)
def test_a_bad_channel_name_says_what_a_name_looks_like(given):
    with pytest.raises(ValueError, match="not a public Telegram channel name"):
        channel_name(given)


# --- paging on loopback through the guarded client ------------------------------------


@pytest.fixture
def channel_server(http_server):
    pages = channel_pages(TCHAN)
    asked: list[int | None] = []

    def answer(handler):
        query = parse_qs(urlsplit(handler.path).query)
        before = int(query["before"][0]) if "before" in query else None
        asked.append(before)
        body = pages.get(before, b"")
        handler.send_response(200 if body else 404)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    http_server.route_handler("/s/tchantest", answer)
    return http_server, asked


def _get(client: Client):
    """What the pipeline will pass: the guarded GET, an HTTP error as FeedError, then the parser."""

    def load(url: str):
        response = client.get(url, max_bytes=5_000_000)
        channel = urlsplit(url).path.rsplit("/", 1)[-1]
        if response.status == 404:
            raise FeedError(f"Telegram channel @{channel}: {url} answered 404 (no such public channel)")
        if response.status != 200:
            raise FeedError(f"Telegram preview {url} answered HTTP {response.status}")
        return parse_preview(response.body, channel=channel, content_type=response.content_type)

    return load


def test_the_first_poll_pages_back_up_to_the_limit(channel_server, loopback_client):
    server, asked = channel_server
    read = read_channel("tchantest", _get(loopback_client), errors=ERRORS, max_pages=2, base=server.url("/"))
    assert asked == [None, 62]
    assert read.pages == 2
    ids = [p.id for p in read.posts]
    assert ids == sorted(ids, reverse=True) and min(ids) == 13 and max(ids) == 94
    assert "older posts are left out" in (read.feed.warning or "")


def test_paging_stops_where_the_channel_begins(channel_server, loopback_client):
    server, asked = channel_server
    read = read_channel("tchantest", _get(loopback_client), errors=ERRORS, max_pages=10, base=server.url("/"))
    assert asked == [None, 62, 13]
    assert min(p.id for p in read.posts) == 5 and read.feed.warning is None


def test_a_later_poll_reads_one_page_and_brings_nothing_new(channel_server, loopback_client):
    server, asked = channel_server
    first = read_channel("tchantest", _get(loopback_client), errors=ERRORS, max_pages=3, base=server.url("/"))
    stored = {e.guid for e in first.feed.entries}
    asked.clear()
    second = read_channel(
        "tchantest",
        _get(loopback_client),
        errors=ERRORS,
        max_pages=3,
        known_newest=first.newest_id,
        base=server.url("/"),
    )
    assert asked == [None]
    assert {e.guid for e in second.feed.entries} <= stored


def test_a_missing_channel_on_loopback_is_the_sources_error(http_server, loopback_client):
    http_server.route("/s/gone_channel", b"", status=404)
    with pytest.raises(FeedError, match="404"):
        read_channel("gone_channel", _get(loopback_client), errors=ERRORS, base=http_server.url("/"))


def test_a_failing_older_page_keeps_the_newer_posts(http_server, loopback_client):
    first = channel_pages(TCHAN)[None]
    asked: list[int | None] = []

    def answer(handler):
        query = parse_qs(urlsplit(handler.path).query)
        before = int(query["before"][0]) if "before" in query else None
        asked.append(before)
        body = first if before is None else b"<html><body><p>Service unavailable</p></body></html>"
        handler.send_response(200 if before is None else 503)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    http_server.route_handler("/s/tchantest", answer)
    read = read_channel(
        "tchantest", _get(loopback_client), errors=ERRORS, max_pages=5, base=http_server.url("/")
    )
    assert asked == [None, 62]
    assert {p.id for p in read.posts} >= {62, 94}
    assert "older posts not read" in (read.feed.warning or "") and "503" in (read.feed.warning or "")
