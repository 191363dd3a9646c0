"""The match stage's boundary types: the ``Document`` matched, the ``RuleMatch``es (with their
explained ``Hit``s) it yields, and the ``Assessment`` of one document (its language, matches, and
how close in meaning it came to the rules with examples)."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.match.meaning import Closeness


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    summary: str = ""
    url: str | None = None
    published: str | None = None
    language: str | None = None  # declared by the feed or page ("tr-TR")
    detected_language: str | None = None  # detected from title + text ("tr"); the matcher detects when None


@dataclass(frozen=True)
class Hit:
    term: str  # the alias/term as written in the rule file (the pattern, for a regex)
    entity: str | None  # entity id or None
    field: str  # 'title' | 'text'
    start: int  # offsets into the field AS GIVEN (before normalisation)
    end: int
    snippet: str

    def to_json(self) -> dict:
        return {
            "term": self.term,
            "entity": self.entity,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class RuleMatch:
    rule_id: str
    title: str
    severity: str
    score: float
    hits: tuple[Hit, ...]  # most telling first
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    via: str = "keywords"  # 'keywords': the condition held; 'similarity': gate + closeness
    similarity: Closeness | None = None  # how close in meaning, when the rule has examples
    evidence: float = 0.0  # how much the hits tell (named things > phrases > words > places)

    def to_json(self) -> dict:
        return {
            "id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "score": self.score,
            "via": self.via,
            "evidence": self.evidence,
            "similarity": self.similarity.to_json() if self.similarity else None,
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True)
class Scored:
    """A rule whose examples an article was compared with, matched or not."""

    rule_id: str
    closeness: Closeness
    matched: bool


@dataclass(frozen=True)
class Assessment:
    """Everything the matcher found about one document."""

    matches: tuple[RuleMatch, ...]
    language: str | None  # detected (declared when it could not be detected), primary code
    detected: str | None  # detected only
    confidence: float | None
    scored: tuple[Scored, ...] = ()  # similarities computed (for near misses)
    vector: str | None = None  # digest of the embedded title + lead, when embedded
    problem: str | None = None  # why similarity could not be used for this document
