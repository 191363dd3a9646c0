"""The daemon in-process, driven through its own clock parameter and its hooks
(no sleeps to wait out): clock steps, a database that cannot be written, the
WAL checkpoint, the service-manager hooks, the instance lock, reloads."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from newsroom import Newsroom, write_config
from support import rows

from watcher import app
from watcher.config import load
from watcher.daemon.scheduler import Daemon, NoBacklogInterval
from watcher.errors import LockError
from watcher.match.rules import load_rules
from watcher.store.database import Store


class SteppedClock:
    """The wall clock the watcher is handed, which the test can set forward or back."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


class Ticks:
    """The daemon's heartbeat hook: counts dispatcher ticks, so a test waits in
    ticks, not seconds."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait(self, predicate, ticks: int = 60) -> bool:
        """Wait until ``predicate()`` holds, at most ``ticks`` more ticks (each at most 5 s)."""
        deadline = time.monotonic() + 5 * ticks  # a dispatcher that died must not hang the test
        with self.changed:
            until = self.count + ticks
            while self.count < until and time.monotonic() < deadline:
                if predicate():
                    return True
                self.changed.wait(5)
        return predicate()


def started(watcher: app.Watcher, daemon: Daemon) -> threading.Thread:
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    return thread


def stop(daemon: Daemon, thread: threading.Thread) -> None:
    daemon.stop()
    thread.join(30)
    assert not thread.is_alive()


def feed_config(tmp_path: Path, server, interval: str = "2s", **kw) -> Path:
    room = Newsroom(server)
    room.add_seed_articles()
    config = write_config(tmp_path, [("Example News", room.publish())], fetch_article=False, **kw)
    config.write_text(config.read_text().replace('poll_interval = "15m"', f'poll_interval = "{interval}"'))
    return config


def watcher_for(config_path: Path, clock) -> app.Watcher:
    config = load(config_path, environ={})
    return app.Watcher(config, load_rules(list(config.rules)), clock)


# -- issue 15 item 8: clock steps ------------------------------------------------------------------


def test_item08_a_clock_step_is_logged_once_and_polling_goes_on(tmp_path, server, caplog):
    clock = SteppedClock()
    ticks = Ticks()
    config = feed_config(tmp_path, server)
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with caplog.at_level(logging.INFO, logger="watcher.daemon"), watcher_for(config, clock) as watcher:
        daemon = watcher.daemon(grace=5, heartbeat=ticks)
        thread = started(watcher, daemon)
        try:
            assert ticks.wait(lambda: polls() >= 2)
            clock.offset = -timedelta(days=1)  # NTP, a restored snapshot, a wrong RTC
            seen = polls()
            assert ticks.wait(lambda: polls() >= seen + 3), "polling stalled after the clock was set back"
            clock.offset = timedelta(days=1)  # and forward by two days
            seen = polls()
            assert ticks.wait(lambda: polls() >= seen + 3)
        finally:
            stop(daemon, thread)
    steps = [r.getMessage() for r in caplog.records if "system clock was set" in r.getMessage()]
    assert len(steps) == 2, steps
    assert "set back by 24.0 h" in steps[0] and "set forward by 2.0 days" in steps[1]
    # What is stored follows the wall clock it was handed.
    finished = [r["finished_at"] for r in rows(tmp_path, "SELECT finished_at FROM polls ORDER BY id")]
    assert any(f < (datetime.now(timezone.utc) - timedelta(hours=23)).isoformat() for f in finished)
    assert finished[-1] > (datetime.now(timezone.utc) + timedelta(hours=23)).isoformat()


class SteppedSchedulerClock(datetime):
    """APScheduler's own clock: the ``datetime`` its scheduler module reads
    (``datetime.now`` in ``apscheduler.schedulers.base``), set forward or back
    by the test. The watcher's clock and the monotonic clock do not move."""

    offset = timedelta(0)

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime.now(tz) + cls.offset


