"""Cutting text into plain and highlighted segments, from offsets: of rule hits,
and of the words a search found (see :mod:`watcher.search`). Shared by the
terminal and the web page, which each render a marked segment their own way
(colour, ``<mark>``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    text: str
    mark: bool = False
    labels: tuple[str, ...] = ()  # rule ids / terms behind a marked segment


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> tuple[Segment, ...]:
    """Cut ``text`` into plain and marked segments. Offsets outside the text,
    empty or reversed spans are ignored; overlapping spans are merged."""
    clean = sorted(
        (max(0, s), min(len(text), e), label)
        for s, e, label in spans
        if isinstance(s, int) and isinstance(e, int) and min(len(text), e) > max(0, s)
    )
    merged: list[list] = []
    for start, end, label in clean:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if label not in merged[-1][2]:
                merged[-1][2].append(label)
        else:
            merged.append([start, end, [label]])
    out, pos = [], 0
    for start, end, labels in merged:
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], True, tuple(labels)))
        pos = end
    if pos < len(text) or not out:
        out.append(Segment(text[pos:]))
    return tuple(out)
