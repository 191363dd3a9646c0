"""Links found in a stranger's HTML, made absolute: the document's ``<base>``,
then ``urljoin``; only http(s) links with a host come back, without their
fragment. A link that does not resolve is ``None``, never an exception."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from watcher.parse import htmltree

_CONTROL = re.compile(r"[\t\r\n]")


def absolute(href: str | None, base: str) -> str | None:
    """``href`` resolved against ``base``; ``None`` for an empty, fragment-only,
    malformed or non-http(s) link."""
    if not href:
        return None
    href = _CONTROL.sub("", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        joined = urljoin(base, href)
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return joined.split("#", 1)[0]


def document_base(root: htmltree.Node, url: str) -> str:
    """What relative links on the page at ``url`` are relative to: its first
    ``<base href>`` when that resolves, else the page's own address."""
    for base in root.iter("base"):
        return absolute(base.attr("href"), url) or url
    return url
