"""What an alert says, built at send time from the stored rows.

Everything that comes from a feed (headline, feed name, snippets, links) is
untrusted: control characters are removed, newlines are folded so a headline
cannot fake extra lines or email headers, mass mentions are neutralised
(``@everyone``, ``@here``, ``<@id>``, ``<@&id>``, ``<!channel>``: Discord and
Slack would ping everyone), and the text is escaped for the channel's format.
Messages are capped to the service's limits by dropping whole lines, so no
escape sequence or tag is ever cut in half.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit, urlunsplit

from watcher.config import severity_rank
from watcher.notify import spread
from watcher.store import alerts, articles, matches, notices, stories
from watcher.store.database import Store

ZWSP = "\u200b"
MAX_HEADLINE = 300
MAX_SNIPPET = 200
MAX_NAME = 80
MAX_HITS = 5
MAX_ALSO = 8
MAX_LINK = 1000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_MENTION = re.compile(r"([@＠])(?=[\w&!#])")  # @everyone @here @123 <@id> <@&id> <@!id>
_SLACK_SPECIAL = re.compile(r"<([!#@])")  # <!channel> <!here> <!everyone> <#C123> <@U123>
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#>|~])")


@dataclass(frozen=True)
class Message:
    title: str  # plain text, one line
    body: str  # in ``format``
    format: str  # 'text' | 'markdown' | 'html'


@dataclass(frozen=True)
class Limits:
    title: int = 250  # 0: the service has no title field
    body: int = 32768


@dataclass(frozen=True)
class HitLine:
    term: str
    entity: str | None
    field: str
    snippet: str


@dataclass(frozen=True)
class RuleLine:
    rule_id: str
    title: str
    severity: str
    hits: tuple[HitLine, ...]  # most telling first (as the matcher ordered them)
    score: float | None = None
    evidence: float = 0.0  # how much the hits tell: the alert's title names the strongest rule
    similar_to: str | None = None  # "close in meaning to seeds/003.txt (0.91)"
    via: str = "keywords"


@dataclass(frozen=True)
class AlertContent:
    """One alert's facts, as stored; nothing here is escaped yet."""

    headline: str
    source: str
    published: str | None
    link: str | None
    rules: tuple[RuleLine, ...]
    also: tuple[str, ...]  # other feeds that reported the story
    article_id: int = 0
    story_id: int = 0
    spread: str = ""  # for an alert about a story spreading: "now reported by 5 outlets in 3 languages"


@dataclass(frozen=True)
class NoticeContent:
    """One operator notice (a feed failing, a channel recovered, ...), as stored."""

    title: str  # one line: "feed Example News is failing"
    body: str  # plain text lines: what was seen, since when, what to do
    severity: str
    event: str  # 'start' or 'end'


Content = AlertContent | NoticeContent


# -- cleaning untrusted text ---------------------------------------------------


def neutralise(text: str) -> str:
    """Break mass/user mentions with a zero-width space so no service pings."""
    return _SLACK_SPECIAL.sub(lambda m: "<" + ZWSP + m.group(1), _MENTION.sub(r"\1" + ZWSP, text))


def clean_line(text: str | None, limit: int = MAX_HEADLINE) -> str:
    """One line of plain text: no control characters, no newlines, mentions
    neutralised, at most ``limit`` characters."""
    text = _SPACE.sub(" ", _CONTROL.sub("", text or "")).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return neutralise(text)


def escape(text: str, fmt: str) -> str:
    if fmt == "html":
        return html.escape(text, quote=True)
    if fmt == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")
    return text


def safe_link(url: str | None) -> str | None:
    """An http(s) link without userinfo, with characters that could break out
    of markup (or form a mention) percent-encoded; anything else is None."""
    url = clean_line(url, 10_000).replace(ZWSP, "")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc.rpartition("@")[2]
    enc = lambda s: quote(s, safe="/%:=&?;,+!$'*~-._")  # noqa: E731 - @ <> " ( ) ` space are encoded
    link = urlunsplit((parts.scheme.lower(), netloc, enc(parts.path), enc(parts.query), enc(parts.fragment)))
    return link if len(link) <= MAX_LINK else None


# -- loading from the database -------------------------------------------------


