"""What ``watcher status`` and ``/metrics`` show about distributed mode:
the queues, the workers seen in the last minute, the tasks delivered more
than once and the results per second, read from the broker when asked."""

from __future__ import annotations

from typing import Any

from watcher.config import WorkersConfig
from watcher.workers.broker import FEEDS, PAGES, RESULTS, Broker, BrokerError, Snapshot

__all__ = ["BrokerError", "Snapshot", "as_dict", "describe", "snapshot"]


def snapshot(workers: WorkersConfig) -> Snapshot:
    """The queues now (BrokerError when the broker cannot be read)."""
    assert workers.broker is not None
    broker = Broker(
        workers.broker, namespace=workers.namespace, visibility_timeout=workers.visibility_timeout
    )
    try:
        return broker.snapshot()
    finally:
        broker.close()


def as_dict(s: Snapshot) -> dict[str, Any]:
    return {
        "queue_waiting": dict(s.waiting),
        "queue_in_progress": dict(s.in_progress),
        "workers_seen": len(s.workers),
        "workers": list(s.workers),
        "tasks_retried": s.retried,
        "results_per_second": round(s.results_per_second, 2),
    }


def describe(s: Snapshot) -> list[str]:
    """Lines for ``watcher status``."""
    w = s.waiting
    return [
        f"queue: {w[FEEDS]} feed(s), {w[PAGES]} page(s) and {w[RESULTS]} result(s) waiting, "
        f"{sum(s.in_progress.values())} in progress",
        f"workers seen in the last minute: {len(s.workers)}"
        + (f" ({', '.join(s.workers)})" if s.workers else ""),
        f"tasks retried: {s.retried}; results per second (last minute): {s.results_per_second:.1f}",
    ]
