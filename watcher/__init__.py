"""watcher: a self-hosted news watcher.

Data flows one way: sources -> fetch -> parse -> extract -> match -> dedup ->
store -> notify, wired in :mod:`watcher.pipeline`. The daemon
(:mod:`watcher.daemon`) and the CLI (:mod:`watcher.cli`) are thin shells
over that library.
"""

__version__ = "0.1.0"
