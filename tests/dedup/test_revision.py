"""Edited articles and late matches, end to end on a loopback outlet: an
article the publisher edits is updated in place and keeps its story; a story
whose first copy matched nothing alerts when a later copy matches."""

from html import escape

from newsroom import REAL_PAGES, Newsroom, article_html, seed_texts, write_config
from support import rows, watcher

HOOK = '[[channels]]\nname = "team"\nurl = "json://127.0.0.1:9/hook"\n'  # discard port: sends fail, rows stay


def atom(server, entries):
    items = "".join(
        f"""<entry><id>{eid}</id><title>{escape(title)}</title>
<link href="{server.url(path)}"/><updated>{updated}</updated><summary>{escape(summary)}</summary></entry>"""
        for eid, title, path, updated, summary in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Atom Outlet</title><id>urn:outlet</id><updated>2025-09-02T00:00:00Z</updated>{items}</feed>""".encode()


def test_an_edited_article_is_updated_in_place_and_keeps_its_story(tmp_path, server):
    name, text = seed_texts()[2]
    server.route("/a.html", body=article_html("Turkey to help Syria", text))
    entry = ["urn:a", "Turkey to help Syria", "/a.html", "2025-09-01T08:00:00Z", "First version."]
    server.route("/atom.xml", body=atom(server, [entry]), content_type="application/atom+xml")
    config = write_config(tmp_path, [("Atom Outlet", server.url("/atom.xml"))])
    assert watcher(config, "run", "--once").exit_code == 0
    before = rows(tmp_path, "SELECT * FROM articles")[0]

    # Unchanged entry, changed feed (another entry added): the article is not fetched again.
    server.route(
        "/b.html", body=REAL_PAGES.joinpath(sorted(p.name for p in REAL_PAGES.glob("*.html"))[3]).read_bytes()
    )
    other = ["urn:b", "Other news", "/b.html", "2025-09-01T09:00:00Z", "Other."]
    server.route("/atom.xml", body=atom(server, [entry, other]), content_type="application/atom+xml")
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(server.requests_for("/a.html")) == 1

    # The publisher edits the article and says so in <updated>.
    server.route(
        "/a.html",
        body=article_html(
            "Turkey to help Syria",
            text + "\nCorrection: the talks were held in Ankara on Tuesday, ministry officials said.",
        ),
    )
    entry[3] = "2025-09-01T12:00:00Z"
    server.route("/atom.xml", body=atom(server, [entry, other]), content_type="application/atom+xml")
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(server.requests_for("/a.html")) == 2
    after = rows(tmp_path, "SELECT * FROM articles WHERE id = ?", (before["id"],))[0]
    assert "Correction: the talks were held in Ankara" in after["text"]
    assert after["story_id"] == before["story_id"] and after["fetched_at"] == before["fetched_at"]
    assert after["updated_at"] > before["updated_at"]
    assert len(rows(tmp_path, "SELECT id FROM articles")) == 2
    found = watcher(config, "search", "Correction talks").stdout
    assert f"#{before['id']}" in found


def test_a_changed_summary_marks_an_edit_but_a_failed_refetch_keeps_the_full_text(tmp_path, server):
    room = Newsroom(server)
    story = room.add_seed_articles()[0]
    config = write_config(tmp_path, [("Example News", room.publish())])
    assert watcher(config, "run", "--once").exit_code == 0
    before = rows(tmp_path, "SELECT * FROM articles WHERE url LIKE ?", (f"%{story.path}",))[0]
    server.route(story.path, status=500, body=b"down")
    room.stories[0] = story.__class__(
        story.path, story.title, story.summary + " (updated)", story.guid, story.published
    )
    room.publish()
    assert watcher(config, "run", "--once").exit_code == 0
    assert len(server.requests_for(story.path)) == 2  # the edit was noticed and fetched
    after = rows(tmp_path, "SELECT * FROM articles WHERE id = ?", (before["id"],))[0]
    assert after["text"] == before["text"] and after["extraction"] == "full"


def test_a_story_alerts_when_a_later_copy_is_the_first_to_match(tmp_path, server):
    page = sorted(REAL_PAGES.glob("*.html"))[7].read_bytes()
    a = Newsroom(server)
    a.add("/a/report.html", "A report", page)
    config = write_config(tmp_path, [("First", a.publish("/a.xml"))], extra=HOOK)
    assert watcher(config, "run", "--once").exit_code == 0
    assert rows(tmp_path, "SELECT count(*) AS n FROM alerts")[0]["n"] == 0
    # A second outlet republishes it with one added paragraph that names the minister.
    text = rows(tmp_path, "SELECT text FROM articles")[0]["text"]
    b = Newsroom(server)
    b.add(
        "/b/copy.html",
        "Copy",
        article_html(
            "Copy",
            text + "\nSyrian Defence Minister Murhaf Abu Qasra "
            "visited Ankara for talks with Turkish officials.",
        ),
    )
    config.write_text(config.read_text() + f'\n[[feeds]]\nname = "Second"\nurl = "{b.publish("/b.xml")}"\n')
    assert watcher(config, "run", "--once").exit_code == 0
    copy = rows(tmp_path, "SELECT * FROM articles WHERE url LIKE '%/b/copy.html'")[0]
    first = rows(tmp_path, "SELECT * FROM articles WHERE url LIKE '%/a/report.html'")[0]
    assert copy["story_id"] == first["story_id"] and copy["matched"] == 1
    alerts = rows(tmp_path, "SELECT * FROM alerts")
    assert [(a["story_id"], a["article_id"], a["channel"]) for a in alerts] == [
        (first["story_id"], copy["id"], "team")
    ]
