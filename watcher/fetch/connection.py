"""The guarded network backend under httpx: resolve, check, connect, keep to the deadline.

httpx's connection pools (httpcore) open their sockets through
``GuardedBackend``, which resolves host names itself (``lookup``), connects only
to addresses that pass ``address.refusal``, checks the connected peer again, and
wraps every socket in a ``GuardedStream`` whose reads and writes wait at most
for the time left before the request's total deadline. With a proxy, the one
connection made is to the proxy, and ``check_target`` checks each target first.

The pools keep connections alive between requests, keyed by scheme, host
name and port (httpcore's origin): a kept connection is only ever used again
for that same origin, so it still goes to the address the guard approved
for that host name when it was opened; another host name (even one whose
DNS answer now names the same or a forbidden address) gets a connection of
its own, resolved and checked here.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Network, IPv6Network

import httpcore

from watcher.errors import WatcherError
from watcher.fetch import address
from watcher.fetch.lookup import Deadlines, Lookups, LookupTimeout


class Refused(WatcherError):
    """The address connected to (or a target's address) is refused by the guard."""


class Unresolvable(WatcherError):
    """The host name has no usable address."""


class ProxyUnreachable(WatcherError):
    """The configured proxy cannot be connected to."""


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to checked addresses. With a proxy, the one connection made is
    to the proxy (configured by the operator, so not checked), and the targets are
    checked by ``check_target`` before their requests are handed to it."""

    def __init__(
        self,
        allow: Sequence[IPv4Network | IPv6Network],
        deadlines: Deadlines,
        lookups: Lookups,
        *,
        proxy: tuple[str, int] | None = None,
    ) -> None:
        self._allow = tuple(allow)
        self._deadlines = deadlines
        self._lookups = lookups
        self._proxy = proxy
        self._inner = httpcore.SyncBackend()
        self._made = threading.local()  # connections this thread opened (``opened``)

    def opened(self) -> int:
        """How many connections the calling thread has opened so far: a request
        after which it is unchanged went out on a kept-alive connection."""
        return getattr(self._made, "count", 0)

    def _count(self) -> None:
        self._made.count = getattr(self._made, "count", 0) + 1

    def check_target(self, host: str, port: int, wait: float) -> None:
        """Refuse a target (reached through the proxy) that this machine's DNS places
        on a refused address: every address it resolves to must pass. A name this
        machine cannot resolve is left to the proxy, which resolves it itself."""
        try:
            candidates = self._resolve(host, port, wait)
        except Unresolvable:
            return
        for ip in candidates:
            reason = address.refusal(ip, self._allow)
            if reason is not None:
                raise Refused(refusal_message(host, ip, reason))

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        if self._proxy is not None:
            return self._connect_proxy(host, port, timeout, local_address, socket_options)
        candidates = self._resolve(host, port, timeout)
        allowed = [ip for ip in candidates if address.refusal(ip, self._allow) is None]
        if not allowed:
            refused = [(ip, reason) for ip in candidates if (reason := address.refusal(ip, self._allow))]
            raise Refused(refusal_message(host, *refused[0]))
        failure: Exception | None = None
        for ip in allowed:
            try:
                stream = self._inner.connect_tcp(
                    str(ip),
                    port,
                    self._deadlines.bound(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            self._check_peer(host, stream)
            self._count()
            return GuardedStream(stream, self._deadlines)
        assert failure is not None  # allowed is not empty: every address failed
        raise failure

    def _connect_proxy(
        self, host: str, port: int, timeout: float | None, local_address: str | None, socket_options
    ) -> httpcore.NetworkStream:
        if (host, port) != self._proxy:  # never: the proxy pools only connect to the proxy
            raise Refused(f"refused to connect to {host}:{port} around the configured proxy")
        try:
            candidates = self._resolve(host, port, timeout)
        except Unresolvable as exc:
            raise ProxyUnreachable(f"cannot reach the proxy: {exc}") from None
        failure: Exception | None = None
        for ip in candidates:
            try:
                stream = self._inner.connect_tcp(
                    str(ip),
                    port,
                    self._deadlines.bound(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            self._count()
            return GuardedStream(stream, self._deadlines)
        raise ProxyUnreachable(
            f"cannot connect to the proxy {host}:{port} ({first_message(list(exception_chain(failure)))})"
        )

    def _resolve(self, host: str, port: int, timeout: float | None) -> list[address.IPAddress]:
        literal = address.parse(host)
        if literal is not None:
            return [literal]
        wait = self._deadlines.bound(timeout, httpcore.ConnectTimeout)
        try:
            answers = self._lookups.resolve(host, port, wait)
        except LookupTimeout as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"cannot resolve host name {host} ({exc})") from None
        ips = [ip for ip in map(address.parse, answers) if ip is not None]
        if not ips:
            raise Unresolvable(f"cannot resolve host name {host} (no addresses)")
        return ips

    def _check_peer(self, host: str, stream: httpcore.NetworkStream) -> None:
        sock = stream.get_extra_info("socket")
        peer = address.parse(sock.getpeername()[0]) if sock is not None else None
        reason = address.refusal(peer, self._allow) if peer is not None else "unknown address"
        if reason is not None:
            stream.close()
            raise Refused(refusal_message(host, peer, reason))

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def refusal_message(host: str, ip: object, reason: str) -> str:
    named = "" if address.parse(host) == ip else f" ({host})"
    return (
        f"refused to connect to {ip}{named}: {reason}; if this server is meant to be "
        f"reached, add it to network.allow_private"
    )


class GuardedStream(httpcore.NetworkStream):
    """A socket stream whose every wait is cut to the time left before the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadlines: Deadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadlines.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadlines.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._deadlines.bound(timeout, httpcore.ConnectTimeout)
        )
        return GuardedStream(inner, self._deadlines)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def first_message(chain: list[BaseException]) -> str:
    for e in reversed(chain):  # the root cause says most
        if str(e):
            return str(e)
    return type(chain[0]).__name__
