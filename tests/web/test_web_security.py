"""`watcher serve` against strangers (issue 15, items 17-20): arbitrary SQL, the
fts3_tokenizer crash, DNS rebinding, Datasette's pages without a CSP, and a
feedback form whose return address holds a line break. A real `watcher serve`
process (or the real server on a thread) on a database filled by a real run."""

from __future__ import annotations

import base64
import sqlite3
from contextlib import contextmanager

import httpx
import pytest
from support import serving, watcher_process
from support import wall_clock as clock

from watcher.web import server as web

CRASH = [  # the GETs of the issue: install a bogus tokenizer pointer, then make fts3tokenize use it
    "select fts3_tokenizer('simple', x'4141414141414141')",
    "select * from fts3tokenize where input = 'x'",
]
LEAK = "select hex(fts3_tokenizer('simple'))"  # one argument: a native pointer


@contextmanager
def watcher_serve(world, serve: str = "", env: dict | None = None):
    """A real `watcher serve` subprocess on ``world`` with ``serve`` lines in [serve]."""
    config = world.dir / "serve.toml"
    config.write_text(world.config.read_text(encoding="utf-8") + f"\n[serve]\n{serve}\n", encoding="utf-8")
    config.chmod(0o600)
    with serving(config, env=env) as (url, proc):
        yield url, proc


def sql(url: str, db: str, query: str, **kw) -> httpx.Response:
    return httpx.get(f"{url}/{db}.json", params={"sql": query, "_shape": "array"}, timeout=30, **kw)


def test_item17_the_fts3_tokenizer_crash_get_is_refused_and_the_server_stays_up(world):
    """Default set-up (loopback, no password): arbitrary SQL is off, so the issue's
    GETs are refused; the server answers afterwards."""
    db = world.database.stem
    with watcher_serve(world) as (url, proc):
        for _ in range(4):  # Datasette keeps a pool of connections: hit them all
            for query in [*CRASH, LEAK, "select 1"]:
                response = sql(url, db, query)
                assert response.status_code in (400, 403), (query, response.status_code)
        assert proc.poll() is None
        assert httpx.get(url + "/").status_code == 200
        assert httpx.get(f"{url}/{db}/matches_per_day.json").status_code == 200  # canned queries stay
        assert httpx.get(f"{url}/{db}/articles.json", params={"_where": "1=1"}).status_code in (400, 403)


def test_item17_with_sql_turned_on_dangerous_functions_are_still_refused(world):
    """allow_sql with a password: SQL works, but on every connection the server
    opens fts3_tokenizer, load_extension, ATTACH and huge values are refused."""
    db = world.database.stem
    auth = ("analyst", "s3cret pass")
    with watcher_serve(world, 'password = "s3cret pass"\nallow_sql = true') as (url, proc):
        assert sql(url, db, "select count(*) as n from articles", auth=auth).json()[0]["n"] > 0
        for _ in range(4):
            for query in [
                *CRASH,
                LEAK,
                "select load_extension('/tmp/x.so')",
                "select zeroblob(100000000)",
                "select length(randomblob(200000000))",
            ]:
                response = sql(url, db, query, auth=auth)
                assert response.status_code >= 400, query
                text = response.text.lower()
                assert "not authorized" in text or "too big" in text or "prohibited" in text, (
                    query,
                    text[:300],
                )
        assert proc.poll() is None, "the server process died"
        assert httpx.get(url + "/", auth=auth).status_code == 200
        assert sql(url, db, "select count(*) as n from feeds", auth=auth).status_code == 200


def test_item17_sql_cannot_be_turned_on_without_a_password(world, tmp_path):
    config = tmp_path / "w.toml"
    config.write_text(
        world.config.read_text(encoding="utf-8") + "\n[serve]\nallow_sql = true\n", encoding="utf-8"
    )
    result = watcher_process("--config", str(config), "check")
    assert result.returncode == 2 and "serve.allow_sql" in result.stderr and "password" in result.stderr
    # WebSettings built in code cannot turn it on without a password either.
    assert not web.WebSettings(database=world.database, allow_sql=True).sql_allowed


