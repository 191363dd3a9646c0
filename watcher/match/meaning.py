"""Meaning: how close an article is to what a rule says it is about.

A rule's ``like`` documents and ``about`` sentences are its *references*; ``unlike`` sentences
say what it is not about. Articles a person marked relevant or irrelevant that the rule matched or
compared become its learnt examples, weighed by their nearest few (:data:`VERDICT_NEIGHBOURS`)
and with a :data:`VERDICT_MARGIN`: a verdict is one article, a reference a deliberate sentence. Articles and references are embedded with a multilingual sentence-embedding model
(:mod:`watcher.match.embedder`, in its own worker process) as **title + lead** (the first
:data:`LEAD_CHARS` characters of the text), and compared by cosine similarity. The closest
reference names the evidence: "close in meaning to seeds/003_….txt ¶2 (0.91)".

The matcher decides when this is worth the cost (an entity hit behind the rule's gate, or a rule
that asks for similarity alone); this module holds the references, the vectors and the
arithmetic. Vectors are unit-length float32 arrays (``array('f')``), so a dot product is the
cosine; 384 numbers each, compared in plain Python (about 20 µs per pair).

A :class:`VectorSource` turns texts into vectors: the embedder itself, or
:class:`StoredVectors`, which keeps every vector in the database so that backtests and restarts
do not embed an article twice.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import mul
from typing import Protocol

from watcher.errors import WatcherError
from watcher.match.ruleset import Reference, Rule, RuleSet
from watcher.store import embeddings
from watcher.store.database import Store

LEAD_CHARS = 300  # characters of the text embedded after the title
# Verdicts as examples: an article is compared with the mean of its NEIGHBOURS closest marked
# articles on each side (one marked article alone is a noisy neighbour), and must be MARGIN closer
# to the relevant ones than to the irrelevant ones. Chosen on the tune part of the labelled set
# with leave-one-out verdicts (bench/relevance.py --learn; docs/relevance-evaluation.md).
VERDICT_NEIGHBOURS = 3
VERDICT_MARGIN = 0.03
MAX_VERDICT_EXAMPLES = 200  # newest verdicts per rule and side used as references
KEEP_EVERY = 2  # vectors stored per transaction (a killed run keeps what it embedded)

Vector = array  # array('f'), unit length


class EmbeddingError(WatcherError):
    """The embedding worker could not embed (it died, timed out, or ran out of memory)."""


def lead(title: str | None, text: str | None) -> str:
    """What is embedded of an article: its title and the start of its text, on one line."""
    body = " ".join((text or "")[: LEAD_CHARS * 2].split())[:LEAD_CHARS]
    return " ".join(f"{title or ''} {body}".split())


def digest(model: str, text: str) -> str:
    """The cache key of ``text`` embedded by ``model``."""
    return hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=16).hexdigest()


def cosine(a: Vector, b: Vector) -> float:
    return sum(map(mul, a, b))


def from_bytes(raw: bytes) -> Vector:
    vector = array("f")
    vector.frombytes(raw)
    return vector


class VectorSource(Protocol):
    model: str

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text; raises EmbeddingError."""
        ...


@dataclass(frozen=True)
class Example:
    label: str  # 'relevant #12' / 'about 2: “…”'
    vector: Vector


@dataclass(frozen=True)
class Examples:
    """A rule's learnt examples: articles marked relevant and irrelevant (newest first)."""

    relevant: tuple[Example, ...] = ()
    irrelevant: tuple[Example, ...] = ()


NO_EXAMPLES = Examples()


@dataclass(frozen=True)
class Closeness:
    """How close an article is to a rule's references."""

    score: float  # cosine similarity to the closest reference (like, about, relevant verdicts)
    reference: str  # the closest reference's label
    unlike: float | None = None  # similarity to the closest 'unlike' reference or irrelevant verdicts
    unlike_reference: str | None = None
    learnt: bool = False  # ``unlike`` comes from articles marked irrelevant (VERDICT_MARGIN applies)

    @property
    def margin(self) -> float | None:
        """How much closer to what the rule is about than to what it is not about."""
        return None if self.unlike is None else round(self.score - self.unlike, 4)

    def describe(self) -> str:
        """ "close in meaning to seeds/003.txt ¶2 (0.91)"; with an unlike example, how close to it."""
        text = f"close in meaning to {self.reference} ({self.score:.2f})"
        if self.unlike is not None and self.unlike_reference:
            text += f"; to what it is not about, {self.unlike_reference} ({self.unlike:.2f})"
        return text

    def to_json(self) -> dict:
        return {
            "score": round(self.score, 4),
            "reference": self.reference,
            "unlike": None if self.unlike is None else round(self.unlike, 4),
            "unlike_reference": self.unlike_reference,
            "text": self.describe(),
        }


@dataclass
class _Refs:
    like: list[tuple[str, Vector]] = field(default_factory=list)
    unlike: list[tuple[str, Vector]] = field(default_factory=list)