def test_item08_a_step_of_the_clock_apscheduler_reads_changes_nothing(tmp_path, server, caplog, monkeypatch):
    """APScheduler 3 fires jobs when its wall clock reaches their times: set
    back a day, it would wait a day; set forward, it would fire the hourly
    jobs at once. The watchdog re-arms them by the monotonic clock: polls go
    on, and no hourly job runs early."""
    monkeypatch.setattr("apscheduler.schedulers.base.datetime", SteppedSchedulerClock)
    monkeypatch.setattr(SteppedSchedulerClock, "offset", timedelta(0))
    ticks = Ticks()
    config = feed_config(tmp_path, server)
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with (
        caplog.at_level(logging.DEBUG, logger="watcher.daemon"),
        watcher_for(config, SteppedClock()) as watcher,
    ):
        daemon = watcher.daemon(grace=5, heartbeat=ticks)
        thread = started(watcher, daemon)
        try:
            assert ticks.wait(lambda: polls() >= 2)
            SteppedSchedulerClock.offset = -timedelta(days=1)
            seen = polls()
            assert ticks.wait(lambda: polls() >= seen + 3), (
                "polling stalled after APScheduler's clock went back"
            )
            SteppedSchedulerClock.offset = timedelta(days=1)  # and forward by two days
            seen = polls()
            assert ticks.wait(lambda: polls() >= seen + 3)
        finally:
            stop(daemon, thread)
    messages = [r.getMessage() for r in caplog.records]
    assert any("the dispatcher tick re-armed: APScheduler had it 24.0 h late" in m for m in messages), (
        messages
    )
    # APScheduler fired the hourly jobs at once; on the monotonic clock they were not due
    assert any(
        re.match(r"the hourly summary fired \d+ min early by APScheduler's clock", m) for m in messages
    )
    assert not [m for m in messages if "last hour:" in m]  # the hourly jobs did not run early
    assert not [m for m in messages if "system clock was set" in m]  # the watcher's own clock did not move
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], messages


def test_item08_a_clock_set_forward_by_decades_is_one_run_not_a_backlog():
    """A machine without a real-time clock boots in 1970 and NTP sets it to
    today: APScheduler's interval trigger would list every missed fire time
    (1.8 billion seconds; agronholm/apscheduler#35, #526, #1066) before the
    job could run. The daemon's trigger gives the present instead."""
    trigger = NoBacklogInterval(seconds=1, timezone=timezone.utc)
    booted = datetime(1970, 1, 1, 0, 0, 10, tzinfo=timezone.utc)
    synced = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(booted, synced) == synced  # one run now (coalesced)...
    assert trigger.get_next_fire_time(synced, synced) == synced + timedelta(seconds=1)  # ...then every second
    assert trigger.get_next_fire_time(booted, booted) == booted + timedelta(seconds=1)


def test_a_tick_that_outlasts_its_period_is_one_logged_condition(tmp_path, server, caplog):
    """A reload that hangs holds the dispatcher tick: APScheduler skips its
    runs (max_instances = 1) and says so each time; the daemon logs it once,
    and once more when the tick runs again."""
    ticks, release, hanging = Ticks(), threading.Event(), threading.Event()
    config = feed_config(tmp_path, server)

    def slow_loader():
        hanging.set()
        release.wait(60)
        loaded = load(config, environ={})
        return loaded, load_rules(list(loaded.rules))

    with caplog.at_level(logging.INFO, logger="watcher.daemon"):
        loaded = load(config, environ={})
        watcher = app.Watcher(loaded, load_rules(list(loaded.rules)), SteppedClock(), loader=slow_loader)
        with watcher:
            daemon = watcher.daemon(grace=5, heartbeat=ticks)
            thread = started(watcher, daemon)
            try:
                assert ticks.wait(lambda: ticks.count >= 2)
                daemon.request_reload()
                assert hanging.wait(30)
                assert _until(lambda: "the dispatcher tick: 3 run(s) skipped" in daemon.report())
                release.set()
                seen = ticks.count
                assert ticks.wait(lambda: ticks.count >= seen + 2)
            finally:
                release.set()
                stop(daemon, thread)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    held = [m for m in messages if "the dispatcher tick has been running for" in m]
    assert len(held) == 1 and "longer than its 1 s period; its runs are skipped until it ends" in held[0]
    again = [m for m in messages if m.startswith("the dispatcher tick runs again:")]
    assert len(again) == 1 and "run(s) were skipped while one took" in again[0], messages
    assert not [r for r in caplog.records if r.name.startswith("apscheduler")]
    assert not [m for m in messages if "maximum number of running instances" in m]
    assert any("reloaded" in r.getMessage() for r in caplog.records)


