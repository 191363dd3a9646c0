"""Search that folds text the way the matcher does (``watcher search``, the
search page).

SQLite's own tokenizer (``unicode61 remove_diacritics 2``) keeps Turkish
dotless ``ı`` apart from ``i`` (``kasim`` misses ``Kasım``) and Arabic hamza
forms, ta marbuta and alef maqsura apart from their plain letters. So the
store keeps a second FTS5 table (:mod:`watcher.store.searchindex`) holding
each article's text *as the matcher sees it*. A query is folded the same way
(the index's own :func:`fold`) and compiled into safe FTS5 syntax here;
nothing the user types reaches FTS5 unquoted. Matched words come back marked
in the folded text and are mapped to the words as written.

The query language: words are ANDed; ``OR`` between alternatives, ``NOT`` (or
``-word``) to exclude (``ankara NOT football``, ``ankara -football``),
``"a phrase"``, ``prefix*``, brackets.
A word that folds into several words ("Suriye'ye" -> ``suriye ye``) is
searched as a phrase; an article before a word folds away as it does in the
text (``al Sharaa`` searches for ``sharaa``). An Arabic word also finds itself with one or two
one-letter prefixes written on (و ف ب ك ل: ``تركيا`` finds ``وتركيا``), as
the matcher does. Mistakes (an unclosed bracket, ``OR`` with nothing on one
side, nothing searchable at all) raise :class:`QueryError` with a message.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass

from watcher.errors import QueryError
from watcher.review import MAX_LIMIT, ReviewError
from watcher.store import searchindex
from watcher.store.database import Store
from watcher.store.searchindex import END, START, fold
from watcher.text.fold import Normalised, normalise
from watcher.text.highlight import Segment, highlight

MAX_TERMS = 64  # words and phrases in one query
MAX_DEPTH = 16  # brackets inside brackets
_PROCLITICS = tuple("وفبكل") + ("وب", "ول", "وك", "فب", "فل", "فك")
_KEYWORDS = {"OR", "AND", "NOT"}
_JOINERS = {"\u0640", "\u200c", "\u200d", "\u00ad"}  # inside a word: tatweel, ZWNJ, ZWJ, soft hyphen
_LEXER = re.compile(r'"(?P<phrase>[^"]*)"?(?P<pstar>\*?)|(?P<open>\()|(?P<close>\))|(?P<word>[^\s"()]+)')

# -- searching ------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    title: str
    feed: str
    url: str
    fetched_at: str
    matched: bool
    snippet: tuple[Segment, ...]  # the text around the matched words (the title if only it matched)
    title_marked: tuple[Segment, ...] = ()  # the title, matched words marked


def search(store: Store, query: str, *, limit: int = 20, matched_only: bool = False) -> tuple[SearchHit, ...]:
    """Search every stored article's title and text, folded as the matcher
    folds them; best matches first. Texts and highlights are read for the
    ``limit`` best only, not for every match."""
    if not query.strip():
        raise ReviewError("the search query is empty; give one or more words")
    if not 0 < limit <= MAX_LIMIT:
        raise ReviewError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    try:
        compiled = compile_query(query)
    except QueryError as exc:
        raise ReviewError(str(exc)) from None
    try:
        best = searchindex.best(store, compiled.fts, limit=limit, matched_only=matched_only)
        rows = searchindex.highlighted(store, compiled.fts, best)
    except sqlite3.OperationalError as exc:  # never expected: the query is compiled, not typed
        raise ReviewError(f"the search failed ({exc}); {HELP}") from None
    return tuple(_hit(*rows[i]) for i in best if i in rows)


def searched_for(query: str) -> str:
    """The query's words as search sees them (folded), for "no result" messages;
    "" when the query cannot be used."""
    try:
        return describe(compile_query(query))
    except QueryError:
        return ""


def _hit(article_id, title, text, url, fetched_at, matched, feed, title_hl, text_hl) -> SearchHit:
    title = title or "(untitled)"
    title_marked = marked(title, title_hl or "")
    return SearchHit(
        article_id,
        title,
        feed,
        url,
        fetched_at,
        bool(matched),
        snippet(text or "", text_hl or "") or title_marked,
        title_marked,
    )


# -- the query ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # folded words, searched as a phrase
    prefix: bool = False  # the last word is a prefix
    plain: str | None = None  # the word as typed, when it was one plain word


@dataclass(frozen=True)
class Query:
    fts: str  # safe FTS5 MATCH expression
    terms: tuple[Term, ...]  # every term, in the order typed
    shown: str = ""  # the query as parsed, operators included: ``suriye NOT istanbul``


HELP = (
    "words are combined with AND; use OR between alternatives, NOT to exclude, "
    '"quotes" for a phrase, word* for words starting with it, and brackets to group'
)


def compile_query(text: str) -> Query:
    """The user's query as a safe FTS5 expression over the folded index."""
    tokens = _tokens(text)
    terms = sum(isinstance(t, Term) for t in tokens)
    if not terms:
        raise QueryError("the search query has no word to search for; give one or more words")
    if terms > MAX_TERMS:
        raise QueryError(f"the search query has {terms} words and phrases; search for at most {MAX_TERMS}")
    parser = _Parser(tokens)
    fts = parser.expression()
    if parser.pos < len(tokens):
        raise QueryError(f"a closing bracket has no opening one; {HELP}")
    return Query(fts, tuple(t for t in tokens if isinstance(t, Term)), _shown(tokens))


