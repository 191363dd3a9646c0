"""What is derived from an article's text once it is extracted: the text
folded (:func:`watcher.text.fold.normalise`), and dedup's content hash and
SimHash of that folding.

:func:`digest` runs in the extraction worker, right after the text is
extracted (``Extractor(post="watcher.dedup.digest:digest")``), so that the
process that stores articles neither folds the text nor hashes it:
:func:`of` and :func:`folded` read the values back, or compute them here when
the worker did not (a feed summary, a text from a remote worker, which sends
plain values only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watcher.dedup import identity, similarity
from watcher.text.fold import Normalised, normalise

POST = "watcher.dedup.digest:digest"  # what the extraction worker is told to run


@dataclass(frozen=True)
class Digest:
    content_hash: str | None  # identity.content_hash
    fingerprint: int | None  # similarity.fingerprint (SimHash)


def digest(text: str) -> dict[str, object]:
    """What the worker derives from ``text``: its folding (``folded``, a
    :class:`Normalised`, pickled back with the text) and the digest made from
    that one folding (``content_hash``, ``fingerprint``: plain values)."""
    if not text.strip():
        return {"content_hash": None, "fingerprint": None}
    text_folded = normalise(text)
    return {
        "content_hash": identity.content_hash(text_folded),
        "fingerprint": similarity.fingerprint(text_folded),
        "folded": text_folded,
    }


def folded(text: str, derived: Mapping[str, object] | None = None) -> Normalised:
    """``text`` folded: as the worker folded it (``derived``), else now."""
    made = derived.get("folded") if derived else None
    if isinstance(made, Normalised) and (made.original is text or made.original == text):
        return made
    return normalise(text)


def of(text: str, derived: Mapping[str, object] | None = None) -> Digest:
    """The digest of ``text``: as the worker computed it (``derived``), else now."""
    values = derived if derived and {"content_hash", "fingerprint"} <= derived.keys() else digest(text)
    chash, fingerprint = values["content_hash"], values["fingerprint"]
    return Digest(
        chash if isinstance(chash, str) else None,
        fingerprint if isinstance(fingerprint, int) and not isinstance(fingerprint, bool) else None,
    )
