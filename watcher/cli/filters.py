"""The options that narrow a review command (--rule, --feed, --severity,
--since), checked against what the watcher knows so a typo never looks like
an empty log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from watcher.cli.console import CliContext, fail
from watcher.errors import RulesError

if TYPE_CHECKING:
    from watcher.review.log import Filter


def review_filter(ctx: CliContext, rule, feed, severity, since, limit) -> Filter:
    from watcher.review.log import Filter, parse_since

    if rule or feed:
        check_names(ctx, rule, feed)
    return Filter(
        rule=rule,
        feed=feed,
        severity=severity,
        limit=limit,
        since=parse_since(since, ctx.clock()) if since else None,
    )


def check_names(ctx: CliContext, rule: str | None, feed: str | None) -> None:
    """--rule and --feed must name a rule or feed the watcher knows (configured,
    or seen in the log): a typo must not look like an empty log."""
    from watcher.store import feeds as feed_rows
    from watcher.store import matches as match_rows

    store = ctx.store()
    try:
        if rule:
            rules = match_rows.rule_ids(store)
            rules |= {r for r, _, _ in known_rules(ctx)}
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


def check_tag(ctx: CliContext, tag: str) -> None:
    """--tag must be a tag some feed has (configured, or in the log)."""
    from watcher.store import feeds as feed_rows

    store = ctx.store()
    try:
        tags = feed_rows.tag_names(store) | {t for f in ctx.config().feeds for t in f.tags}
    finally:
        store.close()
    if tag not in tags:
        fail(f"--tag {tag!r}: no feed has that tag (tags = [...] in [[feeds]]); tags: {_listing(tags, tag)}")


def _listing(names: set[str], wanted: str) -> str:
    """The known names, a near miss first ("did you mean")."""
    close = sorted(n for n in names if n.casefold() == wanted.casefold() or wanted.casefold() in n.casefold())
    shown = ", ".join(sorted(names)) or "none yet"
    return (f"did you mean {close[0]!r}? " if close else "") + shown


class SeverityChoice(click.Choice):
    """click's choice of the severity words, read from the config package when
    first needed (`watcher --help` does not import the config)."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from watcher.config import SEVERITIES

        return SEVERITIES

    @choices.setter
    def choices(self, value) -> None:
        pass  # click.Choice sets them in __init__; they come from the config


def filter_options(func):
    """--rule, --feed, --severity, --since: shared by log and export."""
    for option in reversed(
        (
            click.option("--rule", metavar="ID", help="Only stories/articles matched by this rule."),
            click.option("--feed", metavar="NAME", help="Only articles from this feed (name or URL)."),
            click.option(
                "--severity", type=SeverityChoice(), help="Only matches of this severity or higher."
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


def known_rules(ctx: CliContext) -> list[tuple[str, str, str]]:
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