def _until(predicate, limit: float = 60.0) -> bool:
    """Wait until ``predicate()`` holds (at most ``limit`` seconds, so a daemon
    that died cannot hang the test)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_item08_the_schedule_starts_from_the_stored_next_due(tmp_path, server):
    """A feed an earlier run polled a moment ago waits its interval; one that is due is
    polled at once."""
    clock = SteppedClock()
    config = feed_config(tmp_path, server, interval="1h")
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with watcher_for(config, clock) as watcher:
        watcher.run_once()
    for due_now in (False, True):
        if due_now:
            conn = sqlite3.connect(tmp_path / "watcher.db")
            conn.execute("UPDATE feeds SET next_due = '2020-01-01T00:00:00+00:00'")
            conn.commit()
            conn.close()
        seen, ticks = polls(), Ticks()
        with watcher_for(config, clock) as watcher:
            daemon = watcher.daemon(grace=5, heartbeat=ticks)
            thread = started(watcher, daemon)
            try:
                assert ticks.wait(lambda: ticks.count >= 3)  # noqa: B023 (called at once)
                assert ticks.wait(lambda: polls() == seen + due_now, ticks=5)  # noqa: B023
            finally:
                stop(daemon, thread)
        assert polls() == seen + due_now


# -- issue 15 item 9: a database that cannot be written --------------------------------------------


def limited_opener(db: Path, opened: list[Store], *, sql: str):
    def open_store() -> Store:
        store = Store.open(db)
        store.execute(sql.format(pages=store.scalar("PRAGMA page_count")))
        opened.append(store)
        return store

    return open_store


def test_item09_a_full_database_backs_off_and_is_one_logged_condition(tmp_path, server, caplog):
    """SQLite's max_page_count plays a full disk: no article fits any more."""
    clock, ticks = SteppedClock(), Ticks()
    config = feed_config(tmp_path, server, interval="4s")  # the dispatcher ticks every second
    opened: list[Store] = []
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with caplog.at_level(logging.DEBUG, logger="watcher"), watcher_for(config, clock) as watcher:
        daemon = Daemon(
            watcher.parts,
            open_store=limited_opener(watcher.config.database, opened, sql="PRAGMA max_page_count = {pages}"),
            grace=5,
            heartbeat=ticks,
        )
        thread = started(watcher, daemon)
        try:
            assert ticks.wait(lambda: polls() >= 1)
            start = ticks.count
            assert ticks.wait(lambda: ticks.count >= start + 14, ticks=20)
            # Backing off as after errors (4 s, 8 s, ...), not every tick: at most 3 polls in 14 ticks.
            assert polls() <= 3, polls()
            assert rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"] < 5  # full
            for store in opened:  # space again (on the connections still open)
                try:
                    store.execute("PRAGMA max_page_count = 1073741823")
                except sqlite3.ProgrammingError:
                    pass
            assert ticks.wait(lambda: rows(tmp_path, "SELECT count(*) AS n FROM articles")[0]["n"] == 5)
            assert ticks.wait(lambda: any("records polls again" in r.getMessage() for r in caplog.records))
        finally:
            stop(daemon, thread)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("cannot record polls" in m for m in messages) == 1, messages
    assert sum("database or disk is full" in m for m in messages) == 1, messages
    assert not [m for m in messages if "Traceback" in m or "Example News" in m], messages


def test_item09_polls_the_database_cannot_record_still_move_the_schedule(tmp_path, server, caplog):
    """Nothing at all can be written any more (the poll's own record neither): the next
    poll is still pushed back, in memory, backing off."""
    ticks = Ticks()
    config = feed_config(tmp_path, server, interval="4s")
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with watcher_for(config, SteppedClock()) as watcher:
        watcher.run_once()
    recorded = rows(tmp_path, "SELECT count(*) AS n FROM polls")[0]["n"]
    with caplog.at_level(logging.DEBUG, logger="watcher"), watcher_for(config, SteppedClock()) as watcher:
        opened: list[Store] = []
        daemon = Daemon(
            watcher.parts,
            open_store=limited_opener(watcher.config.database, opened, sql="PRAGMA query_only = ON"),
            grace=5,
            heartbeat=ticks,
        )
        thread = started(watcher, daemon)
        try:
            assert ticks.wait(lambda: polls() >= 1)
            start = ticks.count
            assert ticks.wait(lambda: ticks.count >= start + 14, ticks=20)
            assert polls() <= 4, polls()  # the run's poll, then 4 s, 8 s...: not every tick
            assert rows(tmp_path, "SELECT count(*) AS n FROM polls")[0]["n"] == recorded  # none recorded
        finally:
            stop(daemon, thread)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("cannot record polls" in m for m in messages) == 1, messages


