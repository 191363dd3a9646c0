"""The guarded HTTP client against real loopback servers: what a user sees."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from datetime import datetime, timezone
from ipaddress import ip_address

import pytest
from httpserver import TEST_USER_AGENT, TLS_CERT, LoopbackServer, SilentListener, free_port, gzip_bomb, zeros
from support import REAL

from watcher.fetch import address
from watcher.fetch.client import Client, FetchError, NetworkPolicy, parse_retry_after
from watcher.fetch.decompression import ACCEPT_ENCODING

KB, MB = 1024, 1024 * 1024
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture(scope="module")
def loopback_client():
    """One client for the module (a TLS context costs ~80 ms to build): also shows
    that a client stays usable after every kind of failure."""
    with Client(policy()) as client:
        yield client


def policy(timeout: float = 5.0, *, allow=("127.0.0.0/8",), max_redirects: int = 5) -> NetworkPolicy:
    return NetworkPolicy(
        timeout=timeout, user_agent=TEST_USER_AGENT, max_redirects=max_redirects, allow_private=allow
    )


def fetch_error(client: Client, url: str, **kwargs) -> FetchError:
    kwargs.setdefault("max_bytes", MB)
    with pytest.raises(FetchError) as info:
        client.get(url, **kwargs)
    assert str(info.value).startswith(f"{url}: "), "the message names the URL"
    assert "Traceback" not in str(info.value)
    return info.value


# -- plain GETs and headers -------------------------------------------------


def test_get_returns_status_body_and_headers(http_server, loopback_client):
    http_server.route(
        "/feed",
        RSS,
        content_type="application/rss+xml; charset=utf-8",
        etag='"v1"',
        last_modified="Sat, 21 Nov 2026 05:00:00 GMT",
        headers={"X-Extra": "yes"},
    )
    response = loopback_client.get(http_server.url("/feed"), max_bytes=MB)
    assert response.status == 200
    assert response.body == RSS
    assert response.url == http_server.url("/feed")
    assert response.content_type == "application/rss+xml; charset=utf-8"
    assert response.etag == '"v1"'
    assert response.last_modified == "Sat, 21 Nov 2026 05:00:00 GMT"
    assert response.header("X-EXTRA") == "yes" and response.header("x-missing") is None
    assert response.retry_after is None


def test_sends_user_agent_accept_and_encodings(http_server, loopback_client):
    http_server.route("/feed", RSS)
    loopback_client.get(http_server.url("/feed"), max_bytes=MB)
    loopback_client.get(http_server.url("/feed"), max_bytes=MB, accept="application/rss+xml")
    first, second = http_server.requests_for("/feed")
    assert first.headers["user-agent"] == TEST_USER_AGENT
    assert first.headers["accept"] == "*/*"
    assert second.headers["accept"] == "application/rss+xml"
    assert {e.strip() for e in first.headers["accept-encoding"].split(",")} >= {"gzip", "deflate"}
    assert "if-none-match" not in first.headers and "if-modified-since" not in first.headers
    assert "cookie" not in first.headers


def test_cookies_are_never_sent_back(http_server, loopback_client):
    http_server.route("/c", b"ok", headers=[("Set-Cookie", "session=abc; Path=/")])
    loopback_client.get(http_server.url("/c"), max_bytes=KB)
    loopback_client.get(http_server.url("/c"), max_bytes=KB)
    assert all("cookie" not in r.headers for r in http_server.requests_for("/c"))


def test_a_kept_alive_connection_is_reused(http_server, loopback_client):
    http_server.route("/a", b"one")
    assert loopback_client.get(http_server.url("/a"), max_bytes=KB).body == b"one"
    assert loopback_client.get(http_server.url("/a"), max_bytes=KB).body == b"one"
    first, second = http_server.requests_for("/a")
    assert first.client == second.client


# -- conditional GET -------------------------------------------------------


def test_etag_gives_304_with_empty_body(http_server, loopback_client):
    http_server.route("/feed", RSS, etag='"v1"')
    first = loopback_client.get(http_server.url("/feed"), max_bytes=MB)
    again = loopback_client.get(http_server.url("/feed"), max_bytes=MB, etag=first.etag)
    assert (again.status, again.body, again.etag) == (304, b"", '"v1"')
    assert http_server.requests_for("/feed")[-1].headers["if-none-match"] == '"v1"'


def test_last_modified_gives_304(http_server, loopback_client):
    stamp = "Sat, 21 Nov 2026 05:00:00 GMT"
    http_server.route("/feed", RSS, last_modified=stamp)
    again = loopback_client.get(http_server.url("/feed"), max_bytes=MB, last_modified=stamp)
    assert (again.status, again.body) == (304, b"")
    assert http_server.requests_for("/feed")[-1].headers["if-modified-since"] == stamp


def test_changed_resource_comes_back_whole(http_server, loopback_client):
    http_server.route("/feed", RSS, etag='"v1"')
    http_server.set_body("/feed", RSS + b"<!-- new -->", etag='"v2"')
    response = loopback_client.get(http_server.url("/feed"), max_bytes=MB, etag='"v1"')
    assert (response.status, response.etag) == (200, '"v2"')
    assert response.body.endswith(b"<!-- new -->")


def test_not_modified_ignores_a_large_content_length(http_server, loopback_client):
    def answer(h):  # RFC 9110 lets a 304 carry the Content-Length the 200 would have
        h.send_response_only(304)
        h.send_header("ETag", '"v1"')
        h.send_header("Content-Length", str(50 * MB))
        h.end_headers()

    http_server.route_handler("/feed", answer)
    response = loopback_client.get(http_server.url("/feed"), max_bytes=KB, etag='"v1"')
    assert (response.status, response.body) == (304, b"")


def test_non_ascii_validators_are_sent_and_unsafe_ones_dropped(http_server, loopback_client):
    http_server.route("/feed", RSS)
    loopback_client.get(http_server.url("/feed"), max_bytes=MB, etag='"sürüm-2"')
    loopback_client.get(
        http_server.url("/feed"),
        max_bytes=MB,
        etag='"a"\r\nX-Injected: 1',
        last_modified="Sat, 21 Nov 2026 05:00:00 GMT\n",
    )
    first, second = http_server.requests_for("/feed")
    assert first.headers["if-none-match"].encode("latin-1").decode("utf-8") == '"sürüm-2"'
    assert "if-none-match" not in second.headers and "x-injected" not in second.headers
    assert "if-modified-since" not in second.headers


@pytest.mark.parametrize(
    "raw",
    [
        [(b"ETag", b'"v1"'), (b"Link", b"</a>; rel=next"), (b"Link", b"</b>; rel=prev")],
        [(b"ETag", '"sürüm-2"'.encode()), (b"X-Note", "çay".encode())],  # all UTF-8
        [(b"ETag", '"sürüm-2"'.encode()), (b"X-Note", b"\xe7ay \x93")],  # not: ISO-8859-1
    ],
)
def test_answer_headers_read_as_httpx_reads_them(http_server, loopback_client, raw):
    """The client reads an answer's headers without httpx's Headers, but as it
    does: the ETag stored for the next poll, repeated headers, non-ASCII bytes."""
    import httpx

    def answer(h):
        h.send_response_only(200)
        for name, value in raw:
            h.send_header(name.decode(), value.decode("latin-1"))  # sent as these bytes
        h.send_header("Content-Length", "2")
        h.end_headers()
        h.wfile.write(b"ok")

    http_server.route_handler("/feed", answer)
    response = loopback_client.get(http_server.url("/feed"), max_bytes=KB)
    expected = httpx.Headers(raw)
    assert response.etag == expected["etag"]
    for name in ("etag", "link", "x-note"):
        assert response.header(name) == expected.get(name), name


def test_url_is_returned_exactly_as_given_when_not_redirected(http_server, loopback_client):
    http_server.route("/", b"home")
    url = f"http://127.0.0.1:{http_server.port}"
    assert loopback_client.get(url, max_bytes=KB).url == url


# -- statuses ----------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500])
def test_error_statuses_are_returned_not_raised(http_server, loopback_client, status):
    http_server.route("/x", b"gone away", status=status)
    response = loopback_client.get(http_server.url("/x"), max_bytes=KB)
    assert (response.status, response.body, response.retry_after) == (status, b"gone away", None)


def test_429_retry_after_seconds(http_server, loopback_client):
    http_server.route("/slow", b"too many", status=429, headers={"Retry-After": "120"})
    assert loopback_client.get(http_server.url("/slow"), max_bytes=KB).retry_after == 120.0


def test_503_retry_after_http_date_is_measured_against_the_servers_date(http_server, loopback_client):
    def answer(h):
        h.send_response_only(503)
        h.send_header("Date", "Sat, 21 Nov 2026 05:00:00 GMT")
        h.send_header("Retry-After", "Sat, 21 Nov 2026 05:01:30 GMT")
        h.send_header("Content-Length", "0")
        h.end_headers()

    http_server.route_handler("/busy", answer)
    response = loopback_client.get(http_server.url("/busy"), max_bytes=KB)
    assert (response.status, response.retry_after) == (503, 90.0)


@pytest.mark.parametrize(
    "value, date, expected",
    [
        ("0", None, 0.0),
        ("3600", None, 3600.0),
        ("-5", None, None),
        ("soon", None, None),
        ("nan", None, None),
        ("Sat, 21 Nov 2026 05:00:10 GMT", "Sat, 21 Nov 2026 05:00:00 GMT", 10.0),
        ("Sat, 21 Nov 2026 04:00:00 GMT", "Sat, 21 Nov 2026 05:00:00 GMT", 0.0),  # in the past: now
        ("Sat, 21 Nov 2026 05:00:10 GMT", "not a date", 40.0),  # falls back to the clock
    ],
)
def test_parse_retry_after(value, date, expected):
    clock = lambda: datetime(2026, 11, 21, 4, 59, 30, tzinfo=timezone.utc)  # noqa: E731
    assert parse_retry_after(value, date=date, clock=clock) == expected


def test_retry_after_date_without_date_header_or_clock_is_unknown():
    assert parse_retry_after("Sat, 21 Nov 2026 05:00:10 GMT") is None


# -- content codings -----------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped (RFC)
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw, as some servers send
        ("gzip", lambda b: gzip.compress(b[:30]) + gzip.compress(b[30:])),  # two gzip members
        ("identity", lambda b: b),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
)
def test_compressed_bodies_are_decoded(http_server, loopback_client, encoding, encode):
    http_server.route("/z", encode(RSS), headers={"Content-Encoding": encoding})
    assert loopback_client.get(http_server.url("/z"), max_bytes=MB).body == RSS


def test_brotli_body_is_decoded_when_offered(http_server, loopback_client):
    brotli = pytest.importorskip("brotli")
    assert "br" in ACCEPT_ENCODING
    http_server.route("/br", brotli.compress(RSS), headers={"Content-Encoding": "br"})
    assert loopback_client.get(http_server.url("/br"), max_bytes=MB).body == RSS


def test_chunked_gzip_body_is_decoded(http_server, loopback_client):
    data = b"<item>x</item>" * 5000
    packed = gzip.compress(data)
    http_server.route(
        "/chunked",
        lambda: (packed[i : i + 777] for i in range(0, len(packed), 777)),
        headers={"Content-Encoding": "gzip"},
    )
    assert loopback_client.get(http_server.url("/chunked"), max_bytes=MB).body == data


def test_corrupt_gzip_is_a_protocol_error(http_server, loopback_client):
    http_server.route("/bad", b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    error = fetch_error(loopback_client, http_server.url("/bad"))
    assert error.kind == "protocol"
    assert "not valid gzip" in str(error)


# -- size caps -------------------------------------------------------------------


def test_body_at_the_cap_is_accepted_and_one_byte_more_is_refused(http_server, loopback_client):
    http_server.route("/exact", b"x" * 1000)
    assert len(loopback_client.get(http_server.url("/exact"), max_bytes=1000).body) == 1000
    error = fetch_error(loopback_client, http_server.url("/exact"), max_bytes=999)
    assert error.kind == "too_large"
    assert "Content-Length" in str(error) and "999-byte limit" in str(error)


def test_huge_content_length_is_refused_before_reading(http_server, loopback_client):
    http_server.route("/huge", zeros(10 * 1024 * MB), length=10 * 1024 * MB)
    error = fetch_error(loopback_client, http_server.url("/huge"), max_bytes=MB)
    assert error.kind == "too_large"
    assert "10,737,418,240 bytes (Content-Length)" in str(error)
    assert http_server.bytes_sent("/huge") < 64 * MB


@pytest.mark.parametrize("length", ["chunked", None])
def test_endless_body_without_length_is_cut_at_the_cap(http_server, loopback_client, length):
    http_server.route("/endless", zeros(10 * 1024 * MB), length=length)
    error = fetch_error(loopback_client, http_server.url("/endless"), max_bytes=MB)
    assert error.kind == "too_large"
    assert "larger than the 1,048,576-byte limit" in str(error)
    assert http_server.bytes_sent("/endless") < 64 * MB


def test_lying_content_length_cannot_smuggle_a_bigger_body(http_server, loopback_client):
    http_server.route("/liar", zeros(8 * MB), length=100, content_type=None)
    response = loopback_client.get(http_server.url("/liar"), max_bytes=KB)
    assert response.body == bytes(100)  # HTTP framing: only the declared 100 bytes are the body


def test_gzip_bomb_is_stopped_at_the_decoded_cap_in_bounded_memory(http_server, loopback_client):
    bomb = gzip_bomb(1024 * MB)  # ~1 MB on the wire, 1 GiB inflated
    assert len(bomb) < 2 * MB
    http_server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        error = fetch_error(loopback_client, http_server.url("/bomb"), max_bytes=4 * MB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.kind == "too_large"
    assert "decompresses (gzip) to more than the 4,194,304-byte limit" in str(error)
    assert peak < 40 * MB


def test_decoded_size_just_over_the_cap_is_refused(http_server, loopback_client):
    packed = gzip.compress(b"a" * (100 * KB + 1))
    http_server.route("/over", packed, headers={"Content-Encoding": "gzip"})
    http_server.route("/at", gzip.compress(b"a" * 100 * KB), headers={"Content-Encoding": "gzip"})
    assert len(loopback_client.get(http_server.url("/at"), max_bytes=100 * KB).body) == 100 * KB
    assert fetch_error(loopback_client, http_server.url("/over"), max_bytes=100 * KB).kind == "too_large"


def test_brotli_bomb_is_stopped(http_server, loopback_client):
    brotli = pytest.importorskip("brotli")
    http_server.route(
        "/brbomb", brotli.compress(bytes(64 * MB), quality=5), headers={"Content-Encoding": "br"}
    )
    error = fetch_error(loopback_client, http_server.url("/brbomb"), max_bytes=MB)
    assert error.kind == "too_large" and "(br)" in str(error)


# -- redirects ---------------------------------------------------------------------


def test_redirect_chain_is_followed_to_the_final_url(http_server, loopback_client):
    http_server.route("/old", redirect_to="/older", status=301)
    http_server.route("/older", redirect_to=http_server.url("/feed"), status=308)
    http_server.route("/feed", RSS)
    response = loopback_client.get(http_server.url("/old"), max_bytes=MB, etag='"x"')
    assert (response.status, response.body, response.url) == (200, RSS, http_server.url("/feed"))
    assert [r.path for r in http_server.requests] == ["/old", "/older", "/feed"]


def test_too_many_redirects(http_server):
    for i in range(4):
        http_server.route(f"/r{i}", redirect_to=f"/r{i + 1}")
    http_server.route("/r4", b"finally")
    with Client(policy(max_redirects=3)) as client:
        error = fetch_error(client, http_server.url("/r0"))
    assert error.kind == "redirects"
    assert "more than 3 redirects" in str(error)
    with Client(policy(max_redirects=4)) as client:
        assert client.get(http_server.url("/r0"), max_bytes=KB).body == b"finally"


def test_redirect_loop_ends(http_server, loopback_client):
    http_server.route("/a", redirect_to="/b")
    http_server.route("/b", redirect_to="/a")
    assert fetch_error(loopback_client, http_server.url("/a")).kind == "redirects"


def test_redirect_without_location_is_returned(http_server, loopback_client):
    http_server.route("/odd", b"no location", status=302)
    response = loopback_client.get(http_server.url("/odd"), max_bytes=KB)
    assert (response.status, response.body) == (302, b"no location")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:70/"])
def test_redirect_to_another_scheme_is_refused(http_server, loopback_client, target):
    http_server.route("/jump", redirect_to=target)
    error = fetch_error(loopback_client, http_server.url("/jump"))
    assert error.kind == "scheme"
    assert f"redirected to {target.split(':')[0]}:" in str(error)


# -- schemes and URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/feed.xml",
        "data:text/plain,hello",
        "gopher://example.org/",
        "javascript:alert(1)",
        "example.org/feed",
        "http://",
        "http:///feed",
    ],
)
def test_only_http_and_https_urls_are_fetched(loopback_client, url):
    error = fetch_error(loopback_client, url)
    assert error.kind == "scheme"


# -- the private-network guard ---------------------------------------------------------


def test_loopback_is_refused_by_default(http_server):
    http_server.route("/feed", RSS)
    with Client(policy(allow=())) as client:
        error = fetch_error(client, http_server.url("/feed"))
    assert error.kind == "private_address"
    assert "refused to connect to 127.0.0.1" in str(error) and "loopback" in str(error)
    assert "network.allow_private" in str(error)
    assert http_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://0.0.0.0:9/",
        "http://[::]:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://10.1.2.3/",
    ],
)
def test_private_address_literals_are_refused_without_connecting(url):
    with Client(policy(allow=())) as client:
        assert fetch_error(client, url).kind == "private_address"


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001", "localhost"])
def test_spellings_of_loopback_are_refused_after_resolution(host):
    """The system resolver turns these into 127.0.0.1; the check is on what it returns."""
    with Client(policy(allow=())) as client:
        error = fetch_error(client, f"http://{host}:9/feed")
    assert error.kind == "private_address"
    assert f"127.0.0.1 ({host}): loopback" in str(error)


def test_a_name_resolving_to_loopback_is_refused(http_server):
    http_server.route("/feed", RSS)
    resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731
    with Client(policy(allow=()), resolver=resolver) as client:
        error = fetch_error(client, f"http://news.example:{http_server.port}/feed")
    assert error.kind == "private_address"
    assert "127.0.0.1 (news.example)" in str(error)
    assert http_server.requests == []


def test_only_checked_addresses_are_connected_and_the_host_name_is_kept(http_server):
    """A DNS answer mixing a forbidden and an allowed address: the client connects
    to the allowed one it checked, and still sends the name in Host."""
    http_server.route("/feed", RSS)
    seen = []

    def resolver(host, port):
        seen.append(host)
        return ["127.0.0.2", "127.0.0.1"]

    with Client(policy(allow=("127.0.0.1/32",)), resolver=resolver) as client:
        response = client.get(f"http://news.example:{http_server.port}/feed", max_bytes=MB)
    assert response.body == RSS
    assert seen == ["news.example"]
    (request,) = http_server.requests
    assert request.headers["host"] == f"news.example:{http_server.port}"
    assert request.server[0] == "127.0.0.1"


def test_redirect_to_a_disallowed_address_is_refused(http_server, make_server):
    inside = make_server("127.0.0.2")
    inside.route("/secret", b"internal data")
    http_server.route("/feed", redirect_to=inside.url("/secret"))
    with Client(policy(allow=("127.0.0.1/32",))) as client:
        error = fetch_error(client, http_server.url("/feed"))
    assert error.kind == "private_address"
    assert f"redirected to {inside.url('/secret')}" in str(error)
    assert inside.requests == []
    with Client(policy(allow=("127.0.0.0/8",))) as client:  # allowed: it is reached
        assert client.get(http_server.url("/feed"), max_bytes=KB).body == b"internal data"


def test_ipv6_loopback_server_when_allowed():
    try:
        server = LoopbackServer("::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        server.route("/feed", RSS)
        with Client(policy(allow=("::1/128",))) as client:
            assert client.get(server.url("/feed"), max_bytes=MB).body == RSS
        with Client(policy(allow=("127.0.0.0/8",))) as client:
            error = fetch_error(client, server.url("/feed"))
        assert error.kind == "private_address" and "refused to connect to ::1:" in str(error)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "ip, reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "this network"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:c0a8:101::1", "private"),
        ("::7f00:1", "reserved"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "IETF"),
    ],
)
def test_refused_addresses(ip, reason):
    refusal = address.refusal(ip_address(ip))
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    "ip",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(ip):
    assert address.refusal(ip_address(ip)) is None


def test_allow_list_covers_mapped_forms():
    allow = NetworkPolicy(timeout=1, user_agent="x", allow_private=("10.0.0.0/8",)).allow_private
    assert address.refusal(ip_address("10.1.2.3"), allow) is None
    assert address.refusal(ip_address("::ffff:10.1.2.3"), allow) is None
    assert address.refusal(ip_address("192.168.1.1"), allow) is not None


# -- the total deadline ------------------------------------------------------------------


def timed_error(client: Client, url: str) -> tuple[FetchError, float]:
    started = time.monotonic()
    error = fetch_error(client, url)
    return error, time.monotonic() - started


# Each case would hold a fetch for 30 s or more without a total deadline; the
# bound checked (deadline + 4 s) is loose on purpose: it tells "cut" from "not cut".
@pytest.mark.parametrize(
    "options",
    [
        {"body": b"x" * 300, "trickle": 0.1},  # a byte every 0.1 s: no single read ever times out
        {"body": RSS, "hang": "before_headers"},
        {"body": RSS, "hang": "after_headers"},
        {"body": zeros(MB, chunk=1000), "hang": "mid_body"},
        {"body": RSS, "delay": 30.0},
    ],
)
def test_slow_or_hanging_servers_are_cut_at_the_total_deadline(http_server, options):
    http_server.route("/slow", **options)
    with Client(policy(timeout=1.0)) as client:
        error, elapsed = timed_error(client, http_server.url("/slow"))
    assert error.kind == "timeout"
    assert "no complete answer within 1 s (total deadline)" in str(error)
    assert elapsed < 5.0


def test_deadline_covers_the_whole_redirect_chain(http_server):
    for i in range(5):
        http_server.route(f"/hop{i}", redirect_to=f"/hop{i + 1}", delay=0.4)
    http_server.route("/hop5", b"too late")
    with Client(policy(timeout=1.0)) as client:
        error, elapsed = timed_error(client, http_server.url("/hop0"))
    assert error.kind == "timeout"
    assert "(redirected to" in str(error)
    assert len(http_server.requests) < 5
    assert elapsed < 5.0


def test_deadline_covers_a_hanging_dns_lookup():
    release = threading.Event()

    def resolver(host, port):
        release.wait(30)
        return ["127.0.0.1"]

    try:
        with Client(policy(timeout=1.0), resolver=resolver) as client:
            error, elapsed = timed_error(client, "http://slow-dns.example/feed")
    finally:
        release.set()
    assert error.kind == "timeout"
    assert elapsed < 5.0


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_server_that_accepts_but_never_speaks_is_cut_at_the_deadline(scheme):
    with SilentListener() as silent, Client(policy(timeout=1.0)) as client:
        error, elapsed = timed_error(client, f"{scheme}://127.0.0.1:{silent.port}/feed")
    assert error.kind == "timeout"
    assert elapsed < 5.0


# -- transport failures --------------------------------------------------------------------


def test_connection_refused(loopback_client):
    url = f"http://127.0.0.1:{free_port()}/feed"
    error = fetch_error(loopback_client, url)
    assert (error.kind, error.url) == ("connection", url)
    assert "connection refused" in str(error)


def test_unknown_host(loopback_client):
    def resolver(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with Client(policy(), resolver=resolver) as client:
        error = fetch_error(client, "http://no-such-host.invalid/feed")
    assert error.kind == "connection"
    assert "cannot resolve host name no-such-host.invalid" in str(error)


def test_garbage_instead_of_http_is_a_protocol_error(http_server, loopback_client):
    def garbage(h):
        h.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        h.close_connection = True

    http_server.route_handler("/x", garbage)
    error = fetch_error(loopback_client, http_server.url("/x"))
    assert error.kind == "protocol"
    assert "not valid HTTP" in str(error)


def test_endless_headers_are_a_protocol_error(http_server, loopback_client):
    def endless(h):
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for i in range(200_000):
                h.wfile.write(b"X-Padding-%d: %s\r\n" % (i, b"a" * 100))
        except OSError:
            pass
        h.close_connection = True

    http_server.route_handler("/x", endless)
    error = fetch_error(loopback_client, http_server.url("/x"))
    assert error.kind == "protocol"


def test_server_closing_without_an_answer(http_server, loopback_client):
    def hang_up(h):
        h.close_connection = True

    http_server.route_handler("/x", hang_up)
    error = fetch_error(loopback_client, http_server.url("/x"))
    assert error.kind == "connection"
    assert "closed the connection" in str(error)


def test_body_cut_short(http_server, loopback_client):
    def short(h):
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b"only a little")
        h.close_connection = True

    http_server.route_handler("/x", short)
    error = fetch_error(loopback_client, http_server.url("/x"))
    assert error.kind == "connection"


def test_untrusted_certificate_is_a_tls_error_and_sni_is_the_host_name(make_server):
    server = make_server(tls=True)
    server.route("/feed", RSS)
    with Client(policy()) as client:
        error = fetch_error(client, f"https://localhost:{server.port}/feed")
    assert error.kind == "tls"
    assert "certificate verify failed" in str(error)
    assert server.sni_names == ["localhost"]


def test_https_through_the_guard_with_a_trusted_certificate(make_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))  # how a private CA is trusted
    server = make_server(tls=True)
    server.route("/feed", RSS)
    resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731
    with Client(policy(), resolver=resolver) as client:
        response = client.get(f"https://localhost:{server.port}/feed", max_bytes=MB)
    assert (response.status, response.body) == (200, RSS)
    assert server.sni_names == ["localhost"]
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


# -- sharing a client between threads ----------------------------------------------------------


def test_one_client_serves_many_threads_with_their_own_deadlines(http_server):
    for i in range(6):
        http_server.route(f"/ok{i}", f"body {i}".encode() * 1000)
    http_server.route("/hang", b"never comes", hang="after_headers")
    paths = ["/hang"] + [f"/ok{i}" for i in range(6)] * 3
    results: list[object] = [None] * len(paths)

    def poll(n: int) -> None:
        try:
            results[n] = client.get(http_server.url(paths[n]), max_bytes=MB).body
        except FetchError as exc:
            results[n] = exc.kind

    with Client(policy(timeout=1.5)) as client:
        threads = [threading.Thread(target=poll, args=(n,)) for n in range(len(paths))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results[0] == "timeout"
    assert results[1:] == [f"body {i}".encode() * 1000 for i in range(6)] * 3


def test_policy_validation():
    with pytest.raises(ValueError):
        NetworkPolicy(timeout=0, user_agent="x")
    with pytest.raises(ValueError):
        NetworkPolicy(timeout=1, user_agent="x", allow_private=("not a network",))
    assert (
        str(NetworkPolicy(timeout=1, user_agent="x", allow_private=("10.0.0.1/8",)).allow_private[0])
        == "10.0.0.0/8"
    )


def test_https_to_a_plain_http_port_is_a_tls_error(http_server, loopback_client):
    http_server.route("/feed", RSS)
    error = fetch_error(loopback_client, http_server.url("/feed").replace("http:", "https:"))
    assert error.kind == "tls"
    assert "plain http" in str(error)


def test_messages_never_show_a_password_in_the_url():
    port = free_port()
    with Client(policy()) as client, pytest.raises(FetchError) as info:
        client.get(f"http://reader:s3cret@127.0.0.1:{port}/feed", max_bytes=KB)
    assert "s3cret" not in str(info.value)
    assert f"http://reader:***@127.0.0.1:{port}/feed: connection refused" in str(info.value)


# -- real material -------------------------------------------------------------------------


@pytest.mark.skipif(not REAL.is_dir(), reason="shared/fixtures/real is not beside the repo")
def test_real_feeds_and_pages_arrive_byte_for_byte_in_every_coding(http_server, loopback_client):
    """Every real feed (and the real pages stored gzipped, served as a site would
    serve them) comes out of the client exactly as it went in."""
    coders = [("identity", lambda b: b), ("gzip", gzip.compress), ("deflate", zlib.compress)]
    if "br" in ACCEPT_ENCODING:
        import brotli

        coders.append(("br", lambda b: brotli.compress(b, quality=5)))
    files = sorted(p for p in (REAL / "feeds").rglob("*") if p.is_file())
    assert len(files) > 100
    for n, path in enumerate(files):
        original = path.read_bytes()
        encoding, encode = coders[n % len(coders)]
        packed = encode(original)
        http_server.route(
            f"/f{n}",
            lambda p=packed: (p[i : i + 1500] for i in range(0, len(p), 1500)),
            headers={"Content-Encoding": encoding},
            content_type="application/xml",
        )
        response = loopback_client.get(http_server.url(f"/f{n}"), max_bytes=10 * MB)
        assert response.body == original, f"{path.name} via {encoding}"
    for n, path in enumerate(sorted((REAL / "html").rglob("*.html.gz"))[:20]):
        http_server.route(
            f"/p{n}",
            path.read_bytes(),
            headers={"Content-Encoding": "gzip"},
            content_type="text/html; charset=utf-8",
        )
        response = loopback_client.get(http_server.url(f"/p{n}"), max_bytes=10 * MB)
        assert response.body == gzip.decompress(path.read_bytes())


def test_proxy_settings_in_the_environment_are_ignored(http_server, make_server, monkeypatch):
    proxy = make_server()
    proxy.route("/", b"proxied!")
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url("/"))
    http_server.route("/feed", RSS)
    with Client(policy()) as client:
        assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
    assert proxy.requests == []


def test_international_host_names_are_looked_up_and_sent_in_punycode(http_server):
    http_server.route("/haber", RSS)
    asked = []

    def resolver(host, port):
        asked.append(host)
        return ["127.0.0.1"]

    with Client(policy(), resolver=resolver) as client:
        response = client.get(f"http://gazete-türkiye.example:{http_server.port}/haber", max_bytes=MB)
    assert response.body == RSS
    assert asked == ["xn--gazete-trkiye-3ob.example"]
    assert http_server.requests[0].headers["host"] == f"xn--gazete-trkiye-3ob.example:{http_server.port}"


# -- issue 15, item 1: every Location form a server can send ----------------------------------


def _redirect_with_raw_location(raw: bytes):
    """A handler writing ``302 Location: <raw bytes>`` as is (http.server would check nothing)."""

    def answer(handler) -> None:
        handler.wfile.write(
            b"HTTP/1.1 302 Found\r\nLocation: " + raw + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        handler.close_connection = True

    return answer


# (name, raw Location, what the user must see: a FetchError kind, or None when the
# redirect leads somewhere fetchable on the same server or is no redirect at all)
LOCATION_FORMS = [
    ("mailto", b"mailto:desk@news.example", "scheme"),
    ("data", b"data:text/html;base64,PGgxPmhpPC9oMT4=", "scheme"),
    ("about-blank", b"about:blank", "scheme"),
    ("javascript", b"javascript:alert(document.cookie)", "scheme"),
    ("urn", b"urn:isbn:0451450523", "scheme"),
    ("tel", b"tel:+90-212-555-0100", "scheme"),
    ("file", b"file:///etc/passwd", "scheme"),
    ("ftp", b"ftp://127.0.0.1/feed.xml", "scheme"),
    ("http-without-slashes", b"http:feed.xml", None),
    ("relative", b"../feed.xml?page=2", None),
    ("protocol-relative-to-nowhere", b"//127.0.0.1:%d/x" % free_port(), "connection"),
    ("garbage-bytes", b"\x80\xff\xfe%%%::::", None),
    ("empty", b"", None),
    ("spaces-only", b"   ", None),
    ("spaces-inside", b"/a b/c d", None),
    ("idn", "http://bücher.invalid/".encode(), "connection"),
    ("broken-punycode", b"http://xn--/", "protocol"),
    ("emoji-host", "http://\U0001f4a9.invalid/".encode(), "protocol"),
    ("very-long", b"/" + b"a" * 100_000, "protocol"),
    ("very-long-host", b"http://" + b"a" * 300 + b".invalid/", "connection"),
    ("nul", b"/a\x00b", "protocol"),
    ("tab", b"/a\tb", "protocol"),
    ("crlf-encoded", b"/a%0d%0aSet-Cookie:%20x=1", None),
    ("port-out-of-range", b"http://127.0.0.1:99999/", "scheme"),
    ("port-huge", b"http://127.0.0.1:" + b"9" * 50 + b"/", "scheme"),
    ("port-negative", b"http://127.0.0.1:-1/", "scheme"),
    ("broken-ipv6", b"http://[::1/", "protocol"),
    ("colons", b"http://a:b:c:d/", "protocol"),
    ("backslashes", b"\\\\evil.invalid\\x", None),
]


@pytest.mark.parametrize("name, raw, kind", LOCATION_FORMS, ids=[f[0] for f in LOCATION_FORMS])
def test_item01_redirect_to_mailto_is_a_fetch_error(http_server, loopback_client, name, raw, kind):
    """Issue 15 item 1: whatever a server puts in Location, the client answers
    with a Response or a FetchError naming the URL; nothing else escapes (a
    redirect to mailto: used to raise httpx.InvalidURL and abort the poll)."""
    http_server.route_handler("/jump", _redirect_with_raw_location(raw))
    url = http_server.url("/jump")
    if kind is None:
        response = loopback_client.get(url, max_bytes=MB)
        assert response.status in (302, 404)
        return
    error = fetch_error(loopback_client, url)
    assert error.kind == kind, str(error)
    assert len(str(error)) < 1000, "a hostile Location is shown cut short"
    if kind == "scheme" and b"://" not in raw[:12] and b":" in raw:
        scheme = raw.split(b":")[0].decode()
        assert f"redirected to {scheme}:" in str(error) and "only http:// and https://" in str(error)
    # The same client goes on fetching after it.
    http_server.route("/next", RSS)
    assert loopback_client.get(http_server.url("/next"), max_bytes=MB).body == RSS
