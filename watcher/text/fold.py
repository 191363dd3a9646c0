"""The one folding of text: rule terms, articles, search queries and the
search index, and dedup's content hashes and SimHash all go through it, so
whatever spelling the rules treat as one word, search and dedup do too.

* ``normalise(text)`` (matching, highlighting) turns text into a string of
  *tokens* separated by single spaces, and keeps, for every character of that
  string, the span of the original text it came from, so a hit found in the
  normalised form reports offsets into the text exactly as given;
* ``fold(text)`` (search) is that string without the offsets;
* ``fold_words(text)`` (dedup) is its words, with every letter of a script
  written without spaces a word of its own.

All three are built on one function, ``_folded_words``. Changing how text
folds changes stored derived data (the search index, the articles'
``content_hash`` and ``simhash``): bump :data:`FOLD_VERSION` and the next
opening of a database recomputes them (:mod:`watcher.dedup.refold`).

What it does, in order, one original character at a time:

* compatibility decomposition (NFKD, the decomposing half of NFKC), then
  every combining mark is dropped: Latin diacritics (Türkiye = Turkiye,
  Güler = Guler), Arabic harakat, the hamza carried by أ إ آ ؤ ئ;
* case folding (``str.casefold``), with one rule for Turkish: İ, I, ı and i
  all fold to ``i``, so "İstanbul", "ISTANBUL", "ıstanbul" and "Istanbul"
  are one word whatever the language of the article;
* decimal digits of every script become ASCII digits ("١٠ آذار" = "10 آذار");
* a few letters without a decomposition are mapped by hand (ø→o, ł→l, đ→d,
  æ→ae, œ→oe, ı→i, Arabic ٱ→ا, ة→ه, ى→ي, Persian ی→ي and ک→ك);
* tatweel, zero-width joiners and soft hyphens vanish without splitting the
  word; every other character that is not a letter or a digit (spaces,
  punctuation, hyphens, apostrophes) separates words.

Then, per word:

* the Arabic article is dropped from the front of a word ("الشرع" → "شرع"),
  also after a one-letter conjunction or preposition ("والشرع", "بالشرع",
  "للشرع"); the Latin transcriptions "al"/"el" before another word
  ("al-Sharaa", "al Sharaa" → "sharaa") and the assimilated forms
  ("ash-Shara", "ad-Dawla") are dropped too;
* nothing else: "Sharaa's" and "Suriye'ye" become "sharaa s" and
  "suriye ye", so the word before the apostrophe matches on its own.

Sentence boundaries are recorded per word (newline, or . ! ? ؟ 。 followed
by a space, except after a single letter or a common abbreviation such as
"Gen." or "Dr.") for ``same_sentence`` conditions.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.text.boundaries import ARABIC_PROCLITICS, UNSPACED_LETTER, UNSPACED_SPLIT

# The version of this folding. Bump it when any change here changes what a text
# folds to: stored fingerprints and the search index are then recomputed once.
FOLD_VERSION = 2

_JOINERS = {
    "\u0640",
    "\u200c",
    "\u200d",
    "\u00ad",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u02bb",
    "\u02be",
    "\u02bf",
}  # transliteration marks for ayn/hamza: "Shaʿban" = "Shaban"
_SEPARATING_LETTERS = {"\u02bc"}  # modifier-letter apostrophe: "Sharaaʼs" = "Sharaa's"
_EXTRA = {
    "ı": "i",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ħ": "h",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
    "ð": "d",
    "ŧ": "t",
    "ŋ": "n",
    "\u0671": "\u0627",  # alef wasla -> alef
    "\u0629": "\u0647",  # ta marbuta -> ha
    "\u0649": "\u064a",  # alef maqsura -> ya
    "\u06cc": "\u064a",  # Persian ya -> ya
    "\u06a9": "\u0643",  # keheh -> kaf
    "\u06c0": "\u0647",  # heh with yeh above -> ha
}
_HYPHENS = set("-\u2010\u2011\u2012\u2013\u2014\u2212")
_TERMINATORS = set(".!?\u061f\u3002\u06d4")
_LATIN_ARTICLES = {"al", "el"}
_SUN_ARTICLES = {
    "ad",
    "an",
    "ar",
    "as",
    "ash",
    "at",
    "az",
    "ath",
    "adh",
    "ed",
    "en",
    "er",
    "es",
    "esh",
    "et",
    "ez",
}
_ALL_ARTICLES = _LATIN_ARTICLES | _SUN_ARTICLES
_ARABIC_ARTICLE = "\u0627\u0644"  # ال
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "gen",
    "lt",
    "col",
    "maj",
    "adm",
    "brig",
    "capt",
    "cpt",
    "sgt",
    "rep",
    "sen",
    "st",
    "vs",
    "no",
    "prof",
    "gov",
    "jr",
    "sr",
    "inc",
    "corp",
    "co",
    "ltd",
    "rev",
    "hon",
    "pres",
    "cmdr",
    "cdr",
    "fig",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "org",
    "korg",
    "tumg",
    "tugg",
    "tuga",
    "alb",
    "yrb",
    "bnb",
    "doc",
    "av",
}


@dataclass(frozen=True)
class Normalised:
    """Normalised text and the way back to the original.

    ``starts[i]``/``ends[i]``: the original span of normalised character i.
    ``token_starts[k]``: where word k begins in ``text``;
    ``token_sentences[k]``: the sentence number of word k.
    """

    text: str
    starts: Sequence[int]  # compact arrays: 8 bytes a character
    ends: Sequence[int]
    token_starts: Sequence[int]
    token_sentences: Sequence[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the normalised range [start, end)."""
        return self.starts[start], self.ends[end - 1]

    def token_at(self, position: int) -> int:
        """Index of the word that contains normalised ``position``."""
        return max(bisect.bisect_right(self.token_starts, position) - 1, 0)

    def sentence_at(self, position: int) -> int:
        if not self.token_sentences:
            return 0
        return self.token_sentences[self.token_at(position)]

    def position_of(self, original: int) -> int:
        """The first normalised character at or after original offset ``original``."""
        return bisect.bisect_left(self.starts, original)


