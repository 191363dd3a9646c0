"""``[extraction]``: the extraction worker's limits."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.config.reader import MAX_TIMEOUT, Reader, Table

MIN_EXTRACTION_MB = 192  # the worker's own imports take ~100 MB


@dataclass(frozen=True)
class ExtractionConfig:
    timeout: float = 20.0  # seconds per page
    memory_mb: int = 768  # address-space bound of the extraction worker


def read_extraction(r: Reader, raw: Table) -> ExtractionConfig:
    e = r.section(raw, "extraction", {"timeout", "memory_mb"})
    d = ExtractionConfig()
    memory = r.positive_int(e, "extraction.", "memory_mb", d.memory_mb, 1024 * 1024)
    if memory < MIN_EXTRACTION_MB:
        r.fail(
            "extraction.memory_mb",
            f"{memory} MB cannot even load the extractor; "
            f"give at least {MIN_EXTRACTION_MB} (default {d.memory_mb})",
        )
        memory = d.memory_mb
    return ExtractionConfig(
        timeout=r.duration(e, "extraction.", "timeout", d.timeout, MAX_TIMEOUT), memory_mb=memory
    )
