"""CLI commands for the spine (placeholder)."""

COMMANDS: list = []
