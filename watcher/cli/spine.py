"""``watcher run``, ``watcher check``, ``watcher feeds``, ``watcher prune``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from watcher.cli import feedlist
from watcher.cli.console import (
    EXIT_FEEDS_FAILED,
    EXIT_INTERRUPTED,
    CliContext,
    fail,
    problems_message,
    setup_logging,
    table,
)
from watcher.duration import DurationError, parse_duration

# The pipeline's parts are imported when a command runs (watcher/app.py builds
# them), so that `watcher --help` and the light commands start fast.
if TYPE_CHECKING:
    from watcher import app


@click.command()
@click.option("--once", is_flag=True, help="Poll every due feed once, send due alerts, and exit.")
@click.option(
    "--grace",
    default="20s",
    show_default=True,
    metavar="DURATION",
    help="On SIGTERM/SIGINT, how long to wait for polls under way.",
)
@click.option(
    "--no-send",
    is_flag=True,
    help="With --once: store and match everything, queue and send no alert (fills the log "
    "of a new feed without alerting; `watcher log` shows its matches as baseline).",
)
@click.option(
    "--log-level",
    default=None,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log detail on stderr. Default: INFO for the daemon (what changed, and a summary "
    "every hour); WARNING with --once, which prints its own summary (INFO: a line per feed "
    "and per failed page).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: for people (under systemd, without timestamps: the journal adds them); "
    "json: one JSON object per line, for log shippers.",
)
@click.pass_obj
def run(ctx: CliContext, once: bool, grace: str, no_send: bool, log_level: str, log_format: str) -> None:
    """Poll the configured feeds (forever, or --once).

    The daemon reloads the config and rules on SIGHUP, logs what is loaded on
    SIGUSR1 and stops on SIGTERM/SIGINT. --once exits 0 when every feed it
    polled was read, 3 when the pass completed but some feeds failed."""
    from watcher import app
    from watcher.daemon.systemd import ServiceManager

    config = ctx.config()
    try:
        grace_seconds = parse_duration(grace)
    except DurationError as exc:
        fail(f"--grace: {exc}")
    if no_send and not once:
        fail("--no-send works with --once (watcher run --once --no-send)")
    setup_logging(log_level or ("WARNING" if once else "INFO"), config, fmt=log_format)
    watcher = app.Watcher(config, ctx.rules(), ctx.clock, loader=ctx.reloader(), alerting=not no_send)
    finished = True
    code = 0
    try:
        if once:
            code = _run_once(watcher, send=not no_send)
        else:
            service = ServiceManager.from_environ(os.environ)
            finished = watcher.daemon(grace=grace_seconds, service=service).run()
    finally:
        watcher.close(finished=finished)
    if not finished:  # a poll or send outlived the grace time: do not wait for its deadline
        import logging

        logging.shutdown()
        os._exit(0)
    if code:
        raise SystemExit(code)


def _run_once(watcher: app.Watcher, *, send: bool = True) -> int:
    """One pass; Ctrl-C (or SIGTERM) stops the polls between entries, so what
    was stored stays whole, and says so. Returns the exit code: 0 when every
    polled feed was read, EXIT_FEEDS_FAILED when some failed."""
    import signal

    def interrupt(signum, frame):
        watcher.parts.stop.set()  # polls under way stop before their next entry
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    config = watcher.config
    try:
        summary = watcher.run_once()
        watcher.beat()
        names = {f.url: f.name for f in config.feeds}
        _print_summary(summary, names, len(config.feeds))
        _print_maintenance(watcher)
        if send:
            _print_delivery(watcher.deliver())
        else:
            click.echo("alerts: none queued or sent (--no-send); matches are in `watcher log` as baseline")
        if summary.failed:
            failed = ", ".join(names.get(r.feed, r.feed) for r in summary.failed)
            click.echo(f"{len(summary.failed)} feed(s) failed: {failed} (exit {EXIT_FEEDS_FAILED})", err=True)
            return EXIT_FEEDS_FAILED
        return 0
    except KeyboardInterrupt:
        for sig, handler in previous.items():  # a second Ctrl-C now must not raise in here
            signal.signal(sig, handler)
        click.echo("", err=True)
        fail(
            "interrupted; the entries stored so far are kept, and the next `watcher run` picks up the rest",
            EXIT_INTERRUPTED,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_summary(summary, names: dict[str, str], configured: int) -> None:
    for result in summary.results:
        outcome = result.outcome
        name = names.get(result.feed, result.feed)
        if result.status.trouble or not result.recorded:
            click.echo(f"  ! {name}: {result.status}: {_without_url(outcome.error, result.feed)}", err=True)
        elif outcome.warning or outcome.error:
            note = _without_url(outcome.warning or outcome.error, result.feed)
            click.echo(f"  ~ {name}: stored what it could ({note})", err=True)
        if outcome.pages_failed:
            click.echo(
                f"  ~ {name}: {outcome.pages_failed} of {outcome.pages_tried} article page(s) failed "
                f"(last: {_without_url(outcome.last_page_error, result.feed)}); their feed summaries are stored",
                err=True,
            )
    click.echo(
        f"polled {summary.feeds_polled} feed(s): {summary.entries_new} new entries, "
        f"{summary.articles_stored} articles stored, {summary.alerts_queued} alerts queued, "
        f"{summary.errors} feed error(s)" + _waiting(configured - summary.feeds_polled)
    )


def _waiting(feeds: int) -> str:
    """Feeds a pass leaves alone (backing off, throttled, gone) are not silently missing."""
    if feeds <= 0:
        return ""
    return (
        f"; {feeds} feed(s) left alone (backing off after errors, throttled, or gone; "
        "`watcher feeds` says when they are due)"
    )


def _without_url(error: str | None, url: str) -> str | None:
    """Errors name the URL they concern; beside the feed's name its own URL is noise."""
    if error and error.startswith(url + ": "):
        return error[len(url) + 2 :]
    return error.replace(f" from {url}", "") if error else error


