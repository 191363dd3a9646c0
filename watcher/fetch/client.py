"""The guarded HTTP client: the one module that imports httpx (httpcore, httpx's
own transport layer, also in ``connection``, the network backend under it).

Every fetch of a feed or a page goes through ``Client.get``, which

* refuses anything but http:// and https://, and follows redirects itself
  (at most ``max_redirects``), checking every hop;
* resolves host names itself and connects only to addresses that pass
  ``address.refusal`` (no loopback, private, link-local, ... unless
  ``allow_private`` covers them); the connected socket's peer is checked again,
  so a DNS answer that changes between look-ups cannot slip through, while
  TLS SNI and the Host header still carry the host name;
* holds a TOTAL wall-clock deadline for DNS, connect, TLS, headers, every
  redirect and every body read (each socket operation waits at most for the
  time left), so a server that trickles or hangs is cut at the deadline;
* caps the raw and the decoded body (``max_bytes``), refusing early on a large
  Content-Length and stopping a decompression bomb as soon as it passes the cap;
* returns HTTP error statuses as a ``Response`` and raises ``FetchError`` with a
  ``kind`` and a message naming the URL for everything else.

* turns EVERY exception raised while building, sending or following a
  request (a redirect to ``mailto:``, ``data:``, an IDN that does not encode,
  a port out of range, ...) into a ``FetchError``: one bad link can never
  abort the caller.

One ``Client`` may be shared by several threads (the deadline is per thread).
Cookies are never kept, and proxy/netrc settings from the environment are
ignored; ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are honoured for private CAs.
An explicit ``NetworkPolicy.proxy`` (http://, https://, socks5://, socks5h://)
carries every request; the private-network guard then checks the TARGET (what
this machine's DNS says about its host name, every address of it) before the
request goes to the proxy, and the proxy's own address is the one exempt.
With ``NetworkPolicy.per_host``, at most that many requests go to one host at
once (``hosts.HostSlots``, shared by every thread using this client); a
request may also be given a ``deadline`` of its own (the end of its poll).

Requests go straight to httpx's connection pool (httpcore, on the guarded
backend, see ``connection``): httpx parses and joins the URLs and decodes the
headers, but no ``httpx.Request``/``httpx.Response`` is built around each
request. Connections are kept alive and used again for the same scheme, host
and port: at most ``POOL_CONNECTIONS`` open, ``POOL_IDLE`` idle ones kept,
each for at most ``IDLE_EXPIRY`` seconds, all closed by ``close``. A GET that fails because
the server closed (or broke) a kept connection just as the request went out
is sent once more, on a new connection; never more than once.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Literal, TypeVar, overload

import httpcore
import httpx

from watcher.errors import FetchError, WatcherError
from watcher.fetch.connection import (
    GuardedBackend,
    ProxyUnreachable,
    Refused,
    Unresolvable,
    exception_chain,
    first_message,
)
from watcher.fetch.decompression import ACCEPT_ENCODING, CorruptBody, Decoder, TooLarge
from watcher.fetch.hosts import HostSlots, NoSlot, host_of
from watcher.fetch.lookup import DNS_SLOTS, Deadlines, Lookups, Resolver, system_resolve
from watcher.fetch.policy import NetworkPolicy
from watcher.fetch.response import Response, parse_retry_after

__all__ = ["Client", "FetchError", "NetworkPolicy", "Response", "parse_retry_after"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
DEFAULT_ACCEPT = "*/*"

_SHOWN_URL = 300  # characters of a hostile Location shown in a message

POOL_CONNECTIONS = 100  # connections open at once (requests beyond wait for one)
POOL_IDLE = 20  # idle kept-alive connections kept
IDLE_EXPIRY = 5.0  # seconds an idle connection is kept
_URLS = 1024  # parsed URLs remembered (a feed's URL is parsed once, not at every poll)
K = TypeVar("K")
V = TypeVar("V")

# What a kept-alive connection the server closed, or broke, gives on the next request.
_STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)


class Client:
    """Fetches URLs under a ``NetworkPolicy``. Use as a context manager or call ``close``.

    ``clock`` (aware UTC) is used for a Retry-After date only when the answer
    has no Date header; ``resolver(host, port) -> [ip, ...]`` replaces the
    system resolver (tests)."""

    def __init__(
        self,
        policy: NetworkPolicy,
        *,
        clock: Callable[[], datetime] | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self.hosts = HostSlots(policy.per_host) if policy.per_host else None
        self._deadlines = Deadlines()
        lookups = Lookups(resolver or system_resolve, DNS_SLOTS)
        proxy = httpx.Proxy(policy.proxy) if policy.proxy else None
        self._backend = GuardedBackend(
            policy.allow_private, self._deadlines, lookups, proxy=_origin(proxy.url) if proxy else None
        )
        # Requests go straight to the transport: httpx.Client.send would build the
        # next request of a redirect itself and raise on a Location it cannot use.
        self._transport = _Transport(self._backend, proxy)
        self._urls: dict[str, _Target] = {}
        self._hosts: dict[str, str] = {}  # url -> host_of(url), for the host slots
        self._accepts: dict[str | None, bytes | None] = {}  # Accept values, as sent
        self._fixed = {  # the headers every GET sends, as bytes once
            "User-Agent": _header_value(policy.user_agent),
            "Accept-Encoding": _header_value(ACCEPT_ENCODING),
        }

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        deadline: float | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        """The answer at ``url`` (any HTTP status); a ``FetchError`` for anything else.

        ``deadline`` (a ``time.monotonic()`` time, e.g. the end of the poll the
        request belongs to) cuts the request's own ``timeout`` shorter. With
        ``per_host``, the request first waits for a slot of its host: until
        ``deadline``, and its own ``timeout`` starts once it has the slot
        (without a ``deadline``, the wait is part of its ``timeout``).
        ``headers`` (a source's own: a cookie, a token, a User-Agent) go with
        the request to ``url``'s host only: a redirect to another host drops
        them, as a browser drops credentials."""
        try:
            return self._limited(url, max_bytes, etag, last_modified, accept, deadline, tuple(headers))
        except FetchError:
            raise
        except Exception as exc:  # the last resort: one bad URL is this URL's error
            raise FetchError("protocol", str(url), f"cannot be fetched ({_describe(exc)})") from None

    def post(self, url: str, body: bytes, *, content_type: str, max_bytes: int = 64 * 1024) -> Response:
        """POST ``body`` to ``url`` once, under the same guard and total deadline
        (a structured webhook). No redirect is followed: a 3xx comes back as the
        answer. A ``FetchError`` for anything below HTTP."""
        deadline = time.monotonic() + self._policy.timeout
        headers = {
            "User-Agent": self._fixed["User-Agent"],
            "Content-Type": _header_value(content_type),
            "Accept": b"application/json, */*;q=0.5",
            "Content-Length": str(len(body)).encode("ascii"),
        }
        try:
            with self._deadlines.until(deadline), _Translated(url, url, self._policy.timeout):
                target = _Target(_checked_url(url, url))
                if self._policy.proxy:
                    self._backend.check_target(
                        target.url.raw_host.decode("ascii"), _port(target.url), self._policy.timeout
                    )
                request = _request(b"POST", target, headers, self._policy.timeout, body)
                response = self._exchange(request, again=False)
                try:
                    return self._response(url, response, _read_body(response, max_bytes, deadline))
                finally:
                    response.close()
        except FetchError:
            raise
        except Exception as exc:  # the last resort, as for get()
            raise FetchError("protocol", str(url), f"cannot be posted to ({_describe(exc)})") from None

    def _limited(
        self,
        url: str,
        max_bytes: int,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        deadline: float | None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        own = time.monotonic() + self._policy.timeout
        until, cut = _until(url, own, deadline)
        if self.hosts is None:
            return self._get(url, max_bytes, etag, last_modified, accept, until, cut, extra)
        host = _remembered(self._hosts, url, host_of)
        try:
            # Without a deadline of the caller's the wait is part of the request's own
            # timeout; with one (a poll's), it may take up to that deadline, and the
            # request's own timeout starts once it has its slot: a request that only
            # waited behind a slow one is not cut short for it.
            self.hosts.take(host, until if deadline is None else deadline)
        except NoSlot as exc:
            raise FetchError(
                "timeout",
                str(url),
                f"{self.hosts.per_host} request(s) to {exc} were still under way at the "
                "deadline ([network] per_host)",
            ) from None
        try:
            if deadline is not None:
                until, cut = _until(url, time.monotonic() + self._policy.timeout, deadline)
            return self._get(url, max_bytes, etag, last_modified, accept, until, cut, extra)
        finally:
            self.hosts.give_back(host)

    def _get(
        self,
        url: str,
        max_bytes: int,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        deadline: float,
        cut: bool = False,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        headers = self._headers(etag, last_modified, accept)
        own, origin = headers, ""
        if extra:
            given = {n: _header_value(v) for n, v in extra}
            names = {n.lower() for n in given}
            own = {k: v for k, v in headers.items() if k.lower() not in names}
            own.update({n: v for n, v in given.items() if v})
            origin = host_of(url)
        current = url
        previous = self._deadlines.set(deadline)
        try:
            for _ in range(self._policy.max_redirects + 1):
                sent = own if extra and host_of(current) == origin else headers
                result = self._hop(url, current, sent, max_bytes, deadline, cut)
                if isinstance(result, Response):
                    return result
                current = result
        finally:
            self._deadlines.set(previous)
        raise FetchError(
            "redirects",
            url,
            f"more than {self._policy.max_redirects} redirects (the last one to {current}); giving up",
        )

    def _headers(self, etag: str | None, last_modified: str | None, accept: str | None) -> dict:
        sent_accept = _remembered(
            self._accepts, accept, lambda accept: _header_value(accept or DEFAULT_ACCEPT)
        )
        headers = {
            "User-Agent": self._fixed["User-Agent"],
            "Accept": sent_accept,
            "Accept-Encoding": self._fixed["Accept-Encoding"],
        }
        if etag and (value := _header_value(etag)):
            headers["If-None-Match"] = value
        if last_modified and (value := _header_value(last_modified)):
            headers["If-Modified-Since"] = value
        return {k: v for k, v in headers.items() if v}

    def _url(self, url: str, hop: str) -> _Target:
        """``hop`` parsed and checked (``_checked_url``), remembered for the next poll."""
        return _remembered(self._urls, hop, lambda hop: _Target(_checked_url(url, hop)))

    def _exchange(self, request: httpcore.Request, *, again: bool) -> _Answer:
        """The answer's head; with ``again``, a request that failed on a kept-alive
        connection (the server closed it, or sent garbage on it) goes out once more
        on a new one."""
        opened = self._backend.opened()
        try:
            return _Answer(self._transport.pool.handle_request(request))
        except _STALE:
            if not again or self._backend.opened() != opened:  # it was a new connection
                raise
        self._transport.drop_idle(request.url.origin)  # its idle siblings are likely closed too
        return _Answer(self._transport.pool.handle_request(request))

    def _hop(
        self, url: str, current: str, headers: dict, max_bytes: int, deadline: float, cut: bool = False
    ) -> Response | str:
        """One request to ``current``: a Response, or the next URL to go to."""
        with _Translated(url, current, self._policy.timeout, cut):
            target = self._url(url, current)
            hop = target.url
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx.TimeoutException("total deadline reached between redirects")
            if self._policy.proxy:
                self._backend.check_target(hop.raw_host.decode("ascii"), _port(hop), remaining)
            request = _request(b"GET", target, headers, remaining)
            response = self._exchange(request, again=True)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    _drain_small(response)
                    return _joined(url, hop, location)
                body = _read_body(response, max_bytes, deadline)
                return self._response(current, response, body)
            finally:
                response.close()  # its connection goes back to the pool when it was read to its end

    def _response(self, current: str, response: _Answer, body: bytes) -> Response:
        h = response.headers
        retry_after = None
        if response.status_code in RETRY_AFTER_STATUSES and "retry-after" in h:
            retry_after = parse_retry_after(h["retry-after"], date=h.get("date"), clock=self._clock)
        return Response(
            url=current,
            status=response.status_code,
            headers=h.items,
            body=body,
            content_type=h.get("content-type"),
            etag=h.get("etag"),
            last_modified=h.get("last-modified"),
            retry_after=retry_after,
        )


def _until(url: str, own: float, deadline: float | None) -> tuple[float, bool]:
    """A request's deadline: its own (``own``), cut to the caller's ``deadline``
    (and whether it was cut); a FetchError when that has passed already."""
    until = min(own, deadline) if deadline is not None else own
    if until <= time.monotonic():
        raise FetchError("timeout", str(url), "not requested: the poll's deadline was reached")
    return until, deadline is not None and deadline < own


def _remembered(cache: dict[K, V], key: K, make: Callable[[K], V]) -> V:
    """``make(key)``, kept in ``cache`` for the next call (at most ``_URLS``
    values: past that the cache starts again)."""
    try:
        return cache[key]
    except KeyError:
        value = make(key)  # may raise: nothing is kept
        if len(cache) >= _URLS:
            cache.clear()
        cache[key] = value
        return value


def _header_value(value: str | None) -> bytes | None:
    """A header value as bytes (UTF-8, as servers send non-ASCII ETags), or None
    when absent or unsafe (a line break or NUL would split the request)."""
    if not value or "\r" in value or "\n" in value or "\0" in value:
        return None
    return value.encode("utf-8")


# --- URLs -------------------------------------------------------------------


def _checked_url(url: str, hop: str) -> httpx.URL:
    via = "" if hop == url else f"redirected to {_shown(hop)}, which "
    try:
        parsed = httpx.URL(hop)
        scheme, host, port = parsed.scheme, parsed.raw_host.decode("ascii"), parsed.port
    except Exception as exc:  # InvalidURL, IDNAError, UnicodeError, ...
        raise FetchError("scheme", url, f"{via}is not a valid URL ({_describe(exc)})") from None
    if scheme not in ("http", "https"):
        named = f"{scheme}:" if scheme else "a URL without a scheme"
        raise FetchError(
            "scheme", url, f"{via}uses {named}; only http:// and https:// URLs are fetched"
        ) from None
    if not host:
        raise FetchError("scheme", url, f"{via}has no host name") from None
    if port is not None and not 0 < port < 65536:
        raise FetchError("scheme", url, f"{via}has port {port}, which is not a TCP port (1-65535)")
    return parsed


def _joined(url: str, hop: httpx.URL, location: str) -> str:
    try:
        return str(hop.join(location.strip()))
    except Exception as exc:  # InvalidURL, IDNAError, UnicodeError, ...
        raise FetchError(
            "protocol", url, f"{hop} redirects to an invalid Location {_shown(location)!r} ({_describe(exc)})"
        ) from None


def _shown(text: str) -> str:
    """A URL or Location for a message: at most _SHOWN_URL characters."""
    return text if len(text) <= _SHOWN_URL else text[:_SHOWN_URL] + "…"


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return _shown(message) if message else type(exc).__name__


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _origin(url: httpx.URL) -> tuple[str, int]:
    """(host, port) as the network backend is asked to connect to them."""
    return url.raw_host.decode("ascii"), url.port or {"https": 443, "http": 80}.get(url.scheme, 1080)


# --- the body -----------------------------------------------------------------


def _read_body(response: _Answer, max_bytes: int, deadline: float) -> bytes:
    if response.status_code in (204, 304):  # no body, whatever Content-Length says:
        for _ in response.iter_raw():  # read to its end, so the connection is kept for the next request
            pass
        return b""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _BodyTooLarge(
            f"the server announces {int(declared):,} bytes (Content-Length), "
            f"more than the {max_bytes:,}-byte limit"
        )
    decoder = Decoder(response.headers.get("content-encoding"), max_bytes)
    parts, received = [], 0
    try:
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > max_bytes:
                raise _BodyTooLarge(f"the body is larger than the {max_bytes:,}-byte limit")
            parts.append(decoder.feed(chunk))
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"body incomplete ({received:,} bytes so far)")
        parts.append(decoder.finish())
    except TooLarge:
        raise _BodyTooLarge(
            f"the body decompresses ({response.headers.get('content-encoding')}) "
            f"to more than the {max_bytes:,}-byte limit"
        ) from None
    return b"".join(parts)


def _drain_small(response: _Answer, limit: int = 64 * 1024) -> None:
    """Reads a short redirect body so the connection can be reused; larger ones are dropped."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= limit:
        for _ in response.iter_raw():  # raw: never decompressed
            pass


class _BodyTooLarge(WatcherError):
    pass


# --- errors -------------------------------------------------------------------


class _Translated:
    """Turns every transport failure inside the block into a FetchError naming ``url``."""

    __slots__ = ("url", "current", "timeout", "cut")

    def __init__(self, url: str, current: str, timeout: float, cut: bool = False) -> None:
        self.url, self.current, self.timeout, self.cut = url, current, timeout, cut

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, FetchError):
            return False
        raise _translation(exc, self.url, self.current, self.timeout, self.cut) from None


