"""The draft rule file: proposals rendered as TOML, then checked against the
seeds and the background it was derived from."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import DerivationError
from watcher.match.derivation.corpus import read_background, read_seeds
from watcher.match.derivation.entities import ProposedEntity, propose_entities
from watcher.match.derivation.terms import ProposedTerm, propose_terms
from watcher.match.matcher import Document, Matcher
from watcher.match.rules import RulesError, load_rules
from watcher.text.fold import normalise_term


@dataclass(frozen=True)
class Draft:
    toml: str
    entities: tuple[ProposedEntity, ...]
    terms: tuple[ProposedTerm, ...]
    seed_count: int
    background_count: int
    seeds_matched: int
    background_matched: int


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
    background: Path | list[str],
    *,
    max_terms: int = 40,
    html_text: Callable[[bytes, str], tuple[str, str]],
) -> Draft:
    """A draft from the seeds in ``seed_dir`` against ``background``: a file or
    folder of general news (:func:`read_background`), or the texts themselves."""
    seeds = read_seeds(seed_dir, html_text)
    if isinstance(background, Path):
        background = read_background(background)
    elif not any(t.strip() for t in background):
        raise DerivationError("the background holds no text to contrast the seeds with")
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
