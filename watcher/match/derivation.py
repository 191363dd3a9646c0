"""``watcher rules derive``: propose a draft rule file from a seed corpus.

Two things are proposed:

* **entities**: capitalised names (one to five words, with connectors such as
  "al-", "Abu", "of") that the seeds use, grouped with their spelling
  variants ("Murhaf Abu Qasra" / "Murhef Abu Kasra": same number of words,
  each word within a small edit distance once normalised), with a guessed
  kind (person, organisation, place, agreement, other);
* **distinguishing terms**: words and two-word phrases much more frequent in
  the seeds than in a background corpus of general news, ranked by the
  log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
  Quinn, 2008), keeping only those found in at least two seeds.

The draft is checked before it is written: the header says how many seed
and background documents it matches.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import DerivationError
from watcher.match.matcher import Document, Matcher
from watcher.match.rules import RulesError, load_rules
from watcher.text.fold import normalise, normalise_term

MAX_ENTITIES = 40
MAX_BACKGROUND_BYTES = 200 * 1024 * 1024
_CONNECTORS = {
    "al",
    "el",
    "bin",
    "ibn",
    "abu",
    "abou",
    "ebu",
    "of",
    "and",
    "the",
    "de",
    "du",
    "la",
    "for",
    "von",
    "van",
}
_LEADING_ARTICLE = re.compile(r"^(?:al|el|ad|as|ash|an|ar|at|az|eş|es)[-‐‑]\w", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’\-‐‑]*")
_HYPHEN = re.compile(r"[-‐‑]")
_APOSTROPHE = re.compile(r"['’].*$")
_TITLES = {
    "president",
    "minister",
    "general",
    "gen",
    "adm",
    "admiral",
    "dr",
    "mr",
    "mrs",
    "ms",
    "spokesman",
    "spokesperson",
    "chief",
    "commander",
    "brig",
    "colonel",
    "col",
    "lt",
    "lieutenant",
    "major",
    "sheikh",
    "king",
    "prince",
    "leader",
    "secretary",
    "ambassador",
    "director",
    "said",
    "told",
}
_ORG_WORDS = {
    "ministry",
    "forces",
    "force",
    "agency",
    "army",
    "organization",
    "organisation",
    "university",
    "council",
    "party",
    "group",
    "academy",
    "news",
    "report",
    "command",
    "department",
    "government",
    "bank",
    "company",
    "union",
    "alliance",
    "units",
    "front",
    "staff",
    "office",
    "committee",
    "institute",
    "center",
    "centre",
    "service",
    "services",
    "cell",
    "bakanligi",
    "kuvvetleri",
}
_AGREEMENT_WORDS = {
    "memorandum",
    "agreement",
    "accord",
    "mou",
    "pact",
    "treaty",
    "protocol",
    "deal",
    "mutabakat",
    "anlasma",
    "roadmap",
}
_STOP = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "in",
        "on",
        "at",
        "to",
        "from",
        "by",
        "for",
        "with",
        "without",
        "within",
        "into",
        "onto",
        "over",
        "under",
        "after",
        "before",
        "during",
        "since",
        "until",
        "while",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "there",
        "here",
        "he",
        "she",
        "his",
        "her",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "not",
        "no",
        "nor",
        "so",
        "than",
        "then",
        "too",
        "very",
        "also",
        "just",
        "only",
        "more",
        "most",
        "much",
        "many",
        "such",
        "other",
        "another",
        "some",
        "any",
        "all",
        "each",
        "every",
        "both",
        "few",
        "own",
        "same",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "about",
        "above",
        "below",
        "again",
        "against",
        "between",
        "through",
        "up",
        "down",
        "out",
        "off",
        "once",
        "further",
        "said",
        "says",
        "according",
        "new",
        "one",
        "two",
        "three",
        "first",
        "last",
        "next",
        "per",
        "via",
        "mr",
        "mrs",
        "ms",
        "dr",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "yesterday",
        "tomorrow",
    ]
)


@dataclass(frozen=True)
class ProposedEntity:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...]
    documents: int  # seed documents that mention it
    mentions: int


@dataclass(frozen=True)
class ProposedTerm:
    term: str
    documents: int  # seed documents that contain it
    score: float  # log-odds z-score against the background


@dataclass(frozen=True)
class Draft:
    toml: str
    entities: tuple[ProposedEntity, ...]
    terms: tuple[ProposedTerm, ...]
    seed_count: int
    background_count: int
    seeds_matched: int
    background_matched: int


def default_background() -> Path | None:
    """The real gold article texts beside the project (../shared/fixtures/real/html), if present."""
    candidate = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real" / "html"
    return candidate if candidate.is_dir() else None


# --- reading corpora ------------------------------------------------------------


def read_seeds(folder: Path, html_text: Callable[[bytes, str], tuple[str, str]]) -> list[str]:
    texts = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".txt", ".md", ".text", ".html", ".htm"):
            continue
        data = path.read_bytes()
        if suffix in (".html", ".htm"):
            title, text = html_text(data, str(path))
            texts.append(f"{title}\n{text}")
        else:
            texts.append(data.decode("utf-8", errors="replace"))
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DerivationError(f"{folder}: no .txt, .md or .html seed documents found")
    return texts


def read_background(path: Path) -> list[str]:
    """Texts from *.txt files, *.jsonl lines with "text", and JSON gold files ("articleBody"/"text")."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    texts: list[str] = []
    budget = MAX_BACKGROUND_BYTES
    for file in files:
        suffix = file.suffix.lower()
        if suffix not in (".txt", ".json", ".jsonl") or file.stat().st_size > budget:
            continue
        budget -= file.stat().st_size
        raw = file.read_text(encoding="utf-8", errors="replace")
        if suffix == ".txt":
            texts.append(raw)
        elif suffix == ".jsonl":
            texts.extend(_texts(_json_lines(raw)))
        else:
            try:
                texts.extend(_texts(json.loads(raw)))
            except json.JSONDecodeError:
                continue
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DerivationError(
            f'{path}: no background texts found (*.txt, *.jsonl with "text", or JSON '
            'with "articleBody" or "text" fields)'
        )
    return texts


