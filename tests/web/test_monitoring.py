"""/healthz and /metrics of `watcher serve`, on a database filled by a real
run: the metrics say what `watcher status --json` says, and both answer
loopback monitors without the page's password, nobody else."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from review_world import invoke

from watcher.web import server as web

PASSWORD = "correct horse battery staple"


def clock() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def site(world):
    server = web.WebServer(web.WebSettings(database=world.database, port=0, password=PASSWORD), clock=clock)
    url = server.start()
    yield url
    server.stop()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_metrics_say_what_status_json_says(site, world):
    before = time.monotonic()
    status = json.loads(invoke(world, "status", "--json").stdout)
    response = httpx.get(f"{site}/metrics")
    elapsed = time.monotonic() - before
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = samples(response.text)

    def value(name, **labels):
        return got[(name, tuple(sorted(labels.items())))]

    assert value("watcher_info", version=status["version"]) == 1
    assert value("watcher_database_size_bytes") == status["size_bytes"]
    assert status["feeds_by_status"]["failing"] == 1  # the 404 outlet
    for word, n in status["feeds_by_status"].items():
        assert value("watcher_feeds", status=word) == n
    assert status["polls_by_outcome"]["error"] >= 1 and status["polls_by_outcome"]["ok"] >= 4
    for outcome, n in status["polls_by_outcome"].items():
        assert value("watcher_polls_total", outcome=outcome) == n
    assert value("watcher_poll_errors_total") == status["poll_errors"] == status["polls_by_outcome"]["error"]
    assert value("watcher_entries_seen_total") == status["entries_seen"] == status["counts"]["entries_seen"]
    assert value("watcher_articles_stored") == status["articles_stored"] == status["counts"]["articles"]
    assert value("watcher_articles_matched") == status["articles_matched"] > 0
    assert value("watcher_extraction_failures") == status["extraction_failures"]
    assert (
        status["matches_by_rule"] and sum(status["matches_by_rule"].values()) == status["counts"]["matches"]
    )
    for rule, n in status["matches_by_rule"].items():
        assert value("watcher_matches", rule=rule) == n
    # two channels: the json:// hook took its alerts, the "pager" answered 500 (pending)
    assert set(status["alerts_by_channel"]) == {"hook", "pager"}
    for channel, statuses in status["alerts_by_channel"].items():
        for alert_status, n in statuses.items():
            assert value("watcher_alerts", channel=channel, status=alert_status) == n
    assert status["alerts_by_channel"]["pager"]["pending"] > 0
    # ages grow between the two reads, by no more than the time between them
    for metric, key in (
        ("watcher_outbox_oldest_pending_age_seconds", "oldest_pending_alert_age_seconds"),
        ("watcher_last_poll_age_seconds", "last_poll_age_seconds"),
        ("watcher_heartbeat_age_seconds", "heartbeat_age_seconds"),
    ):
        assert status[key] is not None, key
        assert status[key] <= value(metric) <= status[key] + elapsed + 0.01, key


def test_healthz_follows_the_heartbeat(site, world):
    # `run --once` stored a heartbeat when its pass completed: fresh enough for a timer's period
    fresh = httpx.get(f"{site}/healthz", params={"max_age": "1d"})
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert body["healthy"] is True and body["heartbeat"] and body["heartbeat_age_seconds"] >= 0
    # older than a max_age of 0 seconds: 503, with the reason
    stale = httpx.get(f"{site}/healthz", params={"max_age": "0s"})
    assert stale.status_code == 503 and "is `watcher run` running?" in stale.json()["reason"]
    assert httpx.get(f"{site}/healthz", params={"max_age": "soon"}).status_code == 400


def test_healthz_is_503_when_the_database_does_not_open(tmp_path):
    broken = tmp_path / "watcher.db"
    broken.write_bytes(b"not a database " * 200)
    server = web.WebServer(web.WebSettings(database=broken, port=0), clock=clock)
    url = server.start()
    try:
        response = httpx.get(f"{url}/healthz")
    finally:
        server.stop()
    assert response.status_code == 503 and "does not open" in response.json()["reason"]


def test_monitoring_needs_no_password_from_loopback_but_the_pages_do(site):
    assert httpx.get(f"{site}/").status_code == 401
    assert httpx.get(f"{site}/metrics").status_code == 200
    assert httpx.get(f"{site}/healthz", params={"max_age": "1d"}).status_code == 200
    # a reverse proxy on this host forwarding someone else's request: the password is needed
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        assert httpx.get(f"{site}/metrics", headers=header).status_code == 401
        assert httpx.get(f"{site}/metrics", headers=header, auth=("any", PASSWORD)).status_code == 200
