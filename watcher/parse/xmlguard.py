"""Byte-level guards run before feedparser sees a document.

Defusing. feedparser keeps "safe-looking" internal entities and its lenient
fallback parser expands them without limit (a 200 kB feed that references one
big entity 50,000 times costs minutes and gigabytes). :func:`defuse` removes
every DOCTYPE of the prologue with its internal subset. Only simple entities
survive, substituted here in the body: internal, general, at most
``MAX_ENTITY_VALUE`` characters, no markup and no entity references other than
numeric character references (``<!ENTITY nbsp "&#160;">``), at most
``MAX_ENTITIES`` of them, and at most as many bytes of replacement text as the
document itself. References to every other declared entity (nested,
parameter, external ``SYSTEM``/``PUBLIC``) are deleted: nothing is ever read
from disk or the network. HTML's named entities (``&eacute;``), undefined in
XML, become character references so the strict parser can read the feed.

Bounding. feedparser spends Python time on every tag, attribute and entity
reference (15-40 microseconds per tag, twice over when the document is not
well-formed: its strict parser runs up to the error, then its lenient one
starts again), and every element left open stays on both parsers' stacks. So
the time of a parse is the markup it is given, and its memory the depth of
that markup: 636 kB of nested unclosed tags took 3.5 s and 126 MB, 200,000
self-closing tags in one item six seconds. :func:`bound` walks the markup
once (CDATA sections and comments cost feedparser nothing and count nothing)
and cuts the document after ``max_entries`` entries, or earlier once the
entries hold more than ``MAX_MARKUP`` markup (a tag or attribute counts 1, an
entity reference 1/6, about what each costs), or once elements nest more than ``MAX_DEPTH`` deep
(an end tag closes the innermost open element of its name, as a lenient
parser does), and closes it with the document's own tail (or, when that tail
is long, closing tags for what is open). A document that reaches either bound
before its first complete entry is refused. An element with more than
``MAX_ATTRIBUTES`` attributes is refused (the stdlib's SAX makes attributes
cost n²: 190,000 on one element take eight minutes), and so is a document
with more than ``MAX_PREFIXES`` namespace prefixes. Person elements (author,
dc:creator, ...) keep ``MAX_PERSON`` bytes of text, as feedparser's e-mail
regex is quadratic.

Both work on UTF-8 (or at least ASCII-compatible) bytes; the caller converts
first, so a UTF-16 or UTF-7 document cannot smuggle a DOCTYPE past them.
"""

from __future__ import annotations

import re
from html.entities import name2codepoint

from watcher.errors import WatcherError

MAX_ENTITIES = 64  # simple entity declarations honoured per document
MAX_ENTITY_VALUE = 100  # characters of replacement text per entity
MAX_MARKUP = 25_000  # tags + attributes + 1/6 per entity reference kept, at most
MAX_DEPTH = 100  # elements open at once (real feeds: about 10; XHTML content: 30)
MAX_ATTRIBUTES = 64  # per element: Python's SAX looks each one up linearly (quadratic)
MAX_PREFIXES = 200  # distinct namespace prefixes: feedparser scans them all per element
MAX_PERSON = 1000  # bytes of text in an author/creator/... element
_MAX_UNSAFE_NAMES = 1000  # other declared names whose references are deleted
_MAX_TAIL = 65_536  # bytes of document tail kept after the last entry kept
_MAX_TAIL_TAGS = 100  # tags in that tail (more: closing tags for what is open instead)
_REFERENCE_COST = 6  # entity references per unit of MAX_MARKUP


class MarkupError(WatcherError):
    """The document cannot be made safe to parse; the message says why."""


# --- defusing -----------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s\"'>%]+)\s+(?:\"([^\"]*)\"|'([^']*)')?", re.S)
_CHARREF = re.compile(rb"&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});")


def defuse(data: bytes) -> tuple[bytes, str | None]:
    """The document without DOCTYPE, entities resolved safely; a note if some were dropped."""
    spans = _doctype_spans(data)
    safe, unsafe = _entity_table(b"".join(data[start:end] for start, end in spans))
    body_start = spans[-1][1] if spans else 0
    prologue = _without(data[:body_start], spans)
    body, exhausted = _substitute(data[body_start:], safe, unsafe)
    notes = []
    if unsafe:
        notes.append(
            f"entity declarations ignored (nested, external or too long): "
            f"{', '.join(sorted(n.decode('utf-8', 'replace') for n in unsafe)[:10])}"
        )
    if exhausted:
        notes.append("entity expansion stopped at its size bound; the rest were dropped")
    return prologue + body, "; ".join(notes) or None


