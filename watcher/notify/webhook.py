"""Delivering a structured alert (``format = "json"``): one POST of the JSON
payload (:mod:`watcher.notify.payload`) to the channel's URL, through the
watcher's guarded HTTP client (its address guard, proxy and deadline), which
the composition root hands in as ``post``. apprise cannot carry the payload:
its JSON plugin sends only a title, a body and a type.

Same face as :class:`~watcher.notify.notifier.Notifier`: ``send`` never
raises, ``limits``, ``problem``. A 2xx answer is success; anything else,
or no answer, is a failure the outbox retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watcher.config import WEBHOOK_SCHEMES, ChannelConfig
from watcher.errors import WatcherError
from watcher.notify.message import Limits, Message
from watcher.notify.notifier import Delivery
from watcher.notify.redaction import Redactor


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


Post = Callable[[str, bytes], Answer]  # (url, JSON body) -> the answer; raises WatcherError


class Webhook:
    limits = Limits()

    def __init__(
        self, channel: ChannelConfig, post: Post | None, *, redactor: Redactor | None = None
    ) -> None:
        self.channel = channel
        self.post = post
        self.redactor = redactor or Redactor.for_channels([channel])
        self.problem: str | None = (
            None
            if post
            else f'channel {channel.name!r} (format = "json") needs the watcher\'s HTTP client, '
            "which this command does not build"
        )

    @property
    def url(self) -> str:
        """The channel's URL as an http(s) address (json:// and jsons:// are apprise's spelling)."""
        scheme, sep, rest = self.channel.url.partition("://")
        return f"{WEBHOOK_SCHEMES.get(scheme.lower(), scheme)}{sep}{rest}"

    def send(self, message: Message) -> Delivery:
        if self.problem or self.post is None:
            return Delivery(False, self.problem or "no HTTP client")
        try:
            answer = self.post(self.url, message.body.encode("utf-8"))
        except WatcherError as exc:
            return Delivery(False, self.redactor.scrub(str(exc))[:500])
        except Exception as exc:  # a bug below: recorded, never raised
            return Delivery(False, self.redactor.scrub_exception(exc)[:500])
        said = " ".join(answer.body[:200].decode("utf-8", "replace").split())
        detail = f"webhook: HTTP {answer.status}" + (f": {said}" if said else "")
        return Delivery(200 <= answer.status < 300, self.redactor.scrub(detail))
