"""What one poll of one feed did so far (one poll, one thread): its deadline,
whether it is the feed's first, the article pages tried and failed, the
entries that failed, the GUIDs whose link's fragment names the item, and its
article pages being read ahead."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from watcher.fetch.response import Response

if TYPE_CHECKING:
    from watcher.pipeline.reader import PageBatch, PageRead


class _NoPages:
    """No pages read ahead (before the entries are known)."""

    def get(self, url: str) -> PageRead | None:
        return None

    def close(self) -> None:
        pass


@dataclass
class Tally:
    deadline: float  # time.monotonic() by which the poll ends ([network] poll_deadline)
    first_poll: bool  # the feed has never been read successfully before
    item_fragments: frozenset[str] = frozenset()  # GUIDs whose link's #fragment names the item
    pages_tried: int = 0
    pages_failed: int = 0
    last_page_error: str | None = None
    timeouts: int = 0  # requests that ran into their deadline
    entries_failed: int = 0
    last_entry_error: str | None = None
    text_only: frozenset[str] = frozenset()  # GUIDs whose entry is the article itself (Telegram posts)
    # Pages already fetched in this poll, by URL (a wrapped link followed to its target).
    pages: dict[str, Response] = field(default_factory=dict)
    read_ahead: PageBatch = field(default_factory=_NoPages)  # the poll's article pages, being read
    # entries.known_url of the poll's new entries' canonical URLs, read at once at its start
    # (those that more than one entry has are not in it: they are looked up each time).
    known_urls: dict[str, tuple[int | None, bool]] = field(default_factory=dict)
    canonicals: dict[tuple, str] = field(default_factory=dict)  # the entries' canonical URLs, once worked out

    def page_failed(self, error: str, *, timeout: bool = False) -> None:
        self.pages_failed += 1
        self.last_page_error = error
        self.timeouts += int(timeout)

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def outcome_fields(self) -> dict:
        """The counts a :class:`~watcher.health.Outcome` carries."""
        return {
            "pages_tried": self.pages_tried,
            "pages_failed": self.pages_failed,
            "last_page_error": self.last_page_error,
            "entries_failed": self.entries_failed,
            "timeouts": self.timeouts,
        }
