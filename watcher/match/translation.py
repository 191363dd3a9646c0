"""Translating a Python regex's parse tree into RE2 syntax with the same meaning
(what is kept, and why, is in :mod:`watcher.match.regex`). A construct RE2
lacks raises ``Unsupported`` naming it; the caller then falls back to ``re``
under a strict check."""

from __future__ import annotations

import re
import re._constants as C  # type: ignore[import-not-found]  # private stdlib modules: typeshed has no stubs

from watcher.errors import WatcherError
from watcher.match.patterns import REPEATS

_WORD = r"\p{L}\p{N}_"
_SPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}"
)
_TURKISH_I = frozenset("iIıİ")  # one letter to Python's re under IGNORECASE, four to RE2
_W, _N = "word", "non-word"  # what can stand at an edge of a match


class Unsupported(WatcherError):
    """A construct RE2 lacks; the message names it for the author."""


class Translator:
    """Writes a pattern's parse tree (``re._parser``) in RE2 syntax, with Python's meaning."""

    def __init__(self, flags: int) -> None:
        if flags & re.ASCII:
            raise Unsupported("the ASCII flag (?a)")
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
                raise Unsupported("the ASCII flag (?a)")
            return "(?:" + self.seq(list(sub), (flags | add) & ~remove) + ")"
        if op in REPEATS:
            low, high, sub = av
            if high != C.MAXREPEAT and high > 1000 or low > 1000:
                raise Unsupported(f"a repeat of more than 1,000 rounds ({{{low},{high}}})")
            bound = f"{{{low},}}" if high == C.MAXREPEAT else f"{{{low},{high}}}"
            return "(?:" + self.seq(list(sub), flags) + ")" + bound + ("?" if op == C.MIN_REPEAT else "")
        raise Unsupported(_UNSUPPORTED.get(op, f"the construct {op}"))


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
    raise Unsupported("a word boundary (\\b or \\B) inside the pattern (only at its start or end)")


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
            raise Unsupported(f"the class item {op} {av}")
    if ignore and chars & _TURKISH_I:
        atoms += [_escape(ord(c)) for c in sorted(_TURKISH_I)]
    if not complements:
        inside = "".join(atoms)
        return _cased(("[^" if negate else "[") + inside + "]", ignore) if inside else "[^\\x00-\\x{10ffff}]"
    if negate:
        if atoms or len(complements) > 1:
            raise Unsupported("a negated class holding \\W or \\S beside other items")
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
        raise Unsupported(
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
    if op in REPEATS:
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
