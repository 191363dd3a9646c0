"""Repairs for the most common way hand-made XML breaks: a bare ``&``.

Exporters write ``News & Headlines`` into attributes and text unescaped
(the CC0 Plenary OPML exports do), which every strict XML parser refuses.
A ``&`` that does not start a reference (``&name;``, ``&#10;``, ``&#x1F;``)
is written as ``&amp;``, as lenient readers do. Linear: one regex pass.
"""

from __future__ import annotations

import re

_BARE = re.compile(
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)"  # left as they are
    rb"|&(?!(?:[A-Za-z_][\w.-]{0,63}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)",
    re.DOTALL,
)


def escape_bare_ampersands(data: bytes) -> tuple[bytes, int]:
    """``data`` with each bare ``&`` outside CDATA sections and comments written as
    ``&amp;``, and how many there were."""
    count = 0

    def fix(match: re.Match[bytes]) -> bytes:
        nonlocal count
        if match.group(0) != b"&":
            return match.group(0)
        count += 1
        return b"&amp;"

    return _BARE.sub(fix, data), count
