"""What dedup derives from an article's text: its content hash and its SimHash.

:func:`digest` runs in the extraction worker, right after the text is
extracted (``Extractor(post="watcher.dedup.digest:digest")``), so that the
process that stores articles does not fold every text again for them;
:func:`of` reads the values back, or computes them here when the worker did
not (a feed summary, a text from an older worker).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watcher.dedup import identity, similarity

POST = "watcher.dedup.digest:digest"  # what the extraction worker is told to run


@dataclass(frozen=True)
class Digest:
    content_hash: str | None  # identity.content_hash
    fingerprint: int | None  # similarity.fingerprint (SimHash)


def digest(text: str) -> dict[str, object]:
    """The digest of ``text`` as plain values (what crosses a process boundary)."""
    if not text.strip():
        return {"content_hash": None, "fingerprint": None}
    return {"content_hash": identity.content_hash(text), "fingerprint": similarity.fingerprint(text)}


def of(text: str, derived: Mapping[str, object] | None = None) -> Digest:
    """The digest of ``text``: as the worker computed it (``derived``), else now."""
    values = derived if derived and {"content_hash", "fingerprint"} <= derived.keys() else digest(text)
    chash, fingerprint = values["content_hash"], values["fingerprint"]
    return Digest(
        chash if isinstance(chash, str) else None,
        fingerprint if isinstance(fingerprint, int) and not isinstance(fingerprint, bool) else None,
    )
