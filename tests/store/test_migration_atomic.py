"""A migration is all or nothing: its statements run inside the transaction
that also bumps the schema version (``executescript`` would commit first)."""

import sqlite3

import pytest

from watcher.store import schema
from watcher.store.database import Store


def test_a_failing_script_leaves_nothing_behind(tmp_path):
    store = Store.open(tmp_path / "watcher.db")
    with pytest.raises(sqlite3.OperationalError), store.atomic():
        schema.run_script(
            store.db,
            """
            CREATE TABLE half_done (x INTEGER); -- a comment; with a semicolon
            CREATE TRIGGER half_done_t AFTER INSERT ON half_done BEGIN
                UPDATE half_done SET x = x + 1; DELETE FROM half_done WHERE x > 9;
            END;
            ALTER TABLE no_such_table ADD COLUMN y TEXT;
            """,
        )
    names = {r[0] for r in store.db.conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in names and "half_done_t" not in names


def test_every_migration_applies_in_order_on_a_new_database(tmp_path):
    store = Store.open(tmp_path / "watcher.db")
    assert store.version == schema.MIGRATIONS[-1].version
    triggers = [r[0] for r in store.db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    assert triggers, "the search index's triggers were created"
