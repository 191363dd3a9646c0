"""``/metrics`` of ``watcher serve``: the watcher's measures in Prometheus'
text format, through the official ``prometheus-client`` (its one home).

Every value is read from the database when the page is scraped
(:func:`watcher.review.status.measure`), so the numbers are the daemon's
even though ``serve`` is another process. Each metric is named after the
key ``watcher status --json`` prints for the same number:

=========================================  =====================================
metric                                     ``watcher status --json`` key
=========================================  =====================================
``watcher_info{version}``                  ``version``
``watcher_database_size_bytes``            ``size_bytes``
``watcher_feeds{status}``                  ``feeds_by_status``
``watcher_polls_total{outcome}``           ``polls_by_outcome``
``watcher_poll_errors_total``              ``poll_errors``
``watcher_entries_seen_total``             ``entries_seen``
``watcher_articles_stored``                ``articles_stored``
``watcher_articles_matched``               ``articles_matched``
``watcher_extraction_failures``            ``extraction_failures``
``watcher_matches{rule}``                  ``matches_by_rule``
``watcher_alerts{channel,status}``         ``alerts_by_channel``
``watcher_outbox_oldest_pending_age_seconds`` ``oldest_pending_alert_age_seconds``
``watcher_last_poll_age_seconds``          ``last_poll_age_seconds``
``watcher_heartbeat_age_seconds``          ``heartbeat_age_seconds``
=========================================  =====================================

In distributed mode (``[workers] broker``) the broker is read too, as
``watcher status --json`` shows it under ``distributed``:
``watcher_broker_up`` (0 when Redis cannot be read), ``watcher_queue_waiting{queue}``,
``watcher_queue_in_progress{queue}``, ``watcher_workers_seen`` (in the last
minute), ``watcher_tasks_retried_total`` and ``watcher_results_per_second``.

An age that is not known (no alert waiting, never polled, no daemon yet) is
left out rather than shown as 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from watcher.review.status import Measures

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Snapshot(Collector):
    def __init__(self, measures: Measures, version: str, size_bytes: int, queues: dict | None = None) -> None:
        self.m, self.version, self.size_bytes, self.queues = measures, version, size_bytes, queues

    def collect(self) -> Iterator[Metric]:
        m = self.m
        yield InfoMetricFamily("watcher", "The watcher's version.", value={"version": self.version})
        yield GaugeMetricFamily(
            "watcher_database_size_bytes", "The database file and its write-ahead log.", value=self.size_bytes
        )
        feeds = GaugeMetricFamily("watcher_feeds", "Feeds in each health status.", labels=["status"])
        for status, n in m.feeds_by_status.items():
            feeds.add_metric([status], n)
        yield feeds
        polls = CounterMetricFamily("watcher_polls", "Polls, by what they came to.", labels=["outcome"])
        for outcome, n in m.polls_by_outcome.items():
            polls.add_metric([outcome or "unknown"], n)
        yield polls
        yield CounterMetricFamily(
            "watcher_poll_errors", "Polls that failed (error, throttled, gone).", value=m.poll_errors
        )
        yield CounterMetricFamily("watcher_entries_seen", "Feed entries seen.", value=m.entries_seen)
        yield GaugeMetricFamily("watcher_articles_stored", "Articles in the log.", value=m.articles_stored)
        yield GaugeMetricFamily(
            "watcher_articles_matched", "Articles that matched a rule.", value=m.articles_matched
        )
        yield GaugeMetricFamily(
            "watcher_extraction_failures",
            "Articles whose page could not be extracted (kept with the feed's summary).",
            value=m.extraction_failures,
        )
        matches = GaugeMetricFamily("watcher_matches", "Matched articles per rule.", labels=["rule"])
        for rule, n in m.matches_by_rule.items():
            matches.add_metric([rule], n)
        yield matches
        alerts = GaugeMetricFamily(
            "watcher_alerts", "Alerts per channel and status.", labels=["channel", "status"]
        )
        for channel, statuses in m.alerts_by_channel.items():
            for status, n in statuses.items():
                alerts.add_metric([channel, status], n)
        yield alerts
        for name, value, doc in (
            (
                "watcher_outbox_oldest_pending_age_seconds",
                m.oldest_pending_alert_age_seconds,
                "How long the oldest alert not yet sent has waited.",
            ),
            ("watcher_last_poll_age_seconds", m.last_poll_age_seconds, "Since any feed was last polled."),
            (
                "watcher_heartbeat_age_seconds",
                m.heartbeat_age_seconds,
                "Since the daemon's scheduler loop last stored its heartbeat.",
            ),
        ):
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)
        if self.queues is not None:
            yield from _queues(self.queues)


def _queues(q: dict) -> Iterator[Metric]:
    """Distributed mode: the broker's queues and workers."""
    up = "error" not in q
    yield GaugeMetricFamily(
        "watcher_broker_up", "1 when the broker ([workers] broker) answers.", value=int(up)
    )
    if not up:
        return
    for name, key, doc in (
        ("watcher_queue_waiting", "queue_waiting", "Messages waiting in each queue."),
        (
            "watcher_queue_in_progress",
            "queue_in_progress",
            "Messages taken by a consumer, not yet acknowledged.",
        ),
    ):
        family = GaugeMetricFamily(name, doc, labels=["queue"])
        for queue, n in q[key].items():
            family.add_metric([queue], n)
        yield family
    yield GaugeMetricFamily(
        "watcher_workers_seen", "Workers seen in the last minute.", value=q["workers_seen"]
    )
    yield CounterMetricFamily(
        "watcher_tasks_retried", "Tasks delivered more than once.", value=q["tasks_retried"]
    )
    yield GaugeMetricFamily(
        "watcher_results_per_second",
        "Results received per second over the last minute.",
        value=q["results_per_second"],
    )


def exposition(measures: Measures, *, version: str, size_bytes: int, queues: dict | None = None) -> bytes:
    """The measures in Prometheus' text exposition format (``queues``: distributed
    mode's, as ``watcher status --json`` gives them, or ``{"error": ...}``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(measures, version, size_bytes, queues))
    return generate_latest(registry)
