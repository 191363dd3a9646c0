"""Matching documents against a rule set, with explanations.

Every term and alias of every rule is compiled into ONE automaton
(:mod:`watcher.match.automaton`) over normalised text (:mod:`watcher.text.fold`).
A document is normalised once per field, scanned once, and the candidate hits
are kept only at word boundaries. Each rule is indexed by a small set of
*trigger* terms (one of which must be present for the rule to hold), so only
rules with a trigger hit are evaluated: the cost per document follows the
document's length and its hits, not the number of rules. Regexes are the
exception (see rules/README.md): they run on the original text, only for
candidate rules, only when their pre-filter literal was found, and on a
linear-time engine (:mod:`watcher.match.regex`). Evaluating one document is
:mod:`watcher.match.evaluation`; the types handed on are in :mod:`watcher.match.document`.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from watcher.match import regex as rule_regex
from watcher.match.automaton import Automaton
from watcher.match.document import Assessment, Document, Hit, RuleMatch, Scored
from watcher.match.evaluation import MAX_SHOWN, Evaluation, snippet
from watcher.match.meaning import (
    NO_EXAMPLES,
    EmbeddingError,
    Examples,
    Meaning,
    VectorSource,
    decides,
    digest,
    lead,
)
from watcher.match.ruleset import Group, Leaf, Near, Node, RuleSet, entity_ids, is_acronym, needs_hit
from watcher.text.fold import Normalised, normalise_term
from watcher.text.language import LanguageDetector

log = logging.getLogger("watcher.match")

__all__ = ["MAX_SHOWN", "Assessment", "Document", "Hit", "Matcher", "RuleMatch", "Scored", "snippet"]


@dataclass(frozen=True)
class _Item:
    """One string the automaton looks for, and what a hit on it means."""

    term: str  # as written
    entity: str | None
    prefix: bool  # "train*": the word may go on
    substring: bool  # a regex pre-filter literal: no word boundaries
    case: bool = False  # must be written as in the rule (or in capitals): "Turkey", not "turkey"


class Matcher:
    """Compiles a rule set once; ``match`` is then safe to call for any number of documents.

    ``detector`` gives each document its language when the caller has not (the ``language``
    condition and ``Assessment.language``); ``embedder`` is the vector source for rules with
    examples (``like``/``about``). Without an embedder those rules decide on keywords alone."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        detector: LanguageDetector | None = None,
        embedder: VectorSource | None = None,
    ) -> None:
        self.rules = rules
        self.detector = detector
        self.embedder = embedder
        self.meaning = Meaning(rules)
        self._items: list[_Item] = []
        self._item_ids: dict[tuple, int] = {}
        self._keys: dict[str, list[int]] = defaultdict(list)
        self._entity_items: dict[str, list[int]] = {}
        self._exclude_items: dict[str, list[int]] = {}
        self._context_items: dict[str, list[int]] = {}
        self._acronyms: set[int] = set()
        self._kinds = {e.id: e.kind for e in rules.entities}
        for entity in rules.entities:
            self._entity_items[entity.id] = [
                self._item(a, entity.id, case=a in entity.match_case) for a in entity.aliases
            ]
            self._acronyms.update(
                i for a, i in zip(entity.aliases, self._entity_items[entity.id], strict=True) if is_acronym(a)
            )
            if entity.exclude:
                self._exclude_items[entity.id] = [self._item(x, None) for x in entity.exclude]
            if entity.context:
                self._context_items[entity.id] = [self._item(x, None) for x in entity.context]
        self._regexes: dict[str, rule_regex.RuleRegex] = {}
        self._leaf_items: dict[int, list[int]] = {}
        self._rule_entities: dict[str, frozenset[str]] = {}
        for rule in rules.rules:
            if rule.condition is not None:
                self._compile_leaves(rule.condition)
            gate = rule.similarity.gate if rule.similarity else None
            if gate is not None:
                self._compile_leaves(gate)
            entities = set(rule.entity_ids())
            if gate is not None:
                entities.update(entity_ids(gate))
            self._rule_entities[rule.id] = frozenset(entities)
        self._automaton = Automaton((key, i) for i, key in enumerate(self._keys))
        self._key_items = list(self._keys.values())
        self._index_rules()

    def warm(self, vectors: Callable[[], tuple[VectorSource, Callable[[], None]]] | None = None) -> None:
        """What a run pays once before its polls, not inside the first one: load the language model
        now; when a rule has examples, start the embedding worker and embed the rules' examples on
        a background thread (through ``vectors()``, which returns a source - e.g. vectors kept in
        the database, opened on that thread - and what closes it; else the embedder itself).
        A failure there is the first article's to report, as it would be without warming."""
        if self.detector is not None:
            self.detector.warm()
        embedder = self.embedder
        if embedder is None or not self.meaning:
            return
        start = getattr(embedder, "start", None)
        if start is not None:
            start()

        def prepare() -> None:
            close: Callable[[], None] | None = None
            try:
                source: VectorSource = embedder
                if vectors is not None:
                    source, close = vectors()
                self.meaning.prepare(source)
            except Exception as exc:  # the articles' own embedding reports it
                log.debug("embedding the rules' examples ahead of the polls failed: %s", exc)
            finally:
                if close is not None:
                    close()

        threading.Thread(target=prepare, name="watcher-examples", daemon=True).start()

    def close(self) -> None:
        """Stop the embedding worker, if this matcher has one."""
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()

    # --- compiling ------------------------------------------------------

    def _item(self, term: str, entity: str | None, *, substring: bool = False, case: bool = False) -> int:
        prefix = term.endswith("*") and not substring
        normal = term if substring else normalise_term(term[:-1] if prefix else term)
        ident = (term, entity, prefix, substring, normal, case)
        if ident not in self._item_ids:
            self._item_ids[ident] = len(self._items)
            self._items.append(_Item(term, entity, prefix, substring, case))
            self._keys[normal].append(self._item_ids[ident])
        return self._item_ids[ident]

    def _compile_leaves(self, node: Node) -> None:
        if isinstance(node, (Group, Near)):
            for child in node.children:
                self._compile_leaves(child)
            return
        if node.kind == "entity":
            items = [i for e in node.values for i in self._entity_items[e]]
        elif node.kind == "term":
            items = [self._item(t, None) for t in node.values]
        elif node.kind == "language":
            items = []
        else:
            if node.values[0] not in self._regexes:
                self._regexes[node.values[0]] = rule_regex.compile(node.values[0])
            items = [self._item(node.literal, None, substring=True)] if node.literal else []
        self._leaf_items[id(node)] = items

    def _index_rules(self) -> None:
        refs: dict[int, int] = defaultdict(int)
        for rule in self.rules.rules:
            if rule.condition is not None:
                for item in self._all_items(rule.condition):
                    refs[item] += 1
        self._refs = refs
        self._triggered: dict[int, list[int]] = defaultdict(list)
        self._always: list[int] = []
        self._similar: list[int] = []  # rules with examples: evaluated after the keyword pass
        for index, rule in enumerate(self.rules.rules):
            if rule.similarity is not None:
                self._similar.append(index)
            if rule.condition is None:
                continue
            triggers = self._triggers(rule.condition)
            if triggers is None:
                self._always.append(index)
                continue
            for item in triggers:
                self._triggered[item].append(index)

    def _all_items(self, node: Node) -> set[int]:
        if isinstance(node, Leaf):
            return set(self._leaf_items[id(node)])
        return set().union(*(self._all_items(c) for c in node.children))

    def _cost(self, items: set[int]) -> float:
        """How often a trigger set is expected to fire: shared and one-word terms cost more."""
        return sum((self._refs[i] + 1) * (1 if " " in self._items[i].term.strip() else 2) for i in items)

    def _triggers(self, node: Node) -> set[int] | None:
        """Items one of which must be hit for ``node`` to hold; None: cannot tell (always evaluate)."""
        if not needs_hit(node):
            return None
        if isinstance(node, Leaf):
            if node.kind == "regex" and not node.literal:
                return None
            return set(self._leaf_items[id(node)])
        if isinstance(node, Group) and node.op == "any":
            sets = [self._triggers(c) for c in node.children]
            known = [s for s in sets if s is not None]
            return set[int]().union(*known) if len(known) == len(sets) else None
        options = [o for o in (self._triggers(c) for c in node.children) if o is not None]
        return min(options, key=self._cost) if options else None

    # --- matching -------------------------------------------------------

    def match(self, doc: Document, views: Mapping[str, Normalised] | None = None) -> tuple[RuleMatch, ...]:
        """The rules ``doc`` matches (the keyword pass and similarity); ``views``: see :meth:`assess`."""
        return self.assess(doc, views=views).matches

    def assess(
        self,
        doc: Document,
        *,
        vectors: VectorSource | None = None,
        examples: Callable[[str], Examples] | None = None,
        views: Mapping[str, Normalised] | None = None,
    ) -> Assessment:
        """Match ``doc``: the keyword pass, then similarity for the rules with examples (with
        ``vectors``, else the matcher's embedder; ``examples(rule_id)`` adds learnt examples).
        ``views``: its title and text (the text, or the summary when there is no text)
        already folded by the caller (``{"title": normalise(title), "text": normalise(text)}``),
        so that the folding is shared with search and dedup; folded here otherwise."""
        run = Evaluation(self, doc, views)
        candidates = set(self._always)
        for item in run.hits:
            candidates.update(self._triggered.get(item, ()))
        matches: dict[int, RuleMatch] = {}
        for index in sorted(candidates):
            found = run.rule(self.rules.rules[index])
            if found:
                matches[index] = found
        scored: list[Scored] = []
        vector_key = problem = None
        wanted = [i for i in self._similar if i in matches or run.gate_open(self.rules.rules[i])]
        source = vectors or self.embedder
        if wanted and source is None:
            problem = "no embedding model: rules with like/about examples decided on keywords alone"
        elif wanted and source is not None:
            text = lead(doc.title, run.originals["text"])
            try:
                vector = source.vectors([text])[0]
            except EmbeddingError as exc:
                problem = f"similarity not computed: {exc}"
            else:
                vector_key = digest(source.model, text)
                for index in wanted:
                    rule = self.rules.rules[index]
                    assert rule.similarity is not None
                    learnt = examples(rule.id) if examples else NO_EXAMPLES
                    try:
                        closeness = self.meaning.closeness(rule, vector, source, learnt)
                    except EmbeddingError as exc:
                        problem = f"similarity not computed: {exc}"
                        break
                    if index in matches:
                        matches[index] = run.annotate(matches[index], closeness)
                    elif decides(closeness, rule.similarity.min_similarity):
                        matches[index] = run.by_similarity(rule, closeness)
                    scored.append(Scored(rule.id, closeness, index in matches))
        return Assessment(
            tuple(matches[i] for i in sorted(matches)),
            run.language,
            run.detected,
            run.confidence,
            tuple(scored),
            vector_key,
            problem,
        )
