"""``watcher status``: the database at a glance (size, counts, outbox, the
age of the log), and distributed mode's queues. A module of its own: the
command a monitor or a person runs most often imports only what it shows."""

from __future__ import annotations

import re
from dataclasses import asdict

import click

from watcher.cli.console import CliContext, emit_json, short_time


@click.command(short_help="The database: size, counts, outbox, age of the log.")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@click.pass_obj
def status(ctx: CliContext, as_json: bool) -> None:
    """The database: size, counts, alert outbox, and the age of the log.

    --json gives the same numbers as /metrics of `watcher serve` (snake_case keys)."""
    from watcher import __version__
    from watcher.review.status import last_poll, report

    keep = ctx.config().keep_days
    now = ctx.clock()
    store = ctx.store()
    try:
        st, measures = report(store, now)
        polled_at = last_poll(store)
    finally:
        store.close()
    queues = _queues(ctx.config())
    if as_json:
        emit_json(
            {
                "version": __version__,
                **asdict(st),
                "counts": {_snake(name): n for name, n in st.counts},
                "alerts": dict(st.alerts),
                "keep_days": keep,
                **measures.as_dict(),
                **({"distributed": {k: v for k, v in queues.items() if k != "lines"}} if queues else {}),
            }
        )
        return
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
    beat = measures.heartbeat_age_seconds
    lines = [
        f"watcher    {__version__}",
        f"database   {st.path} ({_size(st.size_bytes)}, schema v{st.schema_version})",
        f"articles   {span}"
        + (f"; unmatched ones pruned after {keep:g} days" if keep else "; nothing is pruned"),
        f"last poll  {polled}"
        + (f" (last `watcher run --once` started {short_time(st.last_run)})" if st.last_run else ""),
        "daemon     "
        + (f"last heartbeat {beat:.0f} s ago" if beat is not None else "no heartbeat yet (`watcher run`)"),
    ]
    if st.daemon:  # what `watcher run` last loaded (at start or on SIGHUP)
        d = st.daemon
        lines.append(
            f"loaded     by pid {d.get('pid')}: {d.get('config')} at {short_time(str(d.get('loaded_at')))}: "
            f"{d.get('feeds')} feed(s), {d.get('rules')} rule(s), channels: {', '.join(d.get('channels') or []) or 'none'}"
        )
    lines.append("")
    lines += [
        f"  {name:<18}{n:>8}" for name, n in st.counts if n or not name.startswith("feeds ")
    ]  # feeds by status: those that have some
    lines += [f"  {'alerts ' + name:<18}{n:>8}" for name, n in st.alerts]
    if measures.extraction_failures:
        lines.append(f"  {'pages not extracted':<18}{measures.extraction_failures:>8}")
    if queues is not None:
        lines += ["", *(f"workers    {line}" for line in queues.get("lines", [queues.get("error")]))]
    click.echo("\n".join(lines))


def _queues(config) -> dict | None:
    """Distributed mode's queues and workers ([workers] broker), or None."""
    if not config.workers.distributed:
        return None
    from watcher.workers import observe

    try:
        snap = observe.snapshot(config.workers)
    except observe.BrokerError as exc:
        return {"error": f"the broker cannot be read: {exc}"}
    return {**observe.as_dict(snap), "lines": observe.describe(snap)}


def _snake(name: str) -> str:
    return re.sub(r"\W+", "_", name.strip()).lower()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


COMMANDS = [status]