def fold_char(char: str) -> str | None:
    """The normalised letters of one character, "" to vanish, None to separate words."""
    if char in _JOINERS:
        return ""
    if char in _SEPARATING_LETTERS:
        return None
    kind = unicodedata.category(char)[0]
    if kind not in "LNM":
        return None
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)  # Arabic-Indic, Persian, ... digits: "١٠" = "10"
    out = []
    for part in unicodedata.normalize("NFKD", char):
        category = unicodedata.category(part)
        if category in ("Mn", "Me") or category[0] not in "LNM":
            continue
        for folded in part.casefold():
            out.append(_EXTRA.get(folded, folded))
    return "".join(out)


class _Table(dict):
    """str.translate table: each character to its folded letters, " " to separate words.

    Filled on demand, so it grows with the alphabet seen, not with the text.
    ``irregular`` holds the characters that do not fold to exactly one letter
    or one space (they vanish, like harakat, or expand, like "ß").
    """

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        value = " " if folded is None else folded
        if len(value) != 1:
            self.irregular.add(chr(code))
        self[code] = value
        return value


_TABLE = _Table()
_RUN = re.compile(r"[^ ]+")


def normalise(text: str) -> Normalised:
    """``text`` folded, with the way back to its offsets (for matching and highlighting)."""
    return _assemble(text, _folded_words(text))


def fold(text: str) -> str:
    """``text`` folded: its words separated by single spaces (what search indexes)."""
    return " ".join(w[0] for w in _folded_words(text))


def fold_words(text: str) -> list[str]:
    """The folded words of ``text``, the way dedup counts them: ``fold(text)``
    split into words, with every letter of a script written without spaces
    (Chinese, Japanese, Thai...) a word of its own, as the matcher treats it
    (see :func:`watcher.text.boundaries.is_unspaced`)."""
    out: list[str] = []
    for letters, _, _ in _folded_words(text):
        if UNSPACED_LETTER.search(letters):
            out += UNSPACED_SPLIT.findall(letters)
        else:
            out.append(letters)
    return out


def _folded_words(text: str) -> list[_Word]:
    """The one folding every consumer goes through: characters folded, words
    cut, articles dropped."""
    return _drop_articles(text, _words(text))


