"""``watcher worker``: fetch feeds and pages and extract text for a ``watcher
run`` elsewhere, through the broker of ``[workers] broker``."""

from __future__ import annotations

import click

from watcher.cli.console import CliContext, fail, setup_logging


@click.command(short_help="Read feeds and pages for `watcher run` through the broker ([workers] broker).")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log detail on stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: for people; json: one JSON object per line, for log shippers.",
)
@click.pass_obj
def worker(ctx: CliContext, log_level: str, log_format: str) -> None:
    """Fetch feeds and article pages and extract their text for the one
    `watcher run` of this deployment, taking orders from the Redis broker of
    [workers] broker (start any number, on any machine that reaches Redis and
    the feeds; no database needed). Stops on SIGTERM/SIGINT once the pages
    under way are done; a worker killed outright leaves its tasks to the
    others after [workers] visibility_timeout."""
    import signal
    import threading
    from datetime import datetime, timezone

    from watcher import app

    config = ctx.config()
    if not config.workers.distributed:
        fail(
            f"`watcher worker` needs [workers] broker in {config.path}, e.g. "
            'broker = "redis://127.0.0.1:6379/0" (the same as `watcher run` uses)'
        )
    setup_logging(log_level, config, fmt=log_format)
    service = app.worker_service(config, lambda: datetime.now(timezone.utc))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service.run(stop)
    finally:
        service.reader.extractor.close()
        service.reader.client.close()
        service.broker.close()


COMMANDS = [worker]
