"""Evaluating one document against a compiled ``Matcher``: its fields are
normalised and scanned once, then each candidate rule's condition tree is
evaluated on the hits (memoised per node), near windows measured (a short item's title and
first sentence as one), regexes run on the original text, acronym hits kept only with support,
and the hits worth showing picked (most telling first) and cut to snippets. The document's
language is detected here when the caller has not."""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from watcher.match.document import Document, Hit, RuleMatch
from watcher.match.meaning import Closeness
from watcher.match.ruleset import Leaf, Near, Node, Rule
from watcher.text.boundaries import at_word_end, at_word_start
from watcher.text.fold import Normalised, normalise
from watcher.text.language import primary

if TYPE_CHECKING:
    from watcher.match.matcher import Matcher

SNIPPET_CONTEXT = 60  # characters each side of a hit
MAX_HITS_PER_TERM = 1000  # raw hits kept per term per document (bounds memory)
MAX_SHOWN_PER_TERM = 5  # hits of one term/entity shown in an explanation
MAX_SHOWN = 50  # hits shown per rule match
MAX_FIELD_CHARS = 2_000_000  # longer titles/texts are matched on their first 2 million characters
REGEX_WINDOW = 2000  # regexes run on paragraphs cut to this many characters
MAX_REGEX_HITS = 100  # matches kept per regex per field
_FIELD_ORDER = {"title": 0, "text": 1}
FIELDS_ALL = ("title", "text")
SHORT_ITEM = 400  # title + text up to this many characters: `near` may span title and text
# How much a hit tells, by what it hit: named people, organisations, agreements and events first,
# then phrases and rarer (longer) words, vocabulary, and places last.
_KIND_INFO = {"person": 3.0, "organisation": 3.0, "agreement": 3.0, "event": 3.0, "other": 1.0, "place": 0.5}


class _Hit:
    """A hit during evaluation: normalised coordinates, and the original
    offsets, word numbers and sentence worked out only when a rule asks
    (most hits never matter to a rule that matches)."""

    __slots__ = (
        "_end",
        "_sentence",
        "_start",
        "_tokens",
        "entity",
        "field",
        "key",
        "nend",
        "nstart",
        "term",
        "view",
        "weight",
        "item",
    )

    def __init__(
        self, key, term, entity, field, nstart, nend, view: Normalised, start=None, end=None, item=-1
    ):
        self.key, self.term, self.entity, self.field = key, term, entity, field
        self.item = item
        self.nstart, self.nend, self.view = nstart, nend, view
        self._start, self._end = start, end
        self._tokens: tuple[int, int] | None = None
        self._sentence: int | None = None
        self.weight = 1.0

    @property
    def start(self) -> int:
        if self._start is None:
            self._start, self._end = self.view.span(self.nstart, self.nend)
        return self._start

    @property
    def end(self) -> int:
        if self._end is None:
            self._start, self._end = self.view.span(self.nstart, self.nend)
        return self._end

    def _words(self) -> tuple[int, int]:
        if self._tokens is None:
            view = self.view
            last = max(min(self.nend, len(view.text)) - 1, 0)
            self._tokens = (view.token_at(min(self.nstart, last)), view.token_at(last))
        return self._tokens

    @property
    def token_start(self) -> int:
        return self._words()[0]

    @property
    def token_end(self) -> int:
        return self._words()[1]

    @property
    def sentence(self) -> int:
        if self._sentence is None:
            self._sentence = self.view.sentence_of(self.token_start) if self.view.text else 0
        return self._sentence

    def weighted(self, key, weight: float) -> _Hit:
        copy = object.__new__(_Hit)
        copy.term, copy.entity, copy.field, copy.view = self.term, self.entity, self.field, self.view
        copy.nstart, copy.nend, copy._start, copy._end = self.nstart, self.nend, self._start, self._end
        copy._tokens, copy._sentence, copy.item = self._tokens, self._sentence, self.item
        copy.key, copy.weight = key, weight
        return copy

    def shifted(self, tokens: int, sentence: int | None) -> _Hit:
        """A copy placed ``tokens`` words later (and in ``sentence``, when given)."""
        copy = self.weighted(self.key, self.weight)
        copy.item = self.item
        copy._tokens = (self.token_start + tokens, self.token_end + tokens)
        copy._sentence = sentence if sentence is not None else self.sentence
        return copy


