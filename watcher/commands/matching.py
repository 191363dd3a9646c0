"""CLI commands for matching (placeholder until that part lands)."""

COMMANDS: list = []
