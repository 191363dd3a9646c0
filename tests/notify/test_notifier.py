"""One channel through apprise, against real servers on loopback."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import markdown
import pytest

from watcher.config import ChannelConfig
from watcher.notify.message import AlertContent, HitLine, Limits, Message, RuleLine, render
from watcher.notify.notifier import Notifier, check_channels, safe_url

HOSTILE = AlertContent(
    headline="Pact <script>alert(1)</script> & **bold** @everyone\r\nBcc: victim@example.com",
    source="Feed <b>@here</b>",
    published="2026-11-21T05:30:00+00:00",
    link="https://news.example/story?id=1&x=<y>",
    rules=(
        RuleLine(
            "tr-sy",
            "Turkey–Syria defence",
            "high",
            (HitLine("Türkiye", "turkey", "text", "Türkiye <i>and</i> Syria <@&123> <!channel>"),),
        ),
    ),
    also=("Anadolu Agency",),
)


def channel(url: str, fmt: str = "text", name: str = "ops") -> ChannelConfig:
    return ChannelConfig(name=name, url=url, source="url", format=fmt)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_email_alert_arrives_escaped_and_neutralised(mailbox, fmt):
    notifier = Notifier(channel(mailbox.url(), fmt))
    delivery = notifier.send(render(HOSTILE, fmt, notifier.limits))
    assert delivery.ok, delivery.detail
    [mail] = mailbox.mails
    assert mail.to == ["analyst@example.com"]
    # The subject is one line: the headline's CR LF cannot add a Bcc header.
    assert mail.subject == (
        "[Turkey–Syria defence] Pact <script>alert(1)</script> & **bold** "
        "@\u200beveryone Bcc: victim@\u200bexample.com"
    )
    assert "@everyone" not in mail.text and "@here" not in mail.text and "<!channel>" not in mail.text
    shown = html.unescape(mail.html) if mail.html is not None else mail.text
    assert "Source: Feed <b>@\u200bhere</b>" in re.sub(
        r"</?strong>|</?b>(?=\s)|<b>(?=Source)", "", shown
    ) or "Source: Feed <b>@\u200bhere</b>" in shown.replace("**", "")
    assert "https://news.example/story?id=1&x=%3Cy%3E" in shown
    if mail.html is not None:
        assert "<script>" not in mail.html and "<i>and</i>" not in mail.html
        assert "<b>@here</b>" not in mail.html and "@here" not in mail.html
        assert "<strong>bold</strong>" not in mail.html


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_webhook_alert_carries_title_and_body(hook, fmt):
    notifier = Notifier(channel(hook.url("alerts/in"), fmt))
    delivery = notifier.send(render(HOSTILE, fmt, notifier.limits))
    assert delivery.ok, delivery.detail
    assert delivery.detail.startswith("success") and "JSON" in delivery.detail
    [post] = hook.posts
    assert post.path == "/alerts/in"
    assert post.payload["title"].startswith("[Turkey–Syria defence] Pact")
    body = post.payload["message"]
    for mention in ("@everyone", "@here", "<@&123>", "<!channel>"):
        assert mention not in body and mention not in post.payload["title"]
    if fmt == "html":
        assert (
            "&lt;i&gt;and&lt;/i&gt;" in body
            and '<a href="https://news.example/story?id=1&amp;x=%3Cy%3E">' in body
        )
    if fmt == "markdown":
        assert "<https://news.example/story?id=1&x=%3Cy%3E>" in body
        rendered = markdown.markdown(body)  # as a markdown service would show it
        assert "&lt;i&gt;and&lt;/i&gt;" in rendered and "<i>" not in rendered
    if fmt == "text":
        assert "Türkiye <i>and</i> Syria" in body


def test_a_failing_service_answer_is_reported(hook):
    hook.status = 500
    delivery = Notifier(channel(hook.url())).send(Message("t", "b", "text"))
    assert not delivery.ok
    assert delivery.detail.startswith("JSON: Failed to send") and "error=500" in delivery.detail


def test_a_closed_port_is_a_failed_delivery_not_an_exception(mailbox):
    url = mailbox.url()
    mailbox.close()
    delivery = Notifier(channel(url)).send(Message("t", "b", "text"))
    assert not delivery.ok
    assert mailbox.PASSWORD not in delivery.detail


def test_wrong_smtp_password_fails_without_showing_it(mailbox):
    url = mailbox.url().replace(mailbox.PASSWORD, "wrong-pass-CANARY-9911") + "&cto=2"
    delivery = Notifier(channel(url)).send(Message("t", "b", "text"))
    assert not delivery.ok and "wrong-pass-CANARY-9911" not in delivery.detail
    assert mailbox.mails == []


def test_two_emails_in_a_row_are_not_throttled(mailbox):
    """apprise waits ~5.5 s between two emails on one object; each send has its own."""
    notifier = Notifier(channel(mailbox.url()))
    for i in range(3):
        assert notifier.send(Message(f"t{i}", "b", "text")).ok
    assert [m.subject for m in mailbox.mails] == ["t0", "t1", "t2"]


def test_limits_come_from_the_service():
    assert Notifier(channel("discord://111222333/tokentoken")).limits == Limits(title=250, body=2000)
    assert Notifier(channel("tgram://123456789:AAbbccddeeff/987")).limits.title == 0


@pytest.mark.parametrize(
    "url, shown",
    [
        ("json://127.0.0.1:8080/SECRET/?+X-Token=SECRET2", "json://127.0.0.1:8080/***"),
        ("discord://111222333/SECRETTOKEN", "discord://***"),
        ("tgram://123456789:SECRETTOKEN/987654321", "tgram://***"),
        ("slack://SECRETA/SECRETB/SECRETC", "slack://***"),
        ("mailto://user:SECRETPW@mail.example.com?to=x@example.com", "mailto://mail.example.com/***"),
        ("ntfy://SECRETTOPIC", "ntfy://***"),
        ("not a url SECRET", "(not a URL)"),
    ],
)
def test_safe_url_shows_scheme_and_real_host_only(url, shown):
    assert safe_url(channel(url)) == shown


def test_apprise_privacy_form_leaks_what_safe_url_hides():
    """Why safe_url exists: apprise's privacy URL keeps header values and path segments."""
    import apprise  # the only test that imports apprise: it documents apprise's behaviour

    url = "json://127.0.0.1:8080/PATHSECRET/?+X-Token=HEADERSECRET"
    private = apprise.Apprise.instantiate(url).url(privacy=True)
    assert "PATHSECRET" in private and "HEADERSECRET" in private
    assert "SECRET" not in safe_url(channel(url))


