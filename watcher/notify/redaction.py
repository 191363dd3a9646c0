"""Keeping channel secrets out of logs, exceptions and output.

An apprise URL is a secret: tokens sit in its host, path, userinfo, query
values and custom headers (``json://host/path?+X-Token=...``). apprise logs
whole URLs at ERROR when one cannot be parsed and request URLs with tokens at
DEBUG; urllib3 logs request paths at DEBUG. :class:`Redactor` knows every
secret part of every configured URL and replaces each with ``***``;
:class:`RedactingFilter` applies it to every log record a handler emits,
whichever logger it came from.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote

MASK = "***"
MIN_SECRET = 4  # shorter parts are not masked: they would mask ordinary words
THIRD_PARTY_LOGGERS = ("apprise", "urllib3", "requests", "requests_oauthlib", "oauthlib")

# Option values apprise URLs carry that are not secrets.
_HARMLESS = {
    "yes",
    "no",
    "true",
    "false",
    "on",
    "off",
    "none",
    "post",
    "get",
    "put",
    "patch",
    "delete",
    "text",
    "html",
    "markdown",
    "default",
    "normal",
    "high",
    "low",
    "hook",
    "upstream",
    "truncate",
    "split",
    "json",
    "form",
    "xml",
    "https",
    "http",
    "starttls",
    "ssl",
    "basic",
    "cloud",
    "private",
    "before",
    "after",
    # path words of services' own web addresses (https://discord.com/api/webhooks/ID/TOKEN)
    "api",
    "webhook",
    "webhooks",
    "hooks",
    "services",
    "notify",
    "message",
    "messages",
    "send",
}
_HOSTNAME = re.compile(
    r"^(localhost|\[[0-9a-f:.]+\]|[a-z0-9-]*[a-z-][a-z0-9-]*(\.[a-z0-9-]+)+"
    r"|\d{1,3}(\.\d{1,3}){3})(:\d{1,5})?$",
    re.I,
)


_SPLIT = re.compile(r"([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)


def secret_parts(url: str) -> set[str]:
    """Every substring of ``url`` that could reveal a secret.

    A real host name (with a dot, an IP address, localhost) is not secret;
    a bare host such as a Discord webhook id or an ntfy topic is."""
    url = url.strip()
    if not url:
        return set()
    parts = {url, unquote(url)}
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest = url
    netloc, path, query, fragment = _split(rest)
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        parts |= {userinfo, *userinfo.split(":", 1)}
        parts.add(base64.b64encode(unquote(userinfo).encode()).decode())
    if not _HOSTNAME.match(hostport):
        parts |= {hostport, *hostport.split(":")}
    parts |= set(path.split("/")) | {path.strip("/"), fragment}
    for _key, value in parse_qsl(query, keep_blank_values=True):
        if not (_HOSTNAME.match(value) or value.isdigit()):  # smtp=host, port=587: not secret
            parts.add(value)
    expanded = set()
    for part in parts:
        expanded |= {part, unquote(part), quote(unquote(part), safe=""), quote(unquote(part))}
    secrets = {p for p in expanded if len(p) >= MIN_SECRET and p.lower() not in _HARMLESS}
    # apprise's "privacy" forms of a token: first and last character, or the last four
    return secrets | {f"{p[0]}...{p[-1]}" for p in secrets} | {f"...{p[-4:]}" for p in secrets if len(p) >= 8}


def _split(rest: str) -> tuple[str, str, str, str]:
    """netloc, path, query and fragment of a URL after its ``scheme://``."""
    parts = _SPLIT.match(rest)
    assert parts is not None  # every group is optional: any string matches
    netloc, path, query, fragment = parts.groups(default="")
    return netloc, path, query, fragment


def public_host(url: str) -> str | None:
    """The host[:port] of ``url`` when it is a real host name (so not a
    secret), else None."""
    rest = url.strip().partition("://")[2]
    netloc = _split(rest)[0]
    hostport = netloc.rpartition("@")[2]
    return hostport.lower() if _HOSTNAME.match(hostport) else None


class Redactor:
    """Replaces every known secret substring with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, unique))) if unique else None

    @classmethod
    def for_urls(cls, urls: Iterable[str], extra: Iterable[str] = ()) -> Redactor:
        secrets: set[str] = set(extra)
        for url in urls:
            secrets |= secret_parts(url)
        return cls(secrets)

    @classmethod
    def for_channels(cls, channels: Iterable, extra: Iterable[str] = ()) -> Redactor:
        """Every channel's URL, and the proxy its alerts go through (it may hold a
        password); ``extra``: more secrets (the feeds' header values)."""
        return cls.for_urls((u for c in channels for u in (c.url, getattr(c, "proxy", None)) if u), extra)

    def scrub(self, text: object) -> str:
        text = text if isinstance(text, str) else str(text)
        return self.pattern.sub(MASK, text) if self.pattern else text

    def scrub_exception(self, exc: BaseException) -> str:
        """``Type: message`` of an exception, secrets masked."""
        return self.scrub(f"{type(exc).__name__}: {exc}")


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback) with secrets masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not stop logging
            message = f"{record.msg!r} (unformattable: {exc})"
        record.msg, record.args = self.redactor.scrub(message), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.redactor.scrub(text), None
        elif record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.scrub(record.stack_info)
        return True


def install(
    handler: logging.Handler, channels: Iterable, *, cap_third_party: bool = True, secrets: Iterable[str] = ()
) -> RedactingFilter:
    """Mask ``channels``' secrets in everything ``handler`` emits, and in
    records logged straight to apprise's and urllib3's loggers; those loggers
    are kept at WARNING unless ``cap_third_party`` is false."""
    filt = RedactingFilter(Redactor.for_channels(channels, secrets))
    _replace(handler, filt)
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        _replace(logger, filt)
        if cap_third_party and logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    return filt


def _replace(target: logging.Filterer, filt: RedactingFilter) -> None:
    """One redacting filter per handler or logger: a new config's replaces the
    old one (two would mask each other's secrets only in part)."""
    for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
        target.removeFilter(old)
    target.addFilter(filt)
