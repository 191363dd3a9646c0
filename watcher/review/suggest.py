"""Alias discovery (``watcher rules suggest``): spellings of the watched names found in the stored
log that the rule files do not list yet, grouped by cross-script skeleton key
(:mod:`watcher.text.skeleton`): "Murhef Ebu Kasra" in a Turkish article proposes itself as an
alias of the entity whose "Murhaf Abu Qasra" has the same key. Multi-word keys only; each
suggestion comes with the articles it was seen in, for a person to accept into the rule file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher.match.rules import RuleSet
from watcher.store import articles
from watcher.store.database import Store
from watcher.text.fold import normalise_term
from watcher.text.skeleton import WORD, key, usable, word_skeleton

BATCH = 200
MAX_EXAMPLES = 5
DEFAULT_ARTICLES = 5000  # newest articles scanned


@dataclass
class Suggestion:
    entity: str
    entity_name: str
    spelling: str  # as written in the first article it was seen in
    key: tuple[str, ...]
    like: str  # the listed alias with the same key
    articles: list[int] = field(default_factory=list)  # up to MAX_EXAMPLES ids
    count: int = 0  # articles it was seen in


def suggest(
    store: Store, rules: RuleSet, *, since: str | None = None, limit: int = DEFAULT_ARTICLES
) -> list[Suggestion]:
    """New spellings of multi-word entity names and aliases, most seen first."""
    by_key: dict[tuple[str, ...], tuple[str, str, str]] = {}  # key -> (entity, name, alias)
    known = set()
    for entity in rules.entities:
        for alias in entity.aliases:
            known.add(normalise_term(alias.rstrip("*")))
            found = key(alias.rstrip("*"))
            if usable(found) and len(alias.split()) >= 2:
                by_key.setdefault(found, (entity.id, entity.name, alias))
    if not by_key:
        return []
    lengths = sorted({len(k) for k in by_key})
    suggestions: dict[tuple[str, str], Suggestion] = {}
    for article_id, texts in _articles(store, since, limit):
        seen_here: set[tuple[str, str]] = set()
        for text in texts:
            spans = [(a, b, sp, k) for a, b, sp, k in _ngrams(text, lengths) if k in by_key]
            # the longest name only: "Murhaff Abu Qassra", not also "Abu Qassra" inside it
            spans = [x for x in spans if not any(o[0] <= x[0] and x[1] <= o[1] and o != x for o in spans)]
            for _, _, spelling, found in spans:
                hit = by_key[found]
                folded = normalise_term(spelling)
                if folded in known:
                    continue
                entity_id, name, alias = hit
                ident = (entity_id, folded)
                s = suggestions.setdefault(ident, Suggestion(entity_id, name, spelling, found, alias))
                if ident not in seen_here:
                    seen_here.add(ident)
                    s.count += 1
                    if len(s.articles) < MAX_EXAMPLES:
                        s.articles.append(article_id)
    return sorted(suggestions.values(), key=lambda s: (-s.count, s.entity, s.spelling))


def _articles(store: Store, since: str | None, limit: int) -> Iterable[tuple[int, list[str]]]:
    first = max(0, articles.max_id(store) - limit)
    last = first
    while True:
        rows = articles.documents(store, after=last, since=since, size=BATCH)
        if not rows:
            return
        for row in rows:
            yield row["id"], [row["title"] or "", row["text"] or row["summary"] or ""]
        last = rows[-1]["id"]


def _ngrams(text: str, lengths: list[int]) -> Iterable[tuple[int, int, str, tuple[str, ...]]]:
    """(start, end, original spelling, key) of every run of 2+ consecutive words whose skeletons are a key
    of one of ``lengths`` words (articles like al- are not counted as words)."""
    words = [(m.start(), m.end(), word_skeleton(m.group())) for m in WORD.finditer(text)]
    words = [w for w in words if w[2]]
    for n in lengths:
        for i in range(len(words) - n + 1):
            chunk = words[i : i + n]
            if any(not _joins(text[a[1] : b[0]]) for a, b in zip(chunk, chunk[1:], strict=False)):
                continue  # not one name: punctuation or another word between
            start, end = chunk[0][0], chunk[-1][1]
            yield start, end, text[start:end], tuple(w[2] for w in chunk)


def _joins(gap: str) -> bool:
    """Whether the text between two words keeps them in one name (spaces, hyphens, an article)."""
    rest = WORD.sub(lambda m: "" if not word_skeleton(m.group()) else m.group(), gap)
    return not rest.strip(" -'’\u200c\u00a0")
