"""Proposed entities: runs of capitalised words in the seeds, grouped with
their spelling variants, with a guessed kind."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from watcher.match.derivation.words import AGREEMENT_WORDS, CONNECTORS, ORG_WORDS, STOP, TITLES
from watcher.text.fold import normalise, normalise_term

MAX_ENTITIES = 40
_LEADING_ARTICLE = re.compile(r"^(?:al|el|ad|as|ash|an|ar|at|az|eş|es)[-‐‑]\w", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’\-‐‑]*")
_HYPHEN = re.compile(r"[-‐‑]")
_APOSTROPHE = re.compile(r"['’].*$")


@dataclass(frozen=True)
class ProposedEntity:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...]
    documents: int  # seed documents that mention it
    mentions: int


def _clean_word(word: str) -> str:
    return _APOSTROPHE.sub("", word).strip("-‐‑")


def _is_name_word(word: str) -> bool:
    if _LEADING_ARTICLE.match(word):
        return True  # "al-Sharaa"
    parts = _HYPHEN.split(word)
    return bool(word) and all(p[:1].isupper() for p in parts)  # not "Kurdish-led"


def _tokens(text: str):
    """(word, start, end); capitalised compounds ("Turkish-Syrian") split into their parts."""
    for m in _WORD.finditer(text):
        word = m.group()
        parts = _HYPHEN.split(word)
        if len(parts) > 1 and all(p[:1].isupper() for p in parts) and not _LEADING_ARTICLE.match(word):
            offset = m.start()
            for part in parts:
                yield part, offset, offset + len(part)
                offset += len(part) + 1
        else:
            yield word, m.start(), m.end()


def name_candidates(text: str) -> list[tuple[str, str, bool]]:
    """(name, word before it, sentence-initial?) for every run of capitalised words in ``text``."""
    found: list[tuple[str, str, bool]] = []
    run: list[str] = []
    last_end = 0
    before = ""
    initial = False
    previous_word = ""
    for raw, begin, finish in _tokens(text):
        word = _clean_word(raw)
        gap = text[last_end:begin]
        joined = run and gap in (" ", "\u00a0")
        if run and not joined:
            found.extend(_finish(run, before, initial))
            run = []
        if _is_name_word(word) or (run and word.lower() in CONNECTORS):
            if not run:
                before = previous_word
                initial = last_end == 0 or bool(
                    re.search(r"[.!?:\n\"“”]\s*$", text[max(0, begin - 4) : begin])
                )
            run.append(word)
        elif run:
            found.extend(_finish(run, before, initial))
            run = []
        if raw != word and run:  # "Shara’s": the name ends at the apostrophe
            found.extend(_finish(run, before, initial))
            run = []
        last_end = finish
        previous_word = word
    if run:
        found.extend(_finish(run, before, initial))
    return found


def _finish(run: list[str], before: str, initial: bool) -> list[tuple[str, str, bool]]:
    lowered = [w.lower() for w in run]
    titles = [i for i, w in enumerate(lowered[:-1]) if w in TITLES]
    if titles:  # "Defense Minister Murhaf Abu Qasra"
        cut = titles[-1] + 1
        before, run, initial = run[cut - 1], run[cut:], False
        lowered = lowered[cut:]
    if "and" in lowered and not set(normalise_term(" ".join(run)).split()) & (ORG_WORDS | AGREEMENT_WORDS):
        cut = lowered.index("and")  # "Ankara and Damascus": two names
        return _finish(run[:cut], before, initial) + _finish(run[cut + 1 :], "and", False)
    while run and (run[-1].lower() in CONNECTORS or run[-1].lower() in STOP):
        run = run[:-1]
    while run and (
        run[0].lower() in STOP
        or run[0].lower() in CONNECTORS - {"abu", "abou", "ebu"}
        or run[0].lower() in TITLES
    ):
        before, run, initial = run[0], run[1:], False
    if not run or len(run) > 6:
        return []
    return [(" ".join(run), before.lower(), initial)]


def _edit_distance(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _variants(a: str, b: str) -> bool:
    """Same number of words, each equal or a small spelling difference (Murhaf/Murhef, Kasra/Qasra)."""
    wa, wb = a.split(), b.split()
    if len(wa) != len(wb) or a == b:
        return a == b
    differing = 0
    for x, y in zip(wa, wb, strict=False):
        if x == y:
            continue
        if min(len(x), len(y)) < 4 or _edit_distance(x, y, 1 if len(x) < 8 else 2) > (1 if len(x) < 8 else 2):
            return False
        differing += 1
    return differing <= 2


class _Groups:
    def __init__(self, names: list[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, n: str) -> str:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def propose_entities(seeds: list[str], background: list[str]) -> list[ProposedEntity]:
    surfaces: dict[str, Counter] = defaultdict(Counter)  # normalised -> surface forms
    docs: dict[str, set[int]] = defaultdict(set)
    before: dict[str, Counter] = defaultdict(Counter)
    vocabulary = _lowercase_words(seeds + background)
    for index, text in enumerate(seeds):
        for name, word, initial in name_candidates(text):
            first = name.split()[0].lower()
            if initial and (first in vocabulary or first.endswith(("ing", "ly", "ed"))):
                name = " ".join(name.split()[1:])  # "Targeting Hamas" at a sentence start
                if not name:
                    continue
            key = normalise_term(name)
            if key:
                surfaces[key][name] += 1
                docs[key].add(index)
                before[key][word] += 1
    lowered = Counter(w for t in seeds for w in re.findall(r"\b[^\W\d_]+\b", t) if w[0].islower())
    keys = [k for k in surfaces if _keep_name(k, surfaces[k], lowered)]
    groups = _group(keys, surfaces)
    background_words = _document_frequencies(background)
    proposals = []
    for members in groups.values():
        mentions = sum(sum(surfaces[k].values()) for k in members)
        seen_in = set().union(*(docs[k] for k in members))
        if len(seen_in) < min(2, len(seeds)) or (len(seen_in) < 2 and mentions < 3):
            continue
        if _common_in_background(members, len(seen_in), len(seeds), background_words, len(background)):
            continue
        forms: Counter[str] = Counter()
        for k in members:
            forms.update(surfaces[k])
        ordered = [f for f, _ in sorted(forms.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))]
        name = max(ordered[:3], key=len) if len(ordered[0].split()) == 1 else ordered[0]
        kind = _kind(name, members, before)
        aliases = tuple(dict.fromkeys([name] + ordered))
        proposals.append(ProposedEntity("", name, kind, aliases, len(seen_in), mentions))
    proposals.sort(key=lambda p: (-p.documents, -p.mentions, p.name))
    return _with_ids(proposals[:MAX_ENTITIES])


def _lowercase_words(texts: list[str]) -> set[str]:
    return {w for t in texts for w in re.findall(r"\b[^\W\d_]+\b", t) if w[0].islower()}


def _keep_name(key: str, forms: Counter, lowered: Counter) -> bool:
    words = key.split()
    if all(w in STOP or w in TITLES for w in words):
        return False
    if len(words) == 1:
        surface = next(iter(forms))
        if surface.isupper() and len(surface) >= 2:
            return True  # acronyms: SDF, YPG, MoU
        return sum(forms.values()) >= 2 and lowered[surface.lower()] * 4 <= sum(forms.values())
    return True


def _group(keys: list[str], surfaces: dict[str, Counter]) -> dict[str, list[str]]:
    groups = _Groups(keys)
    by_length: dict[int, list[str]] = defaultdict(list)
    for k in keys:
        by_length[len(k.split())].append(k)
    for same in by_length.values():
        for i, a in enumerate(same):
            for b in same[i + 1 :]:
                if _variants(a, b):
                    groups.union(a, b)
    multi = [k for k in keys if len(k.split()) >= 2]
    for k in keys:
        if len(k.split()) != 1:
            continue
        owners = {
            groups.find(m) for m in multi if _variants(k, m.split()[-1]) and m.split()[0] not in ORG_WORDS
        }
        if len(owners) == 1 and not any(s.isupper() for s in surfaces[k]):
            groups.union(k, owners.pop())
    for k in multi:  # "Abu Kasra" inside "Murhef Abu Kasra"
        words = k.split()
        owners = {
            groups.find(m)
            for m in multi
            if len(m.split()) > len(words) and _variants(k, " ".join(m.split()[-len(words) :]))
        }
        if len(owners) == 1:
            groups.union(k, owners.pop())
    result: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        result[groups.find(k)].append(k)
    return result


def _document_frequencies(texts: list[str]) -> Counter:
    frequencies: Counter = Counter()
    for text in texts:
        words = normalise(text).text.split()
        frequencies.update(set(words) | {" ".join(p) for p in zip(words, words[1:], strict=False)})
    return frequencies


def _common_in_background(members, seed_docs, seed_n, background_df, background_n) -> bool:
    background_docs = max(background_df.get(k, 0) for k in members)
    return (background_docs + 1) / (background_n + 1) * 3 > seed_docs / seed_n


def _kind(name: str, members: list[str], before: dict[str, Counter]) -> str:
    words = set(normalise_term(name).split())
    if words & AGREEMENT_WORDS:
        return "agreement"
    if words & ORG_WORDS or (name.isupper() and len(name) <= 6):
        return "organisation"
    preceding: Counter[str] = Counter()
    for k in members:
        preceding.update(before[k])
    total = sum(preceding.values()) or 1
    if sum(preceding[w] for w in TITLES) / total >= 0.2:
        return "person"
    if sum(preceding[w] for w in ("in", "to", "from", "across", "into", "and", "with")) / total >= 0.2:
        return "place"
    return "other"


def _with_ids(proposals: list[ProposedEntity]) -> list[ProposedEntity]:
    used: set[str] = set()
    out = []
    for p in proposals:
        base = re.sub(r"[^a-z0-9]+", "-", normalise_term(p.name)).strip("-")[:60] or "entity"
        ident, n = base, 2
        while ident in used:
            ident, n = f"{base}-{n}", n + 1
        used.add(ident)
        out.append(ProposedEntity(ident, p.name, p.kind, p.aliases, p.documents, p.mentions))
    return out