def _print_maintenance(watcher: app.Watcher) -> None:
    """`run --once` prunes when a prune is due, as the daemon does."""
    done = watcher.maintain()
    if done.pruned is not None:
        click.echo(
            f"pruned {done.pruned.articles} unmatched article(s) fetched before {done.pruned.cutoff[:10]} "
            f"(keep_days = {watcher.config.keep_days:g})"
        )


def _print_delivery(delivery: app.Delivery | None) -> None:
    if delivery is None:
        return
    click.echo(
        str(delivery.summary)
        + (f"; {delivery.waiting} wait for a later attempt (`watcher alerts`)" if delivery.waiting else "")
    )


@click.command(short_help="Validate the config, rules, channels and database.")
@click.pass_obj
def check(ctx: CliContext) -> None:
    """Validate the config, the rules and every channel URL; exit 2 on problems."""
    from watcher import app
    from watcher.errors import RulesError
    from watcher.notify.notifier import check_channels

    config = ctx.config()
    problems: list[str] = []
    rules = None
    try:
        rules = ctx.rules().rules
    except RulesError as exc:
        problems += [str(p) for p in exc.problems]
    problems += check_channels(config.channels, rules)
    problems += app.source_problems(config)
    database = app.database_problem(config)
    if database:
        problems.append(database)
    if problems:
        fail(problems_message(problems, str(config.path)))
    for warning in _check_warnings(config):
        click.echo(f"watcher: warning: {config.path}: {warning}", err=True)
    click.echo(
        f"{config.path}: OK — {len(config.feeds)} feed(s), {len(rules or ())} rule(s), "
        f"{len(config.channels)} channel(s), database {config.database}"
    )


