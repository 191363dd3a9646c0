"""A real HTTP/1.1 server on loopback for tests, with the misbehaviour of the
real web on tap: conditional GETs (ETag / Last-Modified -> 304), any status,
redirects, slow, trickling and hanging answers, huge lazily generated bodies,
gzip bombs, and optional TLS.

    with LoopbackServer() as server:             # or the ``http_server`` fixture
        server.route("/feed", body=b"<rss/>", etag='"v1"', content_type="application/rss+xml")
        url = server.url("/feed")                # http://127.0.0.1:PORT/feed
        ...
        server.requests[-1].headers["if-none-match"]

Route options (see ``Route``): status, headers, etag, last_modified,
content_type, delay, trickle (seconds per byte), gzip, redirect_to,
hang ('before_headers' | 'after_headers' | 'mid_body'), length ('auto', an int
that may lie, 'chunked', or None to end the body by closing). A body may be
bytes or a zero-argument callable returning an iterable of chunks
(``zeros(size)`` streams gigabytes without holding them; ``gzip_bomb(size)``
is a small gzip stream that inflates to ``size`` bytes).
``route_handler(path, fn)`` lets ``fn(handler)`` write anything at all;
``accepted`` counts the TCP connections accepted.
Also here: ``LoopbackServer("127.0.0.2")`` / ``("::1")`` for a second
address, ``LoopbackServer(tls=True)`` (self-signed cert for localhost in
tests/tls/, test use only), ``SilentListener`` (accepts TCP, never speaks)
and ``free_port()`` (nothing listens: connection refused).

Hanging handlers wait on the server's stop event, so ``stop()`` never waits
for them; handler threads are daemons.
"""

from __future__ import annotations

import functools
import gzip as gzip_module
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TEST_USER_AGENT = "watcher-tests/1 (+loopback)"  # what the test clients send
TLS_CERT = Path(__file__).resolve().parent / "tls" / "localhost.pem"  # cert + key, CN/SAN localhost

Body = bytes | Callable[[], Iterable[bytes]]
Handler = Callable[["RequestHandler"], None]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as requested, query included
    headers: dict[str, str]  # lower-case names
    client: tuple[str, int]
    server: tuple[str, int]  # the local address that answered


@dataclass
class Route:
    body: Body = b""
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = "text/plain; charset=utf-8"
    delay: float = 0.0  # seconds before answering
    trickle: float | None = None  # seconds between body bytes
    gzip: bool = False  # gzip the (bytes) body and say so
    redirect_to: str | None = None
    hang: str | None = None  # 'before_headers' | 'after_headers' | 'mid_body'
    length: int | str | None = "auto"  # 'auto', an int (may lie), 'chunked', or None (close to end)
    handler: Handler | None = None


class LoopbackServer:
    def __init__(self, host: str = "127.0.0.1", *, tls: bool = False) -> None:
        self.host = host
        self.tls = tls
        self.sni_names: list[str | None] = []
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._sent: dict[str, int] = {}
        self._accepted = 0
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server((host, 0), RequestHandler, owner=self, tls=self._tls_context() if tls else None)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-{host}:{self.port}",
            daemon=True,
        )

    # -- lifecycle --------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes every hanging / trickling handler
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- configuration ----------------------------------------------------

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    def route(self, path: str, body: Body = b"", **options) -> Route:
        """Serve ``path``; options are the fields of ``Route``. Replaces an earlier route."""
        route = Route(body=body, **options)
        if isinstance(route.headers, dict):
            route.headers = list(route.headers.items())
        with self._lock:
            self._routes[path] = route
        return route

    def route_handler(self, path: str, fn: Handler) -> None:
        """``fn(handler)`` answers requests for ``path`` itself (a BaseHTTPRequestHandler)."""
        self.route(path, handler=fn)

    def set_body(self, path: str, body: Body, **changes) -> None:
        with self._lock:
            route = self._routes[path]
            route.body = body
            for key, value in changes.items():
                setattr(route, key, value)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    @property
    def accepted(self) -> int:
        """TCP connections accepted so far (a client that keeps its connections
        alive makes fewer than it sends requests)."""
        with self._lock:
            return self._accepted

    def _accept(self) -> None:
        with self._lock:
            self._accepted += 1

    def bytes_sent(self, path: str) -> int:
        """Body bytes written for ``path`` so far (all requests)."""
        with self._lock:
            return self._sent.get(path, 0)

    # -- serving ----------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS_CERT)
        context.sni_callback = lambda sslobj, name, ctx: self.sni_names.append(name)
        return context

    def _record(self, handler: RequestHandler) -> Route | None:
        path = handler.path.split("?", 1)[0]
        request = RecordedRequest(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            client=handler.client_address[:2],
            server=handler.connection.getsockname()[:2],
        )
        with self._lock:
            self._requests.append(request)
            return self._routes.get(path)

    def _count(self, path: str, n: int) -> None:
        with self._lock:
            self._sent[path] = self._sent.get(path, 0) + n

    def serve(self, h: RequestHandler) -> None:
        route = self._record(h)
        if route is None:
            return _plain(h, 404, b"not found\n")
        if route.handler is not None:
            return route.handler(h)
        if route.delay and self.stopping.wait(route.delay):
            return
        if route.hang == "before_headers":
            h.close_connection = True
            self.stopping.wait()
            return
        if route.redirect_to is not None:
            status = route.status if 300 <= route.status < 400 else 302
            return _plain(h, status, b"", [("Location", route.redirect_to)] + route.headers)
        if _not_modified(h, route):
            return _plain(h, 304, None, _validators(route) + route.headers)
        self._answer(h, route)

    def _answer(self, h: RequestHandler, route: Route) -> None:
        path = h.path.split("?", 1)[0]
        chunks, headers, length = _body(route)
        h.send_response(route.status)
        for name, value in headers + _validators(route) + route.headers:
            h.send_header(name, value)
        chunked = length == "chunked"
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        elif length is None:
            h.send_header("Connection", "close")
            h.close_connection = True
        else:
            h.send_header("Content-Length", str(length))
        h.end_headers()
        h.wfile.flush()
        if route.hang == "after_headers":
            h.close_connection = True
            self.stopping.wait()
            return
        sent = 0
        try:
            for chunk in _paced(chunks, route.trickle, self.stopping):
                if self.stopping.is_set():
                    return
                if route.hang == "mid_body" and sent > 0:
                    self.stopping.wait()
                    return
                sent += len(chunk)
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                h.wfile.flush()
                self._count(path, len(chunk))
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away: that is its right
            h.close_connection = True


