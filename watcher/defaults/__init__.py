"""What the watcher ships besides its code: the default rule pack, the
example config and a background corpus of general news for ``rules derive``.

In a built wheel the rule pack and the example config are copied into this
package by ``setup.py`` (from ``rules/`` and ``config.example.toml`` at the top
of the source tree, their one home); in a source checkout (an editable
install) they are read from there. The background corpus lives here
(``background/``; its origin and licence in ``background/SOURCE.md``).
"""

from __future__ import annotations

from pathlib import Path

from watcher.errors import WatcherError

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]  # the source tree, when running from a checkout

CONFIG_NAME = "config.example.toml"
RULES_NAME = "rules"
BACKGROUND = HERE / "background" / "wikinews-en.jsonl.gz"


class MissingDefaults(WatcherError):
    """The installation lacks a shipped file (a broken or partial install)."""


def _shipped(name: str) -> Path:
    for base in (HERE, CHECKOUT):
        if (base / name).exists():
            return base / name
    raise MissingDefaults(
        f"{name} is not in this installation of watcher ({HERE}); reinstall the watcher-news package"
    )


def example_config() -> Path:
    """The annotated example config (``watcher init`` writes it as the starter config)."""
    return _shipped(CONFIG_NAME)


def rules_dir() -> Path:
    """The folder of the default rule pack: ``*.toml`` files and the rule language's README.md."""
    return _shipped(RULES_NAME)


def rule_files() -> list[Path]:
    """The default rule pack's files, README.md included."""
    folder = rules_dir()
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".toml", ".md"))


def background_corpus() -> Path:
    """General news for ``watcher rules derive`` to contrast seeds with."""
    if not BACKGROUND.is_file():
        raise MissingDefaults(
            f"the background corpus {BACKGROUND} is missing; reinstall the watcher-news package, "
            "or pass --background DIR (or --background log)"
        )
    return BACKGROUND
