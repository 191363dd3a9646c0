"""Reading the log: ``watcher log``, ``show`` and ``search``.

Tables for people by default; ``--json`` for scripts (one object per line,
or one object for ``show``). Feed text is untrusted: its control characters
go before our own highlights are painted.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from watcher.cli.console import CliContext, Id, emit_json, fail, printable, short_time, table
from watcher.cli.filters import check_tag, filter_options, review_filter
from watcher.review import MAX_LIMIT

if TYPE_CHECKING:  # show and search import theirs when they run (`watcher log` starts fast)
    from watcher.review.article import ArticleView, JoinView, MemberView
    from watcher.text.highlight import Segment

MARK_OPEN, MARK_CLOSE = "[[", "]]"  # highlight when the terminal has no colour
HIT, END_HIT, BOLD, END_BOLD = "\ue000", "\ue001", "\ue002", "\ue003"  # styled at the very end


def _paint(segments: tuple[Segment, ...], color: bool) -> str:
    if color:
        return "".join(f"{HIT}{printable(s.text)}{END_HIT}" if s.mark else s.text for s in segments)
    return "".join(f"{MARK_OPEN}{s.text}{MARK_CLOSE}" if s.mark else s.text for s in segments)


def _styled(text: str, color: bool) -> str:
    """Feed text is untrusted: its control characters (terminal escapes, carriage
    returns, bidi overrides) go; then our own highlights become colours."""
    text = printable(text)
    if not color:
        return text.replace(BOLD, "").replace(END_BOLD, "")
    text = re.sub(
        f"{HIT}(.*?){END_HIT}",
        lambda m: click.style(m.group(1), fg="yellow", bold=True, underline=True),
        text,
        flags=re.S,
    )
    return re.sub(f"{BOLD}(.*?){END_BOLD}", lambda m: click.style(m.group(1), bold=True), text, flags=re.S)


def _color() -> bool:
    return sys.stdout.isatty()


# -- log -------------------------------------------------------------------------


@click.command("log")
@filter_options
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, MAX_LIMIT),
    help="At most this many stories.",
)
@click.option("--unreviewed", is_flag=True, help="Only stories without a verdict (`watcher feedback`).")
@click.option("--tag", metavar="TAG", help="Only stories from feeds with this tag (tags in [[feeds]]).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story.")
@click.pass_obj
def log_cmd(ctx: CliContext, rule, feed, severity, since, limit, unreviewed, tag, as_json) -> None:
    """Matched stories, newest first."""
    from watcher.review.log import matched_stories

    if tag:
        check_tag(ctx, tag)
    flt = dataclasses.replace(
        review_filter(ctx, rule, feed, severity, since, limit), unreviewed=unreviewed, tag=tag
    )
    rows = matched_stories(ctx.store(), flt)
    if as_json:
        for row in rows:
            emit_json(
                {
                    **asdict(row),
                    "rules": list(row.rules),
                    "alert_status": row.alert_status,
                    "alerts": dict(row.alerts),
                    "tags": list(row.tags),
                }
            )
        return
    if not rows:
        click.echo(_nothing_logged(ctx, bool(rule or feed or severity or since or unreviewed or tag)))
        return
    click.echo(
        table(
            [
                {
                    "id": r.article_id,
                    "time": r.seen,
                    "severity": r.severity,
                    "rules": ", ".join(r.rules),
                    "headline": r.title,
                    "source": r.feed + "".join(f" #{t}" for t in r.tags),
                    "outlets": r.outlets,
                    "alerts": r.alert_status,
                }
                for r in rows
            ],
            ["id", "time", "severity", "rules", "headline", "source", "outlets", "alerts"],
            flex=(("rules", 20), ("source", 16), ("headline", 40), ("rules", 10), ("headline", 16)),
        )
    )
    click.echo("\n`watcher show ID` explains one article.")


def _nothing_logged(ctx: CliContext, filtered: bool) -> str:
    """Why `watcher log` is empty, and what to do."""
    from watcher.store import articles as article_rows

    store = ctx.store()
    try:
        stored, matched = article_rows.totals(store)
    finally:
        store.close()
    if not stored:
        return "no article stored yet: `watcher run --once` polls the feeds (`watcher feeds` shows how they fare)"
    if filtered and matched:
        return f"no matched story fits these filters ({matched} matched article(s) in all)"
    return (
        f"no article has matched a rule yet ({stored} stored); "
        "`watcher search WORDS` looks through all of them"
    )


# -- show ----------------------------------------------------------------------------


@click.command()
@click.argument("article_id", type=Id("an article", "`watcher log` or `watcher search`"), metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The article as one JSON object.")
@click.option("--no-text", is_flag=True, help="Leave out the article text.")
@click.pass_obj
def show(ctx: CliContext, article_id: int, as_json: bool, no_text: bool) -> None:
    """One article: metadata, why it matched, its story and its alerts."""
    from watcher.review.article import highlight_field
    from watcher.review.article import show as load_article

    article = load_article(ctx.store(), article_id)
    if article is None:
        fail(f"there is no article {article_id}; `watcher log` or `watcher search` list article ids")
    if as_json:
        emit_json(asdict(article))
        return
    color = _color()
    out = [f"{BOLD}#{article.id}{END_BOLD}  " + _paint(highlight_field(article, "title"), color)]
    meta = [
        ("feed", article.feed),
        ("url", article.url),
        ("published", short_time(article.published)),
        ("fetched", short_time(article.fetched_at)),
        ("language", article.language_line),
        (
            "extraction",
            article.extraction + (f" ({article.extraction_error})" if article.extraction_error else ""),
        ),
    ]
    if article.story_id:
        others = f"{len(article.members)} other article(s)" if article.members else "no other outlet yet"
        opened = (
            "; this article opened it" if article.join and article.join.opened and article.members else ""
        )
        meta.append(("story", f"#{article.story_id}, {others}{opened}"))
    if article.join and not article.join.opened:
        meta.append(("joined", _join_line(article.join)))
    if article.verdict:
        last = article.feedback[0]
        meta.append(("feedback", last.verdict + (f" — {last.note}" if last.note else "")))
    if article.meaning_error:
        meta.append(("meaning", article.meaning_error))
    out += [f"  {k:<11}{v}" for k, v in meta]
    out += _explanation(article, color)
    if article.near:
        out += ["", "Close in meaning, not matched (mark it: `watcher feedback ID relevant`):"]
        out += [f"  {n.rule_id}: {n.score:.2f}, closest to {n.reference}" for n in article.near]
    if article.members:
        out += ["", "Same story elsewhere:"]
        out += [
            f"  #{m.id:<6}{short_time(m.fetched_at)}  {m.feed}: {m.title}"
            + ("  (matched)" if m.matched else "")
            + _member_join(m)
            for m in article.members
        ]
    out += ["", "Alerts:"] + (
        [
            f"  {a.channel}: {a.status}, {a.attempts} attempt(s)"
            + (f", sent {short_time(a.sent_at)}" if a.sent_at else "")
            + (f" — {a.last_error}" if a.last_error else "")
            for a in article.alerts
        ]
        or ["  (none)"]
    )
    if not no_text:
        out += ["", "Text:", _paint(highlight_field(article, "text"), color)]
    click.echo(_styled("\n".join(out), color))


JOIN_PHRASES = {
    "similar": "near-duplicate of",
    "content_hash": "identical text to",
    "canonical_url": "same canonical URL as",
}


def _join_line(join: JoinView) -> str:
    """ "near-duplicate of #7 (Daily Sabah: “…”): 64% of 3-word phrases shared, SimHash 13 of 64 bits apart"."""
    if join.other_id is None:
        return f"{join.label or 'unknown reason'} (the article it was compared with is gone)"
    title = join.other_title or ""
    title = title if len(title) <= 70 else title[:69].rstrip() + "…"
    line = (
        f"{JOIN_PHRASES.get(join.reason or '') or join.label} #{join.other_id} ({join.other_feed}: “{title}”)"
    )
    if join.reason == "content_hash":
        return line + ": the same words once case, punctuation and spacing are ignored"
    return line + (f": {join.measure}" if join.measure else "")


def _member_join(member: MemberView) -> str:
    if not member.join_reason:
        return "  — opened the story"
    share = (
        f", {member.join_similarity:.0%} of 3-word phrases shared"
        if member.join_reason == "similar" and member.join_similarity is not None
        else ""
    )
    return f"  — joined as {member.join_label}{share}"


def _explanation(article: ArticleView, color: bool) -> list[str]:
    from watcher.review.article import group_hits, hit_context

    if not article.matches:
        return ["", "Matched no rule."]
    out = ["", "Why it matched:"]
    for m in article.matches:
        via = " — matched by meaning" if m.via == "similarity" else ""
        out.append(f"  [{m.severity}] {m.rule_id} — {m.title} (score {m.score:g}){via}")
        if m.similar_to:
            out.append(f"      {m.similar_to}")
        if m.problem:
            out.append(f"      ! {m.problem}")
        for g in group_hits(m.hits):
            who = f" → {g.entity}" if g.entity else ""
            times = f" ×{g.count}" if g.count > 1 else ""
            out.append(
                f"      {g.field}: “{g.term}”{times}{who}: " + _paint(hit_context(article, g.first), color)
            )
    return out


# -- search -------------------------------------------------------------------------


@click.command(short_help="Full-text search over every stored article.")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--matched", "matched_only", is_flag=True, help="Only articles that matched a rule.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
@click.pass_obj
def search(ctx: CliContext, query, limit, matched_only, as_json) -> None:
    """Full-text search over every stored article (matched or not), folded as
    the rules fold text: kasim finds Kasım, انقرة finds أنقرة.

    Words are ANDed; also: ankara OR şam, suriye NOT istanbul, "joint roadmap",
    savunma*, (ankara OR şam) savunma."""
    from watcher.review.search import search as search_articles
    from watcher.review.search import searched_for

    hits = search_articles(ctx.store(), " ".join(query), limit=limit, matched_only=matched_only)
    if as_json:
        for h in hits:
            emit_json(
                {
                    "id": h.article_id,
                    "title": h.title,
                    "feed": h.feed,
                    "url": h.url,
                    "fetched_at": h.fetched_at,
                    "matched": h.matched,
                    "snippet": "".join(s.text for s in h.snippet),
                    "highlights": [s.text for s in h.snippet if s.mark],
                    "title_highlights": [s.text for s in h.title_marked if s.mark],
                }
            )
        return
    if not hits:
        click.echo(
            f"no article matches that search (searched for: {searched_for(' '.join(query))}; "
            "a word* also finds longer words)"
        )
        return
    color = _color()
    for h in hits:
        flag = " ✓ matched" if h.matched else ""
        click.echo(
            _styled(
                f"{BOLD}#{h.article_id}{END_BOLD}"
                + f"  {short_time(h.fetched_at)}  {h.feed}{flag}\n  "
                + (_paint(h.title_marked, color) if h.title_marked else h.title)
                + "\n  "
                + " ".join(_paint(h.snippet, color).split())
                + "\n",
                color,
            )
        )


COMMANDS = [log_cmd, show, search]