class Evaluation:
    """One document being matched: its normalised fields, hits and memoised leaf results."""

    def __init__(
        self, matcher: Matcher, doc: Document, views: Mapping[str, Normalised] | None = None
    ) -> None:
        self.m = matcher
        text = doc.text if doc.text and doc.text.strip() else doc.summary
        self.originals = {
            "title": (doc.title or "")[:MAX_FIELD_CHARS],
            "text": (text or "")[:MAX_FIELD_CHARS],
        }
        given = views or {}
        self.views = {f: _view(given.get(f), t) for f, t in self.originals.items()}
        self.hits: dict[int, list[_Hit]] = defaultdict(list)
        for field, view in self.views.items():
            self._scan(field, view, self.originals[field])
        self._exclude()
        self._memo: dict[int, tuple[bool, list[_Hit]]] = {}
        self._entities: frozenset[str] = frozenset()  # the rule being evaluated: its entities
        self._support: dict[tuple[str, str], bool] = {}
        self._rule = ""
        self.short = len(self.originals["title"]) + len(self.originals["text"]) <= SHORT_ITEM
        self.detected: str | None = doc.detected_language
        self.confidence: float | None = None
        if self.detected is None and matcher.detector is not None:
            found = matcher.detector.detect(self.originals["title"], self.originals["text"])
            if found is not None:
                self.detected, self.confidence = found.code, found.confidence
        self.language = primary(self.detected) or primary(doc.language)

    def _scan(self, field: str, view: Normalised, original: str) -> None:
        text = view.text
        items = self.m._items
        for start, end, key in self.m._automaton.find(text):
            starts_word = None
            for item_id in self.m._key_items[key]:
                item = items[item_id]
                if not item.substring:
                    if starts_word is None:
                        starts_word = at_word_start(text, start)
                    if not starts_word or (not item.prefix and not at_word_end(text, end)):
                        continue
                if item.case and not _same_case(original, view, start, end, item.term):
                    continue
                bucket = self.hits[item_id]
                if len(bucket) < MAX_HITS_PER_TERM:
                    stop = _word_end(text, end) if item.prefix else end
                    bucket.append(_Hit(None, item.term, item.entity, field, start, stop, view, item=item_id))

    def _exclude(self) -> None:
        """Drop alias hits that lie inside an entity's excluded phrases ("Turkish Airlines")."""
        for entity, excludes in self.m._exclude_items.items():
            blocked = [h for x in excludes for h in self.hits.get(x, ())]
            if not blocked:
                continue
            for item in self.m._entity_items[entity]:
                if item in self.hits:
                    self.hits[item] = [
                        h
                        for h in self.hits[item]
                        if not any(
                            b.field == h.field and b.nstart < h.nend and h.nstart < b.nend for b in blocked
                        )
                    ]

    def rule(self, rule: Rule) -> RuleMatch | None:
        if rule.condition is None:
            return None
        self._use(rule)
        ok, hits = self.node(rule.condition)
        if not ok or not hits:
            return None
        weights: dict = {}
        for h in hits:
            weights[h.key] = max(weights.get(h.key, 0.0), h.weight)
        score = round(sum(weights.values()), 3)
        if len(weights) < rule.min_hits or score < rule.min_score:
            return None
        shown, evidence = self._explain(hits)
        return RuleMatch(
            rule.id,
            rule.title,
            rule.severity,
            score,
            shown,
            rule.channels,
            rule.tags,
            evidence=evidence,
        )

    def gate_open(self, rule: Rule) -> bool:
        """May similarity decide this rule for this document? Its gate holds (default: one of the
        entities its condition names is hit; a rule without a condition or gate: always)."""
        similarity = rule.similarity
        if similarity is None:
            return False
        self._use(rule)
        if similarity.gate is not None:
            ok, _ = self.node(similarity.gate)
            return ok
        if rule.condition is None:
            return True
        return any(self._entity_hits(e, FIELDS_ALL) for e in rule.entity_ids())

    def annotate(self, found: RuleMatch, closeness: Closeness) -> RuleMatch:
        """A keyword match with how close in meaning it is (ranking, never dropping it)."""
        return RuleMatch(
            found.rule_id,
            found.title,
            found.severity,
            found.score,
            found.hits,
            found.channels,
            found.tags,
            found.via,
            closeness,
            round(found.evidence + max(0.0, closeness.margin or 0.0), 3),
        )

    def by_similarity(self, rule: Rule, closeness: Closeness) -> RuleMatch:
        """A match decided by similarity: the gate's hits (or the rule's entity hits) as evidence."""
        self._use(rule)
        hits: list[_Hit] = []
        if rule.similarity is not None and rule.similarity.gate is not None:
            hits = self.node(rule.similarity.gate)[1]
        else:
            for entity in rule.entity_ids():
                hits.extend(
                    h.weighted(("entity", entity), 1.0) for h in self._entity_hits(entity, FIELDS_ALL)
                )
        shown, evidence = self._explain(hits)
        return RuleMatch(
            rule.id,
            rule.title,
            rule.severity,
            round(closeness.score, 3),
            shown,
            rule.channels,
            rule.tags,
            "similarity",
            closeness,
            evidence,
        )

    def _info(self, h: _Hit) -> float:
        """How much one hit tells (see _KIND_INFO)."""
        if h.entity is not None:
            return _KIND_INFO.get(self.m._kinds.get(h.entity, "other"), 1.0)
        if isinstance(h.key, tuple) and h.key and h.key[0] == "regex":
            return 2.0
        words = h.term.rstrip("*").split()
        if len(words) > 1:
            return 2.0
        return 1.0 + min(len(h.term.rstrip("*")), 12) / 24

    def _explain(self, hits: list[_Hit]) -> tuple[tuple[Hit, ...], float]:
        """The hits worth showing, most telling first (named people, organisations and agreements,
        then phrases and rarer words, places last): no repeats, none inside a longer hit, a few per
        term. And the evidence: what the distinct things hit tell, added up."""
        unique = {(h.field, h.start, h.end, h.term): h for h in hits}
        ordered = sorted(unique.values(), key=lambda h: (_FIELD_ORDER[h.field], h.start, -h.end))
        kept: list[_Hit] = []
        per_key: defaultdict[tuple[str, str], int] = defaultdict(int)
        reach = {"title": -1, "text": -1}
        info: dict = {}
        for h in ordered:
            inside = h.end <= reach[h.field]
            reach[h.field] = max(reach[h.field], h.end)
            if inside:
                continue
            info[h.key] = max(info.get(h.key, 0.0), self._info(h))
            if per_key[h.key] >= MAX_SHOWN_PER_TERM:
                continue
            per_key[h.key] += 1
            kept.append(h)
        kept.sort(key=lambda h: (-self._info(h), _FIELD_ORDER[h.field], h.start))
        shown = tuple(
            Hit(h.term, h.entity, h.field, h.start, h.end, snippet(self.originals[h.field], h.start, h.end))
            for h in kept[:MAX_SHOWN]
        )
        return shown, round(sum(info.values()), 3)

    # --- condition evaluation ------------------------------------------

    def node(self, node: Node) -> tuple[bool, list[_Hit]]:
        key = id(node)
        if key not in self._memo:
            self._memo[key] = self._evaluate(node)
        return self._memo[key]

    def _evaluate(self, node: Node) -> tuple[bool, list[_Hit]]:
        if isinstance(node, Leaf):
            return self._leaf(node)
        if isinstance(node, Near):
            return self._near(node)
        if node.op == "all":
            hits: list[_Hit] = []
            for child in node.children:
                ok, child_hits = self.node(child)
                if not ok:
                    return False, []
                hits.extend(child_hits)
            return True, hits
        if node.op == "none":
            return (not any(self.node(c)[0] for c in node.children)), []
        results = [self.node(c) for c in node.children]
        satisfied = [hits for ok, hits in results if ok]
        if len(satisfied) < node.at_least:
            return False, []
        return True, [h for hits in satisfied for h in hits]

    def _entity_hits(self, entity: str, fields: tuple[str, ...]) -> list[_Hit]:
        """The entity's alias hits in ``fields`` (outermost only); acronym hits only with support."""
        acronyms = self.m._acronyms
        hits = [h for i in self.m._entity_items[entity] for h in self.hits.get(i, ()) if h.field in fields]
        if any(self._item_of(h) in acronyms for h in hits) and not self._supported(entity):
            hits = [h for h in hits if self._item_of(h) not in acronyms]
        return _outermost(hits)

    def _item_of(self, h: _Hit) -> int:
        return h.item

    def _use(self, rule: Rule) -> None:
        """Evaluate what follows as part of ``rule`` (acronym support depends on the rule)."""
        self._rule = rule.id
        self._entities = self.m._rule_entities[rule.id]

    def _supported(self, entity: str) -> bool:
        """Does the article back up an acronym of ``entity`` ("SDF")? By another of its names
        (the expansion), another entity of the rule being evaluated, or the entity's ``context``
        words (its topic: "Kurdish", "Raqqa"). A rule's own words do not count: "the state SDF
        will merge two schemes" must not back up the Syrian Democratic Forces' acronym."""
        key = (entity, self._rule)
        if key not in self._support:
            self._support[key] = (
                self._named(entity)
                or any(self._named(other) for other in self._entities if other != entity)
                or any(self.hits.get(i) for i in self.m._context_items.get(entity, ()))
            )
        return self._support[key]

    def _named(self, entity: str) -> bool:
        """An alias of ``entity`` that is no acronym is hit, anywhere in the article."""
        return any(
            self.hits.get(i) for i in self.m._entity_items.get(entity, ()) if i not in self.m._acronyms
        )

    def _leaf(self, leaf: Leaf) -> tuple[bool, list[_Hit]]:
        if leaf.kind == "regex":
            return self._regex(leaf)
        if leaf.kind == "language":
            return self.language is not None and self.language in leaf.values, []
        found: list[_Hit] = []
        values_hit = 0
        if leaf.kind == "entity":
            for entity in leaf.values:
                hits = self._entity_hits(entity, leaf.fields)
                values_hit += bool(hits)
                found.extend(h.weighted(("entity", entity), leaf.weight) for h in hits)
        else:
            groups: list[_Hit] = []
            for item in self.m._leaf_items[id(leaf)]:
                hits = [h for h in self.hits.get(item, ()) if h.field in leaf.fields]
                groups.extend(h.weighted(("term", self.m._items[item].term), leaf.weight) for h in hits)
            found = _outermost(groups)
            values_hit = len({h.key for h in found})
        return values_hit >= leaf.at_least, found

    def _regex(self, leaf: Leaf) -> tuple[bool, list[_Hit]]:
        items = self.m._leaf_items[id(leaf)]
        if items and not self.hits.get(items[0]):
            return False, []
        pattern = self.m._regexes[leaf.values[0]]
        found = []
        for field in leaf.fields:
            original, view = self.originals[field], self.views[field]
            count = 0
            for offset, window in _windows(original):
                for begin, stop in pattern.spans(window):
                    if count >= MAX_REGEX_HITS:
                        break
                    start, end = offset + begin, offset + stop
                    nstart, nend = view.position_of(start), view.position_of(end)
                    hit = _Hit(
                        ("regex", leaf.values[0]),
                        leaf.values[0],
                        None,
                        field,
                        nstart,
                        max(nend, nstart + 1),
                        view,
                        start,
                        end,
                    )
                    hit.weight = leaf.weight
                    found.append(hit)
                    count += 1
        return bool(found), found

    def _near(self, near: Near) -> tuple[bool, list[_Hit]]:
        lists = []
        for child in near.children:
            ok, hits = self.node(child)
            if not ok:
                return False, []
            lists.append(hits)
        used: dict[int, _Hit] = {}
        for field in _FIELD_ORDER:
            per_child = [
                sorted((h for h in hits if h.field == field), key=lambda h: h.token_start) for hits in lists
            ]
            if all(per_child):
                for h in _windows_hits(per_child, near.within, near.same_sentence):
                    used[id(h)] = h
        if self.short and not used:
            # A feed item says it in two halves ("Turkish generals in Damascus" / "…training and
            # arms"): its title and the first sentence of its text count as one sentence.
            offset = len(self.views["title"].token_starts)
            originals: dict[int, _Hit] = {}
            per_child = []
            for hits in lists:
                moved = []
                for h in hits:
                    proxy = h.shifted(0 if h.field == "title" else offset, 0 if h.field == "title" else None)
                    originals[id(proxy)] = h
                    moved.append(proxy)
                per_child.append(sorted(moved, key=lambda h: h.token_start))
            for h in _windows_hits(per_child, near.within, near.same_sentence):
                original = originals[id(h)]
                used[id(original)] = original
        return bool(used), list(used.values())


