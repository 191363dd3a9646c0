"""What a fetch returns: the answer at a URL, and its Retry-After in seconds."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects
    status: int  # any HTTP status, 304 included
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value) as received
    body: bytes  # decoded (gunzipped) body, capped
    content_type: str | None
    etag: str | None
    last_modified: str | None
    retry_after: float | None  # seconds, parsed from Retry-After (delta or date) on 429/503

    def header(self, name: str) -> str | None:
        """The header's value (several values joined by ", "), or None."""
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None


def parse_retry_after(
    value: str, *, date: str | None = None, clock: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds, or an HTTP-date
    measured against the answer's Date header (else ``clock``). None if unusable."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    now = _http_date(date) if date else None
    if now is None and clock is not None:
        now = clock()
    if when is None or now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
