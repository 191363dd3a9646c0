"""``watcher feeds add | remove | import | export``: the configured sources,
edited in the config file (its comments and layout kept) and exchanged as OPML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from watcher.cli.console import CliContext, fail

KIND_CHOICES = ("feed", "telegram", "sitemap", "page")


def _edited(ctx: CliContext, what: str, config) -> None:
    """After an edit: what changed, and that the file as it is now passed `watcher check`'s config part."""
    click.echo(
        f"{what}; {config.path} is valid ({len(config.feeds)} feed(s)); `watcher check` checks the rest"
    )


@click.command("add")
@click.argument("url")
@click.option("--name", help="The feed's name (default: its title).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag for the feed (repeat for more).")
@click.option(
    "--pick",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Add the Nth source found (default: ask, or the first when not at a terminal).",
)
@click.option("--list", "list_only", is_flag=True, help="Only list what is found; add nothing.")
@click.option(
    "--kind",
    type=click.Choice(["page"]),
    default=None,
    help="Add URL itself as an index page (needs --selector or --link-pattern) instead of looking for feeds.",
)
@click.option("--selector", help='With --kind page: CSS selector of the article links, e.g. "article h2 a".')
@click.option("--link-pattern", help="With --kind page: regular expression the article links match.")
@click.pass_obj
def add(
    ctx: CliContext,
    url: str,
    name: str | None,
    tags: tuple[str, ...],
    pick: int | None,
    list_only: bool,
    kind: str | None,
    selector: str | None,
    link_pattern: str | None,
) -> None:
    """Find the feeds at URL (a site, a page, a feed, a sitemap or a Telegram
    channel), list them, and add the chosen one to the config file.

    A page is searched for the feeds it names (<link rel="alternate">), links
    that look like feeds, the site's common feed addresses and the sitemaps
    its robots.txt lists."""
    from watcher import app
    from watcher.errors import FetchError
    from watcher.pipeline.discover import find_sources

    config = ctx.config()
    if kind == "page":
        if not (selector or link_pattern):
            fail("--kind page needs --selector CSS or --link-pattern REGEX to pick the article links")
        table: dict[str, Any] = {
            "name": name or url,
            "url": url,
            "kind": "page",
            "selector": selector,
            "link_pattern": link_pattern,
            "tags": tags,
        }
        _add_tables(ctx, config, [table], f"added the index page {url}")
        return
    if selector or link_pattern:
        fail("--selector and --link-pattern go with --kind page")
    client = app.client(config)
    try:
        search = find_sources(client, url, max_bytes=config.network.max_feed_bytes)
    except FetchError as exc:
        fail(f"cannot read {url}: {exc}")
    finally:
        client.close()
    if not search.found:
        tried = "".join(f"\n  tried {n}" for n in search.notes[:8])
        fail(
            f"found no feed, sitemap or Telegram channel at {url}{tried}\n"
            "  an index page without a feed can be watched as one: watcher feeds add URL --kind page "
            '--selector "article h2 a" (or --link-pattern REGEX)'
        )
    click.echo(f"found {len(search.found)} source(s) at {url}:")
    for i, source in enumerate(search.found, 1):
        detail = f", {source.entries} entries" if source.kind != "telegram" else ""
        click.echo(f"  {i}. {source.url}  [{source.kind}{detail}] {source.title}  ({source.how})")
    if list_only:
        return
    chosen = pick or _ask(len(search.found))
    if chosen > len(search.found):
        fail(f"--pick {chosen}: only {len(search.found)} source(s) were found")
    source = search.found[chosen - 1]
    configured = {f.url for f in config.feeds}
    if source.url in configured:
        fail(f"{source.url} is already in {config.path}")
    table = {
        "name": name or source.title.strip() or source.url,
        "url": source.url if source.kind != "telegram" else None,
        "kind": source.kind if source.kind != "feed" else None,
        "channel": source.channel,
        "tags": tags,
    }
    if source.kind == "sitemap" and table["name"] in ("sitemap", "sitemap index"):
        table["name"] = source.url
    _add_tables(ctx, config, [table], f"added {source.url} ({source.kind})")


def _ask(count: int) -> int:
    if count == 1 or not sys.stdin.isatty():
        return 1
    return int(click.prompt("add which one", type=click.IntRange(1, count), default=1))


def _add_tables(ctx: CliContext, config, tables: list[dict[str, Any]], what: str) -> None:
    from watcher.config import editing

    new = editing.add_feeds(config.path, [{k: v for k, v in t.items() if v} for t in tables], ctx.environ)
    _edited(ctx, what, new)


@click.command("remove")
@click.argument("which", metavar="URL|NAME")
@click.pass_obj
def remove(ctx: CliContext, which: str) -> None:
    """Remove a feed (by its url, name or Telegram channel) from the config file.

    Its articles and matches stay in the log; `enabled = false` pauses a
    feed instead."""
    from watcher.config import editing

    config = ctx.config()
    values, new = editing.remove_feed(config.path, which, ctx.environ)
    _edited(
        ctx,
        f"removed {values.get('name') or values.get('url')} ({values.get('url') or values.get('channel')})",
        new,
    )


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag for every imported feed.")
@click.pass_obj
def import_cmd(ctx: CliContext, file: Path, tags: tuple[str, ...]) -> None:
    """Add the feeds of an OPML file (folders and categories become tags);
    feeds already configured are left as they are."""
    from watcher.errors import OpmlError
    from watcher.parse.opml import read_opml

    config = ctx.config()
    try:
        document = read_opml(file.read_bytes())
    except OpmlError as exc:
        fail(f"{file}: {exc}")
    if document.warning:
        click.echo(f"watcher: warning: {file}: {document.warning}", err=True)
    configured = {f.url for f in config.feeds}
    new = [f for f in document.feeds if f.url not in configured]
    if not new:
        click.echo(f"{file}: all {len(document.feeds)} feed(s) are already configured; nothing added")
        return
    tables = [
        {"name": f.title, "url": f.url, "tags": tuple(dict.fromkeys([*_tags(f.tags), *tags]))} for f in new
    ]
    _add_tables(
        ctx,
        config,
        tables,
        f"imported {len(new)} feed(s) from {file}"
        + (
            f" ({len(document.feeds) - len(new)} already configured)"
            if len(new) < len(document.feeds)
            else ""
        ),
    )


def _tags(tags: tuple[str, ...]) -> list[str]:
    """OPML folder names as feed tags (no commas or slashes)."""
    import re

    return [t for t in (" ".join(re.sub(r"[,/]", " ", tag).split())[:100] for tag in tags) if t]


@click.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (default: stdout)."
)
@click.pass_obj
def export(ctx: CliContext, output: Path | None) -> None:
    """The configured feeds as OPML 2.0 (tags become folders and categories)."""
    from watcher.parse.opml import OpmlFeed, write_opml

    config = ctx.config()
    feeds = [OpmlFeed(url=f.url, title=f.name, tags=f.tags) for f in config.feeds if f.kind == "feed"]
    others = len(config.feeds) - len(feeds)
    if others:
        click.echo(
            f"watcher: note: {others} source(s) of kind telegram, sitemap or page are left out: "
            "other readers cannot read them as feeds",
            err=True,
        )
    data = write_opml(feeds, title=f"watcher feeds ({config.path.name})", now=ctx.clock())
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    output.write_bytes(data)
    click.echo(f"wrote {len(feeds)} feed(s) to {output}")


COMMANDS = [add, remove, import_cmd, export]
