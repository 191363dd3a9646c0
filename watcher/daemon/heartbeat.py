"""The daemon's heartbeat: proof, in the database, that its scheduler is alive.

The scheduler's tick calls :meth:`Heartbeat.beat`; at most every
``every`` seconds (by the monotonic clock) it stores the time in the
database's ``meta`` table. ``watcher health``, the container's HEALTHCHECK
and ``/healthz`` of ``watcher serve`` (another process, perhaps another
container on the same volume) read it back with :func:`check`: healthy when
the database opens and the last beat is recent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from watcher.errors import StoreError
from watcher.store import meta
from watcher.store.database import Store

log = logging.getLogger("watcher.daemon")

KEY = meta.HEARTBEAT
EVERY = 30.0  # seconds between two stored beats
MAX_AGE = 180.0  # a beat older than this: the daemon is down or wedged


class Heartbeat:
    """Stores the daemon's heartbeat through ``open_store`` (its own connection)."""

    def __init__(
        self,
        open_store: Callable[[], Store],
        clock: Callable[[], datetime],
        *,
        every: float = EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.open_store, self.clock, self.every, self.monotonic = open_store, clock, every, monotonic
        self._store: Store | None = None
        self._last: float | None = None

    def beat(self) -> bool:
        """Store the time, unless a beat was stored less than ``every`` seconds ago; True if stored."""
        now = self.monotonic()
        if self._last is not None and now - self._last < self.every:
            return False
        try:
            if self._store is None:
                self._store = self.open_store()
            meta.put(self._store, KEY, self.clock().isoformat())
        except StoreError as exc:  # a busy or full disk: the next tick tries again
            log.warning("cannot store the heartbeat: %s", exc)
            return False
        self._last = now
        return True

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str  # one line for people: why (not) healthy
    heartbeat: str | None  # the last beat's time, ISO 8601
    age: float | None  # seconds since it


def last_beat(store: Store) -> str | None:
    return meta.get(store, KEY)


def check(database: Path, now: datetime, *, max_age: float = MAX_AGE) -> Health:
    """Whether the daemon writing ``database`` is alive: the database opens
    (read-only: a health check never creates or upgrades it) and holds a
    heartbeat at most ``max_age`` seconds old."""
    if not database.is_file():
        return Health(False, f"no database at {database} yet: the daemon has not started", None, None)
    try:
        store = Store.open(database, migrate=False, hardened=True)
        try:
            beat = last_beat(store)
        finally:
            store.close()
    except StoreError as exc:
        return Health(False, f"the database {database} does not open: {exc}", None, None)
    if beat is None:
        return Health(False, "no heartbeat stored: the daemon (`watcher run`) has not run yet", None, None)
    try:
        age = (now - datetime.fromisoformat(beat)).total_seconds()
    except (TypeError, ValueError):
        return Health(False, f"the stored heartbeat {beat!r} is not a time", beat, None)
    if age > max_age:
        return Health(
            False,
            f"the daemon's last heartbeat was {age:.0f} s ago (more than {max_age:.0f} s): "
            "is `watcher run` running?",
            beat,
            age,
        )
    return Health(True, f"the daemon's last heartbeat was {max(age, 0):.0f} s ago", beat, age)
