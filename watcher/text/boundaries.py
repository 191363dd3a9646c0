"""Word boundaries in normalised text: where a hit may start and end.

Scripts written without spaces (CJK, Thai, ...) make every letter a boundary;
Arabic words may carry one or two one-letter proclitics in front.
"""

from __future__ import annotations

import re
from functools import cached_property

ARABIC_PROCLITICS = "\u0648\u0641\u0628\u0643"  # و ف ب ك


def is_arabic(letter: str) -> bool:
    return "\u0600" <= letter <= "\u06ff"


# Scripts written without spaces between words (kana, CJK, Thai, Lao, Myanmar, Khmer).
_UNSPACED_SCRIPTS = (
    ("\u3040", "\u30ff"),
    ("\u3400", "\u9fff"),
    ("\uf900", "\ufaff"),
    ("\u0e00", "\u0e7f"),
    ("\u0e80", "\u0eff"),
    ("\u1000", "\u109f"),
    ("\u1780", "\u17ff"),
)
# Hangul separates words with spaces, but particles attach to the word before
# them ("MBC는"): a hit may start or end at any Hangul letter, yet its words
# stay whole for dedup.
_HANGUL = (("\uac00", "\ud7af"), ("\u1100", "\u11ff"))
_NO_SPACE_SCRIPTS = _UNSPACED_SCRIPTS + _HANGUL


class _Pattern:
    """A regular expression compiled on first use. A class of large Unicode
    ranges takes ``re`` milliseconds to compile (it sets a bit per code
    point): paid by the texts that need it, not by every command that imports
    the folding (``watcher status`` opening the store)."""

    def __init__(self, source: str) -> None:
        self.source = source

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.source)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def findall(self, text: str) -> list[str]:
        return self.compiled.findall(text)


_UNSPACED_CLASS = "".join(f"{low}-{high}" for low, high in _UNSPACED_SCRIPTS)
UNSPACED_LETTER = _Pattern(f"[{_UNSPACED_CLASS}]")
UNSPACED_SPLIT = _Pattern(f"[{_UNSPACED_CLASS}]|[^{_UNSPACED_CLASS}]+")


def is_unspaced(letter: str) -> bool:
    """Letters of scripts written without spaces (CJK, Thai, ...): every letter is a boundary."""
    return any(low <= letter <= high for low, high in _NO_SPACE_SCRIPTS)


def at_word_start(text: str, start: int) -> bool:
    """Whether a candidate hit at normalised ``start`` begins a word.

    Arabic hits may follow one or two one-letter proclitics (و ف ب ل ك)
    written onto the word: "وتركيا", "لسوريا".
    """
    if start == 0 or text[start - 1] == " ":
        return True
    if is_unspaced(text[start]) or is_unspaced(text[start - 1]):
        return True
    if not is_arabic(text[start]):
        return False
    proclitics = ARABIC_PROCLITICS + "\u0644"
    i = start - 1
    while i >= 0 and start - i <= 2 and text[i] in proclitics:
        if i == 0 or text[i - 1] == " ":
            return True
        i -= 1
    return False


def at_word_end(text: str, end: int) -> bool:
    if end >= len(text) or text[end] == " ":
        return True
    return is_unspaced(text[end]) or is_unspaced(text[end - 1])
