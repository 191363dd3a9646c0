"""Real forwarding proxies on loopback for tests: an HTTP proxy (absolute-form
requests and CONNECT tunnels, optional Basic credentials) and a SOCKS5 proxy
(no auth or user/password). Each records what it was asked for and relays the
bytes to the real target.

    with ForwardProxy() as proxy:              # or ForwardProxy(user="u", password="p")
        url = proxy.url                        # http://127.0.0.1:PORT
        ...
        proxy.seen                             # [("GET", "http://127.0.0.1:8080/feed"), ("CONNECT", "localhost:8443")]

    with SocksProxy() as proxy:                # url: socks5://127.0.0.1:PORT
        proxy.seen                             # [("CONNECT", "news.example:80")]
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import struct
import threading
from urllib.parse import urlsplit


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, owner, handler) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), handler)

    def handle_error(self, request, client_address) -> None:
        pass


class _Proxy:
    scheme = "http"

    def __init__(self, *, user: str | None = None, password: str | None = None) -> None:
        self.user, self.password = user, password
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server = _Server(self, self.handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    def record(self, what: str, target: str) -> None:
        with self.lock:
            self.seen.append((what, target))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handler(self):
        raise NotImplementedError


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Relay bytes both ways until one side closes."""
    sockets = [a, b]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 10)
            if broken or not readable:
                return
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class ForwardProxy(_Proxy):
    scheme = "http"

    def handler(self):
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head, rest = _read_head(self.request)
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = (lines[0].split(" ") + ["", "", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if (
                    proxy.user
                    and headers.get("proxy-authorization", "")
                    != "Basic " + base64.b64encode(f"{proxy.user}:{proxy.password}".encode()).decode()
                ):
                    proxy.record("DENIED", target)
                    self.request.sendall(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                        b"Connection: close\r\n\r\n"
                    )
                    return
                proxy.record(method, target)
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    try:
                        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                    except OSError:
                        self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                        return
                    self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    with upstream:
                        _pipe(self.request, upstream)
                    return
                parts = urlsplit(target)
                try:
                    upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
                except OSError:
                    self.request.sendall(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    return
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                kept = [line for line in lines[1:] if not line.lower().startswith(("proxy-", "connection:"))]
                request = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
                with upstream:
                    upstream.sendall(request.encode("latin-1") + rest)
                    _pipe(self.request, upstream)

        return Handler


class SocksProxy(_Proxy):
    scheme = "socks5"

    def handler(self):
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                s = self.request
                _version, count = s.recv(2)
                methods = s.recv(count)
                if proxy.user:
                    if 2 not in methods:
                        s.sendall(b"\x05\xff")
                        return
                    s.sendall(b"\x05\x02")
                    _, ulen = s.recv(2)
                    user = s.recv(ulen).decode()
                    (plen,) = s.recv(1)
                    password = s.recv(plen).decode()
                    ok = (user, password) == (proxy.user, proxy.password)
                    s.sendall(b"\x01\x00" if ok else b"\x01\x01")
                    if not ok:
                        return
                else:
                    s.sendall(b"\x05\x00")
                _, _command, _, kind = s.recv(4)
                if kind == 1:
                    host = socket.inet_ntoa(s.recv(4))
                elif kind == 4:
                    host = socket.inet_ntop(socket.AF_INET6, s.recv(16))
                else:
                    (size,) = s.recv(1)
                    host = s.recv(size).decode("idna")
                (port,) = struct.unpack("!H", s.recv(2))
                proxy.record("CONNECT", f"{host}:{port}")
                try:
                    upstream = socket.create_connection((host, port), timeout=10)
                except OSError:
                    s.sendall(b"\x05\x04\x00\x01" + bytes(6))
                    return
                s.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
                with upstream:
                    _pipe(s, upstream)

        return Handler
