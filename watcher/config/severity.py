"""The severity words rules carry and channels filter on, lowest first."""

from __future__ import annotations

SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: str | None) -> int:
    """Position in SEVERITIES (lowest first); -1 for none or an unknown one."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
