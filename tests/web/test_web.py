"""The review web page in a real headless browser (Debian's chromium driven by
Playwright), on a database filled by a real run. Screenshots of each view go
to tests/artifacts/."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import review_world
from review_world import invoke
from support import serving, values
from support import wall_clock as clock

from watcher.web import server as web
from watcher.web import views

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def site(world):
    server = web.WebServer(web.WebSettings(database=world.database, port=0), clock=clock)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)


def assert_inert(page) -> None:
    """Nothing from a feed became live markup."""
    assert page.dialogs == []
    assert page.locator("script").count() == 0
    assert page.locator("[onerror], [onload], [onclick]").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:", "vbscript:"))]


def test_triage_in_a_browser(page, site, world):
    # the stories page
    page.goto(site + "/")
    assert page.locator("h1").inner_text() == "Matched stories"
    rows = page.locator("tr.story")
    total = rows.count()
    assert total >= 5
    assert page.locator("figure.chart rect").count() > 0
    assert page.get_by_text("Türkiye ile Suriye arasında savunma işbirliği anlaşması").count() == 1
    assert (
        page.locator(".also").all_inner_texts() == ["also: Hürriyet Daily News"] * 2
    )  # a copy and a rewrite
    shot(page, "stories")

    # filter by rule
    page.select_option("select[name=rule]", "drones")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/?rule=drones*")
    filtered = page.locator("tr.story")
    assert 0 < filtered.count() < total
    for i in range(filtered.count()):
        assert "drones" in filtered.nth(i).locator(".chip").all_inner_texts()
    shot(page, "stories-filtered")

    # open an article and see the highlighted hit
    page.goto(site + "/")
    page.get_by_role("link", name="Türkiye ile Suriye arasında savunma işbirliği anlaşması").click()
    page.wait_for_url("**/article/*")
    article_id = int(page.url.rstrip("/").split("/")[-1])
    marks = page.locator(".article-title mark, .text .body mark").all_inner_texts()
    assert "Türkiye" in marks and "Suriye" in marks
    assert page.locator(".rule-card").first.inner_text().count("tr-sy-defence") >= 1
    assert page.locator(".why .context mark").count() >= 3
    shot(page, "article")

    # mark it irrelevant and see the feedback stored
    page.fill("input[name=note]", "old news")
    page.click("button[value=irrelevant]")
    page.wait_for_url(f"**/article/{article_id}")
    assert f"Marked #{article_id} irrelevant" in page.locator(".flash").inner_text()
    assert page.locator(".current-verdict .verdict").inner_text() == "irrelevant"
    assert values(
        world.database, "SELECT verdict, note FROM feedback WHERE article_id = ?", (article_id,)
    ) == [("irrelevant", "old news")]
    shot(page, "article-judged")
    assert_inert(page)


def test_article_page_says_why_a_copy_joined_its_story(page, site, world):
    ((copy, first),) = values(
        world.database, "SELECT id, duplicate_of FROM articles WHERE title = ?", (review_world.REWRITE_TITLE,)
    )
    page.goto(f"{site}/article/{copy}")
    joined = page.locator(".members .joined")
    text = " ".join(joined.inner_text().split())
    assert text.startswith(f"Joined this story as a near-duplicate of #{first} Daily Sabah: "), text
    assert re.search(r": \d+% of 3-word phrases shared, SimHash \d+ of 64 bits apart\.$", text), text
    shot(page, "article-joined")
    joined.locator("a.joined-with").click()
    page.wait_for_url(f"**/article/{first}")
    assert "This article opened the story" in page.locator(".members").inner_text()
    member = page.locator(".members li", has=page.locator(f"a[href='/article/{copy}']")).inner_text()
    assert re.search(r"joined as near-duplicate \(\d+% of 3-word phrases shared\)", member), member
    _, title, _ = review_world.seed_articles()[1]
    ((exact, original),) = values(
        world.database,
        "SELECT id, duplicate_of FROM articles WHERE title = ? AND duplicate_of IS NOT NULL",
        (title,),
    )
    page.goto(f"{site}/article/{exact}")
    text = " ".join(page.locator(".members .joined").inner_text().split())
    assert text.startswith(f"Joined this story with the same text as #{original} Daily Sabah: "), text
    assert text.endswith("(the same words once case, punctuation and spacing are ignored).")


def test_search_feeds_outbox_and_rules_pages(page, site):
    page.goto(site + "/search?q=" + "تركيا")
    assert page.locator(".results li").count() >= 1
    assert "تركيا" in page.locator(".results mark").all_inner_texts()
    shot(page, "search")
    page.goto(site + "/feeds")
    broken = page.locator("tr.feed-failing")
    assert broken.count() == 1 and "Broken Wire" in broken.inner_text() and "404" in broken.inner_text()
    shot(page, "feeds")
    page.goto(site + "/outbox")
    assert page.locator(".status-sent").count() >= 1
    pending = page.locator("tr", has=page.locator(".status-pending"))
    # the pager's first alert tried it and failed; the others wait, untried, without an error
    assert pending.count() == 3 and any("error=500" in pending.nth(i).inner_text() for i in range(3))
    shot(page, "outbox")
    page.click("text=pending (3)")
    page.wait_for_url("**/outbox?status=pending")
    assert page.locator("tbody tr").count() == 3
    page.goto(site + "/rules")
    assert "football" in page.locator("table.rules").inner_text()
    assert page.locator("figure.chart .legend li").count() >= 3
    shot(page, "rules")


def test_hostile_feed_text_is_inert_on_every_page(page, site, world):
    hostile = values(world.database, "SELECT id FROM articles WHERE text LIKE '%onerror%' ORDER BY id")
    assert hostile, "the hostile page was stored"
    pages = [
        "/",
        "/?rule=tr-sy-defence",
        "/search?q=alert",
        "/search?q=onerror",
        "/feeds",
        "/outbox",
        "/rules",
    ] + [f"/article/{aid}" for (aid,) in values(world.database, "SELECT id FROM articles")]
    for path in pages:
        page.goto(site + path)
        assert_inert(page)
    name = world.database.stem
    for path in (
        f"/{name}/articles",
        f"/{name}/articles/{hostile[0][0]}",
        f"/{name}/entries",
        f"/{name}/articles?_search=onerror",
    ):
        page.goto(site + path)  # Datasette's own pages (its scripts are its own)
        assert page.dialogs == [] and page.locator("[onerror]").count() == 0
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], path
    page.goto(site + f"/article/{hostile[0][0]}")
    body = page.locator(".text .body").inner_text()
    assert "<script>alert('xss')</script>" in body and "onerror=alert('img')" in body  # shown as text
    shot(page, "hostile-article")


def test_feedback_post_needs_the_csrf_token(site, world):
    aid = values(world.database, "SELECT id FROM articles WHERE matched = 1 LIMIT 1")[0][0]
    before = values(world.database, "SELECT COUNT(*) FROM feedback")[0][0]
    response = httpx.post(f"{site}/article/{aid}/feedback", data={"verdict": "relevant"})
    assert response.status_code == 403
    assert values(world.database, "SELECT COUNT(*) FROM feedback")[0][0] == before


def test_unknown_article_is_a_404_page(site):
    response = httpx.get(site + "/article/999999")
    assert response.status_code == 404 and "no article #999999" in response.text


def test_pages_carry_a_strict_content_security_policy(site):
    csp = httpx.get(site + "/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_datasette_browses_the_same_database(site, world):
    name = world.database.stem
    tables = httpx.get(f"{site}/{name}.json").json()
    assert {"articles", "matches", "feedback", "feeds"} <= {t["name"] for t in tables["tables"]}
    fts = httpx.get(f"{site}/{name}/articles.json", params={"_search": "savunma", "_shape": "array"}).json()
    assert any("savunma" in (r["title"] or "").lower() for r in fts)
    assert httpx.get(f"{site}/{name}/matches_per_day.json").status_code == 200


def test_binding_beyond_loopback_needs_a_password(world):
    with pytest.raises(web.WebError, match=r"\[serve\] password"):
        web.check_binding(web.WebSettings(database=world.database, host="0.0.0.0"))
    web.check_binding(web.WebSettings(database=world.database, host="::1"))
    result = invoke(world, "serve", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 2 and "password" in result.stderr


def test_a_password_guards_every_page(world):
    settings = web.WebSettings(database=world.database, port=0, password="s3cret pass")
    server = web.WebServer(settings, clock=clock)
    url = server.start()
    try:
        assert httpx.get(url + "/").status_code == 401
        assert httpx.get(f"{url}/{world.database.stem}/articles.json").status_code == 401
        assert httpx.get(url + "/", auth=("watcher", "wrong")).status_code == 401
        good = "Basic " + base64.b64encode(b"anyone:s3cret pass").decode()
        assert httpx.get(url + "/", headers={"authorization": good}).status_code == 200
    finally:
        server.stop()


def test_feedback_post_from_another_site_is_refused(site, world):
    with httpx.Client() as client:
        page = client.get(site + "/article/1")
        token = page.text.split('name="csrftoken" value="')[1].split('"')[0]
        before = values(world.database, "SELECT COUNT(*) FROM feedback")[0][0]
        forged = client.post(
            f"{site}/article/1/feedback", data={"verdict": "relevant", "csrftoken": "x" + token}
        )
        assert forged.status_code == 403
        other = client.post(
            f"{site}/article/1/feedback",
            data={"verdict": "relevant", "csrftoken": token},
            headers={"origin": "http://evil.example"},
        )
        assert other.status_code == 403
        ok = client.post(f"{site}/article/1/feedback", data={"verdict": "relevant", "csrftoken": token})
        assert ok.status_code == 302
    assert values(world.database, "SELECT COUNT(*) FROM feedback")[0][0] == before + 1


def test_bad_filter_values_show_a_message_not_an_error(site):
    response = httpx.get(
        site + "/", params={"since": "yesterday-ish", "severity": "urgent", "rule": "<b>x</b>"}
    )
    assert response.status_code == 200
    assert "--since" in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text
    assert httpx.get(site + "/search", params={"q": '"('}).status_code == 200
    assert httpx.get(site + "/outbox", params={"status": "nonsense"}).status_code == 200


def test_every_page_works_on_a_new_empty_database(tmp_path):
    from watcher.store.database import Store

    Store.open(tmp_path / "empty.db").close()
    server = web.WebServer(web.WebSettings(database=tmp_path / "empty.db", port=0), clock=clock)
    url = server.start()
    try:
        for path in ("/", "/search?q=x", "/feeds", "/outbox", "/rules", "/near-misses", "/article/1"):
            response = httpx.get(url + path)
            assert response.status_code == (404 if path.startswith("/article") else 200), path
        assert "No matched story" in httpx.get(url + "/").text
    finally:
        server.stop()


def test_feeds_that_bring_nothing_new_for_a_week_are_silent(world):
    """Read fine, but no new entry for a week (no rhythm known yet from one poll): silent."""
    from datetime import timedelta

    later = lambda: datetime.now(timezone.utc) + timedelta(days=8)  # noqa: E731
    for when, expected in ((clock, 0), (later, 4)):
        server = web.WebServer(web.WebSettings(database=world.database, port=0), clock=when)
        url = server.start()
        try:
            html = httpx.get(url + "/feeds").text
        finally:
            server.stop()
        assert html.count('<tr class="feed feed-silent">') == expected


def test_quick_triage_from_the_story_list_keeps_the_filters(page, site, world):
    page.goto(site + "/?rule=football")
    row = page.locator("tr.story").first
    title = row.locator("td.headline a").inner_text()
    row.locator("button[value=irrelevant]").click()
    page.wait_for_url("**/?rule=football&at=*")
    assert "irrelevant" in page.locator("tr.story").first.locator(".verdict").inner_text()
    aid = values(world.database, "SELECT id FROM articles WHERE title = ?", (title,))[0][0]
    assert values(
        world.database, "SELECT verdict FROM feedback WHERE article_id = ? ORDER BY id DESC LIMIT 1", (aid,)
    ) == [("irrelevant",)]
    shot(page, "stories-triaged")


def test_feedback_never_redirects_to_another_site(site, world):
    with httpx.Client() as client:
        token = client.get(site + "/").text.split('name="csrftoken" value="')[1].split('"')[0]
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
            r = client.post(
                f"{site}/article/1/feedback", data={"verdict": "relevant", "csrftoken": token, "next": target}
            )
            assert r.status_code == 302 and r.headers["location"] == "/article/1", target
        r = client.post(
            f"{site}/article/1/feedback",
            data={"verdict": "relevant", "csrftoken": token, "next": "/?rule=drones"},
        )
        assert r.headers["location"] == "/?rule=drones"


def test_watcher_serve_runs_until_stopped(world):
    with serving(world.config) as (url, proc):
        response = httpx.get(url + "/")
        assert response.status_code == 200 and "Matched stories" in response.text
    assert f"review page on {url}/" in proc.stderr.read()


def test_serve_on_a_busy_port_says_so(world):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = invoke(world, "serve", "--port", str(busy.getsockname()[1]))
    assert (
        result.exit_code == 2 and "cannot listen on 127.0.0.1" in result.stderr and "--port" in result.stderr
    )


def test_stories_page_shows_more_on_request(site, world, monkeypatch):
    monkeypatch.setattr(views, "STORIES_PAGE", 5)
    total = len(values(world.database, "SELECT DISTINCT story_id FROM articles WHERE matched = 1"))
    assert total > 10
    first = httpx.get(site + "/", params={"severity": "medium"}).text
    assert first.count('class="story') == 5
    more = first.split('<p class="more"><a href="')[1].split('"')[0].replace("&amp;", "&")
    assert more == "/?severity=medium&limit=10"
    second = httpx.get(site + more).text
    assert second.count('class="story') == 10
    last = httpx.get(site + "/", params={"limit": str(total + 5)}).text
    assert last.count('class="story') == total and 'class="more"' not in last
    assert httpx.get(site + "/", params={"limit": "lots"}).status_code == 200
