"""Rule regexes on a linear-time engine: the only module that imports ``re2``.

Rule authors write Python's regex syntax (what rules/README.md documents);
:func:`compile` translates the pattern, from Python's own parse tree, into RE2
syntax with Python's meaning kept exactly, and runs it on RE2 (google-re2), whose
time is linear in the text whatever the pattern: ``\\w+\\s*\\w+\\s*Qasra`` or
``a*a*a*a*a*a*a*a*a*b`` cannot stall matching.

What the translation (:mod:`watcher.match.translation`) keeps, checked against
Python's ``re`` in the tests:

* ``\\w``, ``\\d``, ``\\s`` and their negations are Unicode classes
  (``[\\p{L}\\p{N}_]``, ``\\p{Nd}``, Python's 29 space characters); RE2's own
  are ASCII-only.
* Case-insensitivity (rules match case-insensitively; ``(?-i:...)`` turns it
  off) folds as Python does, including Turkish: ``i``, ``I``, ``ı`` and ``İ``
  are one letter to Python's ``re`` and so to the translation.
* ``.`` (with or without ``(?s)``), ``^`` and ``$`` (with or without
  ``(?m)``), ``\\A``, ``\\Z``, lazy repeats and inline flags.
* A word boundary ``\\b`` (or ``\\B``) at the start or end of the pattern,
  where RE2 only has an ASCII one: it becomes a class that consumes the
  character before (or after) the match, and the reported span is the match's
  own. Offsets are character offsets into the text as given.

``$`` without ``(?m)`` is the end of the text (Python also accepts a final
line break before it; the matcher never hands over a line break).

Constructs RE2 lacks (lookahead, lookbehind, backreferences, conditionals,
atomic groups, possessive repeats, ``\\b`` inside the pattern, the ASCII flag)
make the pattern fall back to Python's backtracking ``re``; it is then held to
a strict check: no nested or overlapping repeats, no backreferences, no repeat
of more than ``BIG_REPEAT`` rounds and at most ``MAX_COMBINATIONS`` combinations
of round counts, so its time per character stays bounded by a constant.
``RuleRegex.fallback`` says why a pattern fell back (``watcher check`` shows it).
"""

from __future__ import annotations

import re
import re._constants as C  # type: ignore[import-not-found]  # private stdlib modules: typeshed has no stubs
import re._parser as parser  # type: ignore[import-not-found]
from collections.abc import Iterator
from dataclasses import dataclass, field

import re2

from watcher.errors import WatcherError
from watcher.match.patterns import BIG_REPEAT, REPEATS, pattern_problem
from watcher.match.translation import Translator, Unsupported

MAX_COMBINATIONS = 1000  # round-count combinations of all repeats of a fallback pattern


class RegexError(WatcherError):
    """The pattern cannot be used; ``message`` says why, ``position`` where (or None)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class RuleRegex:
    """A compiled rule regex. ``engine`` is 're2' or 're' (the fallback, and then
    ``fallback`` names the construct RE2 lacks)."""

    pattern: str
    engine: str
    fallback: str | None = None
    _compiled: object = field(default=None, repr=False, compare=False)
    _continued: object = field(default=None, repr=False, compare=False)  # RE2: after a match
    _lead: bool = field(default=False, repr=False, compare=False)  # consumes a char before

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) character offsets of the non-overlapping matches, left to right."""
        if self.engine == "re":
            for m in self._compiled.finditer(text):  # type: ignore[attr-defined]
                yield m.span()
            return
        yield from _re2_spans(self, text)


