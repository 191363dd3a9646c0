"""A simulated outlet for end-to-end tests: real article texts (the seed
corpus, real pages under ../shared/fixtures/real/html/) published as HTML
pages and listed in an RSS feed, served by the real loopback server.

    room = Newsroom(server)
    room.add_seed_articles()                 # the five seeds, as pages
    room.add_real_pages(3)                   # three real news pages (unrelated topics)
    feed_url = room.publish("/feed.xml")     # RSS 2.0 listing them, with an ETag
"""

from __future__ import annotations

import gzip
import hashlib
import html
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from support import REAL, ROOT, SEEDS

REAL_PAGES = REAL / "html" / "trafilatura"


@dataclass(frozen=True)
class Story:
    path: str
    title: str
    summary: str
    guid: str
    published: datetime
    body: bytes = b""  # the page as served


def seed_texts() -> list[tuple[str, str]]:
    """(name, text) of each seed document."""
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]


def article_html(title: str, text: str, outlet: str = "Example News") -> bytes:
    """A plausible news page: navigation and footer boilerplate around the article."""
    paras = "\n".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n") if p.strip())
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {outlet}</title>
<meta property="og:title" content="{html.escape(title)}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav></header>
<main><article><h1>{html.escape(title)}</h1>
<p class="byline">By Staff Reporter</p>
{paras}
</article></main>
<footer><p>© {outlet}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>""".encode()


class Newsroom:
    def __init__(self, server, *, start: datetime | None = None, page_delay: float = 0.0) -> None:
        self.server = server
        self.page_delay = page_delay
        self.stories: list[Story] = []
        # Recent by default: an entry older than [alerts] max_age (3 days) never alerts.
        self.start = start or datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=12)

    def add(self, path: str, title: str, body: bytes, summary: str = "") -> Story:
        story = Story(
            path=path,
            title=title,
            summary=summary or title,
            guid=f"tag:newsroom,{hashlib.sha1(path.encode()).hexdigest()[:12]}",
            published=self.start + timedelta(hours=len(self.stories)),
            body=body,
        )
        self.server.route(
            path,
            body=body,
            content_type="text/html; charset=utf-8",
            delay=self.page_delay,
            etag=f'"{hashlib.sha1(body).hexdigest()[:16]}"',
        )
        self.stories.append(story)
        return story

    def add_seed_articles(self) -> list[Story]:
        added = []
        for name, text in seed_texts():
            lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip() != "Skip to content"]
            title = lines[0][:120]
            added.append(
                self.add(
                    f"/news/{name}.html", title, article_html(title, text), summary=" ".join(lines[:2])[:300]
                )
            )
        return added

    def add_real_pages(self, count: int) -> list[Story]:
        pages = sorted(REAL_PAGES.glob("*.html"))[:count]
        return [
            self.add(
                f"/world/{p.stem}.html", p.stem.replace("-", " "), p.read_bytes(), summary=f"Report: {p.stem}"
            )
            for p in pages
        ]

    def rss(self, title: str = "Example News") -> bytes:
        items = "\n".join(
            f"""<item><title>{html.escape(s.title)}</title>
<link>{self.server.url(s.path)}</link><guid isPermaLink="false">{s.guid}</guid>
<description>{html.escape(s.summary)}</description>
<pubDate>{format_datetime(s.published)}</pubDate></item>"""
            for s in reversed(self.stories)
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{html.escape(title)}</title>
<link>{self.server.url("/")}</link><description>Test outlet</description>
{items}</channel></rss>""".encode()

    def publish(self, path: str = "/feed.xml", title: str = "Example News") -> str:
        body = self.rss(title)
        self.server.route(
            path,
            body=body,
            content_type="application/rss+xml; charset=utf-8",
            etag=f'"{hashlib.sha1(body).hexdigest()[:16]}"',
            last_modified=format_datetime(self.start, usegmt=True),
        )
        return self.server.url(path)


def real_page(name: str) -> bytes:
    path = REAL_PAGES / name
    return gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()


def write_config(
    tmp_path: Path,
    feeds: list[tuple[str, str]],
    *,
    rules: str | Path | None = None,
    extra: str = "",
    fetch_article: bool = True,
    timeout: str = "5s",
    network: str = "",
    extraction: str = "",
) -> Path:
    """A watcher.toml in ``tmp_path`` for loopback feeds (the private-network
    guard is opened for 127.0.0.0/8 only). ``network``, ``extraction``: more
    lines of [network] and [extraction]."""
    rules_path = Path(rules) if rules else Path(os.environ.get("WATCHER_TEST_RULES", ROOT / "rules"))
    feed_tables = "\n".join(
        f'[[feeds]]\nname = "{name}"\nurl = "{url}"\nfetch_article = {str(fetch_article).lower()}\n'
        for name, url in feeds
    )
    path = tmp_path / "watcher.toml"
    path.write_text(
        f"""[watcher]
database = "{tmp_path / "watcher.db"}"
rules = ["{rules_path}"]
poll_interval = "15m"

[network]
timeout = "{timeout}"
allow_private = ["127.0.0.0/8"]
{network}

[extraction]
timeout = "20s"
{extraction}

{extra}

{feed_tables}
""",
        encoding="utf-8",
    )
    path.chmod(0o600)  # it may hold channel URLs: `watcher check` warns otherwise
    return path
