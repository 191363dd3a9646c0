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

from collections import defaultdict
from dataclasses import dataclass

from watcher.match import regex as rule_regex
from watcher.match.automaton import Automaton
from watcher.match.document import Document, Hit, RuleMatch
from watcher.match.evaluation import MAX_SHOWN, Evaluation, snippet
from watcher.match.ruleset import Group, Leaf, Near, Node, RuleSet, needs_hit
from watcher.text.fold import normalise_term

__all__ = ["MAX_SHOWN", "Document", "Hit", "Matcher", "RuleMatch", "snippet"]


@dataclass(frozen=True)
class _Item:
    """One string the automaton looks for, and what a hit on it means."""

    term: str  # as written
    entity: str | None
    prefix: bool  # "train*": the word may go on
    substring: bool  # a regex pre-filter literal: no word boundaries
    case: bool = False  # must be written as in the rule (or in capitals): "Turkey", not "turkey"


class Matcher:
    """Compiles a rule set once; ``match`` is then safe to call for any number of documents."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._items: list[_Item] = []
        self._item_ids: dict[tuple, int] = {}
        self._keys: dict[str, list[int]] = defaultdict(list)
        self._entity_items: dict[str, list[int]] = {}
        self._exclude_items: dict[str, list[int]] = {}
        for entity in rules.entities:
            self._entity_items[entity.id] = [
                self._item(a, entity.id, case=a in entity.match_case) for a in entity.aliases
            ]
            if entity.exclude:
                self._exclude_items[entity.id] = [self._item(x, None) for x in entity.exclude]
        self._regexes: dict[str, rule_regex.RuleRegex] = {}
        self._leaf_items: dict[int, list[int]] = {}
        for rule in rules.rules:
            self._compile_leaves(rule.condition)
        self._automaton = Automaton((key, i) for i, key in enumerate(self._keys))
        self._key_items = list(self._keys.values())
        self._index_rules()

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
        else:
            if node.values[0] not in self._regexes:
                self._regexes[node.values[0]] = rule_regex.compile(node.values[0])
            items = [self._item(node.literal, None, substring=True)] if node.literal else []
        self._leaf_items[id(node)] = items

    def _index_rules(self) -> None:
        refs: dict[int, int] = defaultdict(int)
        for rule in self.rules.rules:
            for item in self._all_items(rule.condition):
                refs[item] += 1
        self._refs = refs
        self._triggered: dict[int, list[int]] = defaultdict(list)
        self._always: list[int] = []
        for index, rule in enumerate(self.rules.rules):
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

    def match(self, doc: Document) -> tuple[RuleMatch, ...]:
        run = Evaluation(self, doc)
        candidates = set(self._always)
        for item in run.hits:
            candidates.update(self._triggered.get(item, ()))
        matches = []
        for index in sorted(candidates):
            found = run.rule(self.rules.rules[index])
            if found:
                matches.append(found)
        return tuple(matches)