def _translation(exc: Exception, url: str, current: str, timeout: float, cut: bool) -> FetchError:
    via = "" if current == url else f"(redirected to {current}) "
    if isinstance(exc, Refused):
        return FetchError("private_address", url, f"{via}{exc}")
    if isinstance(exc, Unresolvable):
        return FetchError("connection", url, f"{via}{exc}")
    if isinstance(exc, _BodyTooLarge):
        return FetchError("too_large", url, f"{via}{exc}")
    if isinstance(exc, CorruptBody):
        return FetchError("protocol", url, f"{via}{exc}")
    if isinstance(exc, (httpx.TimeoutException, httpcore.TimeoutException)):
        if cut:
            return FetchError("timeout", url, f"{via}no complete answer before the poll's deadline")
        return FetchError("timeout", url, f"{via}no complete answer within {timeout:g} s (total deadline)")
    if isinstance(exc, ProxyUnreachable):
        return FetchError("connection", url, f"{via}{exc}")
    if isinstance(exc, (httpx.HTTPError, *_HTTPCORE_ERRORS, OSError)):
        kind, detail = _classified(exc)
        return FetchError(kind, url, f"{via}{detail}")
    # e.g. IDNAError for a host name that does not encode
    return FetchError("protocol", url, f"{via}cannot be fetched ({_describe(exc)})")


