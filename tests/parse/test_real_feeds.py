"""Every real feed in ../shared/fixtures/real/feeds (feedparser's own suite,
captured news feeds, XML attack files) served over loopback and polled by one
`watcher run --once`: every feed ends with a recorded status, none with an
internal error, and the watcher stores what the feeds hold."""

import json
import sqlite3

from click.testing import CliRunner
from httpserver import LoopbackServer
from newsroom import write_config
from support import REAL

from watcher.cli.main import main

FEEDS = sorted(p for p in (REAL / "feeds").rglob("*") if p.is_file())
TYPES = {".json": "application/feed+json", ".atom": "application/atom+xml"}


def test_every_real_feed_is_polled_to_a_recorded_status(tmp_path):
    assert len(FEEDS) >= 250
    with LoopbackServer() as server:
        feeds = []
        for i, path in enumerate(FEEDS):
            url_path = f"/{i}/{path.name}"
            server.route(
                url_path, body=path.read_bytes(), content_type=TYPES.get(path.suffix, "application/xml")
            )
            feeds.append((str(path.relative_to(REAL / "feeds")), server.url(url_path)))
        config = write_config(tmp_path, feeds, fetch_article=False)
        result = CliRunner().invoke(main, ["--config", str(config), "run", "--once"], catch_exceptions=False)
        assert result.exit_code == 3, result.output  # the pass completed; the non-feeds failed
        # Nothing ever fetched anything but the feeds themselves (no external entity, no DTD).
        assert all(r.path.split("/")[1].isdigit() for r in server.requests)

    db = sqlite3.connect(tmp_path / "watcher.db")
    statuses = dict(db.execute("SELECT name, last_status FROM feeds").fetchall())
    errors = dict(db.execute("SELECT name, last_error FROM feeds WHERE last_error IS NOT NULL").fetchall())
    assert len(statuses) == len(FEEDS)
    assert all(s in ("ok", "error") for s in statuses.values()), statuses
    internal = {n: e for n, e in errors.items() if "internal error" in e}
    assert not internal, internal
    ok = [n for n, s in statuses.items() if s == "ok"]
    assert len(ok) >= 0.8 * len(FEEDS), sorted(set(statuses) - set(ok))
    # The captured news feeds all come through with their entries.
    for name in (
        "feed-rs/rss2/rss_2.0_bbc.xml",
        "rss-parser/guardian.rss",
        "feed-rs/atom/atom_example_reddit.xml",
        "feed-rs/jsonfeed/jsonfeed_example_1.json",
    ):
        assert statuses[name] == "ok", errors.get(name)
    stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored >= 500
    # Attack files never expand: no stored text carries a billion-laughs payload.
    assert db.execute("SELECT count(*) FROM articles WHERE length(text) > 200000").fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(json.dumps({"feeds": len(FEEDS), "ok": len(ok), "articles": stored}))
