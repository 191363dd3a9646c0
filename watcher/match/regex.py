"""Rule regexes on a linear-time engine: the only module that imports ``re2``.

Rule authors write Python's regex syntax (what rules/README.md documents);
:func:`compile` translates the pattern, from Python's own parse tree, into RE2
syntax with Python's meaning kept exactly, and runs it on RE2 (google-re2), whose
time is linear in the text whatever the pattern: ``\\w+\\s*\\w+\\s*Qasra`` or
``a*a*a*a*a*a*a*a*a*b`` cannot stall matching.

What the translation keeps, checked against Python's ``re`` in the tests:

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
from watcher.match.patterns import BIG_REPEAT, pattern_problem

MAX_COMBINATIONS = 1000  # round-count combinations of all repeats of a fallback pattern
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)
_WORD = r"\p{L}\p{N}_"
_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}"
)
_TURKISH_I = frozenset("iIıİ")  # one letter to Python's re under IGNORECASE, four to RE2
_W, _N = "word", "non-word"  # what can stand at an edge of a match


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
        first, continued, lead = _Translator(tree.state.flags).pattern(list(tree))
        return RuleRegex(pattern, "re2", None, _re2(first), _re2(continued) if continued else None, lead)
    except _Unsupported as exc:
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
        if op in _REPEATS or op == C.POSSESSIVE_REPEAT:
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
        raise _Unsupported(f"a form RE2 cannot compile ({exc})") from None


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


# --- translating Python's parse tree to RE2 ------------------------------------------


class _Unsupported(WatcherError):
    """A construct RE2 lacks; the message names it for the author."""


class _Translator:
    def __init__(self, flags: int) -> None:
        if flags & re.ASCII:
            raise _Unsupported("the ASCII flag (?a)")
        self.flags = flags

    def pattern(self, items: list) -> tuple[str, str | None, bool]:
        """(RE2 pattern for the first search, for searches after a match or None, lead):
        group 1 always holds the match."""
        items = _unwrapped(items)
        lead = items[0] if items and _is_boundary(items[0]) else None
        trail = items[-1] if len(items) > 1 and _is_boundary(items[-1]) else None
        core = items[1 if lead else 0 : len(items) - (1 if trail else 0)]
        body = f"({self.seq(core, self.flags)})"
        prefix = continued = suffix = ""
        if lead:
            edge = _edge(core, reverse=False)
            wants_word_before = (edge == _W) == (lead[1] == C.AT_NON_BOUNDARY)
            prefix = f"[{_WORD}]" if wants_word_before else f"(?:\\A|[^{_WORD}])"
            continued = f"[{_WORD}]" if wants_word_before else f"[^{_WORD}]"
        if trail:
            edge = _edge(core, reverse=True)
            wants_word_after = (edge == _W) == (trail[1] == C.AT_NON_BOUNDARY)
            suffix = f"[{_WORD}]" if wants_word_after else f"(?:\\z|[^{_WORD}])"
        if lead:
            return prefix + body + suffix, continued + body + suffix, True
        return body + suffix, None, False

    def seq(self, items: list, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def item(self, op, av, flags: int) -> str:  # one case per opcode
        ignore = bool(flags & re.IGNORECASE)
        if op == C.LITERAL:
            return _literal(av, ignore)
        if op == C.NOT_LITERAL:
            chars = _TURKISH_I if ignore and chr(av) in _TURKISH_I else {chr(av)}
            return _cased("[^" + "".join(_escape(ord(c)) for c in sorted(chars)) + "]", ignore)
        if op == C.ANY:
            return r"(?s:.)" if flags & re.DOTALL else r"[^\n]"
        if op == C.IN:
            return _class(av, ignore)
        if op == C.AT:
            return _anchor(av, flags)
        if op == C.BRANCH:
            return "(?:" + "|".join(self.seq(list(alt), flags) for alt in av[1]) + ")"
        if op == C.SUBPATTERN:
            _group, add, remove, sub = av
            if (add | remove) & re.ASCII:
                raise _Unsupported("the ASCII flag (?a)")
            return "(?:" + self.seq(list(sub), (flags | add) & ~remove) + ")"
        if op in _REPEATS:
            low, high, sub = av
            if high != C.MAXREPEAT and high > 1000 or low > 1000:
                raise _Unsupported(f"a repeat of more than 1,000 rounds ({{{low},{high}}})")
            bound = f"{{{low},}}" if high == C.MAXREPEAT else f"{{{low},{high}}}"
            return "(?:" + self.seq(list(sub), flags) + ")" + bound + ("?" if op == C.MIN_REPEAT else "")
        raise _Unsupported(_UNSUPPORTED.get(op, f"the construct {op}"))


_UNSUPPORTED = {
    C.ASSERT: "lookahead or lookbehind ((?=...), (?<=...))",
    C.ASSERT_NOT: "negative lookahead or lookbehind ((?!...), (?<!...))",
    C.GROUPREF: "a backreference (\\1, (?P=name))",
    C.GROUPREF_EXISTS: "a conditional group ((?(1)...))",
    C.ATOMIC_GROUP: "an atomic group ((?>...))",
    C.POSSESSIVE_REPEAT: "a possessive repeat (*+, ++, ?+)",
}


def _unwrapped(items: list) -> list:
    """A pattern that is one group without flags, e.g. ``(\\bMoU\\b)``: its inside."""
    while len(items) == 1 and items[0][0] == C.SUBPATTERN and not (items[0][1][1] | items[0][1][2]):
        items = list(items[0][1][3])
    return items


def _is_boundary(item) -> bool:
    op, av = item
    return op == C.AT and av in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY)


def _anchor(code, flags: int) -> str:
    multiline = bool(flags & re.MULTILINE)
    if code == C.AT_BEGINNING:
        return "(?m:^)" if multiline else r"\A"
    if code == C.AT_BEGINNING_STRING:
        return r"\A"
    if code == C.AT_END:
        return "(?m:$)" if multiline else r"\z"
    if code == C.AT_END_STRING:
        return r"\z"
    raise _Unsupported("a word boundary (\\b or \\B) inside the pattern (only at its start or end)")


def _escape(code: int) -> str:
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\x{{{code:x}}}"


def _cased(text: str, ignore: bool) -> str:
    return f"(?i:{text})" if ignore else text


def _literal(code: int, ignore: bool) -> str:
    if ignore and chr(code) in _TURKISH_I:
        return "[" + "".join(_escape(ord(c)) for c in sorted(_TURKISH_I)) + "]"
    return _cased(_escape(code), ignore and chr(code).lower() != chr(code).upper())


_CATEGORIES = {
    C.CATEGORY_WORD: _WORD,
    C.CATEGORY_DIGIT: r"\p{Nd}",
    C.CATEGORY_SPACE: _SPACE,
    C.CATEGORY_NOT_DIGIT: r"\P{Nd}",
}
_NEGATED_CATEGORIES = {C.CATEGORY_NOT_WORD: _WORD, C.CATEGORY_NOT_SPACE: _SPACE}


def _class(items, ignore: bool) -> str:
    items = list(items)
    negate = bool(items) and items[0][0] == C.NEGATE
    items = items[1:] if negate else items
    atoms, complements, chars = [], [], set()
    for op, av in items:
        if op == C.LITERAL:
            atoms.append(_escape(av))
            chars.add(chr(av))
        elif op == C.RANGE:
            low, high = av
            atoms.append(f"{_escape(low)}-{_escape(high)}")
            chars |= {c for c in _TURKISH_I if low <= ord(c) <= high}
        elif op == C.CATEGORY and av in _CATEGORIES:
            atoms.append(_CATEGORIES[av])
        elif op == C.CATEGORY and av in _NEGATED_CATEGORIES:
            complements.append(_NEGATED_CATEGORIES[av])
        else:
            raise _Unsupported(f"the class item {op} {av}")
    if ignore and chars & _TURKISH_I:
        atoms += [_escape(ord(c)) for c in sorted(_TURKISH_I)]
    if not complements:
        inside = "".join(atoms)
        return _cased(("[^" if negate else "[") + inside + "]", ignore) if inside else "[^\\x00-\\x{10ffff}]"
    if negate:
        if atoms or len(complements) > 1:
            raise _Unsupported("a negated class holding \\W or \\S beside other items")
        return "[" + complements[0] + "]"  # [^\W] is \w
    options = [f"[^{c}]" for c in complements] + (
        [_cased("[" + "".join(atoms) + "]", ignore)] if atoms else []
    )
    return "(?:" + "|".join(options) + ")"


def _edge(items: list, *, reverse: bool) -> str:
    """Whether every match of ``items`` starts (ends, with ``reverse``) with a word
    character or with a non-word one; _Unsupported when it can be either."""
    kinds, nullable = _edge_of(items, reverse)
    if nullable or len(kinds) != 1:
        raise _Unsupported(
            "a word boundary (\\b) beside a part that can start or end with both word and non-word characters"
        )
    return next(iter(kinds))


def _edge_of(items: list, reverse: bool) -> tuple[set[str], bool]:
    kinds: set[str] = set()
    for op, av in reversed(items) if reverse else items:
        found, nullable = _edge_item(op, av, reverse)
        kinds |= found
        if not nullable:
            return kinds, False
    return kinds, True


def _edge_item(op, av, reverse: bool) -> tuple[set[str], bool]:
    if op == C.LITERAL:
        return {_kind(chr(av))}, False
    if op == C.IN:
        return _class_kind(list(av)), False
    if op == C.AT:
        return set(), True
    if op == C.SUBPATTERN:
        return _edge_of(list(av[3]), reverse)
    if op == C.BRANCH:
        results = [_edge_of(list(alt), reverse) for alt in av[1]]
        return set().union(*(k for k, _ in results)), any(n for _, n in results)
    if op in _REPEATS:
        kinds, nullable = _edge_of(list(av[2]), reverse)
        return kinds, nullable or av[0] == 0
    return {_W, _N}, False  # ANY, NOT_LITERAL: either


def _kind(char: str) -> str:
    return _W if char.isalnum() or char == "_" else _N


def _class_kind(items: list) -> set[str]:
    negate = bool(items) and items[0][0] == C.NEGATE
    kinds: set[str] = set()
    for op, av in items[1:] if negate else items:
        if op == C.LITERAL:
            kinds.add(_kind(chr(av)))
        elif op == C.RANGE and av[1] - av[0] <= 4096:
            kinds |= {_kind(chr(c)) for c in range(av[0], av[1] + 1)}
        elif op == C.CATEGORY and av in (C.CATEGORY_WORD, C.CATEGORY_DIGIT):
            kinds.add(_W)
        elif op == C.CATEGORY and av in (C.CATEGORY_NOT_WORD, C.CATEGORY_SPACE):
            kinds.add(_N)
        else:
            kinds |= {_W, _N}
    if negate:
        return (
            {_N}
            if kinds == {_W} and _only_word_category(items)
            else {_W}
            if kinds == {_N} and _only_nonword_category(items)
            else {_W, _N}
        )
    return kinds


def _only_word_category(items: list) -> bool:
    return items[1:] == [(C.CATEGORY, C.CATEGORY_WORD)]


def _only_nonword_category(items: list) -> bool:
    return items[1:] == [(C.CATEGORY, C.CATEGORY_NOT_WORD)]