def _check_warnings(config) -> list[str]:
    """What works but is likely not what was meant."""
    warnings = []
    if not config.feeds:
        warnings.append("no [[feeds]]: `watcher run` would have nothing to poll; add one per feed URL")
    seen: dict[str, int] = {}
    for i, feed in enumerate(config.feeds):
        if feed.name in seen:
            warnings.append(
                f"feeds[{i}].name: {feed.name!r} is also the name of feeds[{seen[feed.name]}]; "
                "`watcher feeds`, `watcher log --feed` and the web page cannot tell them apart: rename one"
            )
        seen.setdefault(feed.name, i)
    if not config.channels:
        warnings.append(
            "no [[channels]]: matches are logged (`watcher log`) but no alert is sent; "
            "add a channel to be told (see config.example.toml)"
        )
    return warnings


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.option("--tag", metavar="TAG", help="Only the feeds with this tag.")
@click.pass_obj
def feeds(ctx: CliContext, as_json: bool, tag: str | None) -> None:
    """Each feed's health: status (ok, not modified, degraded, silent, throttled,
    failing, gone, paused) and why, last poll, errors, article pages that failed
    in the recent polls, parse warnings, the last new entry, next due.

    `watcher feeds add URL` finds the feeds at a site and adds one; `remove`,
    `import FILE.opml` and `export` edit and list the configured feeds."""
    from watcher import health
    from watcher.review import status as review

    if click.get_current_context().invoked_subcommand:
        return
    config = ctx.config()
    store = ctx.store()
    try:
        known = {f.url: f for f in review.feed_health(store, ctx.clock())}
    finally:
        store.close()
    records: list[dict[str, Any]] = []
    for feed in config.feeds:
        if tag and tag not in feed.tags:
            continue
        row = known.get(feed.url)
        gap = row.usual_gap if row else None
        records.append(
            {
                "name": feed.name,
                "url": feed.url,
                "kind": feed.kind,
                "tags": list(feed.tags),
                "status": str(row.state if row else health.Status.NEW) if feed.enabled else PAUSED,
                "reason": row.reason if row else None,
                "last_poll": row.last_polled if row else None,
                "last_success": row.last_success if row else None,
                "errors": row.consecutive_errors if row else 0,
                "next_due": row.next_due if row and not row.gone else None,
                "articles": row.articles if row else 0,
                "last_error": _without_url(row.last_error, feed.url) if row else None,
                "warning": _without_url(row.last_warning, feed.url) if row else None,
                "pages_tried": row.pages_tried if row else 0,
                "pages_failed": row.pages_failed if row else 0,
                "last_page_error": row.last_page_error if row else None,
                "last_new_entry": row.last_new_entry if row else None,
                "usual_gap_hours": round(gap / 3600, 1) if gap is not None else None,
            }
        )
    if as_json:
        import json

        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    for record in records:  # one column for what to look at: the error, else why, else the warning
        record["pages"] = f"{record['pages_failed']}/{record['pages_tried']}" if record["pages_tried"] else ""
        note = record["last_error"] or record["reason"]
        if not note and record["warning"]:
            note = f"warning: {record['warning']}"
        record["last_error"] = note
        record["name"] = shown_name(str(record["name"]), str(record["kind"]), list(record["tags"] or []))
    click.echo(
        table(
            records,
            ["name", "status", "last_poll", "errors", "next_due", "articles", "pages", "last_error"],
            width=200,
            headers={"pages": "pages failed", "last_error": "error / why"},
            flex=("last_error", "name"),
        )
    )


@click.command()
@click.option(
    "--keep-days",
    type=click.FloatRange(min=0, min_open=True, max=36500),
    default=None,
    metavar="DAYS",
    help="Prune articles older than this (default: [watcher] keep_days).",
)
@click.pass_obj
def prune(ctx: CliContext, keep_days: float | None) -> None:
    """Prune unmatched articles past keep_days now, and shrink the write-ahead log.

    The daemon does the same every six hours, and `run --once` when the last
    prune was six hours ago or more; matched articles and their stories stay."""
    from watcher.review import retention
    from watcher.store import database

    config = ctx.config()
    days = keep_days or config.keep_days
    if not days:
        fail(
            f"nothing to prune: [watcher] keep_days is not set in {config.path}; set it "
            "(e.g. keep_days = 90) or give --keep-days DAYS"
        )
    store = ctx.store()
    try:
        pruned = retention.prune(store, days, ctx.clock())
        done, _ = database.checkpoint(store)
    finally:
        store.close()
    click.echo(
        f"pruned {pruned.articles} unmatched article(s) fetched before {pruned.cutoff[:10]} "
        f"(keep_days = {days:g}) and {pruned.stories} empty stor{'y' if pruned.stories == 1 else 'ies'}"
        + ("" if done else "; the write-ahead log is still in use by a reader and was not shrunk")
    )


PAUSED = "paused"  # enabled = false: not polled, its history kept


def shown_name(name: str, kind: str, tags: list[str]) -> str:
    """A feed's name with its kind (when not a plain feed) and tags: "MFA (page) #syria"."""
    return name + (f" ({kind})" if kind != "feed" else "") + "".join(f" #{t}" for t in tags)


for _command in feedlist.COMMANDS:
    feeds.add_command(_command)

COMMANDS = [run, check, feeds, prune]
