"""Wrapped links: the publisher's URL inside a redirector's link, without contacting it.

Aggregators hand out links to themselves that redirect to the article:

- Google redirects, as in Google Alerts feeds: ``https://www.google.com/url?rct=j&sa=t&url=<target>&ct=ga&...``
  and search results ``https://www.google.<tld>/url?q=<target>&...``;
- Google News: ``https://news.google.com/rss/articles/<id>?oc=5`` (also ``/__i/rss/rd/articles/``
  and ``/articles/``). ``<id>`` is base64url of a small protobuf; up to 2024 its
  first string field *was* the article URL, newer ids hold an opaque token
  (``AU_yqL...``) that only Google can resolve;
- Bing News: ``https://www.bing.com/news/apiclick.aspx?...&url=<target>`` and Bing's
  ``/ck/a?...&u=a1<base64url of target>``;
- FeedBurner: ``http://feedproxy.google.com/~r/<feed>/~3/<token>/<slug>`` (and
  ``feeds.feedburner.com/~r/...``), whose target is not in the link at all.

:func:`unwrap` returns the target when the link carries it, the link itself when
it is no known wrapper, and None when it is a wrapper without the target: the
caller then follows the redirect once through the guarded client and keeps the
final URL. Wrappers inside wrappers are unwrapped too (at most ``MAX_LAYERS``).
Only an absolute http(s) target counts. Identity runs on the result:
``canonical_url(unwrap(link) or link)``; nothing here is fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qs, urlsplit

MAX_LAYERS = 3
_MAX_URL = 8192
_GOOGLE_HOST = re.compile(r"^(www\.)?google\.(com|[a-z]{2,3}|com?\.[a-z]{2})$")
_NEWS_PATH = re.compile(r"^/(?:__i/rss/rd/|rss/)?(?:articles|read)/([^/]+)/?$")
_NEWS_ID = re.compile(r"^[A-Za-z0-9_-]{4,4096}$")
_FEEDBURNER_HOSTS = (
    "feedproxy.google.com",
    "feeds.feedburner.com",
    "feeds2.feedburner.com",
)


def unwrap(url: str) -> str | None:
    """The publisher's URL inside ``url`` (``url`` itself if it is no wrapper),
    or None for a wrapper that does not carry it (follow the redirect once)."""
    current = url.strip()
    for _ in range(MAX_LAYERS):
        if not is_wrapper(current):
            return current
        target = _target(current)
        if target is None:
            return None
        current = target
    return current if not is_wrapper(current) else None


def is_wrapper(url: str) -> bool:
    """Whether ``url`` is a link of a known redirector (see the module docstring)."""
    parts = _split(url)
    if parts is None:
        return False
    host, path = parts[0], parts[1]
    if _GOOGLE_HOST.match(host) and path == "/url":
        return True
    if host == "news.google.com" and _NEWS_PATH.match(path):
        return True
    if _is_bing(host) and path.lower() in ("/news/apiclick.aspx", "/ck/a"):
        return True
    return host in _FEEDBURNER_HOSTS and path.startswith("/~r/")


def _split(url: str) -> tuple[str, str, str] | None:
    if len(url) > _MAX_URL:
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return host, parts.path, parts.query


def _is_bing(host: str) -> bool:
    return host == "bing.com" or host.endswith(".bing.com")


def _target(url: str) -> str | None:
    parts = _split(url)
    if parts is None:
        return None
    host, path, query = parts
    params = parse_qs(query, keep_blank_values=True)
    if _GOOGLE_HOST.match(host):
        return _first_http(params, "url", "q")
    if host == "news.google.com":
        match = _NEWS_PATH.match(path)
        return _google_news(match.group(1)) if match else None
    if _is_bing(host):
        if path.lower() == "/ck/a":
            return _bing_click(params)
        return _first_http(params, "url")
    return None  # FeedBurner: the target is not in the link


def _first_http(params: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        for value in params.get(name, []):
            if _is_http(value):
                return value.strip()
    return None


def _is_http(value: str) -> bool:
    value = value.strip()
    if not value or len(value) > _MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _b64(text: str) -> bytes | None:
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        # A few ids carry a stray trailing character: decode the longest valid prefix.
        cut = len(text) - len(text) % 4
        try:
            return base64.urlsafe_b64decode(text[:cut])
        except (binascii.Error, ValueError):
            return None


def _google_news(article_id: str) -> str | None:
    """The first http(s) string field of the id's protobuf (old-style ids), else None."""
    data = _b64(article_id) if _NEWS_ID.match(article_id) else None
    if not data:
        return None
    for value in _protobuf_strings(data):
        if value.startswith((b"http://", b"https://")):
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                return None
            return text if _is_http(text) else None
    return None


def _protobuf_strings(data: bytes):
    """Length-delimited fields at the top level of a protobuf message, in order."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        if key is None:
            return
        wire = key & 7
        if wire == 0:
            _, i = _varint(data, i)
            if i is None:
                return
        elif wire == 2:
            length, i = _varint(data, i)
            if length is None or i is None or i + length > len(data):
                return
            yield data[i : i + length]
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            return


def _varint(data: bytes, i: int) -> tuple[int | None, int]:
    value = shift = 0
    while i < len(data) and shift < 64:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
    return None, i


def _bing_click(params: dict[str, list[str]]) -> str | None:
    """Bing's ``/ck/a?...&u=a1<base64url(target)>``."""
    for value in params.get("u", []):
        if value.startswith("a1"):
            data = _b64(value[2:])
            if data:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if _is_http(text):
                    return text
    return None
