"""Near-duplicate text: a 64-bit SimHash, an exact word-triple resemblance,
and the in-memory index that finds stored fingerprints near a new one.

Why this shape (measured by ``bench/dedup.py`` on the real gold articles):

* The fingerprint is a SimHash over word 3-grams ("shingles") of the
  normalised words, each occurrence counted. Word 3-grams keep two *different*
  reports of one event far apart (same vocabulary, different sentences);
  single words (what trafilatura's Simhash uses) put them close.
* A 64-bit SimHash is a noisy estimate: a copy with 10 % of its sentences
  dropped lands 2-16 bits away, unrelated articles 17-45. So the SimHash only
  *proposes* candidates within ``max_distance``; a candidate joins only when
  the exact share of word 3-grams the two texts have in common
  (:func:`resemblance`) reaches ``min_resemblance``. Random SimHash collisions
  therefore never join stories, however many articles are stored.
* The index is a vectorised Hamming scan (numpy, imported only here) over the
  fingerprints of the window, ordered by time: at 1,000,000 fingerprints one
  scan takes well under a millisecond and the arrays take 24 MB.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from watcher.identity import MIN_WORDS, normal_words

SHINGLE = 3
MASK64 = (1 << 64) - 1
_BITS = tuple(tuple(i for i in range(8) if value >> i & 1) for value in range(256))


def shingles(words: list[str]) -> list[str]:
    """Word 3-grams, in order, repeats kept."""
    if len(words) < SHINGLE:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]


def fingerprint(text: str) -> int | None:
    """64-bit SimHash of the text's word 3-grams, as a signed int64 (how SQLite
    stores it). None when the text has fewer than MIN_WORDS words."""
    words = normal_words(text)
    if len(words) < MIN_WORDS:
        return None
    return _to_signed(_simhash(shingles(words)))


def _simhash(features: list[str]) -> int:
    # Count, for each of the 64 bit positions, the features whose hash has it
    # set. Byte j of every hash is digests[j::8]; Counter tallies those in C,
    # then each distinct byte value adds its count to the bits it has.
    digests = b"".join(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest()
                       for f in features)
    ones = [0] * 64
    for j in range(8):
        for value, count in Counter(digests[j::8]).items():
            for bit in _BITS[value]:
                ones[j * 8 + bit] += count
    half = len(features) / 2
    return sum(1 << i for i, n in enumerate(ones) if n > half)


def _to_signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def distance(a: int, b: int) -> int:
    """Hamming distance between two fingerprints (signed or unsigned), 0-64."""
    return ((a ^ b) & MASK64).bit_count()


def shingle_set(text: str) -> frozenset[str]:
    return frozenset(shingles(normal_words(text)))


def resemblance(a: frozenset[str], b: frozenset[str]) -> float:
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
        self._alloc(max(16, capacity))

    def _alloc(self, capacity: int) -> None:
        old = getattr(self, "_ids", None)
        ids, fps, times = (np.empty(capacity, np.int64), np.empty(capacity, np.uint64),
                           np.empty(capacity, np.float64))
        if old is not None:
            ids[:self._n], fps[:self._n], times[:self._n] = (
                self._ids[:self._n], self._fps[:self._n], self._times[:self._n])
        self._ids, self._fps, self._times = ids, fps, times
        self._xor = np.empty(capacity, np.uint64)
        self._bits = np.empty(capacity, np.uint8)
        self._hit = np.empty(capacity, np.bool_)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays, scan buffers included."""
        return sum(a.nbytes for a in (self._ids, self._fps, self._times,
                                      self._xor, self._bits, self._hit))

    def add(self, article_id: int, fingerprint: int, at: float) -> None:
        self.extend([article_id], [fingerprint], [at])

    def extend(self, ids: Sequence[int], fingerprints: Sequence[int],
               times: Sequence[float]) -> None:
        """Append many; fingerprints signed (as stored). Times must not go back:
        an earlier time than the last entry's is raised to it (the entry then
        stays in the window a little longer, never shorter)."""
        count = len(ids)
        if not count:
            return
        if self._n + count > len(self._ids):
            self._alloc(max(2 * len(self._ids), self._n + count))
        end = self._n + count
        floor = self._times[self._n - 1] if self._n else -np.inf
        self._ids[self._n:end] = ids
        self._fps[self._n:end] = np.asarray(fingerprints, np.int64).view(np.uint64)
        times = np.asarray(times, np.float64)
        self._times[self._n:end] = np.maximum.accumulate(np.maximum(times, floor))
        self._n = end

    def near(self, fingerprint: int, *, max_distance: int, since: float,
             limit: int = 8) -> list[tuple[int, int]]:
        """Up to ``limit`` (article_id, distance) pairs within ``max_distance``
        bits, added at or after ``since``, nearest first."""
        start = int(np.searchsorted(self._times[:self._n], since, side="left"))
        n = self._n - start
        if n <= 0:
            return []
        xor, bits, hit = self._xor[:n], self._bits[:n], self._hit[:n]
        np.bitwise_xor(self._fps[start:self._n], np.uint64(fingerprint & MASK64), out=xor)
        np.bitwise_count(xor, out=bits)
        np.less_equal(bits, max_distance, out=hit)
        found = np.flatnonzero(hit)
        if len(found) > limit * 4:
            found = found[np.argpartition(bits[found], limit * 4)[:limit * 4]]
        best: dict[int, int] = {}
        for pos in found.tolist():
            article_id, d = int(self._ids[start + pos]), int(bits[pos])
            best[article_id] = min(d, best.get(article_id, 64))
        return sorted(best.items(), key=lambda item: (item[1], item[0]))[:limit]

    def drop_after(self, article_id: int) -> None:
        """Forget entries of articles with a larger id (their rows were rolled back)."""
        keep = self._ids[:self._n] <= article_id
        if keep.all():
            return
        kept = int(keep.sum())
        self._ids[:kept] = self._ids[:self._n][keep]
        self._fps[:kept] = self._fps[:self._n][keep]
        self._times[:kept] = self._times[:self._n][keep]
        self._n = kept

    def expire(self, before: float) -> None:
        """Drop entries older than ``before`` once they are most of the index."""
        cut = int(np.searchsorted(self._times[:self._n], before, side="left"))
        if cut * 2 < self._n:
            return
        keep = self._n - cut
        for array in (self._ids, self._fps, self._times):
            array[:keep] = array[cut:self._n].copy()
        self._n = keep