def _without(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """``data`` without the spans; their line breaks stay, so parser line numbers still match."""
    pieces, last = [], 0
    for start, end in spans:
        pieces += [data[last:start], b"\n" * data.count(b"\n", start, end)]
        last = end
    pieces.append(data[last:])
    return b"".join(pieces)


def _doctype_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each DOCTYPE before the first element."""
    spans, i = [], 0
    while (j := data.find(b"<", i)) >= 0:
        if data.startswith(b"<?", j):
            i = _after(data, b"?>", j + 2)
        elif data.startswith(b"<!--", j):
            i = _after(data, b"-->", j + 4)
        elif data[j : j + 9].upper() == b"<!DOCTYPE":
            i = _doctype_end(data, j + 9)
            spans.append((j, i))
        else:
            break
        if i < 0:
            raise MarkupError("the document's prologue (DOCTYPE or comment) never ends")
    return spans


def _after(data: bytes, token: bytes, start: int) -> int:
    k = data.find(token, start)
    return k + len(token) if k >= 0 else -1


_DOCTYPE_TOKEN = re.compile(rb"<!--|[\"'\[\]>]")


def _doctype_end(data: bytes, i: int) -> int:
    """Index just past the DOCTYPE's closing '>', skipping quotes, comments, subset."""
    in_subset = False
    while (match := _DOCTYPE_TOKEN.search(data, i)) is not None:
        token, i = match.group(), match.end()
        if token in (b'"', b"'"):
            i = _after(data, token, i)
        elif token == b"<!--":
            i = _after(data, b"-->", i)
        elif token in (b"[", b"]"):
            in_subset = token == b"["
        elif not in_subset:
            return i
        if i < 0:
            return -1
    return -1


def _entity_table(subset: bytes) -> tuple[dict[bytes, bytes], set[bytes]]:
    safe: dict[bytes, bytes] = {}
    unsafe: set[bytes] = set()
    for match in _ENTITY_DECL.finditer(subset):
        parameter, name, value = match.group(1), match.group(2), match.group(3)
        value = value if value is not None else match.group(4)
        if parameter:
            continue
        if value is not None and len(safe) < MAX_ENTITIES and _simple(value):
            safe.setdefault(name, _attribute_safe(value))
        elif name not in safe and len(unsafe) < _MAX_UNSAFE_NAMES:
            unsafe.add(name)
    return safe, unsafe


def _simple(value: bytes) -> bool:
    if len(value.decode("utf-8", "replace")) > MAX_ENTITY_VALUE:
        return False
    rest = _CHARREF.sub(b"", value)
    return not any(ch in rest for ch in (b"<", b"&", b"%"))


def _attribute_safe(value: bytes) -> bytes:
    return value.replace(b'"', b"&#34;").replace(b"'", b"&#39;").replace(b">", b"&#62;")


_REFERENCE = re.compile(rb"<!\[CDATA\[|<!--|&([^\s&;<>\"'#]{1,64});")
_XML_PREDEFINED = {b"amp", b"lt", b"gt", b"quot", b"apos"}
_HTML_REFERENCE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)[^\s&;<>\"'#]{1,64};")  # any other named one
_HTML_ENTITIES = {name.encode("ascii"): b"&#%d;" % code for name, code in name2codepoint.items()}


def _substitute(body: bytes, safe: dict[bytes, bytes], unsafe: set[bytes]) -> tuple[bytes, bool]:
    """Resolve entity references outside CDATA and comments: declared simple
    ones (within a size budget), HTML's named ones (as character references,
    so the strict parser can read the feed); drop other declared ones."""
    if not safe and not unsafe and _HTML_REFERENCE.search(body) is None:
        return body, False  # nothing but XML's own references: nothing to do (the common case)
    budget, exhausted = len(body), False
    out, i = [], 0
    while (m := _REFERENCE.search(body, i)) is not None:
        name = m.group(1)
        if name is None:  # CDATA section or comment: copy as is
            end = _after(body, b"]]>" if m.group(0).startswith(b"<![") else b"-->", m.end())
            end = len(body) if end < 0 else end
            out.append(body[i:end])
            i = end
            continue
        if name in safe:
            replacement = safe[name] if len(safe[name]) <= budget else b""
            exhausted = exhausted or not replacement
            budget -= len(replacement)
        elif name in unsafe:
            replacement = b""
        elif name in _XML_PREDEFINED or name not in _HTML_ENTITIES:
            replacement = m.group(0)
        else:
            replacement = _HTML_ENTITIES[name]
        out.append(body[i : m.start()] + replacement)
        i = m.end()
    out.append(body[i:])
    return b"".join(out), exhausted


