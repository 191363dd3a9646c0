"""Channel secrets never show: not in logs (apprise and urllib3 at DEBUG
included), the database, CLI output or exceptions.

Canary tokens sit in every place an apprise URL keeps a secret: Telegram's bot
token, Discord's webhook id and token, Slack's three tokens, a json:// path
segment, query value and custom header, and an SMTP password. Telegram,
Discord and Slack are sent through an HTTP proxy on a closed loopback port, so
their requests fail on this machine and never reach the internet; json:// and
mailto:// go to real loopback servers.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import pytest
from alerts_support import Clock, Mailbox, Webhook, open_store, queue_story, write_config
from click.testing import CliRunner
from httpserver import free_port
from support import watcher_process

from watcher.cli.main import main
from watcher.config import ChannelConfig
from watcher.notify import redaction
from watcher.notify.message import Message
from watcher.notify.notifier import Notifier, check_channels, safe_url
from watcher.notify.redaction import Redactor, secret_parts
from watcher.notify.sender import Sender

RULES = Path(__file__).resolve().parents[2] / "rules"
CANARY = re.compile(r"CANARY\w*|4242424242|mail-pass")


@pytest.fixture
def servers():
    hook, box = Webhook(), Mailbox()
    yield hook, box
    hook.close()
    box.close()


@pytest.fixture
def no_internet(monkeypatch):
    """Every non-loopback HTTP(S) request goes to a proxy port nobody listens on."""
    proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return {k: os.environ[k] for k in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "no_proxy")}


def canary_channels(hook: Webhook, box: Mailbox) -> str:
    box.PASSWORD = "mail-pass-CANARYsmtp3"
    return f"""
[[channels]]
name = "telegram"
url = "tgram://4242424242:CANARYtgTOKEN0001/CANARYtgCHAT7/"

[[channels]]
name = "discord"
url = "discord://CANARYdiscordID9/CANARYdiscordTOKEN2/"
format = "markdown"

[[channels]]
name = "slack"
url = "slack://CANARYslackA/CANARYslackB/CANARYslackC/"

[[channels]]
name = "hook"
url = "json://127.0.0.1:{hook.port}/CANARYpath5/?-token=CANARYquery6&+X-Token=CANARYheader4"

