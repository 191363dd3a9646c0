"""An explicit [network] proxy for feeds, pages and alerts alike (issue 15,
item 24), against real forwarding proxies on loopback (tests/proxyserver.py),
the real client, the real apprise and the real CLI."""

from __future__ import annotations

import socket

import pytest
from httpserver import TEST_USER_AGENT, TLS_CERT, free_port
from newsroom import write_config
from proxyserver import ForwardProxy, SocksProxy
from support import rows, watcher, watcher_process

from watcher.config import ChannelConfig
from watcher.fetch.client import Client, FetchError, NetworkPolicy
from watcher.notify.message import channel_test_message
from watcher.notify.notifier import Notifier

MB = 1024 * 1024
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Haberler</title>'
    b"<item><title>Ankara ve Sam</title><link>https://example.org/1</link></item></channel></rss>"
)
PROXIES = {"http": ForwardProxy, "socks5": SocksProxy}


def policy(proxy: str, *, allow=("127.0.0.0/8",)) -> NetworkPolicy:
    return NetworkPolicy(timeout=5.0, user_agent=TEST_USER_AGENT, allow_private=allow, proxy=proxy)


@pytest.fixture(params=sorted(PROXIES))
def proxy(request):
    with PROXIES[request.param]() as p:
        yield p


def test_item24_feeds_go_through_the_configured_proxy(http_server, proxy):
    http_server.route("/feed", RSS)
    with Client(policy(proxy.url)) as client:
        response = client.get(http_server.url("/feed"), max_bytes=MB)
    assert response.body == RSS and response.url == http_server.url("/feed")
    target = f"127.0.0.1:{http_server.port}"
    assert proxy.seen == (
        [("GET", http_server.url("/feed"))] if proxy.scheme == "http" else [("CONNECT", target)]
    )


def test_item24_https_goes_through_the_proxy_with_the_host_name_kept(make_server, monkeypatch, proxy):
    """CONNECT (or SOCKS) to the name; TLS is still checked against that name."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))
    server = make_server(tls=True)
    server.route("/feed", RSS)
    with Client(policy(proxy.url), resolver=lambda host, port: ["127.0.0.1"]) as client:
        response = client.get(f"https://localhost:{server.port}/feed", max_bytes=MB)
    assert response.body == RSS
    assert proxy.seen == [("CONNECT", f"localhost:{server.port}")]
    assert server.sni_names == ["localhost"]


def test_item24_the_private_network_guard_applies_to_the_target(http_server, proxy):
    """The proxy's own address is exempt; the targets are checked as if direct."""
    http_server.route("/feed", RSS)
    answers = {"intranet.example": ["10.1.2.3"], "split.example": ["93.184.216.34", "192.168.0.9"]}

    def resolver(host, port):
        if host in answers:
            return answers[host]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with Client(policy(proxy.url, allow=()), resolver=resolver) as client:
        for url in (
            http_server.url("/feed"),
            "http://intranet.example/feed",
            "http://split.example/",
            f"http://[::1]:{http_server.port}/",
            "http://169.254.169.254/latest/meta-data/",
        ):
            with pytest.raises(FetchError) as info:
                client.get(url, max_bytes=MB)
            assert info.value.kind == "private_address" and "allow_private" in str(info.value), url
        assert proxy.seen == []
        # A name this machine cannot resolve is the proxy's to resolve (here it cannot either).
        outcome = _outcome(client, "http://news.invalid/feed")
    assert proxy.seen and "news.invalid" in proxy.seen[0][1]
    assert outcome in (502, "connection")


def _outcome(client, url):
    try:
        return client.get(url, max_bytes=MB).status
    except FetchError as exc:
        return exc.kind


def test_item24_the_environments_proxy_variables_are_ignored_by_feeds(http_server, monkeypatch):
    http_server.route("/feed", RSS)
    with ForwardProxy() as configured, ForwardProxy() as environment:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, environment.url)
        with Client(policy(configured.url)) as client:
            assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
    assert configured.seen and environment.seen == []


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_item24_proxy_credentials_work_and_never_show(http_server, kind):
    http_server.route("/feed", RSS)
    with PROXIES[kind](user="desk", password="s3cret-proxy") as proxy:
        with Client(policy(proxy.url)) as client:
            assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
        wrong = proxy.url.replace("s3cret-proxy", "wrong-s3cret")
        with Client(policy(wrong)) as client:
            outcome = _outcome(client, http_server.url("/feed"))
        assert outcome in (407, "connection", "protocol")
    dead = f"{kind}://desk:s3cret-proxy@127.0.0.1:{free_port()}"
    with Client(policy(dead)) as client, pytest.raises(FetchError) as info:
        client.get(http_server.url("/feed"), max_bytes=MB)
    assert info.value.kind == "connection" and "proxy" in str(info.value)
    assert "s3cret" not in str(info.value)


