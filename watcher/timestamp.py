"""Timestamps as people read them in tables and pages: '2026-11-21 05:12' (UTC)."""

from __future__ import annotations

import re
from datetime import datetime, timezone


def short(value: str | None, empty: str = "-") -> str:
    """An ISO timestamp in UTC to the minute; a bare date stays a date; junk stays as it is."""
    if not value:
        return empty
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return value.strip()
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M")
