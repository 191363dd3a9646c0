"""The SQLite store: opening, pragmas, migrating, transactions.

``watcher/store/`` is the one package that writes SQL and the one that
imports ``sqlite_utils``. A :class:`Store` opens on a plain ``sqlite3``
connection; sqlite-utils is imported when :attr:`Store.db` is first used
(migrations, transactions, schema work), so the commands that only read the
log start without it. The rest of watcher holds an open :class:`Store`
and calls the named functions of the table modules beside this one
(``feeds``, ``entries``, ``articles``, ``stories``, ``matches``, ``alerts``,
``feedback``, ``searchindex``, ``overview``); the schema and its migrations
are in ``schema.py``.

Writes that belong together go in one ``with store.atomic():`` block
(``BEGIN IMMEDIATE``; nested blocks are savepoints). A ``with`` block on the
raw connection is NOT atomic with sqlite-utils (it commits on its own);
``store.atomic()`` is. A table function that writes more than one row opens
its own ``atomic()`` block, which nests inside the caller's.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from watcher.errors import StoreError
from watcher.store.schema import MIGRATIONS, Migration

BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_WAIT_MS = 250  # a checkpoint waits this long for readers, then tries again later
BUSY_PATIENCE = 300.0  # seconds a state change that must not be lost keeps retrying a busy database
MAX_SQL_VALUE = 64 * 1024 * 1024  # bytes of one string or blob on a hardened connection
MAX_SQL_TEXT = 1024 * 1024  # bytes of one SQL statement on a hardened connection
# Functions a hardened connection refuses: fts3_tokenizer hands out (one argument) and
# installs (two) native pointers that fts3tokenize then dereferences (SIGSEGV, the
# CVE-2015-7036 class); the others read, write or load files.
DENIED_SQL_FUNCTIONS = frozenset(
    {
        "fts3_tokenizer",
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts5_tokenizer",
        "sqlite_dbpage",
        "sqlite_dbdata",
        "sqlite_dbptr",
    }
)
DENIED_SQL_TABLES = frozenset({"fts3tokenize", "sqlite_dbpage", "sqlite_dbdata", "sqlite_dbptr"})

if TYPE_CHECKING:
    import sqlite_utils

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked/busy" (another
    connection held the write lock past the busy timeout): worth trying again."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def retry_busy(
    change: Callable[[], T],
    *,
    patience: float = BUSY_PATIENCE,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Run ``change`` (one transaction) until it is not refused by a busy
    database, for up to ``patience`` seconds (each try already waits the busy
    timeout); then the busy error is raised. Other errors are raised at once."""
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return change()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        sleep(pause)
        pause = min(pause * 2, 2.0)


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``db.atomic()``, but the outermost block takes the write lock up front
    (``BEGIN IMMEDIATE``), waiting up to the busy timeout. A deferred
    transaction that reads and then writes fails at once with "database is
    locked" when another connection wrote in between."""
    if db.conn.in_transaction:
        with savepoint(db.conn):
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A savepoint inside the connection's transaction: rolled back alone when
    the block raises. sqlite-utils' ``atomic()`` names each savepoint at random,
    so each one is SQL compiled anew (and pushes statements out of the
    connection's cache); savepoints nest strictly here, so one name serves
    (RELEASE and ROLLBACK TO take the innermost of that name)."""
    conn.execute("SAVEPOINT watcher")
    try:
        yield
    except BaseException:
        # An error such as a RAISE(ROLLBACK) trigger can end the whole transaction,
        # savepoints included: then there is nothing to roll back to.
        if conn.in_transaction:
            conn.execute("ROLLBACK TO SAVEPOINT watcher")
            conn.execute("RELEASE SAVEPOINT watcher")
        raise
    conn.execute("RELEASE SAVEPOINT watcher")


class Store:
    """An open watcher database: one connection, used by one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, made on first use."""
        import sqlite_utils

        # recursive_triggers: open() has set it already, as sqlite-utils would
        return sqlite_utils.Database(self.conn, recursive_triggers=False)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        migrate: bool = True,
        hardened: bool = False,
        busy_timeout: float = BUSY_TIMEOUT_MS / 1000,
    ) -> Store:
        """``hardened``: for a connection others' SQL may reach (the web page); see :func:`harden`.
        ``busy_timeout``: seconds a statement waits for another connection's write lock."""
        path = str(path)
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if not Path(path).exists():
                    Path(path).touch(mode=0o600)  # a new database is private (-wal, -shm follow)
            conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite-utils sets it
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if path != ":memory:" and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = wal")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path!r}: {exc}") from exc
        if hardened:
            harden(conn)
        store = cls(conn, path)
        if migrate:
            store.migrate()
        return store

    @property
    def version(self) -> int:
        return int(self.scalar("PRAGMA user_version"))

    def migrate(self) -> list[Migration]:
        """Apply pending migrations, each in its own transaction."""
        applied = []
        version = self.version  # opening a current database asks once, not once per migration
        for migration in MIGRATIONS:
            if migration.version <= version or migration.version <= (version := self.version):
                continue  # (a pending one is checked again: another process may have applied it)
            try:
                with self.db.atomic():
                    migration.apply(self.db)
                    self.db.execute(f"PRAGMA user_version = {migration.version}")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{self.path}: migration {migration.version} ({migration.name}) failed: {exc}"
                ) from exc
            applied.append(migration)
            version = migration.version
        if version > MIGRATIONS[-1].version:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this "
                f"watcher knows ({MIGRATIONS[-1].version}); upgrade watcher"
            )
        return applied

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Store]:
        """One write transaction (nested calls become savepoints); see :func:`immediate`."""
        with immediate(self.db):
            yield self

    # -- for the table modules (and tests that look at rows) ------------------
    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """One statement; sqlite3 keeps it prepared for the next call with the same SQL."""
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Params = ()) -> list[dict]:
        """Every row, as dicts keyed by column name."""
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def one(self, sql: str, params: Params = ()) -> dict | None:
        """The first row as a dict, or None."""
        cursor = self.conn.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.conn.close()


