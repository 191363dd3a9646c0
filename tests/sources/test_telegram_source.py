"""kind = "telegram" end to end: the real preview capture served on loopback,
`watcher run --once` through the CLI, and what `watcher feeds` and the log then say."""

from __future__ import annotations

import json

from newsroom import write_config
from sourcesite import DATA, channel_pages, feed_table, post_ids, serve_channel
from support import rows, watcher


def _config(tmp_path, server, **keys):
    table = feed_table(kind="telegram", channel="tchantest", url=server.url("/s/tchantest"), **keys)
    return write_config(tmp_path, [], extra=table)


def test_posts_become_articles_with_permanent_links_and_dates_paging_back_to_the_limit(tmp_path, server):
    pages = channel_pages()
    asked = serve_channel(server, pages)
    config = _config(tmp_path, server, max_pages=2)

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output

    assert asked == [None, 62]  # the first page, then one older page: max_pages = 2
    articles = rows(tmp_path, "SELECT url, guid, published, extraction, extraction_error, text FROM articles")
    expected = post_ids(pages[None]) | post_ids(pages[62])
    assert {a["url"] for a in articles} == {f"https://t.me/tchantest/{i}" for i in expected}
    assert all(a["guid"] == a["url"] for a in articles)
    assert all(a["published"] and a["published"].startswith("2023-02-") for a in articles)
    # The post is the article: its text is stored, no page is fetched or extracted.
    assert {a["extraction"] for a in articles} == {"summary"}
    assert all(a["extraction_error"] is None for a in articles)
    assert all(not r.path.startswith("/tchantest/") for r in server.requests)
    feed = rows(tmp_path, "SELECT kind, last_status, name FROM feeds")[0]
    assert feed == {"kind": "telegram", "last_status": "ok", "name": "@tchantest"}


def test_a_second_poll_reads_one_page_and_stores_nothing_new(tmp_path, server):
    asked = serve_channel(server, channel_pages())
    config = _config(tmp_path, server, max_pages=3)
    assert watcher(config, "run", "--once").exit_code == 0
    stored = rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"]
    assert asked == [None, 62, 13]

    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert "0 new entries, 0 articles stored" in result.output
    assert rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"] == stored
    assert asked[3:] == [None]  # the newest page holds a known post: no paging


def test_a_channel_that_does_not_exist_is_a_recorded_error(tmp_path, server):
    body = (DATA / "telegram" / "reconstructed_unknown_channel.html").read_bytes()
    server.route("/s/nosuchchannel", body, content_type="text/html; charset=utf-8")
    table = feed_table(kind="telegram", channel="nosuchchannel", url=server.url("/s/nosuchchannel"))
    config = write_config(tmp_path, [], extra=table)

    result = watcher(config, "run", "--once")
    assert result.exit_code == 3, result.output
    assert "@nosuchchannel" in result.stderr and "no public preview" in result.stderr

    shown = json.loads(watcher(config, "feeds", "--json").stdout)
    assert shown["status"] == "failing" and "check the name" in shown["last_error"]


def test_a_preview_whose_markup_changed_is_a_failing_source_not_silence(tmp_path, server):
    body = (DATA / "telegram" / "reconstructed_markup_changed.html").read_bytes()
    server.route("/s/tchantest", body, content_type="text/html; charset=utf-8")
    config = _config(tmp_path, server)

    result = watcher(config, "run", "--once")
    assert result.exit_code == 3, result.output
    shown = json.loads(watcher(config, "feeds", "--json").stdout)
    assert shown["status"] == "failing"
    assert "changed its markup" in shown["last_error"] and shown["kind"] == "telegram"


def test_follow_links_fetches_the_links_inside_posts_as_articles(tmp_path, server):
    page = channel_pages()[None]
    own = server.url("/report.html")
    # The real posts' links, pointed at the loopback outlet (the news link) and at nothing (python.org).
    agency = b"https://agenciabrasil.ebc.com.br/justica/noticia/2022-08/operacao-guardioes-do-bioma-apreende-239-toneladas-de-minerio"
    assert agency in page
    page = page.replace(agency, own.encode())
    for gone in (b"https://python.org/", b"https://www.python.org/"):
        page = page.replace(gone, server.url("/missing.html").encode())
    serve_channel(server, {None: page})
    server.route(
        "/report.html",
        b"<html><body><article><h1>Report</h1>"
        + b"<p>The ministry published its report on the reconstruction of the old town today.</p>" * 5
        + b"</article></body></html>",
        content_type="text/html; charset=utf-8",
    )
    config = _config(tmp_path, server, follow_links=True, max_pages=1)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output
    followed = rows(tmp_path, "SELECT url, extraction FROM articles WHERE url NOT LIKE 'https://t.me/%'")
    assert {"url": own, "extraction": "full"} in followed
    assert server.requests_for("/report.html")
