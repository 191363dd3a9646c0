"""``watcher alerts`` (the outbox), ``watcher alerts retry``, ``watcher notify --test``."""

from __future__ import annotations

import json

import click

from watcher.cli.console import CliContext, Id, fail, short_time, table

STATUS_CHOICES = ["pending", "sending", "sent", "dead"]


def _quiet_logs(config) -> None:
    """These commands print their own results; library logs stay quiet (no
    duplicate lines), and whatever handlers exist never see a channel secret."""
    import logging

    from watcher.notify.redaction import install

    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    for handler in root.handlers:
        install(handler, config.channels)


@click.group(invoke_without_command=True, short_help="The alert outbox: pending, sent and dead alerts.")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None, help="Only alerts in this state.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@click.pass_context
def alerts(click_ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """The alert outbox: pending, sent and dead alerts, with the last error."""
    if click_ctx.invoked_subcommand:
        return
    from watcher.notify import operator
    from watcher.store import alerts as alert_rows

    ctx: CliContext = click_ctx.obj
    config = ctx.config()
    _quiet_logs(config)
    store = ctx.store()
    try:
        rows = alert_rows.listing(store, status=status, limit=limit)
        counts = alert_rows.counts(store)
        conditions = operator.open_conditions(store)
    finally:
        store.close()
    for row in rows:
        _clean(row)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    _print_table(rows, counts)
    _print_conditions(conditions, any(c.ops for c in config.channels))


def _clean(row: dict) -> None:
    """Feed text is untrusted: no terminal escapes, no newlines."""
    from watcher.notify.message import clean_line

    row["headline"] = clean_line(row["headline"], 200)
    row["feed"] = clean_line(row["feed"], 80)
    row["last_error"] = clean_line(row["last_error"], 1000) or None
    row["when"] = row["sent_at"] if row["status"] == "sent" else row["next_attempt_at"]


def _print_table(rows: list[dict], counts: dict[str, int]) -> None:
    for row in rows:
        row["when"] = short_time(row["when"])
        row["feed"], row["headline"] = _cut(row["feed"], 24), _cut(row["headline"], 48)
        row["last_error"] = _cut(row["last_error"], 120)
    click.echo(
        table(
            rows,
            ["id", "status", "channel", "attempts", "when", "feed", "headline", "last_error"],
            width=120,
            headers={"when": "sent/next try"},
            flex=(("headline", 28), ("feed", 14)),
        )
    )
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts.get("dead"):
        click.echo(
            "fix the channel, then `watcher alerts retry --dead` (or `--all`) and "
            "`watcher run --once` to send them"
        )


def _print_conditions(conditions: list[dict], has_ops: bool) -> None:
    """The operator conditions now open (their start notices), if any."""
    from watcher.notify.message import clean_line

    if not conditions:
        return
    click.echo(f"\n{len(conditions)} operator condition(s) open:")
    for notice in conditions:
        click.echo(f"  since {short_time(notice['created_at'])}  {clean_line(notice['title'], 200)}")
    if not has_ops:
        click.echo(
            "no channel has `ops = true`, so these notices are sent nowhere; add it to a [[channels]] table"
        )


def _cut(text: str | None, width: int) -> str | None:
    return text if text is None or len(text) <= width else text[: width - 1] + "…"


@alerts.command(short_help="Make alerts due now: IDs, --dead or --all.")
@click.argument("ids", nargs=-1, type=Id("an alert", "`watcher alerts`"))
@click.option("--dead", is_flag=True, help="Every dead alert.")
@click.option("--all", "every", is_flag=True, help="Every alert not yet sent (pending or dead).")
@click.pass_obj
def retry(ctx: CliContext, ids: tuple[int, ...], dead: bool, every: bool) -> None:
    """Make alerts due now with a fresh set of attempts: IDs, --dead or --all.

    The running daemon (or the next `watcher run --once`) sends them."""
    from watcher.store import alerts as alert_rows
    from watcher.store import channels as channel_rows

    if not (ids or dead or every):
        fail("say which alerts: one or more IDs (see `watcher alerts`), --dead, or --all")
    store = ctx.store()
    try:
        if ids:
            known = alert_rows.statuses(store, ids)
            missing = [i for i in ids if i not in known]
            if missing:
                fail(f"no alert with id {', '.join(map(str, missing))}; see `watcher alerts`")
            for i in ids:
                if known[i] in ("sent", "sending"):
                    click.echo(f"alert {i} is {known[i]}; left alone", err=True)
        count = alert_rows.retry(store, ctx.clock(), ids=ids, dead=dead, every=every)
        if count:  # a channel that was failing is tried again at once, not at its next probe
            channel_rows.probe_now(store, ctx.clock())
    finally:
        store.close()
    click.echo(f"{count} alert(s) due now; the running watcher or `watcher run --once` sends them")


@click.command(short_help="Send a test message to a channel.")
@click.option(
    "--test",
    "channel_name",
    metavar="CHANNEL",
    required=True,
    help="Send a test message to this channel and show the service's answer.",
)
@click.pass_obj
def notify(ctx: CliContext, channel_name: str) -> None:
    """Send a test message to a channel (nothing is written to the outbox)."""
    from watcher import app
    from watcher.notify.message import channel_test_message
    from watcher.notify.notifier import safe_url

    config = ctx.config()
    _quiet_logs(config)
    channel = config.channel(channel_name)
    if channel is None:
        names = ", ".join(c.name for c in config.channels) or "none configured"
        fail(f"no channel named {channel_name!r} in {config.path} (channels: {names})")
    notifier = app.notifier(channel, config, ctx.clock)
    delivery = notifier.send(channel_test_message(channel.name, channel.format, ctx.clock(), notifier.limits))
    where = f"{channel.name} ({safe_url(channel)})"
    if delivery.ok:
        click.echo(f"sent a test message to {where}: {delivery.detail}")
        return
    fail(f"the test message to {where} failed: {delivery.detail}", code=1)


COMMANDS = [alerts, notify]
