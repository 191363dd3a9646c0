"""Storage: the one package that writes SQL (see ``database.py`` for how the
rest of watcher uses it, ``schema.py`` for the tables and migrations)."""