def load_content(store: Store, *, article_id: int, story_id: int, channel=None) -> AlertContent:
    """The facts for one alert; ``channel`` (a ChannelConfig) narrows the rules
    shown to those the channel takes (all of them if none qualify)."""
    row = articles.for_alert(store, article_id) or {}
    rules = _for_channel(tuple(_rule_line(m) for m in matches.by_rule(store, article_id)), channel)
    also = tuple(stories.other_outlets(store, story_id, article_id, row.get("feed_id")))
    if not rules:  # an alert about a story spreading may point at a copy that matched nothing itself
        first = stories.first_article(store, story_id)
        if first is not None and first != article_id:
            rules = _for_channel(tuple(_rule_line(m) for m in matches.by_rule(store, first)), channel)
    return AlertContent(
        headline=row.get("title") or "(untitled)",
        source=row.get("feed") or "(unknown feed)",
        published=row.get("published"),
        link=row.get("url"),
        # the strongest evidence first (named people and organisations over places), then severity
        rules=tuple(sorted(rules, key=lambda r: (-r.evidence, -severity_rank(r.severity), r.rule_id))),
        also=also,
        article_id=article_id,
        story_id=story_id,
        spread=spread.describe(store, story_id) if alerts.spread_alert(store, story_id, article_id) else "",
    )


def load_notice(store: Store, notice_id: int) -> NoticeContent:
    row = notices.get(store, notice_id) or {}
    return NoticeContent(
        title=row.get("title") or "(notice gone)",
        body=row.get("body") or "",
        severity=row.get("severity") or "high",
        event=row.get("event") or "start",
    )


def _rule_line(row: dict) -> RuleLine:
    try:
        hits = json.loads(row["hits"] or "[]")
    except (TypeError, ValueError):
        hits = []
    hits = hits if isinstance(hits, list) else []
    return RuleLine(
        row["rule_id"],
        row["rule_title"],
        row["severity"],
        hits=tuple(
            HitLine(
                str(h.get("term", "")),
                None if h.get("entity") is None else str(h["entity"]),
                str(h.get("field", "")),
                str(h.get("snippet", "")),
            )
            for h in hits
            if isinstance(h, dict)
        ),
        score=row.get("score"),
        evidence=float(row.get("evidence") or 0.0),
        similar_to=row.get("similar_to"),
        via=row.get("via") or "keywords",
    )


def _for_channel(rules: tuple[RuleLine, ...], channel) -> tuple[RuleLine, ...]:
    if channel is None:
        return rules
    floor = severity_rank(channel.severity) if channel.severity else -1
    taken = tuple(
        r
        for r in rules
        if ("*" in channel.rules or r.rule_id in channel.rules) and severity_rank(r.severity) >= floor
    )
    return taken or rules


# -- rendering -----------------------------------------------------------------


def title_for(content: AlertContent, limit: int = 250) -> str:
    rule = content.rules[0].title if content.rules else "match"
    more = f" +{len(content.rules) - 1}" if len(content.rules) > 1 else ""
    spreading = "spreading: " if content.spread else ""
    return _cap_title(
        f"[{spreading}{clean_line(rule, MAX_NAME)}{more}] {clean_line(content.headline)}", limit
    )


def _cap_title(title: str, limit: int) -> str:
    limit = limit if limit > 0 else 250
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def render(
    content: AlertContent, fmt: str, limits: Limits = Limits(), *, page_base: str | None = None
) -> Message:
    """The alert for people (``text``, ``markdown``, ``html``), or for machines
    (``json``: :mod:`watcher.notify.payload`, linking the article's page under ``page_base``)."""
    if fmt == "json":
        from watcher.notify import payload

        return payload.render(content, page_base=page_base)
    title = title_for(content, limits.title)
    head = [_field("Source", clean_line(content.source, MAX_NAME), fmt)]
    if content.spread:
        head.insert(0, _field("Spreading", clean_line(content.spread, MAX_HEADLINE), fmt))
    if content.published:
        head.append(_field("Published", _when(content.published), fmt))
    rules = [line for rule in content.rules for line in _rule_lines(rule, fmt)]
    tail = [_link_line(content.link, fmt)]
    if content.also:
        tail.append(_field("Also reported by", _also(content.also), fmt))
    if limits.title <= 0:  # no title field: apprise would paste it unescaped into the body
        head.insert(0, _heading(title, fmt))
    return _untitled(Message(title, _fit(head, rules, tail, fmt, limits.body), fmt), limits)


