"""The one folding of text: rule terms, articles, search queries and the
search index, and dedup's content hashes and SimHash all go through it, so
whatever spelling the rules treat as one word, search and dedup do too.

A text is folded ONCE (``normalise(text)``, a :class:`Normalised`), and every
consumer reads that one result:

* ``.text``: the folded words separated by single spaces: what the matcher
  scans and the search index stores (``fold(text)`` is just that string);
* ``.words`` and ``.line_words()``: its words as dedup counts them, every
  letter of a script written without spaces a word of its own
  (``fold_words(text)``): the content hash and the SimHash;
* ``.span(start, end)``, ``.token_at``, ``.sentence_at``, ``.position_of``:
  the way back to the original, for the matcher's hits: offsets into the
  text exactly as given, word and sentence numbers. They are worked out only
  when asked, from a table of where each word starts, not a table per
  character: most of a text is never hit.

The folding itself is one pass of ``str.translate`` (``bytes.translate`` for
ASCII text) that maps every character to exactly one (a letter, a space, a
line break, or a mark for a character that vanishes or becomes several
letters), so positions in it are positions in the original; words are then
cut with ``str.split``. Only the few words with such marks, and the words
around an article, are looked at one by one.

Changing how text folds changes stored derived data (the search index, the
articles' ``content_hash`` and ``simhash``): bump :data:`FOLD_VERSION` and
the next opening of a database recomputes them (:mod:`watcher.dedup.refold`).

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

Sentence boundaries are found per word (newline, or . ! ? ؟ 。 followed
by a space, except after a single letter or a common abbreviation such as
"Gen." or "Dr.") for ``same_sentence`` conditions.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from itertools import accumulate, compress, pairwise, repeat
from operator import add

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


_VANISH = "\x00"  # in the one-for-one folding: a character that leaves no letter
_EXPAND = "\x01"  # ... and one that becomes several letters ("ß" -> "ss")
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines' line breaks besides \n and \r
_BREAK_CANDIDATE = re.compile(r"[\n.!?\u061f\u3002\u06d4]")


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
    """str.translate table, one character for one: each character to its
    folded letter, " " to separate words (but "\\n" stays, lines matter to
    dedup, and a hyphen becomes "-", it may follow an article: "al-Sharaa"),
    _VANISH for a character that leaves no letter (harakat, a soft hyphen) and
    _EXPAND for one that becomes several (``letters`` holds them: "ß" -> "ss").

    Filled on demand, so it grows with the alphabet seen, not with the text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.letters: dict[str, str] = {}

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = "\n" if char == "\n" else "-" if char in _HYPHENS else fold_char(char)
        if folded is None:
            value = " "
        elif folded == "":
            value = _VANISH
        elif len(folded) == 1:
            value = folded
        else:
            self.letters[char] = folded
            value = _EXPAND
        self[code] = value
        return value


_TABLE = _Table()
_ASCII = bytes(ord(_TABLE[c]) for c in range(128)) + bytes(range(128, 256))
_OTHER = "\x02"  # in a mostly-ASCII text folded as bytes: "?" or a character that is not ASCII
_MOSTLY_ASCII = _ASCII[: ord("?")] + _OTHER.encode() + _ASCII[ord("?") + 1 :]


