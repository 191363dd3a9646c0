"""Sending one message to one channel through apprise (the only module that
imports apprise).

- A fresh ``apprise.Apprise`` holding only this channel's URL is built for
  every send: a call with several services can come back PARTIAL, and
  retrying it would resend to those that succeeded; and one object throttles
  (mailto waits ~5.5 s between two sends on the same object).
- apprise's result and exceptions become a :class:`Delivery`; its text is
  scrubbed of the channel's secrets before anyone sees it.
- :func:`safe_url` is the only way a channel URL is shown: scheme and host,
  never a path, query, user or token. apprise's own ``url(privacy=True)``
  keeps custom header values (``+X-Token=...``), path segments and the first
  and last character of tokens, so it is not used for display.
- Proxies: apprise's HTTP services send through ``requests``, which would
  take a proxy from HTTP(S)_PROXY/ALL_PROXY. For the duration of a send, the
  channel's ``proxy`` (the config's ``[network] proxy``) is handed to every
  ``requests`` call made for it, and the environment's proxy variables are not
  used: alerts go where feeds go. The hand-over is a context variable read by
  a wrapper around ``requests.Session.request`` (apprise copies the context
  into its worker threads), so concurrent sends never see each other's
  settings and nothing else in the process is affected. E-mail (SMTP) and
  other non-HTTP services connect directly.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import apprise
import requests

from watcher.config import ChannelConfig
from watcher.notify.message import Limits, Message
from watcher.notify.redaction import Redactor, public_host

SEND_TIMEOUT = 60.0  # seconds for one whole send, whatever the service does
MAX_DETAIL = 500
_FORMATS = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}


@dataclass(frozen=True)
class _Route:
    proxy: str | None  # None: straight to the service, whatever the environment says


_ROUTE: contextvars.ContextVar[_Route | None] = contextvars.ContextVar("watcher_alert_route", default=None)


def _route_requests() -> None:
    """Wrap ``requests.Session.request`` (once) to apply the current send's route."""
    original = requests.Session.request
    if getattr(original, "watcher_route", False):
        return

    def request(self, method, url, *args, **kwargs):
        route = _ROUTE.get()
        if route is not None:
            kwargs["proxies"] = {"http": route.proxy, "https": route.proxy, "all": route.proxy}
        return original(self, method, url, *args, **kwargs)

    request.watcher_route = True  # type: ignore[attr-defined]
    requests.Session.request = request  # type: ignore[method-assign]


_route_requests()


@dataclass(frozen=True)
class Delivery:
    ok: bool
    detail: str  # the service's answer, secrets masked


class Notifier:
    """One channel. ``send`` never raises; problems come back as a Delivery."""

    def __init__(
        self, channel: ChannelConfig, *, timeout: float = SEND_TIMEOUT, redactor: Redactor | None = None
    ) -> None:
        self.channel = channel
        self.timeout = timeout
        self.redactor = redactor or Redactor.for_channels([channel])
        self.problem: str | None = None
        plugin = self._instantiate()
        self.limits = (
            Limits(
                title=max(0, int(getattr(plugin, "title_maxlen", 250) or 0)),
                body=max(60, min(int(getattr(plugin, "body_maxlen", 32768) or 32768), 32768)),
            )
            if plugin
            else Limits()
        )

    def _instantiate(self):
        captured = _Capture()
        logger = logging.getLogger("apprise")
        logger.addHandler(captured)
        try:
            plugin, reason = apprise.Apprise.instantiate(self.channel.url, asset=_asset()), ""
        except Exception as exc:  # apprise raises for some malformed URLs
            plugin, reason = None, self.redactor.scrub_exception(exc)
        finally:
            logger.removeHandler(captured)
        if plugin is None:
            said = _cap(self.redactor.scrub("; ".join(dict.fromkeys(captured.lines)))) or reason
            self.problem = (
                f"apprise cannot use the URL of channel {self.channel.name!r} "
                f"({safe_url(self.channel)}{_source(self.channel)})" + (f": {said}" if said else "")
            )
            return None
        services = _count_services(self.channel.url)
        if services != 1:
            self.problem = (
                f"the URL of channel {self.channel.name!r} ({safe_url(self.channel)}"
                f"{_source(self.channel)}) holds {services} services (separated by a comma "
                "or space); give each its own [[channels]] table, so that one failing "
                "service never makes the others receive an alert twice"
            )
            return None
        return plugin

    def send(self, message: Message) -> Delivery:
        if self.problem:
            return Delivery(False, self.problem)
        try:
            return self._send(message)
        except Exception as exc:  # apprise or a plugin bug: recorded, never raised
            return Delivery(False, _cap(self.redactor.scrub_exception(exc)))

    def _send(self, message: Message) -> Delivery:
        sender = apprise.Apprise(asset=_asset())
        if not sender.add(self.channel.url) or len(sender) != 1:
            return Delivery(False, f"apprise could not load {safe_url(self.channel)} as one service")
        token = _ROUTE.set(_Route(self.channel.proxy))
        try:
            result = sender.notify(
                body=message.body,
                title=message.title,
                body_format=_FORMATS.get(message.format, apprise.NotifyFormat.TEXT),
                timeout=self.timeout,
                log_level=logging.INFO,
            )
        finally:
            _ROUTE.reset(token)
        entries = [e for service in result for e in service.logs()] or list(result.call_logs())
        said = "; ".join(dict.fromkeys(e.message.strip() for e in entries if e.message.strip()))
        services = ", ".join(dict.fromkeys(service.name for service in result))
        detail = (
            f"{services}: {said}"
            if said and not result
            else result.status.name.lower()
            + (f" ({services})" if services else "")
            + (f": {said}" if said else "")
        )
        return Delivery(bool(result), _cap(self.redactor.scrub(detail)))