class Meaning:
    """The rules' references, embedded once (on first need) and compared with articles."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = {r.id: r for r in rules.rules if r.similarity is not None}
        self._refs: dict[str, _Refs] = {}
        self._model: str | None = None
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def _references(self, source: VectorSource) -> dict[str, _Refs]:
        with self._lock:
            if self._model == source.model:
                return self._refs
            wanted: list[Reference] = []
            for rule in self.rules.values():
                assert rule.similarity is not None
                wanted.extend(rule.similarity.references)
                wanted.extend(rule.similarity.unlike)
            texts = list(dict.fromkeys(r.text for r in wanted))
            vectors = dict(zip(texts, source.vectors(texts), strict=True)) if texts else {}
            refs: dict[str, _Refs] = {}
            for rule in self.rules.values():
                assert rule.similarity is not None
                refs[rule.id] = _Refs(
                    [(r.label, vectors[r.text]) for r in rule.similarity.references],
                    [(r.label, vectors[r.text]) for r in rule.similarity.unlike],
                )
            self._refs, self._model = refs, source.model
            return refs

    def prepare(self, source: VectorSource) -> None:
        """Embed the rules' examples now (raises EmbeddingError)."""
        self._references(source)

    def closeness(
        self, rule: Rule, vector: Vector, source: VectorSource, examples: Examples = NO_EXAMPLES
    ) -> Closeness:
        refs = self._references(source).get(rule.id) or _Refs()
        score, label = _best(refs.like, vector)
        if examples.relevant:
            near, near_label = _neighbours(examples.relevant, vector)
            if near > score:
                score, label = near, near_label
        against, against_label = _best(refs.unlike, vector) if refs.unlike else (None, None)
        learnt = False
        if examples.irrelevant:
            near, near_label = _neighbours(examples.irrelevant, vector)
            if against is None or near + VERDICT_MARGIN > against:
                against, against_label, learnt = near, near_label, True
        return Closeness(round(score, 4), label or "-", against, against_label, learnt)


def neighbour_mean(values: Sequence[float]) -> float:
    """The mean of the VERDICT_NEIGHBOURS highest similarities."""
    closest = sorted(values, reverse=True)[:VERDICT_NEIGHBOURS]
    return sum(closest) / len(closest)


def _neighbours(examples: Sequence[Example], vector: Vector) -> tuple[float, str]:
    """The mean similarity to the VERDICT_NEIGHBOURS closest examples, and their label."""
    closest = sorted(((cosine(e.vector, vector), e.label) for e in examples), reverse=True)
    closest = closest[:VERDICT_NEIGHBOURS]
    label = closest[0][1] + (f" and {len(closest) - 1} more" if len(closest) > 1 else "")
    return round(neighbour_mean([value for value, _ in closest]), 4), label


def _best(refs: list[tuple[str, Vector]], vector: Vector) -> tuple[float, str | None]:
    best, label = -1.0, None
    for name, ref in refs:
        value = cosine(ref, vector)
        if value > best:
            best, label = value, name
    return round(best, 4), label


def decides(closeness: Closeness, min_similarity: float) -> bool:
    """Whether similarity alone may add a match: close enough to what the rule is about, and no
    closer to what it is not about (VERDICT_MARGIN closer, against articles marked irrelevant)."""
    if closeness.score < min_similarity:
        return False
    if closeness.unlike is None:
        return True
    return closeness.score >= closeness.unlike + (VERDICT_MARGIN if closeness.learnt else 0.0)


# -- vectors kept in the database ---------------------------------------------------------------


# How a StoredVectors keeps fresh vectors: keep(model, [(digest, vector bytes)], now).
KeepVectors = Callable[[str, list[tuple[str, bytes]], str], None]


class StoredVectors:
    """A vector source that looks in the database first and keeps what it embeds there.

    Also the source of a rule's learnt examples (:meth:`examples`): the articles marked relevant or
    irrelevant that matched the rule or came close to it, re-read when a new verdict arrives.
    One per store (per thread), around one shared embedder."""

    def __init__(
        self,
        store: Store,
        source: VectorSource,
        now: str = "",
        keep: KeepVectors | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.model = source.model
        self.now = now
        # By default fresh vectors are kept in a transaction of their own on ``store``
        # (a pipeline hands them to its writer instead: its poll threads never write).
        self._keep = keep or self._keep_here
        self._examples: dict[str, Examples] = {}
        self._verdicts_seen: int | None = None

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        keys = [digest(self.model, t) for t in texts]
        found = embeddings.get_many(self.store, keys)
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in found]
        for i in range(0, len(missing), KEEP_EVERY):
            # kept a few at a time: a run killed while embedding a rule's many examples keeps
            # what it did, and the next run goes on from there
            chunk = missing[i : i + KEEP_EVERY]
            fresh = self.source.vectors([t for _, t in chunk])
            rows = [(k, v.tobytes()) for (k, _), v in zip(chunk, fresh, strict=True)]
            self._keep(self.model, rows, self.now)
            found.update(dict(rows))
        return [from_bytes(found[k]) for k in keys]

    def _keep_here(self, model: str, rows: list[tuple[str, bytes]], now: str) -> None:
        with self.store.atomic():
            embeddings.put_many(self.store, model, rows, now)

    def examples(self, rule_id: str) -> Examples:
        newest = embeddings.last_verdict(self.store)
        if newest != self._verdicts_seen:
            self._examples = {}
            self._verdicts_seen = newest
        if rule_id not in self._examples:
            relevant: list[Example] = []
            irrelevant: list[Example] = []
            for row in embeddings.verdict_examples(self.store, rule_id, self.model, MAX_VERDICT_EXAMPLES):
                target = relevant if row["verdict"] == "relevant" else irrelevant
                target.append(
                    Example(f"#{row['article_id']} marked {row['verdict']}", from_bytes(row["vector"]))
                )
            self._examples[rule_id] = Examples(tuple(relevant), tuple(irrelevant))
        return self._examples[rule_id]


def without(examples: Examples, article_id: int) -> Examples:
    """The examples but the article's own verdict (an article is no evidence about itself)."""
    tag = f"#{article_id} "
    return Examples(
        tuple(e for e in examples.relevant if not e.label.startswith(tag)),
        tuple(e for e in examples.irrelevant if not e.label.startswith(tag)),
    )
