"""What every pipeline shares: built once at start-up from the config (``watcher.app``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from watcher.config import Config
from watcher.extract.extractor import Extractor
from watcher.fetch.client import Client
from watcher.match.matcher import Matcher
from watcher.pipeline.reader import LocalReader, Reader


@dataclass(frozen=True)
class Parts:
    """What every pipeline shares: built once at start-up from the config (``watcher.app``)."""

    config: Config
    client: Client
    extractor: Extractor
    matcher: Matcher
    clock: Callable[[], datetime]
    stop: threading.Event = field(default_factory=threading.Event)
    alerting: bool = True  # False: `run --once --no-send`, nothing stored now may alert
    # Where feeds and pages are read: None, in this process (the client and the
    # extraction pool); else through the broker by `watcher worker`s ([workers] broker).
    remote: Reader | None = None

    @property
    def reader(self) -> Reader:
        return self.remote or LocalReader(self.client, self.extractor, self.config)