def _classified(exc: BaseException) -> tuple[str, str]:
    chain = list(exception_chain(exc))
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            return "tls", f"TLS failed: certificate verify failed ({tls.verify_message})"
        reason = getattr(tls, "reason", None) or str(tls)
        hint = " (does this port speak plain http?)" if reason == "WRONG_VERSION_NUMBER" else ""
        return "tls", f"TLS failed: {reason}{hint}"
    proxy = next((e for e in chain if isinstance(e, (httpx.ProxyError, httpcore.ProxyError))), None)
    if proxy is not None:
        return "connection", f"the proxy refused the request ({first_message([proxy])})"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection", "connection refused (nothing listens on that port?)"
    message = first_message(chain)
    if "disconnected" in message or "closed connection" in message:
        return "connection", f"the server closed the connection early ({message})"
    if any(isinstance(e, (httpx.ProtocolError, httpcore.ProtocolError)) for e in chain):
        return "protocol", f"the server's answer is not valid HTTP ({message})"
    if any(
        isinstance(e, (httpx.UnsupportedProtocol, httpcore.UnsupportedProtocol, httpx.InvalidURL))
        for e in chain
    ):
        return "scheme", f"cannot be fetched ({message})"
    if any(
        isinstance(e, (httpx.ReadError, httpx.WriteError, httpcore.ReadError, httpcore.WriteError))
        for e in chain
    ):
        return "connection", f"connection lost ({message})"
    return "connection", f"cannot connect ({message})"


