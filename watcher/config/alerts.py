"""``[alerts]``: how often and how long a failed alert is retried, how old an
entry may be and still alert (``max_age``, the first-poll baseline), and when a
failing feed or channel becomes an operator notice."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.config.reader import DAY, Reader, Table

MAX_AGE_LIMIT = 100 * 365 * DAY


@dataclass(frozen=True)
class AlertsConfig:
    max_attempts: int = 8  # an alert goes dead after this many tries of its own ...
    backoff: float = 30.0  # first retry delay, seconds; doubles each try
    max_backoff: float = 6 * 3600.0
    notify_new_rules: bool = False  # alert again when a story copy matches a new rule
    max_age: float = 3 * DAY  # entries published longer ago than this never alert
    give_up_after: float = 48 * 3600.0  # ... and only once it has waited this long
    ops_after_errors: int = 3  # a feed failing this many polls in a row is an operator notice
    ops_after: float = 3600.0  # ... as is a feed or a channel failing for this long


KEYS = {
    "max_attempts",
    "backoff",
    "max_backoff",
    "notify_new_rules",
    "max_age",
    "give_up_after",
    "ops_after_errors",
    "ops_after",
}


def read_alerts(r: Reader, raw: Table) -> AlertsConfig:
    a = r.section(raw, "alerts", KEYS)
    d = AlertsConfig()
    return AlertsConfig(
        max_attempts=r.positive_int(a, "alerts.", "max_attempts", d.max_attempts, 1000),
        backoff=r.duration(a, "alerts.", "backoff", d.backoff),
        max_backoff=r.duration(a, "alerts.", "max_backoff", d.max_backoff),
        notify_new_rules=r.typed(a, "alerts.", "notify_new_rules", bool, d.notify_new_rules),
        max_age=r.duration(a, "alerts.", "max_age", d.max_age, MAX_AGE_LIMIT),
        give_up_after=r.duration(a, "alerts.", "give_up_after", d.give_up_after),
        ops_after_errors=r.positive_int(a, "alerts.", "ops_after_errors", d.ops_after_errors, 1000),
        ops_after=r.duration(a, "alerts.", "ops_after", d.ops_after),
    )
