"""Feed health: backoff grows on errors, resets on success, honours Retry-After."""

from datetime import datetime, timedelta, timezone

from watcher import health

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def due_after(feed, outcome, interval=600):
    state = health.next_state(feed, outcome, interval=interval, now=NOW)
    return state, datetime.fromisoformat(state["next_due"]) - NOW if state["next_due"] else None


def test_errors_back_off_exponentially_and_success_recovers():
    feed = {"consecutive_errors": 0}
    delays = []
    for _ in range(5):
        state, delay = due_after(feed, health.Outcome(health.ERROR, error="HTTP 500"))
        delays.append(delay.total_seconds())
        feed = {**feed, **state}
    assert delays == [600, 1200, 2400, 4800, 9600]
    assert feed["consecutive_errors"] == 5 and feed["last_error"] == "HTTP 500"
    state, delay = due_after(feed, health.Outcome(health.OK, etag='"v2"'))
    assert delay == timedelta(seconds=600)
    assert state["consecutive_errors"] == 0 and state["last_error"] is None and state["etag"] == '"v2"'


def test_backoff_is_capped_at_a_day():
    _, delay = due_after({"consecutive_errors": 40}, health.Outcome(health.ERROR, error="x"))
    assert delay == timedelta(days=1)


def test_retry_after_is_honoured_but_bounded():
    _, delay = due_after(
        {"consecutive_errors": 0}, health.Outcome(health.THROTTLED, retry_after=7200, error="429")
    )
    assert delay == timedelta(hours=2)
    _, delay = due_after(
        {"consecutive_errors": 0}, health.Outcome(health.THROTTLED, retry_after=10**9, error="429")
    )
    assert delay == timedelta(days=7)


def test_gone_feed_is_not_scheduled_again():
    state, delay = due_after(
        {"consecutive_errors": 0}, health.Outcome(health.GONE, http_status=410, error="gone")
    )
    assert state["gone"] == 1 and delay is None


def test_not_modified_keeps_validators():
    state, _ = due_after({"consecutive_errors": 2}, health.Outcome(health.NOT_MODIFIED, http_status=304))
    assert "etag" not in state and state["consecutive_errors"] == 0


def status_after(*outcomes, row=None):
    row = dict(row or {"consecutive_errors": 0})
    for outcome in outcomes:
        row.update(health.next_state(row, outcome, interval=600, now=NOW))
    return health.FeedState.of(row).status


def test_one_status_word_per_state_of_a_feed():
    ok, error = health.Outcome(health.OK), health.Outcome(health.ERROR, error="HTTP 500")
    assert health.FeedState.of({}).status == "new"
    assert status_after(ok) == "ok"
    assert status_after(health.Outcome(health.NOT_MODIFIED, http_status=304)) == "not modified"
    assert status_after(ok, error) == "failing"
    assert status_after(error, error, ok) == "ok"  # recovers on its own
    assert status_after(health.Outcome(health.THROTTLED, http_status=429, retry_after=60)) == "throttled"
    assert status_after(health.Outcome(health.GONE, http_status=410)) == "gone"
    interrupted = health.Outcome(health.INTERRUPTED)
    assert status_after(interrupted) == "new"  # not the feed's fault
    assert status_after(ok, interrupted) == "ok"


def test_status_words_say_which_feeds_need_a_look():
    trouble = {s for s in health.Status if s.trouble}
    assert trouble == {
        health.Status.DEGRADED,
        health.Status.SILENT,
        health.Status.FAILING,
        health.Status.THROTTLED,
        health.Status.GONE,
    }
    assert {s for s in health.Status if s.healthy} == {health.Status.OK, health.Status.NOT_MODIFIED}
    assert health.Status.NOT_MODIFIED.slug == "not-modified"  # a CSS class


# -- degraded and silent: what the recent polls say ---------------------------------------------

READ = health.FeedState(NOW.isoformat(), health.OK, 0, False)


def days_ago(*days):
    return tuple(NOW - timedelta(days=d) for d in days)


def test_a_feed_whose_pages_mostly_fail_is_degraded_with_the_share_and_last_error():
    failing = health.Activity(pages_tried=10, pages_failed=9, last_page_error="page: HTTP 403 from x")
    verdict = health.assess(READ, failing, NOW)
    assert verdict.status == "degraded" and verdict.fetch == "ok"
    assert "9 of 10 article pages failed" in verdict.reason and "HTTP 403" in verdict.reason
    # half or fewer failing, or too few pages to say, is not degraded
    assert health.assess(READ, health.Activity(pages_tried=10, pages_failed=5), NOW).status == "ok"
    assert health.assess(READ, health.Activity(pages_tried=2, pages_failed=2), NOW).status == "ok"


def test_a_feed_read_only_by_the_lenient_parser_is_degraded_other_warnings_are_not():
    malformed = "not well-formed XML (line 3, column 4: mismatched tag); read with the lenient parser"
    assert health.assess(READ, health.Activity(warning=malformed), NOW).status == "degraded"
    cut = "900 entries in the document, only the first 500 were kept"
    assert health.assess(READ, health.Activity(warning=cut), NOW).status == "ok"


def test_silent_after_five_times_the_usual_gap_with_a_floor_of_a_day():
    daily = days_ago(10, 9, 8, 7, 6)  # a new entry every day, then nothing
    quiet4 = health.assess(
        READ, health.Activity(last_new_entry=NOW - timedelta(days=4), new_entry_polls=daily), NOW
    )
    assert quiet4.status == "ok" and quiet4.usual_gap == 86400 and quiet4.silent_after == 5 * 86400
    quiet6 = health.assess(
        READ, health.Activity(last_new_entry=NOW - timedelta(days=6), new_entry_polls=daily), NOW
    )
    assert quiet6.status == "silent" and "no new entry for 6 days (usually every 1 day)" in quiet6.reason
    hourly = tuple(NOW - timedelta(hours=h) for h in range(30, 20, -1))
    busy = health.Activity(last_new_entry=NOW - timedelta(hours=21), new_entry_polls=hourly)
    assert health.assess(READ, busy, NOW).status == "ok"  # 5 h past its rhythm, but the floor is a day
    busy = health.Activity(last_new_entry=NOW - timedelta(hours=25), new_entry_polls=hourly)
    assert health.assess(READ, busy, NOW).status == "silent"


def test_without_a_rhythm_a_feed_is_silent_after_a_week_and_a_failing_feed_is_failing():
    young = health.Activity(last_new_entry=NOW - timedelta(days=6), new_entry_polls=days_ago(6))
    assert health.assess(READ, young, NOW).status == "ok"
    old = health.Activity(last_new_entry=NOW - timedelta(days=8), new_entry_polls=())
    assert health.assess(READ, old, NOW).status == "silent"
    failing = health.FeedState(NOW.isoformat(), health.ERROR, 3, False)
    verdict = health.assess(failing, old, NOW)
    assert verdict.status == "failing" and not verdict.judged and verdict.silent is None
