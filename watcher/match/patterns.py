"""Static checks on rule regexes: refusing patterns that can backtrack
catastrophically, and finding a literal word every match must contain (used
to pre-filter the regex through the term automaton).

Uses the standard library's own regex parser (``re._parser``), so what is
checked is exactly what ``re`` will run.
"""

from __future__ import annotations

import re._constants as C  # type: ignore[import-not-found]  # private stdlib modules: typeshed has no stubs
import re._parser as parser  # type: ignore[import-not-found]

from watcher.text.fold import fold_char

BIG_REPEAT = 10  # a repeat allowing more than this many rounds counts as unbounded
_ANY = None  # "any character" in a first-character set
_ARTICLES = {"al", "el", "ad", "an", "ar", "as", "ash", "at", "az", "ath", "adh"}
REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` may take exponential time, or None if it is safe."""
    try:
        tree = parser.parse(pattern)
    except Exception:
        return None
    return _walk(list(tree), inside_repeat=False)


def _walk(items: list, inside_repeat: bool) -> str | None:
    for op, av in items:
        problem = _walk_one(op, av, inside_repeat)
        if problem:
            return problem
    return None


def _walk_one(op, av, inside_repeat: bool) -> str | None:
    if op in (C.GROUPREF, C.GROUPREF_EXISTS):
        return "backreferences (\\1, (?P=name), (?(1)...)) can take exponential time and are not allowed"
    if op in REPEATS:
        low, high, sub = av
        big = high == C.MAXREPEAT or high > BIG_REPEAT
        if big and inside_repeat:
            return (
                "nested quantifier: a repeated group contains another unbounded repeat, like (a+)+, "
                "which can take exponential time"
            )
        if big:
            overlap = _overlapping_branch(list(sub))
            if overlap:
                return overlap
        return _walk(list(sub), inside_repeat or big)
    if op in (C.POSSESSIVE_REPEAT, C.ATOMIC_GROUP):
        return None  # no backtracking into these
    if op == C.SUBPATTERN:
        return _walk(list(av[3]), inside_repeat)
    if op == C.BRANCH:
        for alternative in av[1]:
            problem = _walk(list(alternative), inside_repeat)
            if problem:
                return problem
    if op in (C.ASSERT, C.ASSERT_NOT):
        return _walk(list(av[1]), inside_repeat)
    return None


def _overlapping_branch(items: list) -> str | None:
    for op, av in items:
        if op == C.SUBPATTERN:
            found = _overlapping_branch(list(av[3]))
            if found:
                return found
        if op != C.BRANCH:
            continue
        firsts = [_first_chars(list(alt)) for alt in av[1]]
        for i in range(len(firsts)):
            for j in range(i + 1, len(firsts)):
                if _intersects(firsts[i], firsts[j]):
                    return (
                        "alternatives inside a repeated group can start with the same character, "
                        "like (a|ab)*, which can take exponential time"
                    )
    return None


def _intersects(a, b) -> bool:
    if a is _ANY or b is _ANY:
        return True
    return bool(a & b)


def _first_chars(items: list):
    """The set of (case-folded) characters a sequence can start with, or _ANY."""
    result: set[str] = set()
    for op, av in items:
        first, can_be_empty = _first_of(op, av)
        if first is _ANY:
            return _ANY
        result |= first
        if not can_be_empty:
            return result
    return _ANY  # the sequence can be empty: whatever follows may start it


def _first_of(op, av):
    if op == C.LITERAL:
        return {chr(av).casefold()}, False
    if op == C.IN:
        return _class_chars(av), False
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return set(), True
    if op == C.SUBPATTERN:
        first = _first_chars(list(av[3]))
        return first, first is _ANY
    if op == C.BRANCH:
        sets = [_first_chars(list(alt)) for alt in av[1]]
        if any(s is _ANY for s in sets):
            return _ANY, True
        return set().union(*sets), False
    if op in REPEATS + (C.POSSESSIVE_REPEAT,):
        low, _, sub = av
        first = _first_chars(list(sub))
        return first, low == 0 or first is _ANY
    return _ANY, True


def _class_chars(items):
    chars: set[str] = set()
    for op, av in items:
        if op == C.LITERAL:
            chars.add(chr(av).casefold())
        elif op == C.RANGE and av[1] - av[0] <= 256:
            chars.update(chr(c).casefold() for c in range(av[0], av[1] + 1))
        else:
            return _ANY
    return chars


def required_literal(pattern: str) -> str | None:
    """A normalised word fragment (3+ letters) that every match contains, or None.

    Only letters and digits outside Arabic script are used, so the fragment
    survives normalisation unchanged inside any matching text; Latin articles
    ("al", "el") are skipped because the normaliser drops them.
    """
    try:
        tree = parser.parse(pattern)
    except Exception:
        return None
    runs: list[str] = []
    _runs(list(tree), runs, [])
    candidates = [r for r in runs if len(r) >= 3 and r not in _ARTICLES]
    return max(candidates, key=len) if candidates else None


def _runs(items: list, runs: list[str], current: list[str]) -> None:
    """Collect maximal runs of required literal letters, in pattern order."""
    for op, av in items:
        if op == C.LITERAL:
            folded = fold_char(chr(av))
            if folded and not any("\u0600" <= ch <= "\u06ff" for ch in folded):
                current.append(folded)
                continue
        elif op == C.SUBPATTERN:
            _runs(list(av[3]), runs, current)
            continue
        elif op in REPEATS and av[0] >= 1:
            _flush(runs, current)
            _runs(list(av[2]), runs, current)
            _flush(runs, current)
            continue
        _flush(runs, current)
    _flush(runs, current)


def _flush(runs: list[str], current: list[str]) -> None:
    if current:
        runs.append("".join(current))
        current.clear()