# -- alerts ----------------------------------------------------------------------------------


def channel(url: str, proxy: str | None) -> ChannelConfig:
    return ChannelConfig(name="desk", url=url, source="url", proxy=proxy)


def test_item24_alerts_go_through_the_configured_proxy(hook, proxy):
    notifier = Notifier(channel(hook.url("alerts/in"), proxy.url))
    delivery = notifier.send(channel_test_message("desk", "text", _now(), notifier.limits))
    assert delivery.ok, delivery.detail
    assert len(hook.posts) == 1
    expected = (
        ("POST", f"http://127.0.0.1:{hook.port}/alerts/in")
        if proxy.scheme == "http"
        else ("CONNECT", f"127.0.0.1:{hook.port}")
    )
    assert proxy.seen == [expected]


def test_item24_alerts_ignore_the_environments_proxy_variables(hook, monkeypatch):
    """Before: apprise (requests) took HTTP(S)_PROXY while feeds did not."""
    with ForwardProxy() as environment, ForwardProxy() as configured:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, environment.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        for proxy in (None, configured.url):
            notifier = Notifier(channel(hook.url("in"), proxy))
            assert notifier.send(channel_test_message("desk", "text", _now(), notifier.limits)).ok
    assert environment.seen == [] and len(configured.seen) == 1 and len(hook.posts) == 2


def test_item24_an_unreachable_alert_proxy_is_a_failed_delivery_without_the_password(hook):
    dead = f"http://desk:s3cret-proxy@127.0.0.1:{free_port()}"
    notifier = Notifier(channel(hook.url("in"), dead))
    delivery = notifier.send(channel_test_message("desk", "text", _now(), notifier.limits))
    assert not delivery.ok and hook.posts == []
    assert "s3cret" not in delivery.detail


# -- the config and the CLI: one setting for all three -----------------------------------------


def test_item24_watcher_run_and_notify_use_the_proxy_from_the_config(
    tmp_path, http_server, hook, monkeypatch
):
    http_server.route("/feed", RSS, content_type="application/rss+xml")
    with ForwardProxy() as proxy:
        config = write_config(
            tmp_path,
            [("Haberler", http_server.url("/feed"))],
            fetch_article=False,
            extra=f'[[channels]]\nname = "desk"\nurl = "{hook.url("in")}"\n',
        )
        text = config.read_text(encoding="utf-8").replace(
            'allow_private = ["127.0.0.0/8"]',
            'allow_private = ["127.0.0.0/8"]\nproxy_env = "WATCHER_TEST_PROXY"',
        )
        config.write_text(text, encoding="utf-8")
        config.chmod(0o600)
        monkeypatch.setenv("WATCHER_TEST_PROXY", proxy.url)
        result = watcher(config, "run", "--once")
        assert result.exit_code == 0, result.output
        notify = watcher(config, "notify", "--test", "desk")
        assert notify.exit_code == 0, notify.output
    assert ("GET", http_server.url("/feed")) in proxy.seen
    assert ("POST", f"http://127.0.0.1:{hook.port}/in") in proxy.seen
    assert rows(tmp_path, "SELECT COUNT(*) AS n FROM entries")[0]["n"] == 1


@pytest.mark.parametrize(
    "value, words",
    [
        ('"ftp://proxy.example:21"', "schemes: http, https, socks5, socks5h"),
        ('"proxy.example:3128"', "schemes"),
        ('"http://desk:s3cret@proxy.example:3128/path"', "without a path"),
        ('"http://desk:s3cret@proxy.example:99999"', "not a URL"),
        ("3128", "in quotes"),
    ],
)
def test_item24_a_bad_proxy_setting_is_one_line_without_its_password(tmp_path, value, words):

    config = tmp_path / "w.toml"
    config.write_text(f'[watcher]\nrules = ["{tmp_path}"]\n[network]\nproxy = {value}\n', encoding="utf-8")
    (tmp_path / "r.toml").write_text(
        '[[rules]]\nid = "r"\ntitle = "t"\nseverity = "low"\ncondition = { term = "army" }\n',
        encoding="utf-8",
    )
    result = watcher_process("--config", str(config), "check")
    assert result.returncode == 2
    assert "network.proxy" in result.stderr and words in result.stderr, result.stderr
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def _now():
    from datetime import datetime, timezone

    return datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
