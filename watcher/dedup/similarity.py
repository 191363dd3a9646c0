"""Near-duplicate text: a 64-bit SimHash, an exact word-triple resemblance,
and the in-memory index that finds stored fingerprints near a new one.

Why this shape (measured by ``bench/dedup.py`` on the real gold articles):

* The fingerprint is a SimHash over word 3-grams ("shingles") of the
  normalised words, each occurrence counted. Word 3-grams keep two *different*
  reports of one event far apart (same vocabulary, different sentences);
  single words (what trafilatura's Simhash uses) put them close: the five
  same-topic seed articles came 8 bits apart on words, 20 on 3-grams.
* A 64-bit SimHash is a noisy estimate: copies of an article land up to 24
  bits away from it, a different article as close as 18. So
  the SimHash only *proposes* candidates within ``max_distance``; a candidate
  joins only when the exact share of word 3-grams the two texts have in
  common (:func:`resemblance`) reaches ``min_resemblance``. Random SimHash
  collisions therefore never join stories, however many articles are stored.
* The index is a vectorised Hamming scan (numpy, imported only here) over the
  fingerprints of the window, ordered by time: about a millisecond for
  1,000,000 fingerprints, 34 bytes each with the scan buffers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from watcher.dedup.identity import MIN_WORDS, within_limit
from watcher.text.fold import Normalised

SHINGLE = 3
MIN_LINE_WORDS = 5  # shorter lines are site furniture, not text
MASK64 = (1 << 64) - 1
WORD_HASHES = 32_768  # words whose hash is remembered (about 5 MB at most; 149 real pages use 19,000)
# Odd 64-bit multipliers: a 3-gram's hash depends on its words and their order.
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_K1, _K2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def word_hash(word: str) -> int:
    """A word's 64-bit hash (blake2b), the same in every process and release
    (stored fingerprints are compared with new ones)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


# word -> its word_hash as 8 little-endian bytes, remembered: a pure function
# of the word, and news vocabulary repeats (an article's words were mostly
# hashed for earlier ones). A plain dict, so that set.difference looks words up
# in it rather than walking it. Emptied when it would hold more than
# WORD_HASHES words (a bound, not a policy: the common words come back). Shared
# by the threads that fingerprint texts: one of them may empty it while another
# reads it, which then hashes its words itself.
_WORD_HASHES: dict[str, bytes] = {}


def _word_hashes(words: list[str]) -> bytes:
    """The :func:`word_hash` of each of ``words``, in order, as one buffer of 8
    little-endian bytes per word. Only the words not remembered are hashed (one
    by one: blake2b); the rest is a set difference, dict look-ups and one join,
    all in C."""
    known = _WORD_HASHES
    missing = set(words).difference(known)
    if missing:
        if len(known) + len(missing) > WORD_HASHES:
            known.clear()
            missing = set(words)
        known.update(_hashed(missing))
    try:
        return b"".join(map(known.__getitem__, words))
    except KeyError:  # another thread emptied the cache since: this text's words alone
        return b"".join(map(_hashed(set(words)).__getitem__, words))


def _hashed(words: set[str]) -> dict[str, bytes]:
    blake2b = hashlib.blake2b
    return {word: blake2b(word.encode("utf-8"), digest_size=8).digest() for word in words}


def shingle_hashes(words: list[str]) -> np.ndarray:
    """64-bit hashes of the word 3-grams, in order, repeats kept: each word
    hashed by :func:`word_hash` (remembered), 3-grams combined and mixed vectorised."""
    if not words:
        return np.empty(0, np.uint64)
    h = np.frombuffer(_word_hashes(words), "<u8").astype(np.uint64)
    if len(h) < SHINGLE:
        h = np.concatenate([h, np.zeros(SHINGLE - len(h), np.uint64)])
    x = h[:-2] * _MIX[0]
    x += h[1:-1] * _MIX[1]
    x += h[2:] * _MIX[2]
    x ^= x >> _S30  # splitmix64's finaliser
    x *= _K1
    x ^= x >> _S27
    x *= _K2
    x ^= x >> _S31
    return x


def content_words(text: str | Normalised) -> list[str]:
    """The normalised words of the text's lines of at least MIN_LINE_WORDS
    words: menus, share buttons, bylines and copyright lines that an extractor
    left in are not part of what makes two texts the same story. ``text`` may
    come folded already (the pipeline folds each text once)."""
    words: list[str] = []
    for found in within_limit(text).line_words():
        if len(found) >= MIN_LINE_WORDS:
            words += found
    return words


def fingerprint(text: str | Normalised) -> int | None:
    """64-bit SimHash of the text's word 3-grams (each occurrence counts), as a
    signed int64 (how SQLite stores it). None under MIN_WORDS words."""
    words = content_words(text)
    if len(words) < MIN_WORDS:
        return None
    features = shingle_hashes(words)
    ones = np.unpackbits(features.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").sum(
        axis=0, dtype=np.int64
    )
    bits = np.packbits(ones * 2 > len(features), bitorder="little")
    return int.from_bytes(bits.tobytes(), "little", signed=True)