def render_notice(notice: NoticeContent, fmt: str, limits: Limits = Limits()) -> Message:
    """One operator notice as a message of its own (``json``: :func:`watcher.notify.payload.notice`)."""
    if fmt == "json":
        from watcher.notify import payload

        return payload.notice(notice)
    title = _cap_title(f"[watcher] {clean_line(notice.title)}", limits.title)
    lines = [escape(clean_line(line, 1000), fmt) for line in notice.body.splitlines() if line.strip()]
    if limits.title <= 0:
        lines.insert(0, _heading(title, fmt))
    body = _join(lines, fmt)
    if len(body) > limits.body:
        body = _hard_cut(body, limits.body, fmt)
    return _untitled(Message(title, body, fmt), limits)


def render_digest(
    items: Sequence[Content],
    fmt: str,
    limits: Limits = Limits(),
    *,
    channel: str = "",
    note: str = "",
) -> tuple[Message, int]:
    """One message listing ``items`` (alerts and operator notices); returns it
    and how many items it holds (the rest did not fit and belong in the next
    message). ``note`` says why they were folded together (quiet hours, the cap)."""
    lines, used = [], 0
    room = limits.body - 80 - len(note)
    for item in items:
        line = _digest_line(item, fmt)
        if used and used + len(line) + 6 > room:
            break
        lines.append(line)
        used += len(line) + 6
    count = len(lines)
    more = len(items) - count
    shown = items[:count]
    stories_n = sum(isinstance(i, AlertContent) for i in shown)
    notices_n = count - stories_n
    parts = []
    if stories_n or not notices_n:
        parts.append(f"{stories_n} new stor{'y' if stories_n == 1 else 'ies'}")
    if notices_n:
        parts.append(f"{notices_n} operator notice{'' if notices_n == 1 else 's'}")
    title = _cap_title(
        f"[watcher] {' and '.join(parts)}" + (f" for {clean_line(channel, MAX_NAME)}" if channel else ""),
        limits.title,
    )
    if note:
        lines.insert(0, escape(f"({clean_line(note, 200)})", fmt))
    if more:
        lines.append(escape(f"(+{more} more in the next message)", fmt))
    if limits.title <= 0:
        lines.insert(0, _heading(title, fmt))
    body = _join(lines, fmt)
    if len(body) > limits.body:
        body = _hard_cut(body, limits.body, fmt)
    return _untitled(Message(title, body, fmt), limits), count


def channel_test_message(channel: str, fmt: str, now: datetime, limits: Limits = Limits()) -> Message:
    text = (
        f"This is a test message from watcher for channel {clean_line(channel, MAX_NAME)}, "
        f"sent {now.strftime('%Y-%m-%d %H:%M UTC')}. If you can read it, the channel works."
    )
    title = "[watcher] test message"
    if fmt == "json":
        from watcher.notify import payload

        return payload.test_message(channel, text, now)
    body = escape(text, fmt)
    if limits.title <= 0:
        body = _join([_heading(title, fmt), body], fmt)
    return _untitled(Message(title, body, fmt), limits)


def _heading(title: str, fmt: str) -> str:
    if fmt == "html":
        return f"<b>{escape(title, fmt)}</b>"
    if fmt == "markdown":
        return f"**{escape(title, fmt)}**"
    return title


def _untitled(msg: Message, limits: Limits) -> Message:
    """The title already leads the body when the service has no title field."""
    return Message("", msg.body, msg.format) if limits.title <= 0 else msg


def _field(label: str, value: str, fmt: str) -> str:
    if fmt == "html":
        return f"<b>{label}:</b> {escape(value, fmt)}"
    if fmt == "markdown":
        return f"**{label}:** {escape(value, fmt)}"
    return f"{label}: {value}"


