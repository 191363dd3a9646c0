"""Real loopback servers and a small database for the alert tests.

- :class:`Webhook`: an HTTP server on 127.0.0.1 receiving apprise ``json://``
  posts; its answer (200, 500, ...) can be changed while it runs.
- :class:`Mailbox`: an aiosmtpd SMTP server on 127.0.0.1 with AUTH LOGIN
  (no TLS), receiving ``mailto://`` alerts; it can be held (``gate``) to play
  a slow mail server.
- :func:`write_config` / :func:`add_story`: a real config file and real rows.
"""

from __future__ import annotations

import email
import email.policy
import json
import textwrap
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from httpserver import free_port
from support import new_article

from watcher import config as config_mod
from watcher.store import articles, matches, stories
from watcher.store.database import Store

NOW = datetime(2025, 11, 21, 6, 0, tzinfo=timezone.utc)  # in the past, for subprocess runs on the real clock


@dataclass
class Post:
    path: str
    headers: dict
    payload: dict


class Webhook:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.requests = 0
        self.status = 200
        self.delay = 0.0  # seconds between accepting a post and answering it
        self.on_post = None  # called (in the server's thread) after a post is read, before the answer
        self.answer = None  # payload -> HTTP status, to refuse some messages only (else ``status``)
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                """Only a complete request that was answered counts as a post: a
                client killed (kill -9) before its body was all sent, or before
                the answer could be written, delivered nothing."""
                length = int(self.headers.get("Content-Length") or 0)
                raw = self._body(length)
                if raw is None:  # cut short: the sender never finished the request
                    self.close_connection = True
                    return
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = {"raw": raw.decode("utf-8", "replace")}
                with hook.lock:
                    hook.requests += 1
                    status = hook.answer(payload) if hook.answer else hook.status
                    post = None
                    if status == 200:
                        post = Post(self.path, dict(self.headers), payload)
                        hook.posts.append(post)
                hook.arrived.set()
                if hook.on_post is not None:
                    hook.on_post()
                if hook.delay:
                    import time

                    time.sleep(hook.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    self.wfile.flush()
                except OSError:  # the sender is gone: it never heard the answer
                    with hook.lock:
                        hook.posts[:] = [p for p in hook.posts if p is not post]
                    raise

            def _body(self, length: int) -> bytes | None:
                """The whole body, or None when the connection ended before it."""
                chunks, left = [], length
                while left > 0:
                    try:
                        chunk = self.rfile.read(left)
                    except OSError:
                        return None
                    if not chunk:
                        return None
                    chunks.append(chunk)
                    left -= len(chunk)
                return b"".join(chunks)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (the crash test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        with self.lock:
            return [p.payload.get("title", "") for p in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    subject: str
    text: str
    html: str | None
    to: list[str] = field(default_factory=list)


class Mailbox:
    USER, PASSWORD = "watcher", "mail-pass-CANARY-7731"

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.logins: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.entered.set()
                import asyncio

                while not box.gate.is_set():  # a slow mail server
                    await asyncio.sleep(0.05)
                box.mails.append(_parse(envelope.content, envelope.rcpt_tos))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == box.USER.encode() and auth_data.password == box.PASSWORD.encode()
            box.logins.append(mechanism)
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_require_tls=False,
        )
        self.controller.start()

    def url(self, to: str = "analyst@example.com") -> str:
        return (
            f"mailto://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}"
            f"?smtp=127.0.0.1&secure=no&from=watcher@example.com&to={to}"
        )

    def close(self) -> None:
        self.gate.set()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _parse(raw: bytes, to: list[str]) -> Mail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = html = None
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content()
    return Mail(str(msg["Subject"]), text or "", html, list(to))


def write_config(tmp_path: Path, channels: str, *, alerts: str = "", environ: dict | None = None):
    path = tmp_path / "watcher.toml"
    path.write_text(
        textwrap.dedent(f"""
        [watcher]
        database = "watcher.db"
        rules = ["rules/"]

        [alerts]
        {alerts}

        {channels}
    """),
        encoding="utf-8",
    )
    return config_mod.load(path, environ=environ or {})


def two_hooks(tmp_path: Path, a, b, *, extra: str = "", alerts: str = ""):
    """A config with two webhook channels, team-a on ``a`` and team-b on ``b``."""
    return write_config(
        tmp_path,
        f"""
[[channels]]
name = "team-a"
url = "{a.url("a")}"

[[channels]]
name = "team-b"
url = "{b.url("b")}"
{extra}
""",
        alerts=alerts,
    )


def open_store(cfg) -> Store:
    return Store.open(cfg.database)


class Clock:
    def __init__(self, now=NOW) -> None:
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**kw)


def queue_story(
    store: Store, cfg, title: str, *, rule: str = "tr-sy-defence", severity: str = "high", now=None, **kw
) -> tuple[int, int]:
    """What the pipeline does for a matched article: rows + outbox in one transaction."""
    from watcher.notify import outbox

    story, article = add_article(store, title=title, rules=((rule, "Turkey–Syria defence", severity),), **kw)
    with store.atomic():
        outbox.enqueue(
            store,
            story_id=story,
            article_id=article,
            matches=[FakeMatch(rule, severity=severity)],
            channels=cfg.channels,
            now=now or NOW,
        )
    return story, article


@dataclass(frozen=True)
class FakeMatch:
    """A RuleMatch as the matcher hands it to the pipeline (the fields the outbox reads)."""

    rule_id: str
    title: str = "Turkey–Syria defence"
    severity: str = "high"
    channels: tuple[str, ...] = ()


def feed_id(store: Store, name: str) -> int:
    row = store.query("SELECT id FROM feeds WHERE name = ?", (name,))
    if row:
        return row[0]["id"]
    return (
        store.db["feeds"]
        .insert(
            {
                "url": f"https://{name.lower().replace(' ', '-')}.example/feed",
                "name": name,
                "created_at": NOW.isoformat(),
            }
        )
        .last_pk
    )


def add_article(
    store: Store,
    *,
    title: str,
    feed: str = "Reuters World",
    story_id: int | None = None,
    url: str | None = None,
    rules=(("tr-sy-defence", "Turkey–Syria defence", "high"),),
    hits=None,
    published: str | None = "2026-11-21T05:30:00+00:00",
) -> tuple[int, int]:
    """An article (opening a story unless ``story_id``) with match rows; returns (story, article)."""
    with store.atomic():
        n = store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        url = url or f"https://news.example/{n}"
        article_id = new_article(
            store,
            feed_id=feed_id(store, feed),
            url=url,
            canonical_url=f"{url}#{n}",
            title=title,
            published=published,
            fetched_at=NOW.isoformat(),
            text="...",
            matched=True,
        )
        if story_id is None:
            story_id = stories.open_story(store, article_id, title, NOW.isoformat())
        else:
            articles.set_story(store, article_id, story_id, duplicate_of=None, reason=None, similarity=None)
        matches.replace(
            store,
            article_id,
            [
                matches.NewMatch(
                    rule_id,
                    rule_title,
                    severity,
                    1.0,
                    hits
                    if hits is not None
                    else [
                        {
                            "term": "Türkiye",
                            "entity": "turkey",
                            "field": "title",
                            "start": 0,
                            "end": 7,
                            "snippet": "Türkiye and Syria sign a defence cooperation memorandum",
                        }
                    ],
                )
                for rule_id, rule_title, severity in rules
            ],
            NOW.isoformat(),
        )
    return story_id, article_id
