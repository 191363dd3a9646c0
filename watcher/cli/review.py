"""Working with the log: ``watcher export``, ``backtest``, ``feedback``,
``serve`` and ``watcher rules stats`` (reading it is ``log``, its size and
counts ``status``).

Tables for people by default; ``--json`` for scripts (one object per line,
or one object for single-item commands).
"""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from watcher.cli.console import (
    EXIT_INTERRUPTED,
    CliContext,
    Id,
    cut,
    emit_json,
    fail,
    short_time,
    table,
    terminal_width,
)
from watcher.cli.filters import filter_options, known_rules, review_filter
from watcher.cli.matching import rules as rules_group

# Each command imports the library parts it uses when it runs (fast start-up).

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

    flt = review_filter(ctx, rule, feed, severity, since, None)
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
    from watcher import app
    from watcher.review import backtest as bt
    from watcher.review.log import parse_since

    rule_set = ctx.rules(rule_paths)
    matcher = app.matcher(rule_set)
    click.get_current_context().call_on_close(matcher.close)  # the embedding worker, if any
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
        emit_json({**asdict(report), "new_total": report.new_total, "lost_total": report.lost_total})
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
    """Mark an article relevant or irrelevant (counts in `watcher rules stats`; for rules with
    like/about examples, the article becomes one of their examples)."""
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
    from watcher.review.log import parse_since
    from watcher.review.stats import rule_stats

    since_iso = parse_since(since, ctx.clock()) if since else None
    rows = rule_stats(ctx.store(), since=since_iso, known=known_rules(ctx))
    if as_json:
        for r in rows:
            emit_json(
                {
                    **asdict(r),
                    "precision": r.precision,
                    "noisy": r.noisy,
                    "languages": [{**asdict(x), "precision": x.precision} for x in r.languages],
                    "learning": None
                    if r.learning is None
                    else {
                        **asdict(r.learning),
                        "precision_now": r.learning.precision_now,
                        "precision_with_verdicts": r.learning.precision_with_verdicts,
                    },
                }
            )
        return
    records = []
    for r in rows:
        records.append(
            {
                "rule": r.rule_id,
                "severity": r.severity,
                "matches": r.matches,
                "stories": r.stories,
                "relevant": r.relevant,
                "irrelevant": r.irrelevant,
                "precision": "-" if r.precision is None else f"{r.precision:.0%}",
                "last_match": short_time(r.last_match) if r.last_match else None,
                "note": "; ".join(
                    x
                    for x in (
                        "noisy" if r.noisy else "",
                        f"with verdicts {r.learning.describe()}"
                        if r.learning and r.learning.describe()
                        else "",
                    )
                    if x
                ),
            }
        )
        if len(r.languages) > 1 or (r.languages and r.languages[0].language):
            for x in r.languages:  # the same rule, per language of the articles
                records.append(
                    {
                        "rule": f"· {x.language or '(unknown)'}",
                        "matches": x.matches,
                        "relevant": x.relevant,
                        "irrelevant": x.irrelevant,
                        "precision": "-" if x.precision is None else f"{x.precision:.0%}",
                    }
                )
    click.echo(
        table(
            records,
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
            flex=(("note", 14), ("rule", 16)),
        )
    )


# -- serve ------------------------------------------------------------------------------


@click.command()
@click.option("--host", default=None, help="Address to bind (default [serve] host, 127.0.0.1).")
@click.option(
    "--port", default=None, type=click.IntRange(1, 65535), help="Port (default [serve] port, 8765)."
)
@click.option(
    "--password-env",
    metavar="NAME",
    default=None,
    help="Read the page's password from this environment variable (instead of [serve] password "
    "or password_env), e.g. in a container.",
)
@click.pass_obj
def serve(ctx: CliContext, host: str | None, port: int | None, password_env: str | None) -> None:
    """The review web page (and Datasette over the database)."""
    from watcher import app
    from watcher.web import server as web

    password = None
    if password_env is not None:
        password = ctx.environ.get(password_env)
        if not password:
            fail(
                f"--password-env {password_env}: the environment variable {password_env} is not set or empty"
            )
    settings = app.web_settings(ctx.config(), host=host, port=port, password=password)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    click.echo(f"watcher: review page on http://{host}:{settings.port}/ (Ctrl-C stops it)", err=True)
    web.serve(settings, clock=ctx.clock)


COMMANDS = [export, backtest, feedback, serve]
rules_group.add_command(stats)