# --- bounding ----------------------------------------------------------------

_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*+:)?(?:item|entry)\s*+>", re.I)
_ENTRY_NAMES = {b"item", b"entry"}


def check(data: bytes) -> None:
    """Refuse (MarkupError) what no parser is given: too many attributes on one
    element, too many namespace prefixes (:func:`bound` checks these too)."""
    _check_attributes(data)
    _check_prefixes(data)


def untouched(data: bytes, *, elements: int, entries: int, deep: bool, max_entries: int) -> bool:
    """Whether :func:`bound` would hand ``data`` on as it is (no entry cut, within
    the markup budget and depth; see also :func:`people_fit`), judged from a
    parse of it: ``elements`` in all, ``entries`` item/entry elements, ``deep``
    whether any nests more than MAX_DEPTH deep. Counts every '=' and '&' of the
    document as markup (an upper bound): what passes here surely passes there,
    without :func:`bound`'s walk over every tag."""
    if deep or entries > max_entries:
        return False
    return 2 * elements + data.count(b"=") + data.count(b"&") // _REFERENCE_COST <= MAX_MARKUP


def people_fit(data: bytes) -> bool:
    """Whether no person element (author, dc:creator, ...) is long enough for
    :func:`bound` to shorten it (then a parser may read the document as it is)."""
    return _shorten_people(data) is data


def bound(data: bytes, *, max_entries: int, checked: bool = False) -> tuple[bytes, str | None]:
    """The document cut to what feedparser may be given, and a note if it was cut
    (``checked``: :func:`check` has passed already)."""
    if not checked:
        check(data)
    data, note = _cut_entries(data, max_entries)
    return _shorten_people(data), note


def _cut_entries(data: bytes, max_entries: int) -> tuple[bytes, str | None]:
    walk = _Walk(data, max_entries)
    if walk.stopped is None and len(walk.ends) <= max_entries:
        return data, None
    ends = [match.end() for match in _ENTRY_END.finditer(data)]
    total, last_end = len(ends), (ends[-1] if ends else len(data))
    kept = min(len(walk.ends), max_entries)
    if kept == 0:
        raise MarkupError(walk.refusal())
    tail = data[last_end:]
    if len(tail) > _MAX_TAIL or tail.count(b"<") > _MAX_TAIL_TAGS:
        tail = b"".join(b"</%s>" % name for name in reversed(walk.open_at[kept - 1]))
    if kept == max_entries:
        note = f"{total} entries in the document, only the first {max_entries} were kept"
    else:
        note = f"only the first {kept} of {total} entries were read: the rest would {walk.why()}"
    return data[: walk.ends[kept - 1]] + tail, note


_NAME = re.compile(rb"[^\s/<>]*+")
_TAG_REST = re.compile(rb"[^<>]*+>?")