def _one_for_one(text: str) -> str:
    """``text`` folded character for character (see :class:`_Table`): offsets
    into it are offsets into ``text``. ASCII is folded as bytes (ten times
    faster than ``str.translate``); in a text that is mostly ASCII, only the
    other characters are looked up one by one; other texts below U+3000
    (Cyrillic, Arabic, Indic...) are translated through a list, three times
    faster than through the dictionary the rest (CJK, Hangul) goes through."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII).decode("ascii")
    folded = text.encode("ascii", "replace").translate(_MOSTLY_ASCII).decode("ascii")
    if folded.count(_OTHER) > len(text) >> 4:
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded.translate(None, _HIGH_LEADS)) == len(encoded):
            return text.translate(_low_table())
        return text.translate(_TABLE)
    table, find = _TABLE, folded.find
    out = []
    last = 0
    i = find(_OTHER)
    while i >= 0:
        out.append(folded[last:i])
        out.append(table[ord(text[i])])
        last = i + 1
        i = find(_OTHER, last)
    out.append(folded[last:])
    return "".join(out)


_LOW = 0x3000  # the list table covers the code points below this
_HIGH_LEADS = bytes(range(0xE3, 0xF5))  # UTF-8 lead bytes of the code points from U+3000 on
_LOW_TABLE: list[str] = []


def _low_table() -> list[str]:
    """:data:`_TABLE` as a list over the code points below :data:`_LOW`, made on first use."""
    global _LOW_TABLE  # a cache of a constant: built once, the same in every thread
    if not _LOW_TABLE:
        _LOW_TABLE = [_TABLE[code] for code in range(_LOW)]
    return _LOW_TABLE


def _starts(pieces: list[str]) -> Iterator[int]:
    """Where each of ``pieces`` (a string cut at single spaces) begins in it."""
    return accumulate(map(add, map(len, pieces), repeat(1)), initial=0)


# A word being cut: (letters, original offset of the first letter, and, when its
# letters do not map one for one onto consecutive characters, their original
# (starts, ends)).
_Word = tuple[str, int, "tuple[list[int], list[int]] | None"]


class Normalised:
    """A text folded once: ``text``, its words separated by single spaces, and
    the way back to the original, worked out when first asked.

    Word k begins at ``text`` offset ``word_starts[k]``, and its first letter
    came from original offset ``first[k]``. A word whose letters map one for
    one onto consecutive original characters needs nothing more; the others
    (a vanished or expanded character inside) keep their letters' original
    spans in ``_irregular``. ``_f`` is the one-for-one folding (see
    :class:`_Table`) when every word is as it was cut from it.
    """

    __slots__ = ("_f", "_first", "_irregular", "_lines", "_sentences", "_word_starts", "original", "text")

    def __init__(
        self,
        original: str,
        text: str,
        *,
        f: str | None = None,
        first: list[int] | None = None,
        irregular: dict[int, tuple[list[int], list[int]]] | None = None,
    ) -> None:
        self.original = original
        self.text = text
        self._f = f
        self._first = first
        self._irregular = irregular or {}
        self._lines: list[list[str]] | None = None
        self._word_starts: list[int] | None = None
        self._sentences: list[int] | None = None

    def __repr__(self) -> str:
        return f"Normalised({self.text[:60]!r}{'...' if len(self.text) > 60 else ''})"

    def __reduce__(self) -> tuple:
        """Pickled (from the extraction worker to the process that stores) as
        what it was made from: the caches worked out since (the words per
        line, where words begin, sentences) are left behind, to be worked out
        again where they are asked for."""
        return (_restore, (self.original, self.text, self._f, self._first, self._irregular or None))

    # -- words ---------------------------------------------------------------
    @property
    def word_starts(self) -> list[int]:
        """Where each word begins in ``text``."""
        if self._word_starts is None:
            self._word_starts = list(_starts(self.text.split(" ")))[:-1] if self.text else []
        return self._word_starts

    @property
    def first(self) -> list[int]:
        """The original offset of each word's first letter."""
        if self._first is None:
            pieces = _spaced(self._f or "").split(" ")
            self._first = list(compress(_starts(pieces), pieces))
        return self._first

    @property
    def words(self) -> list[str]:
        """The words as dedup counts them: every letter of a script written
        without spaces (Chinese, Japanese, Thai...) is a word of its own, as
        the matcher treats it (see :func:`watcher.text.boundaries.is_unspaced`)."""
        return _dedup_words(self.text.split())

    def joined_words(self) -> tuple[str, int]:
        """``" ".join(words)`` and ``len(words)``: for a text without unspaced
        letters that is ``text`` itself (its words are ``text.split()``), so
        nothing is cut nor joined (the content hash)."""
        text = self.text
        if _all_spaced(text):
            return text, text.count(" ") + 1 if text else 0
        words = self.words
        return " ".join(words), len(words)

    def line_words(self) -> list[list[str]]:
        """``words`` per line of the original (as ``str.splitlines`` cuts it),
        lines without words left out."""
        original = self.original
        if ("\r" in original and original.count("\r") != original.count("\r\n")) or any(
            c in original for c in _OTHER_BREAKS
        ):
            return [w for w in (normalise(line).words for line in original.splitlines()) if w]
        if self._lines is None:
            self._lines = self._by_line()
        if _all_spaced(self.text):
            return [line for line in self._lines if line]  # every word as it is (see _dedup_words)
        return [_dedup_words(line) for line in self._lines if line]

    def _by_line(self) -> list[list[str]]:
        if "\n" not in self.original:
            return [self.text.split()]
        if self._f is not None:
            return [line.split() for line in self._f.replace("-", " ").split("\n")]
        # A word belongs to the line its first letter is on (never on a break):
        # the words are in order, so each line is a slice, cut where a break is.
        first, words = self.first, self.text.split()
        cuts = [bisect.bisect_left(first, m.start()) for m in re.finditer("\n", self.original)]
        return [words[a:b] for a, b in pairwise([0, *cuts, len(words)])]

    # -- the way back --------------------------------------------------------
    def token_at(self, position: int) -> int:
        """Index of the word that contains ``text`` offset ``position`` (a space: the word before it)."""
        return max(bisect.bisect_right(self.word_starts, position) - 1, 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the ``text`` range [start, end)."""
        return self._origin(start)[0], self._origin(end - 1)[1]

    def _origin(self, position: int) -> tuple[int, int]:
        """The original span of ``text`` character ``position``; for a space
        between two words, the empty span where the next word begins."""
        starts, first = self.word_starts, self.first
        k = max(bisect.bisect_right(starts, position) - 1, 0)
        if k + 1 < len(starts) and position == starts[k + 1] - 1:
            return first[k + 1], first[k + 1]
        i = position - starts[k]
        irregular = self._irregular.get(k)
        if irregular is not None:
            return irregular[0][i], irregular[1][i]
        return first[k] + i, first[k] + i + 1

    def _length(self, k: int) -> int:
        starts = self.word_starts
        return (starts[k + 1] - 1 if k + 1 < len(starts) else len(self.text)) - starts[k]

    def _end(self, k: int) -> int:
        """Original offset just after word k's last letter."""
        irregular = self._irregular.get(k)
        if irregular is not None:
            return irregular[1][-1]
        return self.first[k] + self._length(k)

    def position_of(self, original: int) -> int:
        """The first ``text`` character whose original span starts at or after
        ``original`` (a space between words starts where the next word does)."""
        first = self.first
        k = bisect.bisect_left(first, original) - 1
        if k < 0:
            return 0
        irregular = self._irregular.get(k)
        if irregular is not None:
            return self.word_starts[k] + bisect.bisect_left(irregular[0], original)
        return self.word_starts[k] + min(self._length(k), original - first[k])

    def sentence_at(self, position: int) -> int:
        return self.sentence_of(self.token_at(position))

    def sentence_of(self, token: int) -> int:
        """The sentence number of word ``token`` (0: the first sentence)."""
        if self._sentences is None:
            self._sentences = self._sentence_starts()
        return bisect.bisect_right(self._sentences, token)

    def _sentence_starts(self) -> list[int]:
        """The words that begin a sentence, but the first: only the gaps
        between words that hold a line break or a full stop are looked at."""
        first, original = self.first, self.original
        words = self.text.split()
        gaps = {bisect.bisect_right(first, m.start()) for m in _BREAK_CANDIDATE.finditer(original)}
        return [
            k
            for k in sorted(gaps)
            if 0 < k < len(first) and _sentence_break(original[self._end(k - 1) : first[k]], words[k - 1])
        ]

    # -- whole arrays (for tests, and code that wants every offset) ------------
    @property
    def starts(self) -> list[int]:
        """The original start of every ``text`` character."""
        return [self._origin(i)[0] for i in range(len(self.text))]

    @property
    def ends(self) -> list[int]:
        """The original end of every ``text`` character."""
        return [self._origin(i)[1] for i in range(len(self.text))]

    @property
    def token_starts(self) -> list[int]:
        return self.word_starts

    @property
    def token_sentences(self) -> list[int]:
        return [self.sentence_of(k) for k in range(len(self.first))]


def _restore(
    original: str,
    text: str,
    f: str | None,
    first: list[int] | None,
    irregular: dict[int, tuple[list[int], list[int]]] | None,
) -> Normalised:
    """A :class:`Normalised` unpickled (see :meth:`Normalised.__reduce__`)."""
    return Normalised(original, text, f=f, first=first, irregular=irregular)


def _all_spaced(text: str) -> bool:
    """Whether ``text`` has no letter of a script written without spaces (its
    words are its space-separated words, as dedup counts them)."""
    return text.isascii() or not UNSPACED_LETTER.search(text)


def _dedup_words(words: list[str]) -> list[str]:
    if _all_spaced(" ".join(words)):
        return words
    out: list[str] = []
    for word in words:
        if UNSPACED_LETTER.search(word):
            out += UNSPACED_SPLIT.findall(word)
        else:
            out.append(word)
    return out


def normalise(text: str) -> Normalised:
    """``text`` folded, with the way back to its offsets (see :class:`Normalised`)."""
    f = _one_for_one(text)
    marked = _VANISH in f or _EXPAND in f
    arabic = "\u0627\u0644" in f or "\u0644\u0644" in f
    if not (marked or arabic or _latin_article_in(text, f)):
        return Normalised(text, " ".join(_spaced(f).split()), f=f)  # the common case: words as cut
    return _one_by_one(text, f, marked, arabic)


def _one_by_one(text: str, f: str, marked: bool, arabic: bool) -> Normalised:
    """``normalise`` for a text with marks or articles: only the words that
    hold a mark, or may be or follow an article, are looked at one by one."""
    pieces = _spaced(f).split(" ")
    letters = list(filter(None, pieces))
    first = list(compress(_starts(pieces), pieces))
    spans: dict[int, tuple[list[int], list[int]]] = {}
    if marked:
        for k in _marked_words(f, first):
            letters[k], spans[k] = _irregular_word(text, letters[k], first[k])
            if letters[k]:
                first[k] = spans[k][0][0]
        if not all(letters):  # a word of vanishing characters only is no word
            keep = [k for k, word in enumerate(letters) if word]
            spans = {i: spans[k] for i, k in enumerate(keep) if k in spans}
            letters, first = [letters[k] for k in keep], [first[k] for k in keep]
        arabic = arabic or "\u0627\u0644" in "".join(letters) or "\u0644\u0644" in "".join(letters)
    drop = set()
    if not _ALL_ARTICLES.isdisjoint(letters):
        last = len(letters) - 1
        for k, word in enumerate(letters):
            if word in _ALL_ARTICLES and k < last:
                this, following = (word, first[k], spans.get(k)), (letters[k + 1], first[k + 1], None)
                if _is_latin_article(text, this, following):
                    drop.add(k)
    if arabic:
        for k, word in enumerate(letters):
            if "\u0600" <= word[0] <= "\u06ff":
                cut = _arabic_cut(word)
                if cut:
                    letters[k] = word[cut:]
                    if k in spans:
                        spans[k] = (spans[k][0][cut:], spans[k][1][cut:])
                        first[k] = spans[k][0][0]
                    else:
                        first[k] += cut
    if drop:
        keep = [k for k in range(len(letters)) if k not in drop]
        spans = {i: spans[k] for i, k in enumerate(keep) if k in spans}
        letters, first = [letters[k] for k in keep], [first[k] for k in keep]
    return Normalised(text, " ".join(letters), first=first, irregular=spans)


def _marked_words(f: str, first: list[int]) -> set[int]:
    """The words of the one-for-one folding ``f`` (starting at ``first``) that hold a mark."""
    found = set()
    for mark in (_VANISH, _EXPAND):
        i = f.find(mark)
        while i >= 0:
            k = bisect.bisect_right(first, i) - 1
            found.add(k)
            end = first[k + 1] if k + 1 < len(first) else len(f)  # the rest of this word is done
            i = f.find(mark, end)
    return found


def _spaced(f: str) -> str:
    """The one-for-one folding with every separator a space."""
    if "-" in f:
        f = f.replace("-", " ")
    return f.replace("\n", " ") if "\n" in f else f


_GAP = " \n-"  # what separates words in the one-for-one folding


def _latin_article_in(text: str, f: str) -> bool:
    """Whether the one-for-one folding ``f`` of ``text`` (without marks) holds
    a Latin article to drop: one ending in a hyphen, or "al"/"el" before a space."""
    h = f.find("-")
    while h >= 0:
        begin = max(f.rfind(" ", 0, h), f.rfind("\n", 0, h), f.rfind("-", 0, h)) + 1
        if 2 <= h - begin <= 3 and _article_at(text, f, begin, h):
            return True
        h = f.find("-", h + 1)
    for article in ("al ", "el "):
        i = f.find(article)
        while i >= 0:
            if (i == 0 or f[i - 1] in _GAP) and _article_at(text, f, i, i + 2):
                return True
            i = f.find(article, i + 1)
    return False


def _article_at(text: str, f: str, begin: int, end: int) -> bool:
    """Whether the word f[begin:end] is an article dropped before the next word
    (:func:`_is_latin_article`, on the one-for-one folding)."""
    letters = f[begin:end]
    if letters not in _ALL_ARTICLES:
        return False
    following = end
    while following < len(f) and f[following] in _GAP:
        following += 1
    if following == len(f):
        return False
    return _is_latin_article(text, (letters, begin, None), (f[following : following + 3], following, None))


def _irregular_word(text: str, word: str, start: int) -> tuple[str, tuple[list[int], list[int]]]:
    """The letters of a word with vanished or expanded characters, and each letter's original span."""
    letters: list[str] = []
    starts: list[int] = []
    for i, char in enumerate(word):
        if char == _VANISH:
            continue
        position = start + i
        for letter in _TABLE.letters[text[position]] if char == _EXPAND else char:
            letters.append(letter)
            starts.append(position)
    return "".join(letters), (starts, [s + 1 for s in starts])


def _word_end(word: _Word) -> int:
    return word[2][1][-1] if word[2] is not None else word[1] + len(word[0])


def fold(text: str) -> str:
    """``text`` folded: its words separated by single spaces (what search indexes)."""
    return normalise(text).text


def fold_words(text: str) -> list[str]:
    """The folded words of ``text``, the way dedup counts them (:attr:`Normalised.words`)."""
    return normalise(text).words


def _arabic_cut(letters: str) -> int:
    """How many letters of the Arabic article (and a proclitic before it) begin the word."""
    if letters.startswith(_ARABIC_ARTICLE) and len(letters) >= 4:
        return 2
    if len(letters) >= 6 and letters[0] in ARABIC_PROCLITICS and letters[1:3] == _ARABIC_ARTICLE:
        return 3
    if letters.startswith("\u0644\u0644") and len(letters) >= 5:  # لل = ل + ال
        return 2
    return 0


def _is_latin_article(text: str, word: _Word, following: _Word) -> bool:
    letters = word[0]
    if letters not in _LATIN_ARTICLES and letters not in _SUN_ARTICLES:
        return False
    gap = text[_word_end(word) : following[1]]
    if not following[0][0].isalpha():
        return False
    if letters in _LATIN_ARTICLES:
        return gap in _HYPHENS or (gap.isspace() and "\n" not in gap)
    # "ash-Shara", "ad-Dawla": only hyphenated, with the sun letter repeated
    return gap in _HYPHENS and following[0].startswith(letters[1:])


def _sentence_break(gap: str, before: str) -> bool:
    """Whether the ``gap`` between two words, after the word ``before``, ends a sentence."""
    if "\n" in gap:
        return True
    stop = next((i for i, ch in enumerate(gap) if ch in _TERMINATORS), None)
    if stop is None or not any(ch.isspace() for ch in gap[stop:]):
        return False
    return len(before) > 1 and before not in _ABBREVIATIONS


def normalise_term(term: str) -> str:
    """The normalised form of a rule term or alias ("" if nothing is left)."""
    return normalise(term).text
