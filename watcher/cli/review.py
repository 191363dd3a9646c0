"""Reviewing the log: ``watcher log``, ``show``, ``search``, ``export``,
``backtest``, ``feedback``, ``status``, ``serve`` and ``watcher rules stats``.

Tables for people by default; ``--json`` for scripts (one object per line,
or one object for single-item commands).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict

import click

from watcher import app
from watcher.cli.console import (
    EXIT_INTERRUPTED,
    CliContext,
    Id,
    cut,
    fail,
    printable,
    short_time,
    table,
    terminal_width,
)
from watcher.config import SEVERITIES
from watcher.errors import RulesError
from watcher.review import MAX_LIMIT
from watcher.review.article import ArticleView, JoinView, MemberView, group_hits, highlight_field, hit_context
from watcher.review.article import show as load_article
from watcher.review.log import Filter, matched_stories, parse_since
from watcher.review.search import search as search_articles
from watcher.review.search import searched_for
from watcher.review.stats import rule_stats
from watcher.review.status import last_poll
from watcher.review.status import status as database_status
from watcher.store import articles as article_rows
from watcher.store import feeds as feed_rows
from watcher.store import matches as match_rows
from watcher.text.highlight import Segment

MARK_OPEN, MARK_CLOSE = "[[", "]]"  # highlight when the terminal has no colour


def _emit_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _filter(ctx: CliContext, rule, feed, severity, since, limit) -> Filter:
    if rule or feed:
        _known_names(ctx, rule, feed)
    return Filter(
        rule=rule,
        feed=feed,
        severity=severity,
        limit=limit,
        since=parse_since(since, ctx.clock()) if since else None,
    )


def _known_names(ctx: CliContext, rule: str | None, feed: str | None) -> None:
    """--rule and --feed must name a rule or feed the watcher knows (configured,
    or seen in the log): a typo must not look like an empty log."""
    store = ctx.store()
    try:
        if rule:
            rules = match_rows.rule_ids(store)
            rules |= {r for r, _, _ in _known_rules(ctx)}
            if rule not in rules:
                fail(
                    f"--rule {rule!r}: no such rule in the rule files or the log; "
                    f"known rules: {_listing(rules, rule)}"
                )
        if feed:
            rows = feed_rows.listing(store)
            names = {r["name"] for r in rows} | {f.name for f in ctx.config().feeds}
            if feed not in names and feed not in {r["url"] for r in rows}:
                fail(f"--feed {feed!r}: no feed with that name or URL; feeds: {_listing(names, feed)}")
    finally:
        store.close()


def _listing(names: set[str], wanted: str) -> str:
    """The known names, a near miss first ("did you mean")."""
    close = sorted(n for n in names if n.casefold() == wanted.casefold() or wanted.casefold() in n.casefold())
    shown = ", ".join(sorted(names)) or "none yet"
    return (f"did you mean {close[0]!r}? " if close else "") + shown


def filter_options(func):
    """--rule, --feed, --severity, --since: shared by log and export."""
    for option in reversed(
        (
            click.option("--rule", metavar="ID", help="Only stories/articles matched by this rule."),
            click.option("--feed", metavar="NAME", help="Only articles from this feed (name or URL)."),
            click.option(
                "--severity", type=click.Choice(SEVERITIES), help="Only matches of this severity or higher."
            ),
            click.option(
                "--since",
                metavar="WHEN",
                help='Fetched since: a period ago ("2d", "12h") or a date ("2026-11-01").',
            ),
        )
    ):
        func = option(func)
    return func


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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story.")
@click.pass_obj
def log_cmd(ctx: CliContext, rule, feed, severity, since, limit, as_json) -> None:
    """Matched stories, newest first."""
    rows = matched_stories(ctx.store(), _filter(ctx, rule, feed, severity, since, limit))
    if as_json:
        for row in rows:
            _emit_json(
                {
                    **asdict(row),
                    "rules": list(row.rules),
                    "alert_status": row.alert_status,
                    "alerts": dict(row.alerts),
                }
            )
        return
    if not rows:
        click.echo(_nothing_logged(ctx, bool(rule or feed or severity or since)))
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
                    "source": r.feed,
                    "outlets": r.outlets,
                    "alerts": r.alert_status,
                }
                for r in rows
            ],
            ["id", "time", "severity", "rules", "headline", "source", "outlets", "alerts"],
            flex=(("headline", 28), "rules", "source", ("headline", 12)),
        )
    )
    click.echo("\n`watcher show ID` explains one article.")


def _nothing_logged(ctx: CliContext, filtered: bool) -> str:
    """Why `watcher log` is empty, and what to do."""
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
    article = load_article(ctx.store(), article_id)
    if article is None:
        fail(f"there is no article {article_id}; `watcher log` or `watcher search` list article ids")
    if as_json:
        _emit_json(asdict(article))
        return
    color = _color()
    out = [f"{BOLD}#{article.id}{END_BOLD}  " + _paint(highlight_field(article, "title"), color)]
    meta = [
        ("feed", article.feed),
        ("url", article.url),
        ("published", short_time(article.published)),
        ("fetched", short_time(article.fetched_at)),
        ("language", article.language or "-"),
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
    out += [f"  {k:<11}{v}" for k, v in meta]
    out += _explanation(article, color)
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
    if not article.matches:
        return ["", "Matched no rule."]
    out = ["", "Why it matched:"]
    for m in article.matches:
        out.append(f"  [{m.severity}] {m.rule_id} — {m.title} (score {m.score:g})")
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
    hits = search_articles(ctx.store(), " ".join(query), limit=limit, matched_only=matched_only)
    if as_json:
        for h in hits:
            _emit_json(
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


# -- export -------------------------------------------------------------------------


@click.command(short_help="Stored articles as JSON lines or CSV.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="Output format (default jsonl).",
)
@click.option("--jsonl", "fmt", flag_value="jsonl", help="Same as --format jsonl.")
@click.option("--csv", "fmt", flag_value="csv", help="Same as --format csv.")
@click.option(
    "--all/--matched",
    "everything",
    default=True,
    help="Every stored article (default), or only matched ones (the set `watcher log` shows).",
)
@filter_options
@click.option("--limit", type=click.IntRange(1, None), default=None, help="At most this many articles.")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="Write to this file instead of standard output.",
)
@click.pass_obj
def export(ctx: CliContext, fmt, everything, rule, feed, severity, since, limit, output) -> None:
    """Stored articles as JSON lines or CSV, oldest first.

    Without filters this writes every stored article, matched or not; --rule and
    --severity keep articles with such a match; --matched keeps matched ones."""
    from watcher.review import export as export_mod

    flt = _filter(ctx, rule, feed, severity, since, None)
    rows = export_mod.records(ctx.store(), flt, matched_only=not everything)
    if limit:
        rows = (r for i, r in zip(range(limit), rows, strict=False))
    n = export_mod.write(fmt or "jsonl", rows, output)
    click.echo(f"exported {n} article(s)", err=True)


# -- backtest -----------------------------------------------------------------------


@click.command(short_help="Run rules over stored articles: what would match now.")
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Candidate rule file or folder (repeatable). Default: the configured rules.",
)
@click.option("--since", metavar="WHEN", help='Only articles fetched since ("30d", "2026-10-01").')
@click.option(
    "--examples",
    default=10,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="List up to this many new and lost hits.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_obj
def backtest(ctx: CliContext, rule_paths, since, examples, as_json) -> None:
    """Run the configured or a candidate rule set over stored articles and show
    what would match, against what did. Nothing is sent or written."""
    from watcher.review import backtest as bt

    rule_set = ctx.rules(rule_paths)
    matcher = app.matcher(rule_set)
    store = ctx.store()
    since_iso = parse_since(since, ctx.clock()) if since else None
    total = bt.count(store, since=since_iso)
    try:
        with click.progressbar(
            length=total, label="matching stored articles", file=sys.stderr, show_pos=True
        ) as bar:
            report = bt.run(
                store,
                matcher,
                since=since_iso,
                progress=bar.update,
                examples=examples,
                rules=[(r.id, r.title) for r in rule_set.rules],
            )
    except KeyboardInterrupt:
        click.echo("", err=True)
        fail("backtest interrupted; it writes nothing, so nothing changed", EXIT_INTERRUPTED)
    if as_json:
        _emit_json({**asdict(report), "new_total": report.new_total, "lost_total": report.lost_total})
        return
    click.echo(
        f"{report.articles} article(s) scanned: {report.matched_before} matched when stored, "
        f"{report.matched_after} would match now "
        f"(+{report.new_total} new hit(s), -{report.lost_total} lost).\n"
    )
    click.echo(
        table(
            [
                {
                    "rule": r.rule_id,
                    "title": r.title,
                    "before": r.before,
                    "now": r.after,
                    "new": f"+{r.new}" if r.new else "",
                    "lost": f"-{r.lost}" if r.lost else "",
                }
                for r in report.rules
            ],
            ["rule", "title", "before", "now", "new", "lost"],
            flex=(("title", 20), ("rule", 16)),
        )
    )
    for label, changes in (("New hits", report.new), ("Lost hits", report.lost)):
        if changes:
            click.echo(f"\n{label}:")
            for c in changes:
                line = f"  #{c.article_id:<6}{c.rule_id:<24}{' '.join(c.title.split())}"
                click.echo(cut(line, terminal_width() or len(line)))


# -- feedback ------------------------------------------------------------------------


@click.command(short_help="Mark an article relevant or irrelevant.")
@click.argument("article_id", type=Id("an article", "`watcher log` or `watcher search`"), metavar="ID")
@click.argument("verdict", type=click.Choice(["relevant", "irrelevant"]))
@click.option("--note", help="Why (kept with the verdict).")
@click.pass_obj
def feedback(ctx: CliContext, article_id: int, verdict: str, note: str | None) -> None:
    """Mark an article relevant or irrelevant (counts in `watcher rules stats`)."""
    from watcher.review import feedback as feedback_mod

    fb = feedback_mod.record(ctx.store(), article_id, verdict, note=note, now=ctx.clock())
    click.echo(f"article #{fb.article_id} marked {fb.verdict}")


# -- rules stats ---------------------------------------------------------------------


@click.command(short_help="Per rule: matches, stories, feedback, noisy flag.")
@click.option("--since", metavar="WHEN", help='Only articles fetched since ("30d", "2026-10-01").')
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@click.pass_obj
def stats(ctx: CliContext, since, as_json) -> None:
    """Per rule: matches, stories, and relevant/irrelevant feedback; noisy rules flagged."""
    since_iso = parse_since(since, ctx.clock()) if since else None
    rows = rule_stats(ctx.store(), since=since_iso, known=_known_rules(ctx))
    if as_json:
        for r in rows:
            _emit_json({**asdict(r), "precision": r.precision, "noisy": r.noisy})
        return
    click.echo(
        table(
            [
                {
                    "rule": r.rule_id,
                    "severity": r.severity,
                    "matches": r.matches,
                    "stories": r.stories,
                    "relevant": r.relevant,
                    "irrelevant": r.irrelevant,
                    "precision": "-" if r.precision is None else f"{r.precision:.0%}",
                    "last_match": short_time(r.last_match) if r.last_match else None,
                    "note": "noisy" if r.noisy else "",
                }
                for r in rows
            ],
            [
                "rule",
                "severity",
                "matches",
                "stories",
                "relevant",
                "irrelevant",
                "precision",
                "last_match",
                "note",
            ],
        )
    )


def _known_rules(ctx: CliContext) -> list[tuple[str, str, str]]:
    """Configured rules, so that rules that never matched show up with zeros.
    Reviewing the log does not need usable rules: when they have problems,
    a warning says so and the log's own rule ids are used."""
    try:
        return [(r.id, r.title, r.severity) for r in ctx.rules().rules]
    except RulesError:
        click.echo(
            "watcher: warning: the rule files have problems (`watcher check` lists them); "
            "only rules found in the log are known",
            err=True,
        )
        return []


