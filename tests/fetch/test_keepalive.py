"""Kept-alive connections of the guarded client, against real loopback servers:
what a server (and so a user's outlet) sees is fewer connections, and a kept
connection never weakens the address guard."""

from __future__ import annotations

import threading
import time

import pytest
from httpserver import TEST_USER_AGENT, LoopbackServer

from watcher.fetch.client import Client, FetchError, NetworkPolicy

MB = 1024 * 1024
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def policy(*, allow=("127.0.0.0/8",), per_host: int | None = None) -> NetworkPolicy:
    return NetworkPolicy(timeout=5.0, user_agent=TEST_USER_AGENT, allow_private=allow, per_host=per_host)


def answer(h, body: bytes = RSS, *, close: bool = False) -> None:
    """A complete answer with a Content-Length; ``close``: then the server drops
    the connection without saying so (as servers do with idle kept connections)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)
    h.wfile.flush()
    h.close_connection = close


def second_on_a_connection(misbehave):
    """A handler that answers the first request on each connection and calls
    ``misbehave(h)`` for any later one on the same connection."""

    def handle(h) -> None:
        served = getattr(h, "served", 0)
        h.served = served + 1
        if served:
            misbehave(h)
        else:
            answer(h)

    return handle


def test_conditional_gets_to_one_host_share_one_connection(http_server: LoopbackServer):
    http_server.route("/feed", RSS, etag='"v1"')
    http_server.route("/other", RSS, etag='"v2"')
    http_server.route("/old", redirect_to="/feed")
    with Client(policy()) as client:
        assert client.get(http_server.url("/feed"), max_bytes=MB).status == 200
        for _ in range(3):
            assert client.get(http_server.url("/feed"), max_bytes=MB, etag='"v1"').status == 304
        assert client.get(http_server.url("/other"), max_bytes=MB, etag='"v2"').status == 304
        assert client.get(http_server.url("/old"), max_bytes=MB).body == RSS
    assert len(http_server.requests) == 7
    assert http_server.accepted == 1


def test_a_server_that_drops_idle_connections_is_handled(http_server: LoopbackServer):
    http_server.route_handler("/feed", lambda h: answer(h, close=True))
    with Client(policy()) as client:
        for _ in range(3):
            assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
    assert len(http_server.requests_for("/feed")) == 3
    assert http_server.accepted == 3


def test_a_kept_connection_closed_as_the_request_arrives_is_tried_once_more(http_server: LoopbackServer):
    """The race every keep-alive client meets: the server closes the connection
    just as the next request goes out on it, without answering."""

    def hang_up(h) -> None:
        h.close_connection = True

    http_server.route_handler("/feed", second_on_a_connection(hang_up))
    with Client(policy()) as client:
        assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
        assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
    assert len(http_server.requests_for("/feed")) == 3  # the second one went out twice
    assert http_server.accepted == 2


def test_garbage_on_a_kept_connection_is_tried_once_on_a_new_one(http_server: LoopbackServer):
    def garbage(h) -> None:
        h.wfile.write(b"\x16\x03\x01 this is no HTTP\r\n\r\n")
        h.close_connection = True

    http_server.route_handler("/feed", second_on_a_connection(garbage))
    with Client(policy()) as client:
        assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
        assert client.get(http_server.url("/feed"), max_bytes=MB).body == RSS
    assert http_server.accepted == 2


def test_a_server_that_always_sends_garbage_gets_at_most_one_retry(http_server: LoopbackServer):
    def garbage(h) -> None:
        h.wfile.write(b"SPAM SPAM SPAM\r\n\r\n")
        h.close_connection = True

    http_server.route("/ok", RSS)
    http_server.route_handler("/bad", garbage)
    with Client(policy()) as client:
        client.get(http_server.url("/ok"), max_bytes=MB)  # leaves a kept connection
        with pytest.raises(FetchError) as first:
            client.get(http_server.url("/bad"), max_bytes=MB)
        assert len(http_server.requests_for("/bad")) == 2  # on the kept connection, then a new one
        with pytest.raises(FetchError):
            client.get(http_server.url("/bad"), max_bytes=MB)
        assert len(http_server.requests_for("/bad")) == 3  # a new connection: no retry
    assert first.value.kind == "protocol"
    assert "not valid HTTP" in str(first.value)


def test_a_kept_connection_is_never_used_for_another_host(http_server: LoopbackServer):
    """a.example was approved (127.0.0.1) and its connection kept; then DNS says
    a forbidden address for b.example (and a.example). A request to b.example
    is refused, not sent over a.example's connection to the same server; the
    kept connection still serves a.example, at the address approved for it."""
    http_server.route("/feed", RSS)
    http_server.route("/away", redirect_to=f"http://b.example:{http_server.port}/feed")
    answers = {"a.example": ["127.0.0.1"]}
    with Client(policy(allow=("127.0.0.1/32",)), resolver=lambda host, port: answers[host]) as client:
        a = f"http://a.example:{http_server.port}"
        assert client.get(f"{a}/feed", max_bytes=MB).body == RSS
        answers.update({"a.example": ["10.1.2.3"], "b.example": ["10.1.2.3"]})
        refused = pytest.raises(FetchError)
        with refused as direct:
            client.get(f"http://b.example:{http_server.port}/feed", max_bytes=MB)
        with pytest.raises(FetchError) as redirected:
            client.get(f"{a}/away", max_bytes=MB)
        assert client.get(f"{a}/feed", max_bytes=MB).body == RSS
    assert direct.value.kind == redirected.value.kind == "private_address"
    assert "10.1.2.3 (b.example): private address" in str(direct.value)
    assert {r.headers["host"] for r in http_server.requests} == {f"a.example:{http_server.port}"}
    assert http_server.accepted == 1


def test_kept_connections_stay_within_per_host(http_server: LoopbackServer):
    """Four threads, twenty requests to one host with ``per_host = 2``: never
    more than two connections, each used again."""
    http_server.route("/feed", RSS, etag='"v1"')
    failures: list[BaseException] = []
    with Client(policy(per_host=2)) as client:

        def poll() -> None:
            try:
                for _ in range(5):
                    assert client.get(http_server.url("/feed"), max_bytes=MB, etag='"v1"').status == 304
            except BaseException as exc:  # shown by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=poll) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
    assert len(http_server.requests_for("/feed")) == 20
    assert 1 <= http_server.accepted <= 2


def test_a_request_that_waited_for_its_host_s_slot_still_has_its_whole_timeout(http_server: LoopbackServer):
    """``per_host = 1``, two requests at once to a host that takes 1.5 s to answer, a
    2.5 s timeout, within a poll's deadline of a minute: the second waits for the
    first, then has its own 2.5 s (it used to have what the wait left: 1 s, and
    failed as 'no complete answer within 2.5 s')."""
    http_server.route("/slow", RSS, delay=1.5)
    answers: list[object] = []
    slow = NetworkPolicy(timeout=2.5, user_agent=TEST_USER_AGENT, allow_private=("127.0.0.0/8",), per_host=1)
    with Client(slow) as client:
        deadline = time.monotonic() + 60

        def fetch() -> None:
            try:
                answers.append(client.get(http_server.url("/slow"), max_bytes=MB, deadline=deadline).status)
            except FetchError as exc:
                answers.append(str(exc))

        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == [200, 200]
