"""``[extraction]``: the extraction workers' number and limits."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.config.reader import DAY, MAX_TIMEOUT, Reader, Table

MIN_EXTRACTION_MB = 192  # the worker's own imports take ~100 MB
MAX_WORKERS = 256


@dataclass(frozen=True)
class ExtractionConfig:
    timeout: float = 20.0  # seconds per page
    memory_mb: int = 768  # address-space bound of each extraction worker
    workers: int | None = None  # extraction processes at once; None: one per core
    idle_exit: float = 300.0  # seconds a worker may sit idle before it exits (it comes back on demand)


def read_extraction(r: Reader, raw: Table) -> ExtractionConfig:
    e = r.section(raw, "extraction", {"timeout", "memory_mb", "workers", "idle_exit"})
    d = ExtractionConfig()
    memory = r.positive_int(e, "extraction.", "memory_mb", d.memory_mb, 1024 * 1024)
    if memory < MIN_EXTRACTION_MB:
        r.fail(
            "extraction.memory_mb",
            f"{memory} MB cannot even load the extractor; "
            f"give at least {MIN_EXTRACTION_MB} (default {d.memory_mb})",
        )
        memory = d.memory_mb
    workers = None
    if "workers" in e:
        workers = r.positive_int(e, "extraction.", "workers", 1, MAX_WORKERS)
    return ExtractionConfig(
        timeout=r.duration(e, "extraction.", "timeout", d.timeout, MAX_TIMEOUT),
        memory_mb=memory,
        workers=workers,
        idle_exit=r.duration(e, "extraction.", "idle_exit", d.idle_exit, DAY),
    )
