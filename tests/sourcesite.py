"""Loopback sites for the source kinds: a Telegram channel's preview pages
(cut from the real assembled capture in tests/data/sources/telegram), and
helpers to publish sitemaps, index pages and feeds on the loopback server."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "data" / "sources"
TCHAN = (DATA / "telegram" / "tchantest_assembled.html").read_bytes()


def channel_pages(html: bytes = TCHAN, channel: str = "tchantest") -> dict[int | None, bytes]:
    """The assembled real page cut into three preview pages linked by ?before=
    (ids 62 and up, 13-61, below 13), as t.me/s/<channel> serves them."""
    text = html.decode("utf-8")
    head, rest = text.split('<section class="tgme_channel_history js-message_history">', 1)
    blocks = re.split(r'(?=<div class="tgme_widget_message_wrap)', rest.split("</section>", 1)[0])[1:]
    ids = [int(re.search(rf'data-post="{channel}/(\d+)"', b).group(1)) for b in blocks]
    cuts = {None: lambda i: i >= 62, 62: lambda i: 13 <= i < 62, 13: lambda i: i < 13}
    pages = {}
    for before, keep in cuts.items():
        chosen = [b for b, i in zip(blocks, ids, strict=True) if keep(i)]
        oldest = min(i for i in ids if keep(i))
        more = (
            f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{channel}?before='
            f'{oldest}" class="tme_messages_more js-messages_more" data-before="{oldest}"></a></div>'
            if oldest > 1
            else ""
        )
        pages[before] = (
            head
            + '<section class="tgme_channel_history js-message_history">'
            + more
            + "".join(chosen)
            + "</section></div></main></body></html>"
        ).encode("utf-8")
    return pages


def post_ids(page: bytes, channel: str = "tchantest") -> set[int]:
    """Ids of the posts (not service messages) on a preview page."""
    found = set()
    for block in re.split(r'(?=<div class="tgme_widget_message_wrap)', page.decode("utf-8"))[1:]:
        match = re.search(rf'data-post="{channel}/(\d+)"', block)
        if match and not re.search(r'class="tgme_widget_message [^"]*service_message', block):
            found.add(int(match.group(1)))
    return found


def serve_channel(server, pages: dict[int | None, bytes], channel: str = "tchantest") -> list[int | None]:
    """Serve ``pages`` at /s/<channel>[?before=N]; returns the list of ``before`` values asked for."""
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

    server.route_handler(f"/s/{channel}", answer)
    return asked


def feed_table(**keys: object) -> str:
    """One [[feeds]] table in TOML."""
    lines = ["[[feeds]]"]
    for key, value in keys.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, (int, float)):
            lines.append(f"{key} = {value}")
        elif isinstance(value, (list, tuple)):
            lines.append(f"{key} = [{', '.join(repr_toml(v) for v in value)}]")
        elif isinstance(value, dict):
            lines.append(
                f"{key} = {{ {', '.join(f'{repr_toml(k)} = {repr_toml(v)}' for k, v in value.items())} }}"
            )
        else:
            lines.append(f"{key} = {repr_toml(value)}")
    return "\n".join(lines) + "\n"


def repr_toml(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