def test_check_channels_reports_unusable_urls_without_secrets():
    channels = [
        channel("json://127.0.0.1:8080/ok", name="fine"),
        ChannelConfig(name="typo", url="jsn://127.0.0.1/TYPOSECRET123", source="url"),
        ChannelConfig(name="half", url="discord://DISCORDIDSECRET", source="url_env:DISCORD_URL"),
    ]
    problems = check_channels(channels)
    assert len(problems) == 2
    assert problems[0].startswith(
        "channels[1].url: apprise cannot use the URL of channel 'typo' (jsn://127.0.0.1/***)"
    )
    assert problems[1].startswith(
        "channels[2].url_env: apprise cannot use the URL of channel 'half' "
        "(discord://***, from url_env:DISCORD_URL)"
    )
    assert "Webhook Token" in problems[1]  # apprise's reason is kept
    text = "\n".join(problems)
    assert "TYPOSECRET123" not in text and "DISCORDIDSECRET" not in text


def test_unusable_channel_send_says_why():
    delivery = Notifier(channel("jsn://127.0.0.1/x")).send(Message("t", "b", "text"))
    assert not delivery.ok and "apprise cannot use the URL" in delivery.detail


def test_check_channels_reports_routes_that_can_never_alert():
    from watcher.match.rules import load_rules

    rules = load_rules([Path(__file__).resolve().parents[2] / "rules"]).rules
    rule_ids = {r.id for r in rules}
    assert "turkey-syria-defence" in rule_ids
    channels = [
        channel("json://127.0.0.1:8080/ok", name="fine"),
        ChannelConfig(
            name="typo",
            url="json://127.0.0.1:8080/x",
            source="url",
            rules=("turkey-syria-defense", "turkey-syria-defence"),
        ),
    ]
    named = [type("R", (), {"id": "r1", "channels": ("fine", "pager"), "file": "rules/x.toml"})()]
    problems = check_channels(channels, [*rules, *named])
    assert problems == [
        f"channels[1].rules: 'turkey-syria-defense' is not the id of any rule (known: "
        f"{', '.join(sorted(rule_ids | {'r1'}))}); fix the id or remove it",
        "rules/x.toml: rule 'r1' names channel 'pager', which is not a [[channels]] name in the config "
        "(configured: fine, typo)",
    ]
    assert check_channels(channels[:1], rules) == []


def test_discord_markdown_mode_finds_no_one_to_ping_in_our_message():
    """apprise's Discord plugin (embed/markdown mode) turns @everyone, @here,
    <@id> and <@&id> in the body into real pings (allowed_mentions); after
    neutralising, it finds none."""
    import apprise  # documents apprise's behaviour, as above

    discord = apprise.Apprise.instantiate("discord://111222333/tokentokentoken")
    raw = "Breaking @everyone @here <@123456> <@&654321> news"
    assert discord.ping_payload(raw)["allow_mentions"]["parse"]  # control: it would ping
    msg = render(dataclasses.replace(HOSTILE, headline=raw), "markdown", Limits(250, 2000))
    assert discord.ping_payload(msg.title) == {}
    assert discord.ping_payload(msg.body) == {}


def test_a_channel_url_holding_two_services_is_refused(hook):
    """apprise splits "url1, url2" into two services whose result can be PARTIAL;
    a retry would resend to the one that succeeded, so watcher refuses it."""
    two = ChannelConfig(name="both", url=f"{hook.url('x')}, {hook.url('y')}", source="url")
    [problem] = check_channels([two])
    assert "holds 2 services" in problem and "its own [[channels]] table" in problem
    delivery = Notifier(two).send(Message("t", "b", "text"))
    assert not delivery.ok and "holds 2 services" in delivery.detail
    assert hook.requests == 0


def test_item15_installed_apprise_is_in_the_declared_range_and_sends(hook):
    """Issue 15 item 15: notifier.py needs apprise 2.x (its notify() result); the
    requirement allowed 1.9, where every send raised TypeError. The range declared
    in pyproject.toml must admit the installed apprise and refuse 1.x, and a real
    send through a loopback json:// endpoint must work. The lower bound (2.0.0) is
    checked by installing it in a scratch venv and running this file and
    test_sender.py there (see README, Alerts)."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    (declared,) = [
        Requirement(r) for r in pyproject["project"]["dependencies"] if Requirement(r).name == "apprise"
    ]
    assert declared.specifier.contains(version("apprise")), (version("apprise"), str(declared))
    assert declared.specifier.contains("2.0.0") and not declared.specifier.contains("1.13.1")
    assert not declared.specifier.contains("3.0.0")
    notifier = Notifier(channel(hook.url("alerts/lower-bound")))
    delivery = notifier.send(render(HOSTILE, "text", notifier.limits))
    assert delivery.ok, delivery.detail
    [post] = hook.posts
    assert post.path == "/alerts/lower-bound" and post.payload["title"].startswith("[Turkey–Syria defence]")