def unwritable(exc: BaseException) -> bool:
    """Whether ``exc`` is the database itself failing (disk full, I/O error,
    locked past the busy timeout, a damaged file), not one row's problem: then
    every other write would fail the same way."""
    if isinstance(exc, StoreError):
        return True
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def checkpoint(store: Store) -> tuple[bool, int]:
    """Move the write-ahead log into the database and truncate it to zero bytes
    (``PRAGMA wal_checkpoint(TRUNCATE)``), when no reader needs it. Returns
    (done, bytes the log file held before); not done while a reader still uses
    an older snapshot (the next call tries again). Waits at most
    ``CHECKPOINT_WAIT_MS`` for readers: while it waits, writers wait too."""
    wal = Path(f"{store.path}-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        size = 0
    store.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
    try:
        busy, log_pages, _ = store.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:  # locked: a writer held on
        return False, size
    finally:
        store.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return not busy and log_pages >= 0, size


def harden(conn: sqlite3.Connection) -> None:
    """Make ``conn`` safe for SQL written by someone else (Datasette's SQL page): an
    authorizer refuses the functions and tables in DENIED_SQL_FUNCTIONS/_TABLES and
    ATTACH, and limits refuse strings or blobs over MAX_SQL_VALUE bytes
    (``zeroblob(1e9)``) and statements over MAX_SQL_TEXT."""
    conn.set_authorizer(_authorizer)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_SQL_VALUE)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_TEXT)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)


def _authorizer(
    action: int, first: str | None, second: str | None, database: str | None, source: str | None
) -> int:
    if action == sqlite3.SQLITE_FUNCTION and (second or "").lower() in DENIED_SQL_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (first or "").lower() in DENIED_SQL_TABLES:
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def marks(values: Sequence[object]) -> str:
    """``?,?,?`` for an ``IN (...)`` of ``values``."""
    return ",".join("?" * len(values))
