"""The match stage's boundary types: the ``Document`` matched, and the
``RuleMatch``es (with their explained ``Hit``s) it yields."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    summary: str = ""
    url: str | None = None
    published: str | None = None
    language: str | None = None


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
    hits: tuple[Hit, ...]
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "score": self.score,
            "hits": [h.to_json() for h in self.hits],
        }