def _windows_hits(per_child: list[list[_Hit]], within: int | None, same_sentence: bool) -> list[_Hit]:
    """Hits that take part in a window holding one hit of every child."""
    starts = [[h.token_start for h in hits] for hits in per_child]
    used = []
    for i, hits in enumerate(per_child):
        for anchor in hits:
            chosen = [anchor]
            for j, other in enumerate(per_child):
                if j == i:
                    continue
                k = bisect.bisect_left(starts[j], anchor.token_start)
                if k == len(other) or (same_sentence and other[k].sentence != anchor.sentence):
                    break
                chosen.append(other[k])
            else:
                span = max(h.token_start for h in chosen) - min(h.token_end for h in chosen)
                if within is None or span <= within:
                    used.extend(chosen)
    return used


def _view(given: Normalised | None, text: str) -> Normalised:
    """``given`` when it is the folding of ``text`` (the caller folded it once for
    every consumer), else ``text`` folded now."""
    if given is not None and (given.original is text or given.original == text):
        return given
    return normalise(text)


def _same_case(original: str, view: Normalised, start: int, end: int, term: str) -> bool:
    begin, stop = view.span(start, end)
    written = original[begin:stop]
    return written == term or (written.isupper() and written.upper() == term.upper())


def _word_end(text: str, position: int) -> int:
    space = text.find(" ", position)
    return len(text) if space < 0 else space


