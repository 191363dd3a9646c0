"""Reading a poll's pages (issue 11): several at once through the extraction
pool, oldest first, and the page's own title and date only where the feed
gave none (metadata costs a fifth of the extraction time)."""

from __future__ import annotations

from newsroom import Newsroom, real_page, write_config
from support import rows, watcher


def test_the_pages_title_and_date_are_used_only_where_the_feed_has_none(tmp_path, server):
    room = Newsroom(server)
    dated = room.add(
        "/dated.html", "The feed's own title", real_page("bbc.com.52241221.html"), summary="Golem"
    )
    room.publish("/dated.xml")
    server.route(
        "/bare.html", body=real_page("bbc.com.52241221.html"), content_type="text/html; charset=utf-8"
    )
    server.route(
        "/bare.xml",
        body=(
            f'<rss version="2.0"><channel><title>Bare</title><item><link>{server.url("/bare.html")}</link>'
            "<guid>bare-1</guid><description>An item without a title or a date</description></item>"
            "</channel></rss>"
        ).encode(),
        content_type="application/rss+xml",
    )
    config = write_config(tmp_path, [("Dated", server.url("/dated.xml")), ("Bare", server.url("/bare.xml"))])
    assert watcher(config, "run", "--once").exit_code == 0
    articles = {
        a["guid"]: a for a in rows(tmp_path, "SELECT guid, title, published, extraction FROM articles")
    }
    assert articles[dated.guid]["title"] == "The feed's own title"
    assert articles[dated.guid]["published"].startswith(dated.published.date().isoformat())
    bare = articles["bare-1"]
    assert bare["extraction"] == "full"
    assert bare["title"] == "New York ramps up mass burials amid virus outbreak"  # the page's own
    assert bare["published"] == "2020-04-10"  # the page's own date