def compile(pattern: str) -> RuleRegex:  # the module's verb, as re.compile
    """``pattern`` (Python syntax, case-insensitive) ready to run; RegexError if unusable."""
    try:
        python = re.compile(pattern, re.IGNORECASE)
        tree = parser.parse(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RegexError(exc.msg, exc.pos) from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise RegexError(f"cannot be compiled ({exc})") from None
    try:
        first, continued, lead = Translator(tree.state.flags).pattern(list(tree))
        return RuleRegex(pattern, "re2", None, _re2(first), _re2(continued) if continued else None, lead)
    except Unsupported as exc:
        reason = str(exc)
    problem = strict_problem(pattern)
    if problem:
        raise RegexError(
            f"it uses {reason}, which the linear-time engine (RE2) lacks, so it would "
            f"run on Python's backtracking re, where {problem}"
        )
    return RuleRegex(pattern, "re", reason, python)


def strict_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not run on Python's backtracking ``re``, or None."""
    problem = pattern_problem(pattern)
    if problem:
        return problem
    try:
        tree = parser.parse(pattern, re.IGNORECASE)
    except Exception:  # compile() reported syntax errors first
        return "it cannot be parsed"
    combinations = 1
    for low, high in _repeats(list(tree)):
        if high == C.MAXREPEAT or high > BIG_REPEAT:
            return (
                f"a repeat may have at most {BIG_REPEAT} rounds (no +, *, {{n,}} or {{n,{BIG_REPEAT + 1}}})"
            )
        combinations *= high - low + 1
    if combinations > MAX_COMBINATIONS:
        return (
            f"its repeats together allow {combinations:,} combinations of round counts, "
            f"more than {MAX_COMBINATIONS:,}"
        )
    return None


def _repeats(items: list) -> Iterator[tuple[int, int]]:
    for op, av in items:
        if op in REPEATS or op == C.POSSESSIVE_REPEAT:
            yield av[0], av[1]
            yield from _repeats(list(av[2]))
        elif op == C.SUBPATTERN:
            yield from _repeats(list(av[3]))
        elif op == C.ATOMIC_GROUP:
            yield from _repeats(list(av))
        elif op == C.BRANCH:
            for alternative in av[1]:
                yield from _repeats(list(alternative))
        elif op in (C.ASSERT, C.ASSERT_NOT):
            yield from _repeats(list(av[1]))
        elif op == C.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None:
                    yield from _repeats(list(branch))


# --- running on RE2 ---------------------------------------------------------------


def _re2(pattern: str):
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern.encode("utf-8"), options)
    except re2.error as exc:
        raise Unsupported(f"a form RE2 cannot compile ({exc})") from None


def _re2_spans(regex: RuleRegex, text: str) -> Iterator[tuple[int, int]]:
    # Lone surrogates cannot be UTF-8: each becomes '?', one character for one, so offsets hold.
    data = text.encode("utf-8", "replace")
    chars = _CharOffsets(data, ascii_only=len(data) == len(text))
    compiled, pos = regex._compiled, 0
    while pos <= len(data):
        found = compiled.search(data, pos)  # type: ignore[attr-defined]
        if found is None:
            return
        start, end = found.span(1)
        yield chars.at(start), chars.at(end)
        if end == start:  # never for a rule (they cannot match empty text)
            end = chars.next_boundary(end)
        compiled = regex._continued or regex._compiled
        pos = chars.previous_boundary(end) if regex._lead else end


class _CharOffsets:
    """Byte offsets (of UTF-8 ``data``) to character offsets, walking forward."""

    def __init__(self, data: bytes, *, ascii_only: bool) -> None:
        self.data, self.ascii_only = data, ascii_only
        self.byte, self.char = 0, 0

    def at(self, byte: int) -> int:
        if self.ascii_only:
            return byte
        if byte < self.byte:  # one character back (a lead); rare
            self.byte, self.char = 0, 0
        self.char += len(self.data[self.byte : byte].decode("utf-8"))
        self.byte = byte
        return self.char

    def previous_boundary(self, byte: int) -> int:
        if byte == 0:
            return 0
        byte -= 1
        while byte > 0 and self.data[byte] & 0xC0 == 0x80:
            byte -= 1
        return byte

    def next_boundary(self, byte: int) -> int:
        byte += 1
        while byte < len(self.data) and self.data[byte] & 0xC0 == 0x80:
            byte += 1
        return byte