def _outermost(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits that lie inside a longer hit of the same leaf ("Abu Qasra" in "Murhaf Abu Qasra")."""
    if len(hits) < 2:
        return hits
    hits = sorted(hits, key=lambda h: (h.field, h.nstart, -h.nend))
    kept = [hits[0]]
    for h in hits[1:]:
        last = kept[-1]
        if h.field == last.field and last.nstart <= h.nstart and h.nend <= last.nend:
            continue
        kept.append(h)
    return kept


def _windows(text: str):
    """(offset, window) pieces of ``text``: paragraphs, long ones cut at a space."""
    offset = 0
    for paragraph in text.split("\n"):
        start = 0
        while start < len(paragraph):
            end = min(start + REGEX_WINDOW, len(paragraph))
            if end < len(paragraph):
                space = paragraph.rfind(" ", start + REGEX_WINDOW // 2, end)
                end = space if space > start else end
            yield offset + start, paragraph[start:end]
            start = end
        offset += len(paragraph) + 1


_SPACES = re.compile(r"\s+")


def snippet(text: str, start: int, end: int, context: int = SNIPPET_CONTEXT) -> str:
    """About ``context`` characters each side of text[start:end], whitespace collapsed."""
    left, right = max(0, start - context), min(len(text), end + context)
    body = _SPACES.sub(" ", text[left:right]).strip()
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")
