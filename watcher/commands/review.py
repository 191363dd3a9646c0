"""CLI commands for review (placeholder until that part lands)."""

COMMANDS: list = []
