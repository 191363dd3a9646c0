"""Shared fixtures. Each area may add its own below, in its own block."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from alerts_support import Mailbox, Webhook
from httpserver import TEST_USER_AGENT, LoopbackServer

from watcher.fetch.client import Client, NetworkPolicy

# <fixtures: client> -------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A real HTTP/1.1 server on 127.0.0.1 (ephemeral port), stopped after the test."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def server(http_server: LoopbackServer) -> LoopbackServer:
    """The loopback HTTP server the pipeline, daemon and CLI tests publish feeds on."""
    return http_server


@pytest.fixture
def make_server() -> Iterator[Callable[..., LoopbackServer]]:
    """``make_server(host="127.0.0.2", tls=False)``: more servers, all stopped after the test."""
    servers: list[LoopbackServer] = []

    def make(host: str = "127.0.0.1", *, tls: bool = False) -> LoopbackServer:
        server = LoopbackServer(host, tls=tls).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def loopback_policy() -> NetworkPolicy:
    """A policy that may reach the loopback test servers (everything else is still guarded)."""
    return NetworkPolicy(timeout=5.0, user_agent=TEST_USER_AGENT, allow_private=("127.0.0.0/8",))


@pytest.fixture
def loopback_client(loopback_policy: NetworkPolicy) -> Iterator[Client]:
    """A real ``Client`` allowed to reach 127.0.0.0/8."""
    with Client(loopback_policy) as client:
        yield client


# </fixtures: client> ------------------------------------------------------


# -- alerts: a loopback webhook endpoint and SMTP server ---------------------


@pytest.fixture
def hook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


@pytest.fixture
def hooks() -> Iterator[list[Webhook]]:
    servers = [Webhook(), Webhook()]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    server = Mailbox()
    yield server
    server.close()
