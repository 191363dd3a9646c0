"""``/matches.atom``: the matched stories as an Atom feed (RFC 4287), for a
feed reader (Miniflux, FreshRSS, NetNewsWire...) or any tool that follows
feeds. ``?rule=ID`` keeps one rule's stories; the stories page's other
filters (``feed``, ``severity``, ``since``, ``unreviewed``) work too.

One entry per story, newest first: its headline, a link to the original
article and one to its explanation on the review page, the rules it matched
and the outlets that carried it. Built with ElementTree, so feed text is
always escaped XML, never markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime

from watcher.review.log import LogRow

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def _stamp(value: str | None, fallback: datetime) -> str:
    try:
        return datetime.fromisoformat(value).isoformat() if value else fallback.isoformat()
    except ValueError:
        return fallback.isoformat()


def feed(
    rows: Sequence[LogRow],
    *,
    base: str,
    self_url: str,
    title: str,
    now: datetime,
    href: Callable[[str | None], str | None],
) -> bytes:
    """The feed for ``rows``; ``base`` is the review page's address (links and
    ids), ``href(url)`` keeps only safe http(s) links."""
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(root, f"{{{ATOM}}}title").text = title
    ET.SubElement(root, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(root, f"{{{ATOM}}}updated").text = _stamp(rows[0].seen if rows else None, now)
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=self_url, type="application/atom+xml")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/", type="text/html")
    ET.SubElement(ET.SubElement(root, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "watcher"
    ET.SubElement(root, f"{{{ATOM}}}generator").text = "watcher"
    for row in rows:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        page = f"{base}/article/{row.article_id}"
        ET.SubElement(entry, f"{{{ATOM}}}id").text = page
        ET.SubElement(entry, f"{{{ATOM}}}title").text = f"[{row.severity}] {row.title}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(row.seen, now)
        original = href(row.url)
        if original:
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=original, type="text/html")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=page, type="text/html")
        for rule in row.rules:
            ET.SubElement(entry, f"{{{ATOM}}}category", term=rule)
        outlets = ", ".join((row.feed, *row.other_feeds))
        more = row.outlets - 1 - len(row.other_feeds)
        summary = (
            f"Severity {row.severity}; rules: {', '.join(row.rules)}; source: {outlets}"
            + (f" and {more} more" if more > 0 else "")
            + f"; alerts: {row.alert_status}. Why it matched: {page}"
        )
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = summary
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