# A word: (letters, original start per letter, original end per letter);
# the offsets are ranges when letters map one to one onto the original.
_Word = tuple[str, Sequence[int], Sequence[int]]


def _words(text: str) -> list[_Word]:
    folded = text.translate(_TABLE)
    if len(folded) == len(text) and not _TABLE.irregular.intersection(text):
        return [
            (m.group(), range(m.start(), m.end()), range(m.start() + 1, m.end() + 1))
            for m in _RUN.finditer(folded)
        ]
    return _words_slowly(text)


def _words_slowly(text: str) -> list[_Word]:
    words: list[_Word] = []
    letters: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    table = _TABLE
    for index, char in enumerate(text):
        folded = table[ord(char)]
        if folded == " ":
            if letters:
                words.append(("".join(letters), starts, ends))
                letters, starts, ends = [], [], []
            continue
        for letter in folded:
            letters.append(letter)
            starts.append(index)
            ends.append(index + 1)
    if letters:
        words.append(("".join(letters), starts, ends))
    return words


def _strip_arabic_article(word: _Word) -> _Word:
    letters, starts, ends = word
    cut = 0
    if letters.startswith(_ARABIC_ARTICLE) and len(letters) >= 4:
        cut = 2
    elif len(letters) >= 6 and letters[0] in ARABIC_PROCLITICS and letters[1:3] == _ARABIC_ARTICLE:
        cut = 3
    elif letters.startswith("\u0644\u0644") and len(letters) >= 5:  # لل = ل + ال
        cut = 2
    if not cut:
        return word
    return letters[cut:], starts[cut:], ends[cut:]


def _drop_articles(text: str, words: list[_Word]) -> list[_Word]:
    kept: list[_Word] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        letters = word[0]
        if "\u0600" <= letters[0] <= "\u06ff":
            kept.append(_strip_arabic_article(word))
        elif i < last and letters in _ALL_ARTICLES and _is_latin_article(text, word, words[i + 1]):
            continue
        else:
            kept.append(word)
    return kept


def _is_latin_article(text: str, word: _Word, following: _Word) -> bool:
    letters = word[0]
    if letters not in _LATIN_ARTICLES and letters not in _SUN_ARTICLES:
        return False
    gap = text[word[2][-1] : following[1][0]]
    if not following[0][0].isalpha():
        return False
    if letters in _LATIN_ARTICLES:
        return gap in _HYPHENS or (gap.isspace() and "\n" not in gap)
    # "ash-Shara", "ad-Dawla": only hyphenated, with the sun letter repeated
    return gap in _HYPHENS and following[0].startswith(letters[1:])


def _sentence_break(text: str, word: _Word, following: _Word) -> bool:
    gap = text[word[2][-1] : following[1][0]]
    if "\n" in gap:
        return True
    stop = next((i for i, ch in enumerate(gap) if ch in _TERMINATORS), None)
    if stop is None or not any(ch.isspace() for ch in gap[stop:]):
        return False
    before = word[0]
    return len(before) > 1 and before not in _ABBREVIATIONS


_BREAK_CANDIDATE = re.compile(r"[\n.!?\u061f\u3002\u06d4]")


def _assemble(text: str, words: list[_Word]) -> Normalised:
    starts = array("q")
    ends = array("q")
    token_starts = array("q")
    sentences = array("q")
    breaks = [m.start() for m in _BREAK_CANDIDATE.finditer(text)]
    next_break = 0
    sentence = 0
    position = 0
    previous = None
    for word in words:
        letters, w_starts, w_ends = word
        if previous is not None:
            begin = w_starts[0]
            starts.append(begin)
            ends.append(begin)
            position += 1
            gap = previous[2][-1]
            while next_break < len(breaks) and breaks[next_break] < gap:
                next_break += 1
            if (
                next_break < len(breaks)
                and breaks[next_break] < begin
                and _sentence_break(text, previous, word)
            ):
                sentence += 1
        token_starts.append(position)
        sentences.append(sentence)
        starts.extend(w_starts)
        ends.extend(w_ends)
        position += len(letters)
        previous = word
    return Normalised(" ".join(w[0] for w in words), starts, ends, token_starts, sentences)


def normalise_term(term: str) -> str:
    """The normalised form of a rule term or alias ("" if nothing is left)."""
    return normalise(term).text
