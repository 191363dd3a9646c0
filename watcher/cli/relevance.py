"""``watcher rules suggest`` (new spellings of the watched names, found in the log) and
``watcher rules near-misses`` (articles close in meaning that no rule matched)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from watcher.cli.console import CliContext, cut, short_time, table, terminal_width
from watcher.cli.matching import rules as rules_group
from watcher.review import MAX_LIMIT


@rules_group.command("suggest", short_help="New spellings of the watched names, found in the log.")
@click.option("--since", metavar="WHEN", help='Only articles fetched since ("30d", "2026-10-01").')
@click.option(
    "--articles",
    "limit",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Scan at most this many of the newest articles.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per suggestion.")
@click.pass_obj
def suggest(ctx: CliContext, since: str | None, limit: int, as_json: bool) -> None:
    """Propose spellings of multi-word names (people, organisations, ...) that outlets use and the
    rule files do not list: "Murhef Ebu Kasra" and "مرهف أبو قصرة" share the consonant skeleton of
    "Murhaf Abu Qasra". Each comes with the articles it was seen in; nothing is changed."""
    from watcher.review.log import parse_since
    from watcher.review.suggest import suggest as find

    rules = ctx.rules()
    store = ctx.store()
    try:
        found = find(store, rules, since=parse_since(since, ctx.clock()) if since else None, limit=limit)
    finally:
        store.close()
    if as_json:
        for s in found:
            click.echo(json.dumps({**asdict(s), "key": " ".join(s.key)}, ensure_ascii=False))
        return
    if not found:
        click.echo("no new spelling of a multi-word name found in the stored articles")
        return
    click.echo("# Spellings seen in the log that no alias lists (same skeleton key as a listed one).")
    click.echo("# Check each in its articles (`watcher show ID`), then add it to the entity's aliases.\n")
    for s in found:
        ids = ", ".join(f"#{a}" for a in s.articles) + (" …" if s.count > len(s.articles) else "")
        click.echo(f"# {s.entity} ({s.entity_name}) — like {s.like!r}, key {' '.join(s.key)!r}")
        click.echo(f"#   {s.count} article(s): {ids}")
        click.echo(f"{json.dumps(s.spelling, ensure_ascii=False)},\n")


@rules_group.command("near-misses", short_help="Articles close in meaning that no rule matched.")
@click.option("--rule", metavar="ID", help="Only near misses of this rule.")
@click.option("--since", metavar="WHEN", help='Only articles fetched since ("7d", "2026-10-01").')
@click.option(
    "--min",
    "floor",
    default=0.0,
    show_default=True,
    type=click.FloatRange(-1, 1),
    help="Lowest similarity shown.",
)
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per near miss.")
@click.pass_obj
def near_misses(
    ctx: CliContext, rule: str | None, since: str | None, floor: float, limit: int, as_json: bool
) -> None:
    """Articles no rule matched that came closest in meaning to a rule's examples (its like/about),
    for you to mark: `watcher feedback ID relevant` makes one an example of the rule,
    `irrelevant` an example of what it is not about."""
    from watcher.review.log import parse_since
    from watcher.review.nearmiss import near_misses as find

    store = ctx.store()
    try:
        rows = find(
            store,
            rule=rule,
            floor=floor,
            limit=limit,
            since=parse_since(since, ctx.clock()) if since else None,
        )
    finally:
        store.close()
    if as_json:
        for r in rows:
            click.echo(json.dumps(asdict(r), ensure_ascii=False))
        return
    if not rows:
        click.echo(
            "no near miss: articles are compared in meaning when a rule has like/about examples "
            "and the article names one of its entities"
        )
        return
    click.echo(
        table(
            [
                {
                    "id": r.article_id,
                    "similarity": f"{r.score:.2f}",
                    "rule": r.rule_id,
                    "lang": r.language or "",
                    "fetched": short_time(r.fetched_at),
                    "headline": r.title,
                    "verdict": r.verdict or "",
                }
                for r in rows
            ],
            ["id", "similarity", "rule", "lang", "fetched", "headline", "verdict"],
            flex=(("headline", 24), "rule"),
        )
    )
    click.echo(
        "\n`watcher show ID` explains one; `watcher feedback ID relevant|irrelevant` teaches the rule."
    )
    width = terminal_width() or 0
    if width and rows and rows[0].reference:
        click.echo(cut(f"closest example of the first: {rows[0].reference}", width))


COMMANDS: list = []