def _term(t: Term) -> str:
    return ('"' + " ".join(t.words) + '"' if len(t.words) > 1 else t.words[0]) + ("*" if t.prefix else "")


def _shown(tokens: list) -> str:
    text = " ".join(_term(t) if isinstance(t, Term) else t for t in tokens)
    return text.replace("( ", "(").replace(" )", ")")


def describe(query: Query) -> str:
    """The query as searched, folded, with its operators: ``kasim "suriye ye" NOT savunm*``."""
    return query.shown or " ".join(_term(t) for t in query.terms)


def _tokens(text: str) -> list:
    out: list = []
    for m in _LEXER.finditer(text):
        word = m.group("word")
        before = out[-1] if out and isinstance(out[-1], Term) and out[-2:-1] != ["NOT"] else None
        if (
            before
            and before.plain
            and word
            and word not in _KEYWORDS
            and fold(f"{before.plain} {word}") == fold(word)
        ):
            out.pop()  # "al Sharaa" folds as the matcher folds it: "sharaa"
        if m.group("open"):
            out.append("(")
        elif m.group("close"):
            out.append(")")
        elif m.group("word") in _KEYWORDS:
            out.append(m.group("word"))
        elif m.group("word") and m.group("word")[0] == "-" and out and fold(m.group("word")):
            out.append("NOT")  # "ankara -football" = "ankara NOT football"
            out.extend(_tokens(m.group("word")[1:]))
        else:
            raw = m.group("word") if m.group("word") is not None else m.group("phrase")
            prefix = bool(m.group("pstar")) or (m.group("word") or "").endswith("*")
            words = tuple(fold(raw).split())
            if words:
                plain = word if word and not prefix and word[0] != "-" else None
                out.append(Term(words, prefix, plain))
    return out


class _Parser:
    """or := and (OR and)* ; and := not (AND? not)* ; not := atom (NOT atom)* ;
    atom := term | ( or ). Emits fully bracketed FTS5."""

    def __init__(self, tokens: list) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def expression(self) -> str:
        parts = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.conjunction("OR"))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self, after: str | None = None) -> str:
        parts = [self.negation(after)]
        while self.peek() not in (None, "OR", ")"):
            if self.peek() == "AND":
                self.take()
                parts.append(self.negation("AND"))
            else:
                parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def negation(self, after: str | None = None) -> str:
        left = self.atom(after)
        while self.peek() == "NOT":
            self.take()
            left = f"({left} NOT {self.atom('NOT')})"
        return left

    def atom(self, after: str | None) -> str:
        token = self.take()
        if isinstance(token, Term):
            return term_fts(token)
        if token == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"brackets are nested more than {MAX_DEPTH} deep; {HELP}")
            inner = self.expression()
            if self.take() != ")":
                raise QueryError(f"a bracket is not closed; {HELP}")
            self.depth -= 1
            return inner
        if token is None and self.depth:
            raise QueryError(f"a bracket is not closed; {HELP}")
        if after or token in _KEYWORDS:
            raise QueryError(f"{after or token} needs a word on each side; {HELP}")
        raise QueryError(f"brackets must hold words; {HELP}")


