"""The review page at common sizes (a 1,280 px laptop and a 390 px phone) in a
real browser: no page scrolls sideways, the triage buttons stay in reach, a
verdict comes back to its row, "unreviewed" and j/k work without script, and
the matched stories are an Atom feed behind the same password."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import httpx
import pytest
from test_web import ARTIFACTS, assert_inert

from watcher.web import server as web

WIDTHS = {"laptop": (1280, 800), "phone": (390, 844)}
PASSWORD = "layout-pass-1"
ATOM = "{http://www.w3.org/2005/Atom}"


def clock() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def site(world):
    server = web.WebServer(web.WebSettings(database=world.database, port=0), clock=clock)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(params=sorted(WIDTHS))
def page(request, browser):
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.size_name = request.param
    yield pg
    context.close()


def query(world, sql, params=()):
    with sqlite3.connect(world.database) as conn:
        return conn.execute(sql, params).fetchall()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{page.size_name}-{name}.png"), full_page=True)


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return (
        page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        - (page.viewport_size["width"])
    )


def test_no_page_is_wider_than_the_window(page, site, world):
    article = query(
        world, "SELECT MIN(id) FROM articles WHERE matched = 1 AND story_id IN (SELECT story_id FROM alerts)"
    )[0][0]
    pages = {
        "stories": "/",
        "article": f"/article/{article}",
        "search": "/search?q=suriye",
        "feeds": "/feeds",
        "outbox": "/outbox",
        "rules": "/rules",
        "near misses": "/near-misses",
    }
    wide = {}
    for name, path in pages.items():
        page.goto(site + path)
        shot(page, name)
        if overflow(page) > 0:
            wide[name] = overflow(page)
        assert_inert(page)
    assert wide == {}, f"pages wider than {page.viewport_size['width']} px: {wide}"
    # long feed errors wrap inside a column wide enough to read (not a word per line)
    page.goto(site + "/feeds")
    error_cell = page.locator("tr.feed-failing td.err").first
    assert error_cell.inner_text().strip()
    assert error_cell.bounding_box()["width"] >= 150


def test_triage_returns_to_the_row_and_marks_it(page, site, world):
    page.goto(site + "/")
    rows = page.locator("tr.story")
    assert rows.count() >= 5
    row = rows.nth(3)
    button = row.locator("button[value=relevant]")
    assert (
        button.is_visible()
        and button.bounding_box()["x"] + button.bounding_box()["width"] <= page.viewport_size["width"]
    )
    row_id = row.get_attribute("id")
    button.click()
    page.wait_for_url(f"**/?at={row_id[1:]}#{row_id}")
    target = page.locator(f"tr#{row_id}")
    assert target.locator(".verdict").inner_text() == "relevant"
    assert "current" in target.get_attribute("class")
    # the row is marked (:target) and in view, not the top of the list
    assert page.evaluate("document.querySelector(':target').id") == row_id
    box = target.bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"]
    assert page.evaluate("window.scrollY") > 0
    shot(page, "triaged-row")
    aid = int(row_id[1:])
    assert query(
        world, "SELECT verdict FROM feedback WHERE article_id = ? ORDER BY id DESC LIMIT 1", (aid,)
    ) == [("relevant",)]


def test_unreviewed_filter_and_j_k_without_script(page, site, world):
    page.goto(site + "/")
    everything = page.locator("tr.story").count()
    judged = page.locator("tr.story.judged").count()
    assert judged >= 1  # the test above (or the triage tests) left a verdict
    page.check("input[name=unreviewed]")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**unreviewed=1*")
    assert page.locator("tr.story").count() == everything - judged
    assert page.locator("tr.story.judged").count() == 0
    assert page.locator("script").count() == 0
    shot(page, "unreviewed")
    # j and k: links (with access keys j and k) from story to story, marking the one you are at
    ids = page.eval_on_selector_all("tr.story", "rows => rows.map(r => r.id)")
    page.click("a[accesskey=j]")
    page.wait_for_url(f"**#{ids[0]}")
    for expected in (ids[1], ids[2]):
        page.click("a[accesskey=j]")
        page.wait_for_url(f"**unreviewed=1*#{expected}")  # the filter is kept
        assert page.locator("tr.story.current").get_attribute("id") == expected
    page.click("a[accesskey=k]")
    page.wait_for_url(f"**#{ids[1]}")
    # one j and one k per page: an access key names one link
    assert page.locator("a[accesskey=j]").count() == 1 and page.locator("a[accesskey=k]").count() == 1
    shot(page, "stepping")


def test_the_matches_are_an_atom_feed_filterable_by_rule(world):
    server = web.WebServer(web.WebSettings(database=world.database, port=0, password=PASSWORD), clock=clock)
    url = server.start()
    try:
        assert httpx.get(f"{url}/matches.atom").status_code == 401  # behind the page's password
        every = httpx.get(f"{url}/matches.atom", auth=("me", PASSWORD))
        drones = httpx.get(f"{url}/matches.atom", params={"rule": "drones"}, auth=("me", PASSWORD))
        stories = httpx.get(f"{url}/", params={"rule": "drones"}, auth=("me", PASSWORD)).text
    finally:
        server.stop()
    assert every.status_code == 200 and every.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(every.content)
    entries = feed.findall(f"{ATOM}entry")
    one = ET.fromstring(drones.content)
    picked = one.findall(f"{ATOM}entry")
    assert 0 < len(picked) < len(entries)
    assert len(picked) == stories.count('class="story')  # the same stories as the page with that filter
    for entry in picked:
        assert "drones" in [c.get("term") for c in entry.findall(f"{ATOM}category")]
        page = entry.find(f"{ATOM}link[@rel='related']").get("href")
        assert page.startswith(url + "/article/")
        assert entry.find(f"{ATOM}title").text and entry.find(f"{ATOM}updated").text
    assert one.find(f"{ATOM}title").text == "watcher: matched stories for rule drones"
    assert 'type="application/atom+xml"' in stories and "/matches.atom?rule=drones" in stories
