"""Cross-script name skeletons: one key for "Murhaf Abu Qasra", "Murhef Ebu Kasra" and
"مرهف أبو قصرة", for proposing new spellings of watched names (``watcher rules suggest``).

As the Europe Media Monitor groups name variants: transliterate (Arabic and Cyrillic letters to
Latin consonants), fold accents, drop vowels and the letters scripts write as vowels or not at
all (h, w, y, ʿayn, hamza, tāʾ marbūṭa), merge consonants that spellings swap (q/k/c, z/s/ş/sh,
v/f, p/b, d/t as in Ahmed/Ahmet, th/t, dh/d, kh/k), collapse doubled ones, and drop Arabic/Latin articles (al-, el-, ال).
A key is the words' skeletons in order. It is lossy on purpose: a key proposes, a person decides.
"""

from __future__ import annotations

import re
import unicodedata

_ARABIC = {
    "ب": "b", "ت": "t", "ث": "t", "ج": "j", "ح": "", "خ": "k", "د": "d", "ذ": "d", "ر": "r",
    "ز": "s", "س": "s", "ش": "s", "ص": "s", "ض": "d", "ط": "t", "ظ": "s", "ع": "", "غ": "g",
    "ف": "f", "ق": "k", "ك": "k", "ک": "k", "ل": "l", "م": "m", "ن": "n", "ه": "", "ة": "", "و": "",
    "ي": "", "ى": "", "ی": "", "ا": "", "أ": "", "إ": "", "آ": "", "ء": "", "ئ": "", "ؤ": "",
    "پ": "b", "چ": "s", "ژ": "s", "گ": "g", "ڤ": "f",
}  # fmt: skip
_CYRILLIC = {
    "б": "b", "в": "f", "г": "g", "д": "d", "ж": "s", "з": "s", "к": "k", "л": "l", "м": "m",
    "н": "n", "п": "b", "р": "r", "с": "s", "т": "t", "ф": "f", "х": "", "ц": "s", "ч": "s",
    "ш": "s", "щ": "s",
}  # fmt: skip
_DIGRAPHS = (("sch", "s"), ("sh", "s"), ("ch", "s"), ("kh", "k"), ("gh", "g"), ("th", "t"),
             ("dh", "d"), ("ph", "f"), ("ck", "k"), ("dj", "j"))  # fmt: skip
_LATIN = {"q": "k", "c": "k", "x": "k", "z": "s", "v": "f", "p": "b", "d": "t"}
_DROPPED = set("aeiouyhw")
_ARTICLES = {"al", "el", "ul", "ol", "an", "ad", "ar", "as", "at", "az", "ash", "ed", "er", "es", "et"}
_ARABIC_ARTICLE = "ال"
WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670])+")
MIN_CONSONANTS = 4  # a key shorter than this groups too many unrelated names


def word_skeleton(word: str) -> str:
    """One word's skeleton ("Qasra" -> "ksr", "قصرة" -> "ksr"); "" for an article or a vowel-only word."""
    word = word.strip().lower()
    if not word or word in _ARTICLES:
        return ""
    if word.startswith(_ARABIC_ARTICLE) and len(word) > 3:
        word = word[2:]
    out = []
    for char in word:
        if char in _ARABIC:
            out.append(_ARABIC[char])
        elif char in _CYRILLIC:
            out.append(_CYRILLIC[char])
        else:
            out.append(char)
    text = "".join(out)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.replace("ı", "i").replace("ş", "s").replace("ç", "c").replace("ğ", "g")
    for digraph, single in _DIGRAPHS:
        text = text.replace(digraph, single)
    letters: list[str] = []
    for char in text:
        if not ("a" <= char <= "z"):
            continue
        if char in _DROPPED:
            continue
        char = _LATIN.get(char, char)
        if letters and letters[-1] == char:
            continue
        letters.append(char)
    return "".join(letters)


def key(name: str) -> tuple[str, ...]:
    """The skeleton key of a name: its words' skeletons (articles and vowel-only words left out)."""
    return tuple(s for s in (word_skeleton(w) for w in WORD.findall(name)) if s)


def usable(found: tuple[str, ...]) -> bool:
    """Multi-word keys only, with enough consonants to mean something."""
    return len(found) >= 2 and sum(map(len, found)) >= MIN_CONSONANTS