class _Walk:
    """One pass over the markup of the body: where entries end (and what is open
    there), until ``max_entries + 1`` entries, MAX_MARKUP or MAX_DEPTH."""

    def __init__(self, data: bytes, max_entries: int) -> None:
        self.ends: list[int] = []
        self.open_at: list[tuple[bytes, ...]] = []
        self.stopped: str | None = None  # 'markup' | 'depth' | None (walked to the end or enough)
        self._tags = self._attributes = 0
        spans = _doctype_spans(data)
        self._run(data, spans[-1][1] if spans else 0, max_entries)

    def _run(self, data: bytes, i: int, max_entries: int) -> None:
        stack: list[bytes] = []
        cost, references = 0, 0
        while (j := data.find(b"<", i)) >= 0:
            references += data.count(b"&", i, j)
            i = self._token(data, j, stack)
            if i < 0:
                return
            cost = self._tags + self._attributes + references // _REFERENCE_COST
            if cost > MAX_MARKUP:
                self.stopped = "markup"
                return
            if len(stack) > MAX_DEPTH:
                self.stopped = "depth"
                return
            if len(self.ends) > max_entries:
                return
        references += data.count(b"&", i)
        if self._tags + self._attributes + references // _REFERENCE_COST > MAX_MARKUP:
            self.stopped = "markup"

    def _token(self, data: bytes, j: int, stack: list[bytes]) -> int:
        """Reads the markup at ``j`` (a '<'); the index after it, or -1 at the end."""
        if data.startswith(b"<![CDATA[", j):
            return _after(data, b"]]>", j + 9)
        if data.startswith(b"<!--", j):
            return _after(data, b"-->", j + 4)
        if data.startswith((b"<?", b"<!"), j):
            return _after(data, b">", j + 2)
        closing = data.startswith(b"</", j)
        named = _NAME.match(data, j + (2 if closing else 1))
        if named is None or not named.group():
            return j + 1  # a stray '<' in text
        name = named.group().lower()
        rest = _TAG_REST.match(data, named.end())
        end = rest.end() if rest else named.end()
        tag = data[j:end]
        self._tags += 1
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
                local = name.rpartition(b":")[2]
                if local in _ENTRY_NAMES:
                    self.ends.append(end)
                    self.open_at.append(tuple(stack))
            return end
        self._attributes += tag.count(b"=")
        if tag.endswith(b"/>"):
            self._tags += 1  # a start and an end for the parser
            return end
        if name.rpartition(b":")[2] in _ENTRY_NAMES and name in stack:
            while stack.pop() != name:  # an entry left open ends where the next starts
                pass
        stack.append(name)
        return end

    def refusal(self) -> str:
        if self.stopped == "depth":
            return (
                f"elements nest more than {MAX_DEPTH} deep before the first complete entry; "
                "refusing to parse this"
            )
        return (
            f"more than {MAX_MARKUP:,} tags, attributes and entity references before the first "
            "complete entry; refusing to parse this much markup"
        )

    def why(self) -> str:
        if self.stopped == "depth":
            return f"nest elements more than {MAX_DEPTH} deep"
        return f"exceed {MAX_MARKUP:,} tags, attributes and entity references"


_PERSON = re.compile(
    rb"<((?:[A-Za-z_][\w.-]*+:)?(?:author|creator|publisher|contributor|managingeditor|"
    rb"webmaster|owner|name|email))(?:\s[^<>]*+)?>",
    re.I,
)


def _shorten_people(data: bytes) -> bytes:
    """Person elements (author, dc:creator, ...) cut to MAX_PERSON bytes of text:
    feedparser's e-mail regex is quadratic (200 kB of 'a.' take four minutes)."""
    out, last = [], 0
    for match in _PERSON.finditer(data):
        start = match.end()
        cdata = data.startswith(b"<![CDATA[", start)
        end = data.find(b"]]>" if cdata else b"<", start + (9 if cdata else 0))
        end = len(data) if end < 0 else end
        text_start = start + (9 if cdata else 0)
        if end - text_start <= MAX_PERSON or start < last:
            continue
        out += [data[last:text_start], _clip(data[text_start : text_start + MAX_PERSON])]
        last = end
    return b"".join(out) + data[last:] if out else data


def _clip(text: bytes) -> bytes:
    """``text`` without a trailing partial UTF-8 character or entity reference."""
    while text and text[-1] & 0xC0 == 0x80:
        text = text[:-1]
    if text and text[-1] >= 0xC0:
        text = text[:-1]
    amp = text.rfind(b"&")
    return text[:amp] if amp >= 0 and b";" not in text[amp:] else text


_LONG_TAG = re.compile(rb"<[^<>]{1024,}+>")
_ATTRIBUTE = re.compile(rb"\s[^\s=<>\"']++\s*+=")


def _check_attributes(data: bytes) -> None:
    """Refuse an element with more than MAX_ATTRIBUTES attributes: the stdlib's
    SAX hands them to feedparser in a way that costs n² (190,000 attributes on
    one element take minutes). Only long tags are looked at."""
    for tag in _LONG_TAG.finditer(data):
        if len(_ATTRIBUTE.findall(tag.group())) > MAX_ATTRIBUTES:
            raise MarkupError(f"an element has more than {MAX_ATTRIBUTES} attributes; refusing to parse it")


_PREFIX = re.compile(rb"xmlns:([^\s=<>\"']++)\s*+=")


def _check_prefixes(data: bytes) -> None:
    """Refuse a document declaring more than MAX_PREFIXES namespace prefixes:
    feedparser walks all of them for every element of an unknown namespace
    (40,000 prefixes take a minute). Real feeds declare a dozen."""
    prefixes = set(_PREFIX.findall(data))
    if len(prefixes) > MAX_PREFIXES:
        raise MarkupError(
            f"the document declares {len(prefixes):,} namespace prefixes "
            f"(more than {MAX_PREFIXES}); refusing to parse it"
        )