# --- transport ------------------------------------------------------------------


class _Transport(httpx.HTTPTransport):
    """httpx's transport with its connection pool (direct, or through the proxy)
    on the guarded backend (httpx has no public hook for the network backend).
    Nothing here keeps cookies: feeds must not track us."""

    def __init__(self, backend: GuardedBackend, proxy: httpx.Proxy | None) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=True)
        super().__init__(verify=ssl_context, trust_env=False)
        if proxy is None:
            self._pool = httpcore.ConnectionPool(
                ssl_context=ssl_context,
                network_backend=backend,
                max_connections=POOL_CONNECTIONS,
                max_keepalive_connections=POOL_IDLE,
                keepalive_expiry=IDLE_EXPIRY,
            )
            return
        proxy_url = httpcore.URL(
            scheme=proxy.url.raw_scheme,
            host=proxy.url.raw_host,
            port=proxy.url.port,
            target=proxy.url.raw_path,
        )
        if proxy.url.scheme in ("http", "https"):
            self._pool = httpcore.HTTPProxy(
                proxy_url=proxy_url,
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                proxy_ssl_context=proxy.ssl_context,
                network_backend=backend,
                max_connections=POOL_CONNECTIONS,
                max_keepalive_connections=POOL_IDLE,
                keepalive_expiry=IDLE_EXPIRY,
            )
        else:
            self._pool = httpcore.SOCKSProxy(
                proxy_url=proxy_url,
                proxy_auth=proxy.raw_auth,
                ssl_context=ssl_context,
                network_backend=backend,
                max_connections=POOL_CONNECTIONS,
                max_keepalive_connections=POOL_IDLE,
                keepalive_expiry=IDLE_EXPIRY,
            )

    @property
    def pool(self) -> httpcore.ConnectionPool:
        """The connection pool itself: requests go to it directly (an httpx.Request
        and httpx.Response around each would only cost time)."""
        return self._pool

    def drop_idle(self, origin: httpcore.Origin) -> None:
        """Close the idle kept-alive connections to ``origin`` (so the next
        request to it opens a new one)."""
        for connection in self._pool.connections:
            if connection.is_idle() and connection.can_handle_request(origin):
                connection.close()


_HTTPCORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class _Target:
    """A URL as requested: parsed and checked once (``Client._url``), and as
    httpcore takes it, made at its first request."""

    __slots__ = ("url", "core", "host")

    def __init__(self, url: httpx.URL) -> None:
        self.url = url
        self.core: httpcore.URL | None = None
        self.host = b""  # the Host header

    def request_url(self) -> httpcore.URL:
        if self.core is None:
            url = self.url
            url.host  # noqa: B018 - as httpx.Request: an IDN that does not decode is refused here
            self.host = url.netloc
            self.core = httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            )
        return self.core


def _request(
    method: bytes,
    target: _Target,
    headers: dict[str, bytes | None],
    timeout: float,
    body: bytes | None = None,
) -> httpcore.Request:
    """The request as httpcore sends it (with the Host header httpx would add)."""
    url = target.request_url()
    return httpcore.Request(
        method,
        url,
        headers=[(b"Host", target.host)] + [(k.encode("ascii"), v) for k, v in headers.items() if v],
        content=body,
        extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
    )


class _Answer:
    """httpcore's answer with what this module reads of it: the status, the
    headers (decoded as httpx decodes them) and the raw body."""

    __slots__ = ("_raw", "headers", "status_code")

    def __init__(self, raw: httpcore.Response) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.headers = _Headers(raw.headers)

    def iter_raw(self) -> Iterator[bytes]:
        """The body as received (never decompressed)."""
        return self._raw.iter_stream()

    def close(self) -> None:
        self._raw.close()


class _Headers:
    """An answer's headers as httpx's ``Headers`` reads them, without building
    one per answer: names in lower case, names and values decoded as ASCII,
    else UTF-8 when all of them are, else ISO-8859-1; several values of one
    name joined by ", "."""

    __slots__ = ("items",)

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        if all(k.isascii() and v.isascii() for k, v in raw):
            encoding = "ascii"
        else:
            try:
                for k, v in raw:
                    k.decode("utf-8"), v.decode("utf-8")
                encoding = "utf-8"
            except UnicodeDecodeError:
                encoding = "iso-8859-1"
        self.items = tuple((k.lower().decode(encoding), v.decode(encoding)) for k, v in raw)

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        """``name``'s value (``name`` in lower case)."""
        values = [v for k, v in self.items if k == name]
        return ", ".join(values) if values else default

    def __contains__(self, name: str) -> bool:
        return any(k == name for k, _ in self.items)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value
