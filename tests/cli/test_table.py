"""The CLI's tables (watcher/cli/console.py) keep the layout they had with
tabulate's "simple" format, now drawn without tabulate (whose import cost more
start-up time than click's): text left-aligned, whole columns of numbers
right-aligned on their decimal point, a column at least its header plus two
wide, two spaces between columns, no trailing blanks. The expected tables are
tabulate 0.10's output for the same cells."""

from __future__ import annotations

import pytest

from watcher.cli.console import layout, table

LOG = (
    [
        ["15459", "2026-11-21 02:23", "high", "border", "under contribute", "Outlet 18", "2", "sent"],
        ["7", "2026-11-20 11:05", "low", "navy, drones", "Ankara", "Outlet 3", "12", "-"],
    ],
    ["id", "time", "severity", "rules", "headline", "source", "outlets", "alerts"],
    "   id  time              severity    rules         headline          source       outlets  alerts\n"
    "-----  ----------------  ----------  ------------  ----------------  ---------  ---------  --------\n"
    "15459  2026-11-21 02:23  high        border        under contribute  Outlet 18          2  sent\n"
    "    7  2026-11-20 11:05  low         navy, drones  Ankara            Outlet 3          12  -",
)
STATS = (
    [["drones", "12", "0.830", "-"], ["navy", "3", "1", ""], ["border", "0", "0.5", "noisy"]],
    ["rule", "matches", "precision", "note"],
    "rule      matches    precision  note\n"
    "------  ---------  -----------  ------\n"
    "drones         12         0.83  -\n"
    "navy            3         1\n"
    "border          0         0.5   noisy",
)
FEEDS = (
    [["Daily Sabah", "ok", "0"], ["1,000 Days", "failing", "12"]],
    ["name", "status", "errors"],
    "name         status      errors\n-----------  --------  --------\nDaily Sabah  ok               0\n1,000 Days   failing         12",
)


@pytest.mark.parametrize(("rows", "names", "expected"), [LOG, STATS, FEEDS], ids=["log", "stats", "feeds"])
def test_the_layout_is_the_one_tabulate_drew(rows, names, expected):
    assert layout(rows, names) == expected


def test_a_column_is_numbers_only_when_every_cell_is_one():
    numbers = layout([["12", "x"], ["inf", "y"], ["1e3", "z"]], ["name", "n"])
    assert numbers.splitlines()[2:] == ["    12  x", "   inf  y", "  1000  z"]  # as tabulate reads them
    text = layout([["12", "x"], ["Infinity", "y"], ["1e3", "z"]], ["name", "n"])
    assert text.splitlines()[2:] == ["12        x", "Infinity  y", "1e3       z"]


def test_table_cuts_cells_to_the_terminal_and_draws_them():
    records = [{"name": "Daily Sabah", "last_error": "HTTP 500 from the server " * 4, "errors": 3}]
    drawn = table(records, ["name", "errors", "last_error"], flex=("last_error",), max_width=50)
    assert all(len(line) <= 50 for line in drawn.splitlines())
    assert drawn.splitlines()[2].startswith("Daily Sabah         3  HTTP 500")
    assert drawn.splitlines()[2].endswith("…")
    assert table([], ["name"]) == "(none)"