def _json_lines(raw: str) -> list:
    out = []
    for line in raw.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _texts(value) -> Iterable[str]:
    if isinstance(value, dict):
        for key in ("articleBody", "text"):
            if isinstance(value.get(key), str):
                yield value[key]
                return
        for inner in value.values():
            yield from _texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner)


# --- entities ---------------------------------------------------------------------


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
        if _is_name_word(word) or (run and word.lower() in _CONNECTORS):
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
    titles = [i for i, w in enumerate(lowered[:-1]) if w in _TITLES]
    if titles:  # "Defense Minister Murhaf Abu Qasra"
        cut = titles[-1] + 1
        before, run, initial = run[cut - 1], run[cut:], False
        lowered = lowered[cut:]
    if "and" in lowered and not set(normalise_term(" ".join(run)).split()) & (_ORG_WORDS | _AGREEMENT_WORDS):
        cut = lowered.index("and")  # "Ankara and Damascus": two names
        return _finish(run[:cut], before, initial) + _finish(run[cut + 1 :], "and", False)
    while run and (run[-1].lower() in _CONNECTORS or run[-1].lower() in _STOP):
        run = run[:-1]
    while run and (
        run[0].lower() in _STOP
        or run[0].lower() in _CONNECTORS - {"abu", "abou", "ebu"}
        or run[0].lower() in _TITLES
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
    if all(w in _STOP or w in _TITLES for w in words):
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
            groups.find(m) for m in multi if _variants(k, m.split()[-1]) and m.split()[0] not in _ORG_WORDS
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
    if words & _AGREEMENT_WORDS:
        return "agreement"
    if words & _ORG_WORDS or (name.isupper() and len(name) <= 6):
        return "organisation"
    preceding: Counter[str] = Counter()
    for k in members:
        preceding.update(before[k])
    total = sum(preceding.values()) or 1
    if sum(preceding[w] for w in _TITLES) / total >= 0.2:
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


# --- distinguishing terms -------------------------------------------------------------


def _grams(text: str) -> tuple[Counter, dict[str, Counter]]:
    view = normalise(text)
    words = view.text.split(" ") if view.text else []
    counts: Counter = Counter()
    shown: dict[str, Counter] = defaultdict(Counter)
    for i in range(len(words)):
        for size in (1, 2):
            gram = words[i : i + size]
            if len(gram) < size or not _useful(gram):
                continue
            key = " ".join(gram)
            counts[key] += 1
            first = view.token_starts[i]
            last = view.token_starts[i + size - 1] + len(gram[-1])
            start, end = view.span(first, last)
            shown[key][text[start:end].replace("’", "'")] += 1
    return counts, shown


def _useful(gram: list[str]) -> bool:
    if any(w.isdigit() or len(w) < 2 for w in gram):
        return False
    if gram[0] in _STOP or gram[-1] in _STOP:
        return False
    return len(gram) == 2 or len(gram[0]) >= 3


def propose_terms(
    seeds: list[str], background: list[str], limit: int, covered: set[str]
) -> list[ProposedTerm]:
    seed_counts: Counter = Counter()
    seed_docs: Counter = Counter()
    shown: dict[str, Counter] = defaultdict(Counter)
    for text in seeds:
        counts, forms = _grams(text)
        seed_counts.update(counts)
        seed_docs.update(counts.keys())
        for k, v in forms.items():
            shown[k].update(v)
    background_counts: Counter = Counter()
    for text in background:
        background_counts.update(_grams(text)[0])
    scored = _log_odds(seed_counts, background_counts)
    out = []
    for key, z in sorted(scored.items(), key=lambda kv: -kv[1]):
        if (
            seed_docs[key] < min(2, len(seeds))
            or z < 1.96
            or key in covered
            or any(w in covered for w in key.split())
        ):
            continue
        form = shown[key].most_common(1)[0][0]
        out.append(ProposedTerm(form if not form.istitle() else form.lower(), seed_docs[key], round(z, 2)))
        if len(out) >= limit:
            break
    return out


def _log_odds(a: Counter, b: Counter, prior_size: float = 500.0) -> dict[str, float]:
    """z-scores of the log-odds ratio of each key in ``a`` against ``b`` (informative Dirichlet prior)."""
    total = a + b
    n_total = sum(total.values()) or 1
    n_a, n_b = sum(a.values()), sum(b.values())
    scores = {}
    for key, count in a.items():
        alpha = prior_size * total[key] / n_total
        ya, yb = count, b.get(key, 0)
        delta = math.log((ya + alpha) / (n_a + prior_size - ya - alpha)) - math.log(
            (yb + alpha) / (n_b + prior_size - yb - alpha)
        )
        scores[key] = delta / math.sqrt(1 / (ya + alpha) + 1 / (yb + alpha))
    return scores


# --- the draft file -----------------------------------------------------------------


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def render(
    name: str,
    entities: list[ProposedEntity],
    terms: list[ProposedTerm],
    seed_n: int,
    background_n: int,
    verdict: str = "",
) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", normalise_term(name)).strip("-") or "seeds"
    lines = [
        f"# DRAFT rule file proposed by `watcher rules derive` from {seed_n} seed documents",
        f"# ({name}), contrasted with {background_n} background news documents.",
        "# Edit before use: merge or split entities, add the Turkish/Arabic/other spellings",
        "# outlets use, drop generic terms, then tighten the rule (rules/README.md).",
    ]
    if verdict:
        lines.append(f"# {verdict}")
    for e in entities:
        lines += [
            "",
            "[[entities]]",
            f"id = {_toml_string(e.id)}",
            f"name = {_toml_string(e.name)}",
            f"kind = {_toml_string(e.kind)}",
            f"aliases = {_toml_list(a for a in e.aliases if a != e.name)}",
            f"# seen in {e.documents} of {seed_n} seed documents, {e.mentions} mentions",
        ]
    core = [e.id for e in entities if e.documents * 2 >= seed_n][:8] or [e.id for e in entities[:3]]
    lines += [
        "",
        "[[rules]]",
        f"id = {_toml_string(slug + '-draft')}",
        f"title = {_toml_string('Draft: articles like the seeds in ' + name)}",
        'severity = "medium"',
        "[rules.condition]",
        "all = [",
    ]
    if core:
        lines.append(f"  {{ entities = {_toml_list(core)} }},")
    if terms:
        at_least = min(3, len(terms))
        lines.append(f"  {{ terms = {_toml_list(t.term for t in terms)}, at_least = {at_least} }},")
    lines += ["]", ""]
    lines += ["# distinguishing terms (seed documents containing it, log-odds z-score):"]
    lines += [f"#   {t.term}: {t.documents} docs, z = {t.score}" for t in terms]
    return "\n".join(lines) + "\n"


def derive(
    seed_dir: Path,
    background_dir: Path,
    *,
    max_terms: int = 40,
    html_text: Callable[[bytes, str], tuple[str, str]],
) -> Draft:
    seeds = read_seeds(seed_dir, html_text)
    background = read_background(background_dir)
    entities = propose_entities(seeds, background)
    covered = {normalise_term(a) for e in entities for a in e.aliases}
    terms = propose_terms(seeds, background, max_terms, covered)
    if not entities and not terms:
        raise DerivationError(f"{seed_dir}: nothing in the seeds stands out from the background corpus")
    name = seed_dir.resolve().name
    draft = render(name, entities, terms, len(seeds), len(background))
    seeds_hit, background_hit = _check(draft, seeds, background)
    verdict = (
        f"As written, this draft matches {seeds_hit} of {len(seeds)} seed documents and "
        f"{background_hit} of {len(background)} background documents."
    )
    draft = render(name, entities, terms, len(seeds), len(background), verdict)
    return Draft(draft, tuple(entities), tuple(terms), len(seeds), len(background), seeds_hit, background_hit)


def _check(draft: str, seeds: list[str], background: list[str]) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "draft.toml"
        path.write_text(draft, encoding="utf-8")
        try:
            matcher = Matcher(load_rules([path]))
        except RulesError as exc:  # a bug here, not a user mistake: say so plainly
            raise DerivationError(f"the proposed draft does not load: {exc}") from None

    def hits(texts: list[str]) -> int:
        return sum(bool(matcher.match(Document(str(i), "", t))) for i, t in enumerate(texts))

    return hits(seeds), hits(background)
