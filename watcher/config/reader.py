"""The reader every section is read with: it collects problems instead of raising.

Each ``[section]`` module has a function ``read_<section>(reader, raw)`` that
asks the reader for typed values (``typed``, ``duration``, ``positive_int``,
``choice``); a wrong value becomes one problem line naming its key and the fix,
and the default is used so the rest of the file is still checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from watcher.duration import DurationError, parse_duration

DAY = 86400.0
MAX_TIMEOUT = 3600.0  # seconds: no request or page may hold a worker longer
MAX_PERIOD = 365 * DAY  # intervals, backoffs, digests

Table = Mapping[str, Any]  # one TOML table, as tomllib returns it


class Reader:
    """Walks the TOML tree once, collecting every problem."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.base = path.parent
        self.environ = environ
        self.problems: list[str] = []
        self.secrets: list[str] = []  # keys holding a secret in the file itself

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def section(self, raw: Table, key: str, allowed: set[str]) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table, e.g. [" + key + "]")
            return {}
        self.unknown_keys(value, key, allowed)
        return value

    def unknown_keys(self, table: Table, key: str, allowed: set[str]) -> None:
        for unknown in sorted(set(table) - allowed):
            self.fail(f"{key}.{unknown}", f"unknown key; allowed keys are: {', '.join(sorted(allowed))}")

    def secret_url(
        self, table: Table, section: str, name: str, problem: Callable[[str], str | None], example: str
    ) -> str | None:
        """A URL that may hold a password, given as ``name`` in the file or as
        ``name_env`` (the environment variable holding it); ``problem(value)``
        says why a value cannot serve. Messages never show the value."""
        env_name = f"{name}_env"
        value: object
        if name in table and env_name in table:
            self.fail(f"{section}.{name}", f"give {name} or {env_name}, not both")
            return None
        if env_name in table:
            env = self.typed(table, f"{section}.", env_name, str, "")
            value, key = self.environ.get(env, ""), f"{section}.{env_name}"
            if not value:
                self.fail(key, f"environment variable {env} is not set or empty")
                return None
        else:
            value, key = table.get(name), f"{section}.{name}"
            if value is None:
                return None
            if not isinstance(value, str):
                self.fail(key, f'must be a URL in quotes, e.g. {name} = "{example}"')
                return None
            if "@" in value:
                self.secrets.append(key)
        assert isinstance(value, str)
        why = problem(value)
        if why:
            self.fail(key, f"{why} (the value is not shown: it may hold a password)")
            return None
        return value

    def typed(self, table: Table, prefix: str, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        """``table[key]`` when it is a ``kind`` (booleans only when asked for), else ``default``."""
        if key not in table:
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = None
        if not isinstance(value, kinds):
            names = " or ".join(
                k.__name__.replace("str", "string")
                .replace("int", "integer")
                .replace("float", "number")
                .replace("bool", "true/false")
                for k in kinds
            )
            article = "an" if names[:1] in ("a", "e", "i", "o", "u") else "a"
            self.fail(f"{prefix}{key}", f"must be {article} {names}, got {table[key]!r}")
            return default
        return value

    def duration(
        self, table: Table, prefix: str, key: str, default: float, longest: float = MAX_PERIOD
    ) -> float:
        value = given = table.get(key)
        if value is None:
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"{prefix}{key}", f'must be a finite duration such as "30s", got {value}')
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = f"{value:f}s" if isinstance(value, float) else f"{value}s"
        try:
            seconds = parse_duration(str(value))
        except DurationError as exc:
            self.fail(f"{prefix}{key}", str(exc))
            return default
        if seconds <= 0:
            self.fail(f"{prefix}{key}", "must be longer than zero")
            return default
        if not seconds <= longest:
            self.fail(f"{prefix}{key}", f"{str(given)[:40]} is too long; at most {shown(longest)}")
            return default
        return seconds

    def positive_int(self, table: Table, prefix: str, key: str, default: int, largest: int = 2**40) -> int:
        value: int = self.typed(table, prefix, key, int, default)
        if value <= 0:
            self.fail(f"{prefix}{key}", f"must be a whole number above zero, got {value}")
            return default
        if value > largest:
            self.fail(f"{prefix}{key}", f"must be at most {largest:,}, got {value:,}")
            return default
        return value

    def choice(
        self, table: Table, prefix: str, key: str, choices: tuple[str, ...], default: str | None
    ) -> Any:
        value = self.typed(table, prefix, key, str, default)
        if value is not None and value not in choices:
            self.fail(f"{prefix}{key}", f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return value

    def path_value(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p


def shown(seconds: float) -> str:
    """A limit in words: "365 days", "1 h"."""
    return f"{seconds / DAY:g} days" if seconds >= DAY else f"{seconds / 3600:g} h"
