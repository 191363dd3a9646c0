"""``[alerts]``: how often and how long a failed alert is retried."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.config.reader import Reader, Table


@dataclass(frozen=True)
class AlertsConfig:
    max_attempts: int = 8
    backoff: float = 30.0  # first retry delay, seconds; doubles each try
    max_backoff: float = 6 * 3600.0
    notify_new_rules: bool = False  # alert again when a story copy matches a new rule


def read_alerts(r: Reader, raw: Table) -> AlertsConfig:
    a = r.section(raw, "alerts", {"max_attempts", "backoff", "max_backoff", "notify_new_rules"})
    d = AlertsConfig()
    return AlertsConfig(
        max_attempts=r.positive_int(a, "alerts.", "max_attempts", d.max_attempts, 1000),
        backoff=r.duration(a, "alerts.", "backoff", d.backoff),
        max_backoff=r.duration(a, "alerts.", "max_backoff", d.max_backoff),
        notify_new_rules=r.typed(a, "alerts.", "notify_new_rules", bool, d.notify_new_rules),
    )
