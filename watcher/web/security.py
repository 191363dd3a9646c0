"""The ASGI layers around every response (Datasette's too): the security
headers, the Host check against DNS rebinding, and HTTP Basic auth."""

from __future__ import annotations

import base64
import hmac
import ipaddress

from watcher.web.settings import WebSettings, is_loopback

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
LOOPBACK_NAMES = ("localhost",)  # and every IP address: a rebinding attack needs a name
MONITORING = ("/healthz", "/metrics")  # answered without the password to loopback clients


def security_headers(app):
    """The watcher pages' headers on every response (Datasette's pages send none)."""

    async def with_headers(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await app(scope, receive, sending)

    return with_headers


def host_guard(app, settings: WebSettings):
    """Answer only requests addressed to this server by a name it was given."""
    allowed = {h.lower().rstrip(".") for h in (*LOOPBACK_NAMES, *settings.allowed_hosts)}

    async def guarded(scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await app(scope, receive, send)
        raw = dict(scope.get("headers") or []).get(b"host")
        host = _host_name(raw.decode("latin-1")) if raw else None
        if host is not None and (host in allowed or _is_ip(host)):
            return await app(scope, receive, send)
        if scope["type"] != "http":
            return await send({"type": "websocket.close", "code": 1008})
        shown = "".join(c for c in (raw or b"").decode("latin-1")[:100] if c.isprintable())
        message = (
            (
                f"watcher: this server answers to {', '.join(sorted(allowed))} and IP addresses, "
                f"not to the host {shown!r}; if that name is yours, add it to [serve] "
                f"allowed_hosts in {settings.config_path}\n"
            )
            if raw
            else "watcher: a Host header is required\n"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 421 if raw else 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": message.encode("utf-8")})

    return guarded


def _host_name(value: str) -> str | None:
    """The host of a Host header (no port, lower case, no final dot), or None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        return inside if bracket and (not rest or rest[1:].isdigit() and rest[0] == ":") else None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def basic_auth(app, password: str):
    expected = password.encode("utf-8")

    async def guarded(scope, receive, send):
        if scope["type"] != "http" or _authorised(scope, expected) or _local_monitor(scope):
            return await app(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Basic realm="watcher", charset="UTF-8"'),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"watcher: password required\n"})

    return guarded


def _local_monitor(scope) -> bool:
    """A monitoring path asked for by a program on this machine (a local Prometheus,
    the container's health check) — not a request a reverse proxy forwards for
    someone else (it says so in Forwarded / X-Forwarded-For)."""
    if scope.get("path") not in MONITORING or not is_loopback((scope.get("client") or ("",))[0] or ""):
        return False
    headers = dict(scope.get("headers") or [])
    return b"forwarded" not in headers and b"x-forwarded-for" not in headers


def _authorised(scope, expected: bytes) -> bool:
    header = dict(scope.get("headers") or []).get(b"authorization", b"")
    if not header.lower().startswith(b"basic "):
        return False
    try:
        _, _, given = base64.b64decode(header[6:].strip(), validate=True).partition(b":")
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)