def _count_services(url: str) -> int:
    probe = apprise.Apprise(asset=_asset())
    probe.add(url)
    return len(probe)


def _asset():
    try:
        return apprise.AppriseAsset(storage_mode="memory")
    except TypeError:  # pragma: no cover - older apprise
        return apprise.AppriseAsset()


class _Capture(logging.Handler):
    """apprise's warnings about one URL: only this thread's, so channels
    checked at the same time never see each other's messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage().strip())


def _cap(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _source(channel: ChannelConfig) -> str:
    return f", from {channel.source}" if channel.source.startswith("url_env:") else ""


def safe_url(channel: ChannelConfig | str) -> str:
    """``json://127.0.0.1:8080/***`` or ``discord://***``: scheme and a real
    host name only; everything that can hold a secret is hidden."""
    url = channel if isinstance(channel, str) else channel.url
    scheme, sep, _ = url.strip().partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,31}", scheme):
        return "(not a URL)"
    host = public_host(url)
    return f"{scheme.lower()}://{host}/***" if host else f"{scheme.lower()}://***"


def check_channels(channels: Sequence[ChannelConfig], rules: Sequence | None = None) -> list[str]:
    """One problem per channel whose URL apprise cannot use, secrets masked;
    with ``rules`` (``Rule`` objects: ``id``, ``channels``, ``file``), also
    channels listing a rule id that does not exist and rules naming a channel
    that is not configured (either would silently never alert)."""
    problems = _check_urls(channels)
    if rules is not None:
        problems += _check_routes(channels, rules)
    return problems


def _check_routes(channels: Sequence[ChannelConfig], rules: Sequence) -> list[str]:
    problems = []
    ids = {r.id for r in rules}
    names = {c.name for c in channels}
    for i, channel in enumerate(channels):
        for rule_id in channel.rules:
            if rule_id != "*" and rule_id not in ids:
                problems.append(
                    f"channels[{i}].rules: {rule_id!r} is not the id of any rule "
                    f"(known: {', '.join(sorted(ids)) or 'none'}); fix the id or remove it"
                )
    for rule in rules:
        for name in rule.channels:
            if name not in names:
                problems.append(
                    f"{rule.file or 'rules'}: rule {rule.id!r} names channel {name!r}, "
                    f"which is not a [[channels]] name in the config "
                    f"(configured: {', '.join(sorted(names)) or 'none'})"
                )
    return problems


def _check_urls(channels: Sequence[ChannelConfig]) -> list[str]:
    problems = []
    for i, channel in enumerate(channels):
        if not channel.url or channel.format == "json":
            continue  # the config check already said so; json channels are not apprise's
        notifier = Notifier(channel)
        if notifier.problem:
            problems.append(
                f"channels[{i}].{'url_env' if channel.source.startswith('url_env') else 'url'}: "
                f"{notifier.problem}; see https://github.com/caronc/apprise/wiki "
                "for the URL syntax of each service"
            )
    return problems