def distance(a: int, b: int) -> int:
    """Hamming distance between two fingerprints (signed or unsigned), 0-64."""
    return ((a ^ b) & MASK64).bit_count()


def shingle_set(text: str | Normalised) -> frozenset[tuple[str, ...]]:
    """The distinct word 3-grams of ``text``, for :func:`resemblance` (kept in
    memory only, so Python's own hashing will do)."""
    words = content_words(text)
    if len(words) < SHINGLE:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def resemblance(a: frozenset, b: frozenset) -> float:
    """Share of word 3-grams in common, of the longer text's: 1.0 for the same
    text, about 0.9 with 10 % of the sentences dropped, under 0.2 for two
    different reports of one event. Measured against the longer text so that a
    short item is not swallowed by a long round-up that quotes it."""
    if not a or not b:
        return 0.0
    return len(a & b) / max(len(a), len(b))


class FingerprintIndex:
    """Fingerprints with their article id and time (epoch seconds), in time order.

    Not thread-safe: each pipeline (one database connection) owns one. Entries
    are hints: the caller re-reads the article row before trusting one, so an
    entry left behind by a rolled-back transaction or an edit does no harm.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._n = 0
        capacity = max(16, capacity)
        self._ids = np.empty(capacity, np.int64)
        self._fps = np.empty(capacity, np.uint64)
        self._times = np.empty(capacity, np.float64)
        self._buffers(capacity)

    def _grow(self, capacity: int) -> None:
        n = self._n
        ids, fps, times = (
            np.empty(capacity, np.int64),
            np.empty(capacity, np.uint64),
            np.empty(capacity, np.float64),
        )
        ids[:n], fps[:n], times[:n] = self._ids[:n], self._fps[:n], self._times[:n]
        self._ids, self._fps, self._times = ids, fps, times
        self._buffers(capacity)

    def _buffers(self, capacity: int) -> None:
        """The scratch arrays ``near`` computes in."""
        self._xor = np.empty(capacity, np.uint64)
        self._bits = np.empty(capacity, np.uint8)
        self._hit = np.empty(capacity, np.bool_)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays, scan buffers included."""
        return sum(a.nbytes for a in (self._ids, self._fps, self._times, self._xor, self._bits, self._hit))

    def add(self, article_id: int, fingerprint: int, at: float) -> None:
        self.extend([article_id], [fingerprint], [at])

    def extend(self, ids: Sequence[int], fingerprints: Sequence[int], times: Sequence[float]) -> None:
        """Append many; fingerprints signed (as stored). Times must not go back:
        an earlier time than the last entry's is raised to it (the entry then
        stays in the window a little longer, never shorter)."""
        count = len(ids)
        if not count:
            return
        if self._n + count > len(self._ids):
            self._grow(max(2 * len(self._ids), self._n + count))
        end = self._n + count
        floor = self._times[self._n - 1] if self._n else -np.inf
        self._ids[self._n : end] = ids
        self._fps[self._n : end] = np.asarray(fingerprints, np.int64).view(np.uint64)
        at = np.asarray(times, np.float64)
        self._times[self._n : end] = np.maximum.accumulate(np.maximum(at, floor))
        self._n = end

    def near(
        self, fingerprint: int, *, max_distance: int, since: float, limit: int = 8
    ) -> list[tuple[int, int]]:
        """Up to ``limit`` (article_id, distance) pairs within ``max_distance``
        bits, added at or after ``since``, nearest first."""
        start = int(np.searchsorted(self._times[: self._n], since, side="left"))
        n = self._n - start
        if n <= 0:
            return []
        xor, bits, hit = self._xor[:n], self._bits[:n], self._hit[:n]
        np.bitwise_xor(self._fps[start : self._n], np.uint64(fingerprint & MASK64), out=xor)
        np.bitwise_count(xor, out=bits)
        np.less_equal(bits, max_distance, out=hit)
        found = np.flatnonzero(hit)
        if len(found) > limit * 4:
            found = found[np.argpartition(bits[found], limit * 4)[: limit * 4]]
        best: dict[int, int] = {}
        for pos in found.tolist():
            article_id, d = int(self._ids[start + pos]), int(bits[pos])
            best[article_id] = min(d, best.get(article_id, 64))
        return sorted(best.items(), key=lambda item: (item[1], item[0]))[:limit]

    def drop_after(self, article_id: int) -> None:
        """Forget entries of articles with a larger id (their rows were rolled back)."""
        keep = self._ids[: self._n] <= article_id
        if keep.all():
            return
        kept = int(keep.sum())
        self._ids[:kept] = self._ids[: self._n][keep]
        self._fps[:kept] = self._fps[: self._n][keep]
        self._times[:kept] = self._times[: self._n][keep]
        self._n = kept

    def expire(self, before: float) -> None:
        """Drop entries older than ``before`` once they are most of the index."""
        cut = int(np.searchsorted(self._times[: self._n], before, side="left"))
        if cut * 2 < self._n:
            return
        keep = self._n - cut
        for array in (self._ids, self._fps, self._times):
            array[:keep] = array[cut : self._n].copy()
        self._n = keep
