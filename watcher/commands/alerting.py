"""CLI commands for alerting (placeholder until that part lands)."""

COMMANDS: list = []