[[channels]]
name = "mail"
url = "{box.url()}"
"""


def leaks(text: str) -> list[str]:
    return sorted(set(CANARY.findall(text)))


def test_secret_parts_cover_every_place_a_url_keeps_a_secret():
    parts = secret_parts("json://127.0.0.1:8080/CANARYp/?token=CANARYq&+X-Token=CANARYh&method=POST")
    assert {"CANARYp", "CANARYq", "CANARYh"} <= parts
    assert "127.0.0.1:8080" not in parts and "POST" not in parts
    parts = secret_parts("tgram://4242424242:CANARYt/CANARYc/")
    assert {"4242424242", "CANARYt", "CANARYc"} <= parts
    parts = secret_parts(
        "mailto://user:pa%40ss-word@mail.example.com?smtp=smtp.example.com&to=me@example.com"
    )
    assert {"pa@ss-word", "pa%40ss-word", "me@example.com"} <= parts
    assert "smtp.example.com" not in parts and "mail.example.com" not in parts
    scrub = Redactor.for_urls(["discord://CANARYid1/CANARYtok2"]).scrub
    assert (
        scrub("POST https://discord.com/api/webhooks/CANARYid1/CANARYtok2?wait=true")
        == "POST https://discord.com/api/webhooks/***/***?wait=true"
    )


def test_debug_logs_of_a_real_send_carry_no_secret(tmp_path, servers, no_internet):
    hook, box = servers
    cfg = write_config(tmp_path, canary_channels(hook, box))
    channels = {c.name: c for c in cfg.channels}
    raw, clean = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (
        root.level,
        list(root.handlers),
        {n: logging.getLogger(n).level for n in redaction.THIRD_PARTY_LOGGERS},
    )
    try:
        root.setLevel(logging.DEBUG)
        for name in redaction.THIRD_PARTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        # Control: without the filter, apprise/urllib3 DEBUG output does carry the secrets.
        control = logging.StreamHandler(raw)
        root.handlers = [control]
        Notifier(channels["hook"]).send(Message("t", "b", "text"))
        Notifier(channels["telegram"]).send(Message("t", "b", "text"))
        assert "CANARYquery6" in raw.getvalue() and "CANARYtgTOKEN0001" in raw.getvalue()

        handler = logging.StreamHandler(clean)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        bad = ChannelConfig("bad", "jsn://CANARYbadHOST/CANARYbad", "url")  # a typo in the scheme
        redaction.install(handler, cfg.channels + (bad,), cap_third_party=False)  # DEBUG stays on
        root.handlers = [handler]
        store = open_store(cfg)
        queue_story(store, cfg, "Story")
        summary = Sender(store, cfg, Clock(), timeout=20).drain()
        for channel in cfg.channels:
            Notifier(channel).send(Message("t", "b", "text"))
        assert len(check_channels(cfg.channels + (bad,))) == 1
        logging.getLogger("test").error(
            "boom", exc_info=RuntimeError("tgram://4242424242:CANARYtgTOKEN0001/x")
        )
    finally:
        root.setLevel(saved[0])
        root.handlers = saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    logged = clean.getvalue()
    assert summary.sent == 2 and summary.failed == 3  # loopback ones sent; the proxied ones failed
    assert "DEBUG urllib3" in logged and "DEBUG apprise" in logged  # DEBUG really was on
    assert "***" in logged
    assert leaks(logged) == []
    assert len(hook.posts) == 3 and hook.posts[0].headers.get("X-Token") == "CANARYheader4"


def test_no_secret_in_the_database_or_cli_output(tmp_path, servers, no_internet):
    hook, box = servers
    cfg = write_config(tmp_path, canary_channels(hook, box))
    cfg.path.write_text(cfg.path.read_text().replace('rules = ["rules/"]', f'rules = ["{RULES}"]'))
    store = open_store(cfg)
    for i in range(2):
        queue_story(store, cfg, f"Story {i}")
    store.close()
    # The DEBUG run as a user starts it (its own process: real logging set-up)...
    run = watcher_process("--config", str(cfg.path), "run", "--once", "--log-level", "DEBUG", env=no_internet)
    out = run.stdout + run.stderr
    # the proxied channels fail on their first alert; their second waits, untried
    assert "alerts: 4 sent, 3 failed (will retry), 0 dead; 3 wait for a failing channel" in out
    assert "Telegram:@***" in run.stderr  # apprise named the chat; the filter masked it
    # ...and the other commands in this process (faster), stdout and stderr.
    for args in [
        ("alerts",),
        ("alerts", "--json"),
        ("check",),
        ("alerts", "retry", "--all"),
        *[("notify", "--test", name) for name in ("telegram", "discord", "slack", "hook", "mail")],
    ]:
        result = CliRunner().invoke(main, ["--config", str(cfg.path), *args], env=no_internet)
        out += result.stdout + result.stderr
    assert "sent a test message to hook (json://127.0.0.1:" in out
    assert "the test message to telegram (tgram://***) failed" in out
    assert leaks(out) == []
    dump = "\n".join(sqlite_dump(cfg.database))
    assert "Failed" in dump or "error" in dump.lower()  # errors were recorded...
    assert leaks(dump) == []  # ...without secrets


def sqlite_dump(path):
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        yield from conn.iterdump()
    finally:
        conn.close()


def test_exceptions_and_display_forms_hide_secrets():
    url = "json://127.0.0.1:1/CANARYpath5/?+X-Token=CANARYheader4"
    redactor = Redactor.for_urls([url])
    try:
        raise ValueError(f"could not post to {url}")
    except ValueError as exc:
        assert leaks(redactor.scrub_exception(exc)) == []
    channel = ChannelConfig("hook", url, "url")
    assert leaks(safe_url(channel) + repr(channel)) == []


def test_watcher_check_names_an_unusable_channel_without_its_secret(tmp_path):
    cfg = write_config(
        tmp_path,
        """
[[channels]]
name = "typo"
url_env = "TYPO_URL"
""",
        environ={"TYPO_URL": "discrod://CANARYid77/CANARYtoken88"},
    )
    cfg.path.write_text(cfg.path.read_text().replace('rules = ["rules/"]', f'rules = ["{RULES}"]'))
    result = CliRunner().invoke(
        main, ["--config", str(cfg.path), "check"], env={"TYPO_URL": "discrod://CANARYid77/CANARYtoken88"}
    )
    assert result.exit_code == 2
    assert (
        "channels[0].url_env: apprise cannot use the URL of channel 'typo' (discrod://***, "
        "from url_env:TYPO_URL)" in result.stderr
    )
    assert leaks(result.stdout + result.stderr) == []


def test_installing_again_replaces_the_filter():
    """A second config (a reload, another command in one process) must not
    stack filters: two would each mask part of a secret and show the rest."""
    handler = logging.StreamHandler(io.StringIO())
    first = redaction.install(handler, [ChannelConfig("a", "json://h.example.org/CANARYsecretTOKEN9", "url")])
    second = redaction.install(
        handler,
        [
            ChannelConfig("a", "json://h.example.org/TOKEN9", "url"),
            ChannelConfig("b", "json://h.example.org/CANARYsecretTOKEN9", "url"),
        ],
    )
    assert first not in handler.filters and handler.filters == [second]
    assert logging.getLogger("apprise").filters.count(second) == 1
    record = logging.LogRecord(
        "apprise",
        logging.ERROR,
        __file__,
        1,
        "bad URL %s",
        ("json://h.example.org/CANARYsecretTOKEN9",),
        None,
    )
    handler.handle(record)
    assert leaks(handler.stream.getvalue()) == []


def test_a_mistyped_channel_url_is_reported_without_echoing_it(tmp_path):
    from watcher.config import ConfigError

    with pytest.raises(ConfigError) as err:
        write_config(tmp_path, '[[channels]]\nname = "x"\nurl = ["tgram://4242424242:CANARYtok/1"]\n')
    assert "channels[0].url: must be one apprise URL in quotes" in str(err.value)
    assert leaks(str(err.value)) == []