# -- issue 15 item 13: the WAL shrinks ------------------------------------------------------------


def test_item13_maintenance_checkpoints_and_truncates_the_wal_when_readers_allow(tmp_path, server):
    config = feed_config(tmp_path, server)
    db = tmp_path / "watcher.db"
    with watcher_for(config, SteppedClock()) as watcher:
        reader = sqlite3.connect(db)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM feeds").fetchone()  # a long reader holds a snapshot
        watcher.run_once()
        store = Store.open(db)
        with store.atomic():  # more writes behind the reader's back
            for i in range(300):
                store.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"filler{i}", "x" * 2000))
        store.close()
        wal = Path(f"{db}-wal")
        daemon = watcher.daemon(grace=5)
        held = daemon.maintain()
        assert held is not None and not held.checkpointed and wal.stat().st_size > 500_000
        reader.rollback()
        reader.close()
        done = daemon.maintain()
        assert done is not None and done.checkpointed and done.wal_bytes > 500_000
        assert wal.stat().st_size == 0


# -- the service-manager hooks --------------------------------------------------------------------


def test_ready_heartbeat_and_stopping_hooks_are_called(tmp_path, server):
    calls: list[str] = []
    ticks = Ticks()

    def heartbeat() -> None:
        calls.append("heartbeat")
        ticks()

    config = feed_config(tmp_path, server)
    with watcher_for(config, SteppedClock()) as watcher:
        daemon = watcher.daemon(
            grace=5,
            ready=lambda: calls.append("ready"),
            heartbeat=heartbeat,
            stopping=lambda: calls.append("stopping"),
        )
        thread = started(watcher, daemon)
        assert ticks.wait(lambda: ticks.count >= 3)
        stop(daemon, thread)
    assert calls[0] == "ready" and calls[-1] == "stopping"
    assert calls.count("heartbeat") >= 3 and calls.count("ready") == calls.count("stopping") == 1


# -- issue 15 item 11: the lock goes by the real path ---------------------------------------------


def test_item11_a_second_watcher_through_a_symlink_finds_the_lock_taken(tmp_path, server):
    config = feed_config(tmp_path, server)
    link_folder = tmp_path / "elsewhere"
    link_folder.mkdir()
    app.open_store(load(config, environ={})).close()
    os.symlink(tmp_path / "watcher.db", link_folder / "linked.db")
    other = link_folder / "watcher.toml"
    other.write_text(
        config.read_text().replace(f'database = "{tmp_path / "watcher.db"}"', 'database = "linked.db"')
    )
    assert 'database = "linked.db"' in other.read_text()
    with watcher_for(config, SteppedClock()):
        with pytest.raises(LockError, match="already running"):
            watcher_for(other, SteppedClock())
        # also through a path with .. in it
        dotted = tmp_path / "elsewhere" / ".." / "watcher.db"
        via_dots = link_folder / "dots.toml"
        via_dots.write_text(config.read_text().replace(str(tmp_path / "watcher.db"), str(dotted)))
        with pytest.raises(LockError):
            watcher_for(via_dots, SteppedClock())
    with watcher_for(other, SteppedClock()):  # released: the link works on its own
        pass


# -- reloading (issue 10) --------------------------------------------------------------------------


