"""Repairs for the most common way hand-made XML breaks: a bare ``&``.

Exporters write ``News & Headlines`` into attributes and text unescaped
(the CC0 Plenary OPML exports do), which every strict XML parser refuses.
A ``&`` that does not start a reference (``&name;``, ``&#10;``, ``&#x1F;``)
is written as ``&amp;``, as lenient readers do. Linear: one regex pass.
"""

from __future__ import annotations

import re

_BARE = re.compile(rb"&(?!(?:[A-Za-z_][\w.-]{0,63}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)")


def escape_bare_ampersands(data: bytes) -> tuple[bytes, int]:
    """``data`` with each bare ``&`` written as ``&amp;``, and how many there were."""
    return _BARE.subn(b"&amp;", data)