def _body(route: Route) -> tuple[Iterable[bytes], list[tuple[str, str]], int | str | None]:
    headers = [("Content-Type", route.content_type)] if route.content_type else []
    if callable(route.body):
        length = "chunked" if route.length == "auto" else route.length
        return route.body(), headers, length
    body = route.body
    if route.gzip:
        body = gzip_module.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    length = len(body) if route.length == "auto" else route.length
    return [body], headers, length


def _paced(chunks: Iterable[bytes], trickle: float | None, stopping: threading.Event) -> Iterable[bytes]:
    for chunk in chunks:
        if trickle is None:
            yield chunk
            continue
        for i in range(len(chunk)):
            yield chunk[i : i + 1]
            if stopping.wait(trickle):
                return


def _validators(route: Route) -> list[tuple[str, str]]:
    out = []
    if route.etag:
        out.append(("ETag", route.etag))
    if route.last_modified:
        out.append(("Last-Modified", route.last_modified))
    return out


def _not_modified(h: RequestHandler, route: Route) -> bool:
    if_none_match = h.headers.get("If-None-Match")
    if if_none_match is not None:  # takes precedence over If-Modified-Since
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return route.etag is not None and ("*" in tags or route.etag.removeprefix("W/") in tags)
    since = h.headers.get("If-Modified-Since")
    if since and route.last_modified:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _plain(h: RequestHandler, status: int, body: bytes | None, headers: list[tuple[str, str]] = ()) -> None:
    h.send_response(status)
    for name, value in headers:
        h.send_header(name, value)
    if body is not None:
        h.send_header("Content-Type", "text/plain; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if body:
        h.wfile.write(body)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end
    server_version = "loopback-test"

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def do_GET(self) -> None:
        self.server.owner.serve(self)

    do_POST = do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, handler, *, owner: LoopbackServer, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.owner = owner
        self._tls = tls
        super().__init__(address, handler)

    def get_request(self):
        sock, client = super().get_request()
        self.owner._accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body are separate writes
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, client

    def handle_error(self, request, client_address) -> None:
        pass  # a test server that logs tracebacks for dropped clients is noise


# -- bodies ------------------------------------------------------------------


def zeros(size: int, chunk: int = 64 * 1024) -> Callable[[], Iterable[bytes]]:
    """A body of ``size`` zero bytes, generated as it is sent (never held in memory)."""

    def generate() -> Iterable[bytes]:
        block = bytes(chunk)
        left = size
        while left > 0:
            yield block[:left] if left < chunk else block
            left -= chunk

    return generate


@functools.lru_cache(maxsize=8)
def gzip_bomb(decoded_size: int) -> bytes:
    """A valid gzip stream of ``decoded_size`` zero bytes (a multiple of 1 MiB),
    about 1000 times smaller: built from identical fully-flushed deflate blocks."""
    mib = 1 << 20
    blocks = max(1, decoded_size // mib)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(bytes(mib)) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc, zero = 0, bytes(mib)
    for _ in range(blocks):
        crc = zlib.crc32(zero, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (blocks * mib) & 0xFFFFFFFF)
    return header + block * blocks + deflate.flush(zlib.Z_FINISH) + trailer


class SilentListener:
    """A socket that listens but never accepts: the kernel completes the TCP
    handshake, then nothing is ever said (a black-holed server)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on (for 'connection refused')."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