def test_a_reload_adds_and_removes_feeds_between_polls(tmp_path, server, caplog):
    ticks = Ticks()
    room = Newsroom(server)
    room.add_seed_articles()
    first, second = room.publish("/one.xml", "One"), room.publish("/two.xml", "Two")
    config = write_config(tmp_path, [("One", first)], fetch_article=False)
    config.write_text(config.read_text().replace('poll_interval = "15m"', 'poll_interval = "2s"'))
    with caplog.at_level(logging.INFO, logger="watcher.daemon"):
        loaded = load(config, environ={})
        watcher = app.Watcher(
            loaded,
            load_rules(list(loaded.rules)),
            SteppedClock(),
            loader=lambda: (load(config, environ={}), load_rules(list(loaded.rules))),
        )
        with watcher:
            daemon = watcher.daemon(grace=5, heartbeat=ticks)
            thread = started(watcher, daemon)
            try:
                assert ticks.wait(lambda: len(server.requests_for("/one.xml")) >= 1)
                config.write_text(config.read_text().replace(first, second).replace('"One"', '"Two"'))
                daemon.request_reload()
                assert ticks.wait(lambda: len(server.requests_for("/two.xml")) >= 2)
                seen = len(server.requests_for("/one.xml"))
                assert ticks.wait(lambda: len(server.requests_for("/two.xml")) >= 4)
                assert len(server.requests_for("/one.xml")) == seen  # removed: no longer polled
            finally:
                stop(daemon, thread)
    assert any(
        "reloaded" in r.getMessage() and "(1 new, 1 removed)" in r.getMessage() for r in caplog.records
    )


def test_an_hour_later_one_summary_line_and_no_clock_step(tmp_path, server, caplog):
    """Both clocks driven an hour on at once (as across a suspend, where the
    boot-time clock keeps counting): one summary line, and no clock step."""
    wall, ticks, shift = SteppedClock(), Ticks(), [0.0]
    config = feed_config(tmp_path, server)
    with caplog.at_level(logging.INFO, logger="watcher.daemon"), watcher_for(config, wall) as watcher:
        daemon = Daemon(
            watcher.parts,
            open_store=lambda: Store.open(watcher.config.database),
            grace=5,
            heartbeat=ticks,
            monotonic=lambda: time.monotonic() + shift[0],
        )
        thread = started(watcher, daemon)
        try:
            assert ticks.wait(lambda: len(server.requests_for("/feed.xml")) >= 2)
            wall.offset, shift[0] = timedelta(hours=1), 3600.0
            assert ticks.wait(lambda: any("last hour:" in r.getMessage() for r in caplog.records))
        finally:
            stop(daemon, thread)
    (summary,) = [r.getMessage() for r in caplog.records if "last hour:" in r.getMessage()]
    assert "poll(s) of 1 feed(s), 5 new entries, 5 stored, 0 alert(s) queued, 0 failed poll(s)" in summary
    assert not [r for r in caplog.records if "system clock" in r.getMessage()]


class FailingHeartbeat(Ticks):
    """A heartbeat that cannot be stored while ``failing`` (a full disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def __call__(self) -> None:
        super().__call__()
        if self.failing:
            raise OSError("database or disk is full")


def test_a_failing_heartbeat_is_logged_once_while_it_fails_and_polling_goes_on(tmp_path, server, caplog):
    """A life-cycle hook that keeps failing (a heartbeat a full disk cannot store)
    is logged once, not at every tick; once it has worked again, a new failure is
    logged again. The daemon polls throughout."""
    heartbeat = FailingHeartbeat()
    config = feed_config(tmp_path, server)
    polls = lambda: len(server.requests_for("/feed.xml"))  # noqa: E731
    with (
        caplog.at_level(logging.DEBUG, logger="watcher.daemon"),
        watcher_for(config, lambda: datetime.now(timezone.utc)) as watcher,
    ):
        daemon = watcher.daemon(grace=5, heartbeat=heartbeat)
        thread = started(watcher, daemon)
        try:
            seen = heartbeat.count
            assert heartbeat.wait(lambda: heartbeat.count >= seen + 4 and polls() >= 2)
            heartbeat.failing = False
            seen = heartbeat.count
            assert heartbeat.wait(lambda: heartbeat.count >= seen + 2)
            heartbeat.failing = True
            seen = heartbeat.count
            assert heartbeat.wait(lambda: heartbeat.count >= seen + 3)
        finally:
            stop(daemon, thread)
    failed = [
        r
        for r in caplog.records
        if r.getMessage().startswith("a life-cycle hook failed") and r.levelno >= logging.ERROR
    ]
    assert len(failed) == 2, [r.getMessage() for r in failed]
    assert all("database or disk is full" in (r.exc_text or "") for r in failed)
