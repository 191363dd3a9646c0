"""Exact identity of an article: its canonical URL and the hash of its text.

Both are checked before anything fuzzy. The canonical URL is checked before a
page is fetched (the same link seen through another feed, under a rotated
GUID, with tracking parameters or as an AMP page is the same article); the
content hash after extraction (the same text under another URL is a copy).

``courlan`` is imported here and nowhere else. Its ``normalize_url`` does the
scheme, host, default port, punycode and path work; the query string is
cleaned here instead, because courlan's tracker pattern also drops parameters
that name the article (``cid``, ``uid``, ``gallery``, ``global``...) and
parameters without a value, which would merge different articles into one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

from watcher.text.fold import Normalised, normalise

# Only this much of a text is read for identity (a 5 MB extraction costs no
# more than a long article; copies that agree this far are the same text).
MAX_CHARS = 200_000
# Content identity needs this many words; shorter texts (paywall stubs, "read
# more" teasers, empty extractions) are too often the same for different
# articles to prove anything.
MIN_WORDS = 40

# Parameters that only say where a click came from. Exact names, lower case.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "cmp",
        "s_cid",
        "smid",
        "smtyp",
        "ito",
        "xtor",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "vero_id",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "wt.mc_id",
        "wt.mc_ev",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "sr_share",
        "share",
        "spm",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "source",
        "rss",
        "via",
        "__twitter_impression",
        "soc_src",
        "soc_trk",
    }
)
# Prefixes: utm_source, utm_medium..., pk_campaign (Matomo), mtm_*, hsa_*.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
# Parameters that ask for the AMP rendering of the same page.
AMP_PARAMS = frozenset({"amp", "amp_js_v", "amp_gsa", "usqp", "outputtype"})
AMP_CACHE = re.compile(r"^[a-z0-9-]+\.cdn\.ampproject\.org$")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")


# Fragments that point into a page rather than naming an item of it: two links
# that differ only by one of these are the same article ("#comments" beside
# the plain link), whatever the feed says.
NAVIGATION_FRAGMENTS = re.compile(
    r"^(comments?|respond|reply|replies|disqus_thread|comment-form|commentform|discussion|"
    r"more(-\d+)?|read-?more|continue|top|content|main(-content)?|maincontent|article|"
    r"page|skip|nav|footer|header|share)$",
    re.IGNORECASE,
)


def _fragment(url: str) -> str:
    try:
        return urlsplit(url.strip()).fragment
    except ValueError:
        return ""


def item_fragments(items: Sequence[tuple[str, str | None]]) -> frozenset[str]:
    """Of one feed document's entries, given as (guid, link), the GUIDs whose
    link's ``#fragment`` identifies the item.

    Some feeds give each item a link into a page shared with other items
    (Scripting News: ``http://scripting.com/2017/06/25.html#a080631``, one
    page per day, a GUID per item). There the fragment is the item's identity.
    The feed says so when two or more of its entries, with different GUIDs,
    link to the same page under different fragments; then every entry of the
    feed whose link carries a fragment keeps it. Fragments that only point
    into a page (``#comments``, ``#respond``, ``#more-123``...) never count."""
    pages: dict[str, dict[str, set[str]]] = {}  # page -> fragment -> guids
    for guid, url in items:
        if not url:
            continue
        fragment = _fragment(url)
        if not fragment or NAVIGATION_FRAGMENTS.match(fragment) or fragment.startswith("!"):
            continue
        pages.setdefault(canonical_url(url), {}).setdefault(fragment, set()).add(guid)
    shared = any(
        len(by_fragment) > 1 and len(set().union(*by_fragment.values())) > 1 for by_fragment in pages.values()
    )
    if not shared:
        return frozenset()
    return frozenset(
        guid for by_fragment in pages.values() for guids in by_fragment.values() for guid in guids
    )


def canonical_url(url: str, *, keep_fragment: bool = False) -> str:
    """The URL under which an article is known, whichever way it was linked.

    Lower-cased scheme and host, default port dropped, tracking parameters,
    fragment and AMP variants removed, dot segments resolved, no trailing
    slash, remaining query parameters sorted by name. Anything that is not an
    absolute http(s) URL comes back stripped but otherwise unchanged.
    ``keep_fragment`` keeps the ``#fragment`` (see :func:`item_fragments`);
    ``#!`` routes are always kept.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts = _unwrap_amp_cache(parts)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return url
        base = normalize_url(
            urlunsplit((parts.scheme, parts.netloc, _path(parts.path), "", "")), trailing_slash=False
        )
    except ValueError:  # bad port, bad IPv6 literal, bad percent-escape...
        return url
    scheme, netloc, path, _, _ = urlsplit(base)
    netloc = _drop_default_port(scheme, netloc)
    if netloc.startswith("amp.") and netloc.count(".") >= 2:  # amp.example.com
        netloc = "www." + netloc.removeprefix("amp.")
    path = _fold_amp_path(path)
    query = _clean_query(parts.query)
    keep = parts.fragment.startswith("!") or (
        keep_fragment and not NAVIGATION_FRAGMENTS.match(parts.fragment)
    )
    fragment = parts.fragment if keep else ""  # #!/route names content
    return urlunsplit((scheme, netloc, path or "/", query, fragment))


def _drop_default_port(scheme: str, netloc: str) -> str:
    """courlan misses ``[::1]:80``; the rule is the same for every host."""
    default = {"http": ":80", "https": ":443"}[scheme]
    return netloc[: -len(default)] if netloc.endswith(default) else netloc


def _unwrap_amp_cache(parts):
    """``https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a`` ->
    ``https://www.example.com/a`` (also Google's ``/amp/s/`` links)."""
    host = (parts.hostname or "").lower()
    path = parts.path
    if AMP_CACHE.match(host):
        match = re.match(r"^/[a-z]/(s/)?(.+)$", path)
    elif host == "google.com" or host.endswith(".google.com"):
        match = re.match(r"^/amp/(s/)?(.+)$", path)
    else:
        return parts
    if not match:
        return parts
    scheme = "https" if match.group(1) else "http"
    inner = urlsplit(f"{scheme}://{match.group(2)}")
    return inner._replace(query=parts.query or inner.query)


def _path(path: str) -> str:
    """Resolve ``.`` and ``..`` segments (RFC 3986, 5.2.4) and make percent-escapes
    upper case, so /a/./b, /a/x/../b and /a/%7e all read alike."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if path.endswith(("/.", "/..")):
        out.append("")
    return _PERCENT.sub(lambda m: m.group(0).upper(), "/".join(out))


def _fold_amp_path(path: str) -> str:
    """/amp/a, /a/amp, /a/amp/, /a.amp, /a.amp.html -> the plain article path."""
    segments = path.rstrip("/").split("/")
    if len(segments) > 2 and segments[1] == "amp":
        del segments[1]
    if len(segments) > 2 and segments[-1] == "amp":
        del segments[-1]
    path = re.sub(r"\.amp(\.html?)?$", lambda m: m.group(1) or "", "/".join(segments))
    return path.rstrip("/") or "/"


def _clean_query(query: str) -> str:
    kept = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        low = name.lower()
        if low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES):
            continue
        if low in AMP_PARAMS and (low != "outputtype" or value.lower() == "amp"):
            continue
        kept.append((name, value))
    kept.sort(key=lambda item: item[0])  # stable: repeated names keep their order
    return urlencode(kept, quote_via=quote, safe="/:,!*@$'()~")


def content_hash(text: str | Normalised) -> str | None:
    """sha256 (hex) of the folded words of ``text`` (or of the text folded
    already, as the pipeline hands it); None when the text has fewer than
    MIN_WORDS words (too short to say two articles are one)."""
    joined, count = within_limit(text).joined_words()
    if count < MIN_WORDS:
        return None
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def normal_words(text: str | Normalised) -> list[str]:
    """The words of ``text`` as identity sees them: folded exactly as the
    matcher and search fold (:func:`watcher.text.fold.fold_words`), so case,
    diacritics, punctuation, soft hyphens, ``İ``/``i``, Arabic vowel marks and
    articles do not make two copies differ. Characters of unspaced scripts
    (Chinese, Japanese, Thai...) are words. Only the first MAX_CHARS
    characters are read."""
    return within_limit(text).words


def within_limit(text: str | Normalised) -> Normalised:
    """``text`` folded (once: a folded text is used as it is), cut to its
    first MAX_CHARS characters."""
    if isinstance(text, str):
        return normalise(text[:MAX_CHARS])
    return text if len(text.original) <= MAX_CHARS else normalise(text.original[:MAX_CHARS])
