"""Index pages: a page listing articles (a ministry's statements) read as a feed.

Each link the rule picks becomes a :class:`FeedEntry` (guid and link: the
absolute URL without its fragment; title: the link's text). A rule picks links
by a CSS selector (the ``<a href>`` elements it matches, or those inside the
elements it matches), by a link pattern (a regular expression searched in the
absolute URL), or both; by default only links on the page's own site (its host,
``www.`` ignored, and subdomains of it) count. Links are deduplicated, first
place wins; page order is kept (index pages list the newest first).

Patterns run on Python's ``re``, which backtracks: :func:`compile_pattern`
refuses the constructs that can take exponential time (with the same static
check rule regexes get, ``watcher.match.patterns.pattern_problem``, handed in), and each URL matched is cut to
``MAX_URL`` characters. At most ``MAX_LINKS`` anchors are looked at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from watcher.errors import FeedError
from watcher.parse import htmltree
from watcher.parse.entry import MAX_ENTRIES, FeedEntry, ParsedFeed
from watcher.parse.href import absolute, document_base

MAX_LINKS = 20_000  # anchors looked at per page
MAX_URL = 2_048  # characters of a URL a pattern sees
_MAX_TITLE = 300


@dataclass(frozen=True)
class LinkRule:
    pattern: re.Pattern[str] | None = None  # from compile_pattern
    selector: htmltree.Selector | None = None  # from compile_selector
    same_site: bool = True


def compile_pattern(text: str, *, problem: Callable[[str], str | None]) -> re.Pattern[str]:
    """A link pattern, or ValueError saying why it cannot be used.

    ``problem`` is the static check for patterns that can take exponential time
    (``watcher.match.patterns.pattern_problem``, passed in by the composition
    root: a parse module may not import the match stage)."""
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {text!r} ({exc})") from None
    refused = problem(text)
    if refused:
        raise ValueError(f"link pattern {text!r} refused: {refused}")
    return compiled


def compile_selector(text: str) -> htmltree.Selector:
    """A CSS selector, or ValueError saying what is wrong with it."""
    return htmltree.compile_selector(text)


def index_links(data: bytes, *, url: str, rule: LinkRule, content_type: str | None = None) -> ParsedFeed:
    """The article links of an index page fetched from ``url``."""
    try:
        root = htmltree.parse_html(data, content_type=content_type)
    except htmltree.MarkupError as exc:
        raise FeedError(f"index page: {exc}") from None
    base = document_base(root, url)
    anchors = _anchors(root, rule)
    entries: list[FeedEntry] = []
    seen = {url.split("#", 1)[0]}
    looked = 0
    capped = False
    for anchor in anchors:
        looked += 1
        if looked > MAX_LINKS:
            capped = True
            break
        link = absolute(anchor.attr("href"), base)
        if link is None or link in seen:
            continue
        if rule.same_site and not same_site(link, url):
            continue
        if rule.pattern is not None and not rule.pattern.search(link[:MAX_URL]):
            continue
        seen.add(link)
        title = anchor.text()[:_MAX_TITLE] or (anchor.attr("title") or "")[:_MAX_TITLE]
        entries.append(
            FeedEntry(
                guid=link,
                url=link,
                title=title,
                summary="",
                author=None,
                published=None,
                language=None,
            )
        )
        if len(entries) >= MAX_ENTRIES:
            capped = True
            break
    notes = [
        f"only the first {MAX_LINKS:,} links of the page were looked at"
        if capped and looked > MAX_LINKS
        else None,
        f"only the first {MAX_ENTRIES} matching links were kept" if len(entries) >= MAX_ENTRIES else None,
        _nothing_note(rule) if not entries else None,
    ]
    title = next((t.text() for t in root.iter("title")), "") or None
    return ParsedFeed(
        title=title,
        language=_language(root),
        entries=tuple(entries),
        warning="; ".join(n for n in notes if n) or None,
    )


def _anchors(root: htmltree.Node, rule: LinkRule):
    if rule.selector is None:
        yield from root.iter("a")
        return
    for node in root.select(rule.selector):
        if node.tag == "a":
            yield node
        else:
            yield from node.iter("a")


def _nothing_note(rule: LinkRule) -> str:
    what = [
        w
        for w, on in (
            ("the selector", rule.selector is not None),
            ("the link pattern", rule.pattern is not None),
            ("same-site links only", rule.same_site),
        )
        if on
    ]
    return f"no links on the page matched ({', '.join(what) or 'no rule'}); check the page or the rule"


def _host(url: str) -> str:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def same_site(link: str, page: str) -> bool:
    """The page's host (``www.`` ignored) or a subdomain of it: on x.gov.tr, news.x.gov.tr counts."""
    a, b = _host(link), _host(page)
    return bool(a and b) and (a == b or a.endswith("." + b))


def _language(root: htmltree.Node) -> str | None:
    value = (root.attr("lang") or "").strip().replace("_", "-").lower()
    return value if re.match(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$", value) else None
