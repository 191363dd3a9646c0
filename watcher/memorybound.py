"""The memory bound of a worker process (extraction, embedding): how much
address space it maps, and capping it with ``RLIMIT_AS`` so that a hostile
page or a runaway model ends that process with a MemoryError, not the host."""

from __future__ import annotations

import resource


def address_space() -> int:
    """Bytes this process maps now (0 where /proc cannot say)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def limit(memory_bytes: int, headroom: float) -> int | None:
    """Cap this process's address space at ``memory_bytes`` (never above a hard
    limit already set). When the bound leaves less than ``headroom`` times what
    is mapped already, set nothing and return the bytes mapped, for the caller
    to name the setting to raise; else None."""
    in_use = address_space()
    if in_use and in_use * headroom > memory_bytes:
        return in_use
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return None
