"""Durations as people write them in config and on the command line: 90s, 15m, 1h30m, 2d."""

from __future__ import annotations

import re

from watcher.errors import DurationError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` ("15m", "1h30m", "2d", "45s", "1.5h")."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or not re.fullmatch(r"(?:\d+(?:\.\d+)?[smhdw])+", compact):
        raise DurationError(f'{text!r} is not a duration; write e.g. "90s", "15m", "1h30m" or "2d"')
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
