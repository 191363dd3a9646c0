"""One multi-pattern automaton over every term of every rule.

The only module that imports ``ahocorasick`` (pyahocorasick). Its cost per
text depends on the text length and the number of matches, not on the
number of patterns, and it reports overlapping matches ("Abu Qasra" inside
"Murhaf Abu Qasra"), which a loop of regexes or one big alternation cannot
do at the same cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick


class Automaton:
    """Finds every occurrence of every key in a text.

    ``keys`` are (string, payload) pairs; a string given twice keeps the
    payload of its first occurrence, so callers should pass distinct strings.
    """

    def __init__(self, keys: Iterable[tuple[str, int]]) -> None:
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        self.size = 0
        for key, payload in keys:
            if key and key not in self._automaton:
                self._automaton.add_word(key, (len(key), payload))
                self.size += 1
        if self.size:
            self._automaton.make_automaton()

    def find(self, text: str) -> Iterator[tuple[int, int, int]]:
        """Yield (start, end, payload) for every occurrence, overlapping ones included."""
        if not self.size or not text:
            return
        for last, (length, payload) in self._automaton.iter(text):
            yield last - length + 1, last + 1, payload
