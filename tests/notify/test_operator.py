"""Feed health that tells the truth, and operator notices (issue 10), as a
user meets them: real feeds and pages on loopback, `watcher run --once`,
`watcher feeds --json`, the web /feeds page, and a real loopback webhook as
the `ops = true` channel. Time is driven through the watcher's own clock."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import httpx
from alerts_support import Clock, queue_story
from alerts_support import write_config as alerts_config
from httpserver import LoopbackServer
from newsroom import Newsroom, article_html, write_config
from support import REAL, watcher

from watcher import app
from watcher import config as config_mod
from watcher.match.rules import load_rules
from watcher.notify import operator
from watcher.notify.sender import Sender
from watcher.store.database import Store
from watcher.web import server as web

MALFORMED = REAL / "feeds" / "feedparser" / "illformed" / "rss_item_link_corrupted_ampersands.xml"


def ops_channel(hook, name: str = "ops") -> str:
    return f'[[channels]]\nname = "{name}"\nurl = "{hook.url(name)}"\nops = true\n'


def feeds_json(config) -> list[dict]:
    result = watcher(config, "feeds", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def feeds_page(database, path: str = "/feeds") -> str:
    server = web.WebServer(
        web.WebSettings(database=database, port=0), clock=lambda: datetime.now(timezone.utc)
    )
    url = server.start()
    try:
        return httpx.get(url + path).text
    finally:
        server.stop()


def test_a_feed_whose_pages_all_fail_is_degraded_everywhere_and_tells_ops_once(tmp_path, hooks):
    ops, team = hooks
    with LoopbackServer() as server:
        room = Newsroom(server)
        for i in range(4):  # the publisher's article pages all refuse us
            story = room.add(f"/news/{i}.html", f"Report {i} from Ankara", b"", summary=f"Summary {i}.")
            server.route(story.path, body=b"forbidden", status=403)
        config = write_config(
            tmp_path,
            [("Example News", room.publish())],
            extra=ops_channel(ops) + f'[[channels]]\nname = "team"\nurl = "{team.url("team")}"\n',
        )
        first = watcher(config, "run", "--once")
        assert first.exit_code == 0, first.output
        [feed] = feeds_json(config)
        assert feed["status"] == "degraded"
        assert feed["pages_failed"] == feed["pages_tried"] == 4
        assert "HTTP 403" in feed["last_page_error"]
        assert "4 of 4 article pages failed in recent polls" in feed["reason"]
        page = feeds_page(tmp_path / "watcher.db")
        assert '<tr class="feed feed-degraded">' in page
        assert '<span class="pages-failed">4</span> of 4' in page
        assert ops.titles() == ["[watcher] feed Example News is degraded"]
        assert not [t for t in team.titles() if "[watcher] feed" in t]  # article channels get no notices
        listed = watcher(config, "alerts").stdout
        assert "(operator notice)" in listed and "feed Example News is degraded" in listed
        assert "1 operator condition(s) open" in listed
        outbox = feeds_page(tmp_path / "watcher.db", "/outbox")
        assert "operator notice</span> <bdi>feed Example News is degraded</bdi>" in outbox

        again = watcher(config, "run", "--once")  # still degraded: no second notice
        assert again.exit_code == 0, again.output
        assert len(ops.titles()) == 1

        for i in range(4, 9):  # the pages work again
            room.add(
                f"/news/{i}.html",
                f"Report {i} from Damascus",
                article_html(f"Report {i} from Damascus", "Officials met in Damascus on Tuesday. " * 20),
            )
        room.publish()
        recovered = watcher(config, "run", "--once")
        assert recovered.exit_code == 0, recovered.output
    [feed] = feeds_json(config)
    assert feed["status"] == "ok" and (feed["pages_failed"], feed["pages_tried"]) == (4, 9)
    assert ops.titles() == [
        "[watcher] feed Example News is degraded",
        "[watcher] feed Example News is no longer degraded",
    ]


def test_a_malformed_feed_shows_its_warning(tmp_path, hook):
    with LoopbackServer() as server:
        server.route("/feed.xml", body=MALFORMED.read_bytes(), content_type="application/rss+xml")
        config = write_config(
            tmp_path, [("Ampersands", server.url("/feed.xml"))], fetch_article=False, extra=ops_channel(hook)
        )
        assert watcher(config, "run", "--once").exit_code == 0
    [feed] = feeds_json(config)
    assert feed["status"] == "degraded" and feed["last_error"] is None
    assert (
        feed["warning"]
        == "not well-formed XML (line 13, column 0: unclosed token); read with the lenient parser"
    )
    table = watcher(config, "feeds").stdout
    assert "degraded" in table and "read only by the lenient parser" in table
    assert "not well-formed XML" in feeds_page(tmp_path / "watcher.db")
    assert hook.titles() == ["[watcher] feed Ampersands is degraded"]


def test_a_feed_that_published_daily_then_stops_is_silent_once_and_recovers_once(tmp_path, hook):
    """Ten days of one new entry a day, polled every six hours; then the feed
    still answers but brings nothing new. Five days (5x its usual gap) later
    it is silent: one notice. A new entry: one recovery notice."""
    real_now = datetime.now(timezone.utc)
    clock = Clock(real_now - timedelta(days=17))
    with LoopbackServer() as server:
        room = Newsroom(server, start=clock())
        path = write_config(
            tmp_path, [("Daily Gazette", room.publish())], fetch_article=False, extra=ops_channel(hook)
        )
        config = config_mod.load(path)
        with app.Watcher(config, load_rules(config.rules), clock) as running:

            def poll(times: int) -> None:
                for _ in range(times):
                    running.run_once()
                    running.deliver()
                    clock.advance(hours=6)

            for day in range(10):
                room.add(
                    f"/day/{day}.html", f"Day {day} in Ankara", b"", summary=f"What happened on day {day}."
                )
                room.publish()
                poll(4)
            assert hook.titles() == []
            poll(4 * 4)  # four quiet days: within 5x the usual gap
            assert hook.titles() == []
            poll(4 * 3)  # seven quiet days
            assert hook.titles() == ["[watcher] feed Daily Gazette is silent"]
            [feed] = feeds_json(path)  # the driven clock has come to the real one
            assert feed["status"] == "silent" and feed["usual_gap_hours"] == 24.0
            assert "usually every 1 day" in feed["reason"]

            room.add("/day/back.html", "Back in Ankara", b"", summary="The gazette publishes again.")
            room.publish()
            poll(4)
    assert hook.titles() == [
        "[watcher] feed Daily Gazette is silent",
        "[watcher] feed Daily Gazette brings new entries again",
    ]
    assert feeds_json(path)[0]["status"] in ("ok", "not modified")


def test_a_channel_failing_for_an_hour_is_an_operator_notice_and_so_is_its_recovery(tmp_path, hooks):
    ops, team = hooks
    cfg = alerts_config(
        tmp_path, ops_channel(ops) + f'[[channels]]\nname = "team"\nurl = "{team.url("t")}"\n'
    )
    store = Store.open(cfg.database)
    clock = Clock()
    sender = Sender(store, cfg, clock, rng=random.Random(5))
    team.status = 500
    queue_story(store, cfg, "Story", now=clock())
    for _ in range(8):  # 80 minutes of failing tries, a check every 10 minutes
        sender.drain(clock())
        operator.check(store, cfg, clock())
        sender.drain(clock())
        clock.advance(minutes=10)
    assert [t.split(" for ")[0] for t in ops.titles()] == ["[watcher] channel team has been failing"]
    team.status = 200
    for _ in range(2):
        sender.drain(clock())
        operator.check(store, cfg, clock())
        sender.drain(clock())
        clock.advance(minutes=10)
    assert ops.titles()[1:] == ["[watcher] channel team answers again"]
    assert [t.split("] ", 1)[1] for t in team.titles()] == ["Story"]  # the alert itself, once


def test_a_rule_that_matched_daily_then_not_for_a_week_notifies_once_and_again_when_it_matches(
    tmp_path, hook
):
    from alerts_support import add_article

    from watcher.store import matches

    cfg = alerts_config(tmp_path, ops_channel(hook))
    store = Store.open(cfg.database)
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))

    def matched(title: str, when: datetime) -> None:
        _, article = add_article(store, title=title)
        with store.atomic():
            hit = {"term": "Ankara", "entity": None, "field": "title", "start": 0, "end": 6, "snippet": title}
            matches.replace(
                store,
                article,
                [matches.NewMatch("tr-sy-defence", "Turkey–Syria defence", "high", 1.0, [hit])],
                when.isoformat(),
            )

    for day in range(28, 8, -1):  # daily for three weeks, then nothing
        matched(f"Ankara story {day}", clock() - timedelta(days=day))
    rules = ["tr-sy-defence", "never-matched"]
    assert [n.title for n in operator.check(store, cfg, clock(), rules=rules)] == [
        "rule tr-sy-defence has not matched for 7 days"
    ]
    assert operator.check(store, cfg, clock() + timedelta(hours=6), rules=rules) == []  # once per episode
    clock.advance(days=2)
    matched("Ankara story again", clock())
    assert [n.title for n in operator.check(store, cfg, clock(), rules=rules)] == [
        "rule tr-sy-defence matches again"
    ]
    Sender(store, cfg, clock, rng=random.Random(7)).drain(clock())
    [message] = hook.posts  # both notices were due at once: one message
    assert message.payload["title"] == "[watcher] 2 operator notices for ops"
    assert "[notice] rule tr-sy-defence has not matched for 7 days" in message.payload["message"]
    assert "[notice] rule tr-sy-defence matches again" in message.payload["message"]


def test_an_extraction_worker_that_keeps_dying_is_an_operator_notice(tmp_path, hook):
    cfg = alerts_config(tmp_path, ops_channel(hook))
    store = Store.open(cfg.database)
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    assert operator.check(store, cfg, clock()) == []
    deaths(store, clock(), 3)  # what the pipeline stores when the worker died on a page, twice
    assert [n.title for n in operator.check(store, cfg, clock())] == ["the extraction worker keeps dying"]
    clock.advance(days=1, hours=1)
    assert [n.title for n in operator.check(store, cfg, clock())] == ["the extraction worker works again"]


def deaths(store, now: datetime, count: int) -> None:
    """``count`` articles whose page the extraction worker died on (twice), as the pipeline stores them."""
    from alerts_support import feed_id

    from watcher.errors import WORKER_DIED
    from watcher.store import articles

    feed = feed_id(store, "Example News")
    for i in range(count):
        n = store.scalar("SELECT COUNT(*) FROM articles")
        with store.atomic():
            articles.insert(
                store,
                feed_id=feed,
                url=f"https://news.example/{n}",
                canonical_url=f"https://news.example/{n}",
                guid=None,
                title=f"Story {n}",
                author=None,
                published=None,
                fetched_at=(now - timedelta(minutes=i)).isoformat(),
                language=None,
                summary="...",
                text="...",
                extraction="summary",
                extraction_error=f"extraction: {WORKER_DIED} on this page, twice (killed by signal SIGKILL)",
                content_hash=None,
                simhash=None,
                matched=False,
            )


def test_a_condition_that_flaps_starts_again_only_after_ops_after(tmp_path, hook):
    """Ended a moment ago and true again: no new notice until [alerts] ops_after
    (1 h) has passed since the end; then one, if it is still true."""
    cfg = alerts_config(tmp_path, ops_channel(hook))
    store = Store.open(cfg.database)
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    deaths(store, clock(), 3)
    assert [n.event for n in operator.check(store, cfg, clock())] == ["start"]
    clock.advance(days=1, minutes=1)  # a day without deaths: it ends
    assert [n.event for n in operator.check(store, cfg, clock())] == ["end"]
    deaths(store, clock(), 3)  # and at once it is true again
    assert operator.check(store, cfg, clock()) == []
    clock.advance(minutes=30)
    assert operator.check(store, cfg, clock()) == []
    clock.advance(minutes=31)
    assert [n.event for n in operator.check(store, cfg, clock())] == ["start"]


def test_an_ops_channel_with_format_json_gets_each_notice_as_one_object(tmp_path, hook):
    with LoopbackServer() as server:
        server.route("/feed.xml", body=MALFORMED.read_bytes(), content_type="application/rss+xml")
        config = write_config(
            tmp_path,
            [("Ampersands", server.url("/feed.xml"))],
            fetch_article=False,
            extra=f'[[channels]]\nname = "robot"\nurl = "{hook.url("ops")}"\nformat = "json"\nops = true\n',
        )
        assert watcher(config, "run", "--once").exit_code == 0
    [post] = hook.posts
    assert post.headers["Content-Type"].startswith("application/json")
    assert post.payload["event"] == "notice" and post.payload["state"] == "start"
    assert post.payload["title"] == "feed Ampersands is degraded"
    assert any("read only by the lenient parser" in line for line in post.payload["detail"])


def test_a_feed_failing_three_polls_in_a_row_tells_ops_once_and_once_more_when_read_again(tmp_path, hook):
    """[alerts] ops_after_errors = 3 (the default): two failed polls say nothing,
    the third one notice, the fourth none; the first good read one recovery
    notice. A 410 is a notice of its own. Time is driven, three hours a poll
    (past every back-off here); ops_after is set long so the count decides."""
    clock = Clock(datetime.now(timezone.utc) - timedelta(days=2))
    with LoopbackServer() as server:
        room = Newsroom(server, start=clock())
        room.add("/a.html", "Report from Ankara", b"", summary="Officials met.")
        url = room.publish()
        path = write_config(
            tmp_path,
            [("Wire", url)],
            fetch_article=False,
            extra='[alerts]\nops_after = "7d"\n\n' + ops_channel(hook),
        )
        config = config_mod.load(path)
        with app.Watcher(config, load_rules(config.rules), clock) as running:

            def poll() -> None:
                running.run_once()
                running.deliver()
                clock.advance(hours=3)

            poll()
            server.route("/feed.xml", body=b"down for maintenance", status=500)
            poll()
            poll()
            assert hook.titles() == []  # two failures in a row: not yet
            poll()
            assert hook.titles() == ["[watcher] feed Wire is failing"]
            notice = hook.posts[0].payload["message"]
            assert "has failed 3 poll(s) in a row" in notice and "HTTP 500" in notice
            poll()
            assert len(hook.titles()) == 1  # once per episode
            room.publish()
            poll()
            assert hook.titles()[1:] == ["[watcher] feed Wire is read again"]
            server.route("/feed.xml", body=b"gone", status=410)
            poll()
    assert hook.titles()[2:] == ["[watcher] feed Wire is gone (HTTP 410)"]
    [feed] = feeds_json(path)
    assert feed["status"] == "gone"


def test_a_paused_feed_is_not_judged_and_its_open_condition_ends_once(tmp_path, hook):
    """enabled = false: the feed is no longer polled, so it would look silent
    for ever. Its open condition ends with one notice saying it is paused, and
    no new one starts while it stays paused."""
    clock = Clock(datetime.now(timezone.utc) - timedelta(days=10))
    with LoopbackServer() as server:
        room = Newsroom(server, start=clock())
        room.add("/a.html", "Report from Ankara", b"", summary="Officials met.")
        path = write_config(
            tmp_path, [("Wire", room.publish())], fetch_article=False, extra=ops_channel(hook)
        )
        config = config_mod.load(path)
        with app.Watcher(config, load_rules(config.rules), clock) as running:
            running.run_once()
        store = Store.open(config.database)
        clock.advance(days=9)  # a week and more without a new entry, no rhythm yet: silent
        assert [n.title for n in operator.check(store, config, clock())] == ["feed Wire is silent"]
        path.write_text(path.read_text().replace('name = "Wire"\n', 'name = "Wire"\nenabled = false\n'))
        paused = config_mod.load(path)
        assert [n.title for n in operator.check(store, paused, clock())] == ["feed Wire is paused"]
        clock.advance(days=3)
        assert operator.check(store, paused, clock()) == []
        assert operator.open_conditions(store) == []
        store.close()