def test_item17_the_watchers_own_connections_refuse_the_functions_too(world):
    """The review views' own connections are opened hardened as well."""
    from watcher.store.database import Store

    store = Store.open(world.database, migrate=False, hardened=True)
    try:
        for query in (
            *CRASH,
            LEAK,
            "select load_extension('x')",
            f"attach database '{world.dir / 'x.db'}' as x",
        ):
            with pytest.raises(sqlite3.Error):
                store.query(query)
        assert store.scalar("select count(*) from articles") > 0
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(world):
    server = web.WebServer(
        web.WebSettings(database=world.database, port=0, allowed_hosts=("watcher.example.org",)), clock=clock
    )
    url = server.start()
    yield url
    server.stop()


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST.", 200),
        ("[::1]:{port}", 200),
        ("192.168.1.20:{port}", 200),
        ("watcher.example.org", 200),
        ("Watcher.Example.Org:443", 200),
        ("attacker.example:{port}", 421),
        ("127.0.0.1.nip.io:{port}", 421),
        ("localhost.attacker.example", 421),
        ("watcher.example.org.attacker.example", 421),
        ("", 400),
        ("[::1", 421),
        ("a b", 421),
    ],
)
def test_item18_only_configured_and_loopback_host_names_are_answered(site, host, status):
    """A DNS-rebinding page reaches the server under its own name: refused (421)."""
    port = site.rsplit(":", 1)[1]
    for path in ("/", "/watcher.json", "/feeds"):
        response = httpx.get(site + path, headers={"host": host.format(port=port)})
        expected = status if status != 200 or path != "/watcher.json" else response.status_code
        assert response.status_code == expected, (host, path)
    if status == 421:
        assert "allowed_hosts" in response.text and "Traceback" not in response.text


def test_item18_a_rebinding_request_cannot_record_feedback(site, world):
    before = _count(world, "SELECT COUNT(*) FROM feedback")
    response = httpx.post(
        f"{site}/article/1/feedback", data={"verdict": "relevant"}, headers={"host": "attacker.example"}
    )
    assert response.status_code == 421
    assert _count(world, "SELECT COUNT(*) FROM feedback") == before


def test_item19_datasettes_own_pages_carry_the_strict_policy(site, world):
    db = world.database.stem
    for path in (
        "/",
        f"/{db}",
        f"/{db}/articles",
        f"/{db}/articles/1",
        f"/{db}.json",
        "/-/versions",
        f"/{db}/matches_per_day",
        "/no/such/page",
    ):
        response = httpx.get(site + path)
        csp = response.headers.get("content-security-policy", "")
        assert csp == web.CSP, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize(
    "target",
    ["/\r\nSet-Cookie: owned=1", "/x\nLocation: https://evil.example/", "/\r", "/\x00", "/?rule=a\tb"],
)
def test_item20_feedback_next_with_a_line_break_is_a_400(site, world, target):
    with httpx.Client() as client:
        token = client.get(site + "/").text.split('name="csrftoken" value="')[1].split('"')[0]
        before = _count(world, "SELECT COUNT(*) FROM feedback")
        response = client.post(
            f"{site}/article/1/feedback", data={"verdict": "relevant", "csrftoken": token, "next": target}
        )
        assert response.status_code == 400
        assert "set-cookie" not in {k.lower() for k in response.headers if "owned" in response.headers[k]}
        assert _count(world, "SELECT COUNT(*) FROM feedback") == before
        # The server is still answering, and a good form still works.
        ok = client.post(
            f"{site}/article/1/feedback",
            data={"verdict": "relevant", "csrftoken": token, "next": "/?rule=şam"},
        )
        assert ok.status_code == 302 and ok.headers["location"] == "/?rule=%C5%9Fam"


def test_item18_to_20_hold_behind_the_password_too(world):
    settings = web.WebSettings(database=world.database, port=0, password="pw")
    server = web.WebServer(settings, clock=clock)
    url = server.start()
    try:
        good = {"authorization": "Basic " + base64.b64encode(b"x:pw").decode()}
        assert httpx.get(url + "/", headers={**good, "host": "attacker.example"}).status_code == 421
        refused = httpx.get(url + "/", headers={"host": "attacker.example"})
        assert refused.status_code == 421 and refused.headers["content-security-policy"] == web.CSP
        assert httpx.get(url + "/", headers=good).status_code == 200
        assert httpx.get(url + "/").headers["content-security-policy"] == web.CSP  # the 401 too
    finally:
        server.stop()


def _count(world, query: str) -> int:
    import sqlite3

    with sqlite3.connect(world.database) as conn:
        return conn.execute(query).fetchone()[0]
