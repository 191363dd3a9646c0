"""``/healthz`` and ``/metrics`` of ``watcher serve``: for monitors, not people.

``/healthz`` is 200 when the daemon's scheduler heartbeat is recent and the
database opens, else 503, with a JSON body saying why (``?max_age=20m`` for a
timer's period); ``/metrics`` is Prometheus' text format
(:mod:`watcher.web.metrics`). Both answer loopback clients without the page's
password (:mod:`watcher.web.security`)."""

from __future__ import annotations

import asyncio

from datasette.utils.asgi import Response

from watcher.store.database import Store


async def healthz_view(datasette, request):
    """200 when the daemon's scheduler heartbeat is recent and the database opens, else 503."""
    from watcher.daemon.heartbeat import MAX_AGE, check
    from watcher.duration import DurationError, parse_duration

    try:
        max_age = parse_duration(request.args["max_age"]) if request.args.get("max_age") else MAX_AGE
    except DurationError as exc:
        return Response.text(f"watcher: max_age: {exc}\n", status=400)
    context = datasette.watcher
    verdict = await asyncio.to_thread(check, context.settings.database, context.clock(), max_age=max_age)
    return Response.json(
        {
            "healthy": verdict.healthy,
            "reason": verdict.reason,
            "heartbeat": verdict.heartbeat,
            "heartbeat_age_seconds": verdict.age,
        },
        status=200 if verdict.healthy else 503,
        headers={"cache-control": "no-store"},
    )


async def metrics_view(datasette, request):
    """The measures in Prometheus' text format (see :mod:`watcher.web.metrics`)."""
    from watcher import __version__
    from watcher.review.status import measure
    from watcher.store import overview
    from watcher.web import metrics

    context = datasette.watcher
    now = context.clock()

    def read() -> bytes:
        store = Store.open(context.settings.database, migrate=False, hardened=True)
        try:
            return metrics.exposition(
                measure(store, now),
                version=__version__,
                size_bytes=overview.size_bytes(store),
                queues=_queues(context.settings.workers),
            )
        finally:
            store.close()

    try:
        body = await asyncio.to_thread(read)
    except Exception as exc:  # the database is missing or broken: a scrape error that says so
        return Response.text(f"watcher: cannot read the database: {exc}\n", status=503)
    return Response(
        body.decode("utf-8"),
        status=200,
        headers={"cache-control": "no-store"},
        content_type=metrics.CONTENT_TYPE,
    )


def _queues(workers) -> dict | None:
    """Distributed mode's queues ([workers] broker), or None."""
    if not workers.distributed:
        return None
    from watcher.workers import observe

    try:
        return observe.as_dict(observe.snapshot(workers))
    except observe.BrokerError as exc:
        return {"error": str(exc)}
