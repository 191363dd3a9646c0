"""``watcher run``, ``watcher check``, ``watcher feeds``."""

from __future__ import annotations

import logging
import os

import click

from watcher import health
from watcher.cli.console import (
    EXIT_INTERRUPTED,
    CliContext,
    database_problem,
    fail,
    problems_message,
    setup_logging,
    table,
)
from watcher.daemon.lock import InstanceLock, LockError
from watcher.duration import DurationError, parse_duration
from watcher.store import alerts as alert_rows
from watcher.store import articles as article_rows
from watcher.store import feeds as feed_rows
from watcher.store.database import Store

# The pipeline's parts are imported when a command runs, so that `watcher
# --help` and the light commands start fast.


def _matcher(ctx: CliContext):
    from watcher.match.matcher import Matcher
    from watcher.match.rules import RulesError, load_rules

    try:
        return Matcher(load_rules(ctx.config().rules))
    except RulesError as exc:
        fail(problems_message(exc.problems, "the rule files"))
        raise  # unreachable


@click.command()
@click.option("--once", is_flag=True, help="Poll every due feed once, send due alerts, and exit.")
@click.option("--grace", default="20s", show_default=True, metavar="DURATION",
              help="On SIGTERM/SIGINT, how long to wait for polls under way.")
@click.option("--log-level", default=None,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Log detail on stderr. Default: INFO for the daemon; WARNING with --once, "
                   "which prints its own summary.")
@click.pass_obj
def run(ctx: CliContext, once: bool, grace: str, log_level: str) -> None:
    """Poll the configured feeds (forever, or --once)."""
    from watcher import pipeline
    from watcher.daemon.scheduler import Daemon
    from watcher.notify.sender import Sender

    config = ctx.config()
    try:
        grace_seconds = parse_duration(grace)
    except DurationError as exc:
        fail(f"--grace: {exc}")
    setup_logging(log_level or ("WARNING" if once else "INFO"), config)
    matcher = _matcher(ctx)
    try:
        lock = InstanceLock(ctx.database()).acquire()
    except LockError as exc:
        fail(str(exc))
    store = ctx.store()
    parts = pipeline.build_parts(config, ctx.clock, matcher)
    sender = Sender(store, config, ctx.clock)
    finished = True
    try:
        if once:
            _run_once(parts, store, sender, config, ctx)
        else:
            finished = Daemon(parts, sender=sender, grace=grace_seconds).run()
    finally:
        parts.extractor.close()
        store.close()
        lock.release()
    if not finished:      # a poll outlived the grace time: do not wait for its deadline
        logging.shutdown()
        os._exit(0)
    parts.client.close()


def _run_once(parts, store: Store, sender, config, ctx: CliContext) -> None:
    """One pass; Ctrl-C (or SIGTERM) stops the polls between entries, so what
    was stored stays whole, and says so."""
    import signal

    from watcher import pipeline

    def interrupt(signum, frame):
        parts.stop.set()          # polls under way stop before their next entry
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = pipeline.run_once(parts, store, lambda: Store.open(config.database))
        _print_summary(summary, {f.url: f.name for f in config.feeds}, len(config.feeds))
        if config.channels:
            _print_delivery(sender.drain(ctx.clock()), store)
    except KeyboardInterrupt:
        for sig, handler in previous.items():   # a second Ctrl-C now must not raise in here
            signal.signal(sig, handler)
        click.echo("", err=True)
        fail("interrupted; the entries stored so far are kept, and the next `watcher run` "
             "picks up the rest", EXIT_INTERRUPTED)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_summary(summary, names: dict[str, str], configured: int) -> None:
    for result in summary.results:
        outcome = result.outcome
        name = names.get(result.feed, result.feed)
        if outcome.status in (health.ERROR, health.GONE, health.THROTTLED):
            click.echo(f"  ! {name}: {_without_url(outcome.error, result.feed)}", err=True)
        elif outcome.error:
            click.echo(f"  ~ {name}: stored what it could ({_without_url(outcome.error, result.feed)})",
                       err=True)
    click.echo(f"polled {summary.feeds_polled} feed(s): {summary.entries_new} new entries, "
               f"{summary.articles_stored} articles stored, {summary.alerts_queued} alerts queued, "
               f"{summary.errors} feed error(s)" + _waiting(configured - summary.feeds_polled))


def _waiting(feeds: int) -> str:
    """Feeds a pass leaves alone (backing off, throttled, gone) are not silently missing."""
    if feeds <= 0:
        return ""
    return (f"; {feeds} feed(s) left alone (backing off after errors, throttled, or gone; "
            "`watcher feeds` says when they are due)")


def _without_url(error: str | None, url: str) -> str | None:
    """Errors name the URL they concern; beside the feed's name its own URL is noise."""
    if error and error.startswith(url + ": "):
        return error[len(url) + 2:]
    return error.replace(f" from {url}", "") if error else error


def _print_delivery(result, store: Store) -> None:
    if result is None:
        return
    waiting = alert_rows.count_pending(store)
    click.echo(str(result) + (f"; {waiting} wait for a later attempt (`watcher alerts`)" if waiting else ""))


@click.command(short_help="Validate the config, rules, channels and database.")
@click.pass_obj
def check(ctx: CliContext) -> None:
    """Validate the config, the rules and every channel URL; exit 2 on problems."""
    from watcher.match.rules import RulesError, load_rules

    config = ctx.config()
    problems: list[str] = []
    rules = None
    try:
        ruleset = load_rules(config.rules)
    except RulesError as exc:
        problems += [str(p) for p in exc.problems]
    else:
        rules = ruleset.rules
        for warning in ruleset.warnings:
            click.echo(f"warning: {warning}", err=True)
    from watcher.notify.notifier import check_channels

    problems += check_channels(config.channels, rules)
    if database_problem(config):
        problems.append(database_problem(config))
    if problems:
        fail(problems_message(problems, str(config.path)))
    click.echo(f"{config.path}: OK — {len(config.feeds)} feed(s), {len(rules)} rule(s), "
               f"{len(config.channels)} channel(s), database {config.database}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_obj
def feeds(ctx: CliContext, as_json: bool) -> None:
    """Each feed's health: last poll, status, errors, next due."""
    config = ctx.config()
    store = ctx.store()
    rows = {r["url"]: r for r in feed_rows.listing(store)}
    counts = article_rows.count_by_feed(store)
    records = []
    for feed in config.feeds:
        row = rows.get(feed.url, {})
        records.append({
            "name": feed.name, "url": feed.url,
            "status": _status(row), "last_poll": row.get("last_polled"),
            "last_success": row.get("last_success"),
            "errors": row.get("consecutive_errors", 0),
            "next_due": row.get("next_due") if not row.get("gone") else None,
            "articles": counts.get(row.get("id"), 0),
            "last_error": _without_url(row.get("last_error"), feed.url),
        })
    if as_json:
        import json
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(table(records, ["name", "status", "last_poll", "errors", "next_due",
                               "articles", "last_error"], width=200, flex=("last_error", "name")))


def _status(row: dict) -> str:
    if not row:
        return "never polled"
    if row.get("gone"):
        return "gone"
    return row.get("last_status") or ("interrupted" if row.get("last_polled") else "never polled")


COMMANDS = [run, check, feeds]
