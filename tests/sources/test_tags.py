"""Feed tags: shown and filterable in `watcher log` and the web page, and
usable in channel routing (a channel's feed_tags)."""

from __future__ import annotations

import json

import httpx
from newsroom import Newsroom, article_html, seed_texts, write_config
from support import wall_clock as clock
from support import watcher

from watcher.web import server as web


def _outlet(server, prefix: str, seeds: list[tuple[str, str]]) -> Newsroom:
    room = Newsroom(server)
    for name, text in seeds:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        room.add(f"/{prefix}/{name}.html", lines[0][:120], article_html(lines[0][:120], text))
    return room


def test_tags_filter_the_log_and_the_web_page_and_route_alerts(tmp_path, server, hooks):
    seeds = seed_texts()
    tagged = _outlet(server, "a", seeds[:3]).publish("/a.xml", "Tagged outlet")
    other = _outlet(server, "b", seeds[3:]).publish("/b.xml", "Other outlet")
    desk, everyone = hooks
    extra = (
        f'[[channels]]\nname = "syria-desk"\nurl = "{desk.url()}"\nformat = "json"\nfeed_tags = ["syria"]\n\n'
        f'[[channels]]\nname = "everyone"\nurl = "{everyone.url()}"\nformat = "json"\n\n'
        f'[[feeds]]\nname = "Tagged"\nurl = "{tagged}"\ntags = ["syria", "official"]\n\n'
        f'[[feeds]]\nname = "Other"\nurl = "{other}"\n'
    )
    config = write_config(tmp_path, [], extra=extra)
    result = watcher(config, "run", "--once")
    assert result.exit_code == 0, result.output

    stories = [json.loads(line) for line in watcher(config, "log", "--json").stdout.splitlines()]
    assert {s["feed"] for s in stories} == {"Tagged", "Other"}  # both outlets matched
    only = [
        json.loads(line) for line in watcher(config, "log", "--tag", "syria", "--json").stdout.splitlines()
    ]
    assert only and {s["feed"] for s in only} == {"Tagged"}
    assert all(s["tags"] == ["syria", "official"] for s in only)
    table = watcher(config, "log", "--tag", "official").stdout
    assert "#syria" in table and "Other" not in table
    unknown = watcher(config, "log", "--tag", "syira")
    assert unknown.exit_code == 2 and "no feed has that tag" in unknown.stderr and "syria" in unknown.stderr

    # Routing: the desk hears only of stories from the tagged feed; everyone of all.
    desk_urls = {p.payload["url"] for p in desk.posts}
    everyone_urls = {p.payload["url"] for p in everyone.posts}
    assert desk_urls and all("/a/" in u for u in desk_urls)
    assert any("/b/" in u for u in everyone_urls) and desk_urls < everyone_urls

    # The web page: the tag is shown beside the source, and filters.
    site = web.WebServer(web.WebSettings(database=tmp_path / "watcher.db", port=0), clock=clock)
    url = site.start()
    try:
        page = httpx.get(url + "/?tag=syria", timeout=30).text
        assert "#syria" in page and "<bdi>Tagged</bdi>" in page
        assert "<bdi>Other</bdi>" not in page  # the other outlet's stories are filtered out
        feeds = httpx.get(url + "/feeds", timeout=30).text
        assert "#official" in feeds
    finally:
        site.stop()
