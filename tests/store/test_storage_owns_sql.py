"""Storage owns the SQL: outside ``watcher/store/`` no module writes SQL or
reaches into the database connection; they call the store's named functions
(``watcher.store.articles.insert(store, ...)``, ``alerts.claim_immediate(...)``).

Walks every module's syntax tree (``ast``) and reports, with file and line,
string literals that are SQL statements and uses of the connection
(``store.db``, ``.execute(...)``, ``.query(...)``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "watcher"
STORE = PACKAGE / "store"

# SQL as this code base writes it: keywords in capitals (prose says "select ... from").
SQL = re.compile(
    r"^\s*(SELECT\b.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW|VIRTUAL\s+TABLE)\b|ALTER\s+TABLE\b"
    r"|DROP\s+(TABLE|INDEX|TRIGGER|VIEW)\b|PRAGMA\s+\w+|BEGIN(\s+IMMEDIATE)?\s*$|WITH\s+\w+\s+AS\s*\()",
    re.DOTALL,
)
CONNECTION_CALLS = {"execute", "executemany", "executescript", "query"}
CONNECTION_ATTRIBUTES = {"db", "conn"}


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with its fields as ``?``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
    return None


def violations(source: str, name: str) -> list[str]:
    problems = []
    tree = ast.parse(source)
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and id(node) not in docstrings and SQL.match(text):
            problems.append(f"{name}:{node.lineno}: SQL outside watcher/store: {text.strip()[:60]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CONNECTION_CALLS
        ):
            problems.append(f"{name}:{node.lineno}: .{node.func.attr}(...) outside watcher/store")
        elif isinstance(node, ast.Attribute) and node.attr in CONNECTION_ATTRIBUTES:
            problems.append(f"{name}:{node.lineno}: .{node.attr} (the connection) outside watcher/store")
    return problems


def test_only_the_store_writes_sql_or_touches_the_connection() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE in path.parents:
            continue
        problems += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == []


def test_the_store_is_where_the_sql_is() -> None:
    """The check finds SQL where it is allowed, so it would find it elsewhere."""
    found = [
        p
        for path in sorted(STORE.glob("*.py"))
        for p in violations(path.read_text(encoding="utf-8"), path.name)
    ]
    assert any("SQL outside" in p and "alerts.py" in p for p in found)
    assert any(".execute(...)" in p for p in found)


def test_the_checker_reports_sql_and_the_connection() -> None:
    source = '''
"""SELECT a docstring FROM here is prose, not a query."""
def feeds(store, name):
    rows = store.query("SELECT * FROM feeds WHERE name = ?", (name,))
    store.db["feeds"].insert({"name": name})
    store.execute(f"UPDATE feeds SET name = {name!r} WHERE id = 1")
    return "select the feeds you want from the list"
'''
    found = violations(source, "fake.py")
    assert any("fake.py:4: SQL outside" in p for p in found)
    assert any("fake.py:4: .query(...)" in p for p in found)
    assert any("fake.py:5: .db (the connection)" in p for p in found)
    assert any("fake.py:6: SQL outside" in p and "UPDATE feeds SET" in p for p in found)
    assert not any(":2:" in p or ":7:" in p for p in found)