def _rule_lines(rule: RuleLine, fmt: str) -> list[str]:
    label = f"{clean_line(rule.title, MAX_NAME)} ({clean_line(rule.severity, 20)})"
    lines = [_field("Rule", label, fmt)]
    if rule.similar_to:
        meaning = ("matched by meaning: " if rule.via == "similarity" else "") + rule.similar_to
        lines.append(_bullet(escape(clean_line(meaning, MAX_SNIPPET), fmt), fmt))
    # The headline is the alert's title: a hit in it is named, never quoted again.
    in_title = [h for h in rule.hits if h.field == "title"]
    if in_title:
        names = ", ".join(dict.fromkeys(_hit_name(h) for h in in_title))
        lines.append(_bullet(escape(f"in the headline: {names}", fmt), fmt))
    others = [h for h in rule.hits if h.field != "title"]
    room = max(0, MAX_HITS - (1 if in_title else 0))
    for hit in others[:room]:
        text = f"{_hit_name(hit)} in {clean_line(hit.field, 20)}: {clean_line(hit.snippet, MAX_SNIPPET)}"
        lines.append(_bullet(escape(text, fmt), fmt))
    if len(others) > room:
        lines.append(_bullet(escape(f"+{len(others) - room} more hits", fmt), fmt))
    return lines


def _hit_name(hit: HitLine) -> str:
    entity = f" [{clean_line(hit.entity, MAX_NAME)}]" if hit.entity else ""
    return f"“{clean_line(hit.term, MAX_NAME)}”{entity}"


def _bullet(escaped: str, fmt: str) -> str:
    return (
        f"&nbsp;&nbsp;• {escaped}" if fmt == "html" else f"  • {escaped}" if fmt == "text" else f"- {escaped}"
    )


def _link_line(link: str | None, fmt: str) -> str:
    url = safe_link(link)
    if url is None:
        return _field("Link", "(no web link)" if not link else clean_line(link, 200), fmt)
    if fmt == "html":
        return f'<b>Link:</b> <a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'
    if fmt == "markdown":
        return f"**Link:** <{url}>"
    return f"Link: {url}"


def _digest_line(item: Content, fmt: str) -> str:
    if isinstance(item, NoticeContent):
        text = f"[notice] {clean_line(item.title)}"
        detail = clean_line(item.body.splitlines()[0] if item.body else "", MAX_SNIPPET)
        text += f": {detail}" if detail else ""
        return f"- {escape(text, fmt)}" if fmt == "markdown" else f"• {escape(text, fmt)}"
    rule = item.rules[0].title if item.rules else "match"
    text = f"[{clean_line(rule, MAX_NAME)}] {clean_line(item.headline)} — {clean_line(item.source, MAX_NAME)}"
    if item.also:
        text += f" (also: {_also(item.also)})"
    url = safe_link(item.link)
    if fmt == "html":
        link = f' <a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>' if url else ""
        return f"• {escape(text, fmt)}{link}"
    if fmt == "markdown":
        return f"- {escape(text, fmt)}" + (f" <{url}>" if url else "")
    return f"• {text}" + (f" {url}" if url else "")


def _also(names: Sequence[str]) -> str:
    shown = ", ".join(clean_line(n, MAX_NAME) for n in names[:MAX_ALSO])
    return shown + (f" and {len(names) - MAX_ALSO} more" if len(names) > MAX_ALSO else "")


def _when(published: str) -> str:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", published.strip()):
        return published.strip()  # a date only (as extraction may give it): no made-up time
    try:
        stamp = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return clean_line(published, 40)
    if stamp.tzinfo is None:
        return stamp.strftime("%Y-%m-%d %H:%M")
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _join(lines: Sequence[str], fmt: str) -> str:
    return ("<br>\n" if fmt == "html" else "\n").join(lines)


def _fit(head: list[str], rules: list[str], tail: list[str], fmt: str, room: int) -> str:
    """Drop rule lines from the end until the body fits, saying so."""
    body = _join(head + rules + tail, fmt)
    dropped = 0
    while len(body) > room and rules:
        rules.pop()
        dropped += 1
        note = [escape(f"(+{dropped} more lines not shown)", fmt)]
        body = _join(head + rules + note + tail, fmt)
    return body if len(body) <= room else _hard_cut(body, room, fmt)


def _hard_cut(body: str, room: int, fmt: str) -> str:
    """Last resort for tiny limits: cut without leaving half an entity/tag/escape."""
    cut = body[: max(0, room - 1)]
    if fmt == "html":
        cut = re.sub(r"(&[#\w]*|<[^>]*)$", "", cut)
    elif fmt == "markdown":
        cut = re.sub(r"(\\+|&[#\w]*|<[^>\s]*)$", "", cut)
    return cut + "…"