# -- status ------------------------------------------------------------------------------


@click.command(short_help="The database: size, counts, outbox, age of the log.")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@click.pass_obj
def status(ctx: CliContext, as_json: bool) -> None:
    """The database: size, counts, alert outbox, and the age of the log."""
    st = database_status(ctx.store())
    keep = ctx.config().keep_days
    if as_json:
        _emit_json({**asdict(st), "counts": dict(st.counts), "alerts": dict(st.alerts), "keep_days": keep})
        return
    store = ctx.store()
    try:
        polled_at = last_poll(store)
    finally:
        store.close()
    span = (
        f"{short_time(st.oldest_article)} … {short_time(st.newest_article)}"
        if st.oldest_article
        else "none stored yet"
    )
    polled = (
        short_time(polled_at)
        if polled_at
        else "never: `watcher run --once` polls the feeds once, `watcher run` keeps polling"
    )
    lines = [
        f"database   {st.path} ({_size(st.size_bytes)}, schema v{st.schema_version})",
        f"articles   {span}"
        + (f"; unmatched ones pruned after {keep:g} days" if keep else "; nothing is pruned"),
        f"last poll  {polled}"
        + (f" (last `watcher run --once` started {short_time(st.last_run)})" if st.last_run else ""),
        "",
    ]
    lines += [
        f"  {name:<18}{n:>8}" for name, n in st.counts if n or not name.startswith("feeds ")
    ]  # feeds by status: those that have some
    lines += [f"  {'alerts ' + name:<18}{n:>8}" for name, n in st.alerts]
    click.echo("\n".join(lines))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# -- serve ------------------------------------------------------------------------------


@click.command()
@click.option("--host", default=None, help="Address to bind (default [serve] host, 127.0.0.1).")
@click.option(
    "--port", default=None, type=click.IntRange(1, 65535), help="Port (default [serve] port, 8765)."
)
@click.pass_obj
def serve(ctx: CliContext, host: str | None, port: int | None) -> None:
    """The review web page (and Datasette over the database)."""
    from watcher.web import server as web

    settings = app.web_settings(ctx.config(), host=host, port=port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    click.echo(f"watcher: review page on http://{host}:{settings.port}/ (Ctrl-C stops it)", err=True)
    web.serve(settings, clock=ctx.clock)


COMMANDS = [log_cmd, show, search, export, backtest, feedback, serve, status]

try:
    from watcher.cli.matching import rules as rules_group
except ImportError:  # the matching commands define no `rules` group yet

    @click.group("rules")
    def rules_group() -> None:
        """Rules: statistics."""

    COMMANDS.append(rules_group)
rules_group.add_command(stats)