def term_fts(term: Term) -> str:
    """One term as FTS5: a quoted phrase, with its Arabic prefixed forms."""
    star = "*" if term.prefix else ""
    first, rest = term.words[0], term.words[1:]
    firsts = [first]
    if _is_arabic(first) and len(first) >= 3:
        firsts += [p + first for p in _PROCLITICS]
    phrases = ['"' + " ".join((f, *rest)).replace('"', '""') + '"' + star for f in firsts]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def _is_arabic(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"


# -- from folded matches back to the original text --------------------------------


def marked_spans(highlighted: str) -> tuple[str, list[tuple[int, int]]]:
    """FTS5 highlight() output -> (the folded text, [(start, end)] of matched words)."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    pos, start = 0, None
    for part in re.split(f"([{START}{END}])", highlighted):
        if part == START:
            start = pos
        elif part == END:
            if start is not None and pos > start:
                spans.append((start, pos))
            start = None
        else:
            plain.append(part)
            pos += len(part)
    return "".join(plain), spans


def original_spans(
    original: str, folded: str, spans: list[tuple[int, int]], upto: int | None = None
) -> list[tuple[int, int]]:
    """Folded spans mapped to offsets into ``original``. Only spans that start
    before ``upto`` (folded offset; all when None) are mapped, and the text is
    folded only as far as needed. [] when the index no longer agrees with the
    text (folding rules changed since it was indexed)."""
    wanted = [s for s in spans if upto is None or s[0] < upto]
    if not wanted:
        return []
    norm = _fold_through(original, max(e for _, e in wanted))
    if not folded.startswith(norm.text[: max(e for _, e in wanted)]):
        return []
    return [_whole_word(original, *norm.span(s, e)) for s, e in wanted if e <= len(norm.text)]


def _whole_word(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to the word around it: the folded word "ذهب" is "الذهب" as written."""
    while start > 0 and _in_word(text[start - 1]):
        start -= 1
    while end < len(text) and _in_word(text[end]):
        end += 1
    return start, end


def _in_word(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN" or char in _JOINERS


def _fold_through(original: str, need: int) -> Normalised:
    """The normalised form of a prefix of ``original`` long enough to map
    folded offsets below ``need`` (the whole text at worst)."""
    cut = need + need // 4 + 256
    while True:
        if cut >= len(original):
            return normalise(original)
        norm = normalise(original[:cut])
        if norm.token_starts and norm.token_starts[-1] > need:
            return norm
        cut *= 2


# -- snippets -------------------------------------------------------------------------

SNIPPET_CHARS = 240  # about the length of FTS5's 24-word snippet
LEAD_CHARS = 60  # context kept before the first matched word
_MAX_SPANS = 400  # matched words considered when choosing the window
_SPACE = re.compile(r"\s")


def marked(original: str, highlighted: str) -> tuple[Segment, ...]:
    """The whole of ``original`` with the words FTS5 matched marked."""
    folded, spans = marked_spans(highlighted)
    return highlight(original, ((s, e, "") for s, e in original_spans(original, folded, spans)))


def snippet(original: str, highlighted: str) -> tuple[Segment, ...]:
    """A window of ``original`` around the densest run of matched words,
    those words marked; () when nothing matched in this column."""
    folded, spans = marked_spans(highlighted)
    if not spans:
        return ()
    spans = spans[:_MAX_SPANS]
    best = _densest(folded, spans)
    mapped = original_spans(original, folded, spans[best:], spans[best][0] + SNIPPET_CHARS)
    first = mapped[0][0] if mapped else 0
    start = _snap_start(original, max(0, first - LEAD_CHARS), first)
    end = _snap_end(original, start + SNIPPET_CHARS, mapped[0][1] if mapped else 0)
    inside = [(s - start, e - start, "") for s, e in mapped if s >= start and e <= end]
    out = list(highlight(original[start:end], inside))
    if start > 0:
        out.insert(0, Segment("…"))
    if end < len(original):
        out.append(Segment("…"))
    return tuple(out)


def _densest(folded: str, spans: list[tuple[int, int]]) -> int:
    """Index of the span that starts the window with the most distinct
    matched words (then the most matched words); the earliest on a tie."""
    best, best_score = 0, (0, 0)
    for i, (start, _) in enumerate(spans):
        window = [folded[s:e] for s, e in spans[i:] if e <= start + SNIPPET_CHARS - LEAD_CHARS]
        score = (len(set(window)), len(window))
        if score > best_score:
            best, best_score = i, score
    return best


def _snap_start(text: str, start: int, first: int) -> int:
    """Move ``start`` forward to a word start, not past ``first``."""
    if start == 0:
        return 0
    space = _SPACE.search(text, start - 1, first)
    return space.end() if space else start


def _snap_end(text: str, end: int, floor: int) -> int:
    """Move ``end`` back to a word end, not before ``floor``."""
    if end >= len(text):
        return len(text)
    cut = max((m.start() for m in _SPACE.finditer(text, floor, end + 1)), default=end)
    return cut
