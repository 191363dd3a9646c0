"""`watcher match` and `watcher rules derive` through the real CLI."""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watcher.cli.main import main
from watcher.match.rules import load_rules
from watcher.text.fold import normalise_term

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
RULES = ROOT / "rules"
WATCHER = Path(sys.executable).parent / "watcher"


def seed_records() -> list[dict]:
    records = []
    for path in SEEDS:
        text = path.read_text(encoding="utf-8")
        title = next(line.strip() for line in text.splitlines() if line.strip())
        records.append({"id": path.stem, "title": title, "text": text, "url": f"file://{path}"})
    return records


def run(args: list[str], *, cwd: Path, stdin: str | None = None, env: dict | None = None):
    runner = CliRunner()
    with contextlib.chdir(cwd):
        return runner.invoke(
            main, args, input=stdin, env={"WATCHER_CONFIG": None, **(env or {})}, catch_exceptions=False
        )


def check_hits_slice_the_fields(record: dict, rules: list[dict]) -> None:
    for rule in rules:
        assert rule["hits"], rule
        for hit in rule["hits"]:
            source = record[hit["field"]]
            written = normalise_term(source[hit["start"] : hit["end"]])
            term = normalise_term(hit["term"].rstrip("*"))
            assert written == term or (hit["term"].endswith("*") and written.startswith(term)), hit
            assert set(hit) == {"term", "entity", "field", "start", "end", "snippet"}


def test_jsonl_over_the_seed_corpus_through_the_installed_command(tmp_path):
    records = seed_records()
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    done = subprocess.run(
        [str(WATCHER), "match", "--rules", str(RULES), "--jsonl", "-"],
        input=stdin.encode(),
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in records]
    for record, line in zip(records, lines, strict=True):
        assert set(line) == {"id", "matched", "rules", "language"}
        assert line["language"] == "en"
        assert line["matched"] is True
        assert {r["id"] for r in line["rules"]} & {"turkey-syria-defence", "syria-defence-minister"}
        for rule in line["rules"]:
            assert set(rule) == {"id", "title", "severity", "score", "via", "evidence", "similarity", "hits"}
        check_hits_slice_the_fields(record, line["rules"])


def test_minister_offsets_in_the_seeds_point_at_each_spelling(tmp_path):
    path = tmp_path / "seeds.jsonl"
    records = seed_records()
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = run(["match", "--rules", str(RULES), "--jsonl", str(path)], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    found = set()
    for record, line in zip(records, result.stdout.splitlines(), strict=False):
        for rule in json.loads(line)["rules"]:
            if rule["id"] == "syria-defence-minister":
                found |= {
                    record["text"][h["start"] : h["end"]]
                    for h in rule["hits"]
                    if h["field"] == "text"
                    and h["entity"] == "abu-qasra"  # (not the office: "Defense Minister")
                }
    assert found == {"Murhef Abu Kasra", "Murhaf Abu Kasra", "Murhaf Abu Qasra"}


def test_bad_lines_get_an_error_line_in_place_and_exit_1(tmp_path):
    stdin = (
        "\n".join(
            [
                json.dumps({"id": "a", "title": "Murhaf Abu Qasra", "text": ""}),
                "{not json",
                "",
                json.dumps([1, 2]),
                json.dumps({"title": "no id"}),
                json.dumps({"id": 7, "text": ["not", "text"]}),
                json.dumps({"id": 8, "title": "", "text": "nothing to see"}),
            ]
        )
        + "\n"
    )
    result = run(["match", "--rules", str(RULES), "--jsonl", "-"], cwd=tmp_path, stdin=stdin)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["id"], line["matched"], "error" in line) for line in lines] == [
        ("a", True, False),
        (None, False, True),
        (None, False, True),
        (None, False, True),
        (7, False, True),
        (8, False, False),
    ]
    assert lines[1]["error"].startswith("line 2: not valid JSON")
    assert lines[4]["error"] == 'line 6: "text" must be a string'
    assert "4 input line(s) could not be read" in result.stderr


def test_undecodable_and_overlong_lines_are_errors_not_crashes(tmp_path, monkeypatch):
    from watcher.cli import matching

    monkeypatch.setattr(matching, "MAX_LINE_BYTES", 64)
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": "x", "text": "\xff\xfe"}\n'
        + b'{"id": "y", "text": "'
        + b"a" * 200
        + b'"}\n'
        + b'{"id": "z", "text": "Abu Kasra"}'
    )  # no newline at the end
    result = run(["match", "--rules", str(RULES), "--jsonl", str(path)], cwd=tmp_path)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["error"].startswith("line 1: not UTF-8 text")
    assert lines[1]["error"].startswith("line 2: line longer than")
    assert lines[2]["id"] == "z" and lines[2]["matched"] is True


def test_rules_option_works_without_any_config(tmp_path):
    result = run(
        ["match", "--rules", str(RULES), "--jsonl", "-"],
        cwd=tmp_path,
        stdin=json.dumps({"id": 1, "title": "", "text": "Abu Kasra spoke"}) + "\n",
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["rules"][0]["id"] == "syria-defence-minister"


def test_without_rules_option_the_config_is_needed(tmp_path):
    result = run(["match", "--jsonl", "-"], cwd=tmp_path, stdin="{}\n")
    assert result.exit_code == 2
    assert "file not found" in result.stderr and "watcher.toml" in result.stderr


def test_configured_rules_are_used(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "r.toml").write_text(
        '[[rules]]\nid = "kobani"\ntitle = "Kobani"\nseverity = "low"\ncondition = { term = "Kobani" }\n',
        encoding="utf-8",
    )
    config = tmp_path / "watcher.toml"
    config.write_text('[watcher]\nrules = ["mine/"]\ndatabase = "w.db"\n', encoding="utf-8")
    result = run(
        ["--config", str(config), "match", "--jsonl", "-"],
        cwd=tmp_path,
        stdin=json.dumps({"id": "k", "text": "Fighting near Kobani."}) + "\n",
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)["rules"]] == ["kobani"]


def test_a_broken_rule_file_is_refused_naming_file_rule_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[rules]]\nid = "sdf-integration"\ntitle = "x"\nseverity = "high"\n'
        'condition = { any = [{ term = "SDF" }, { entity = "nobody" }, { regex = "a(b" }] }\n',
        encoding="utf-8",
    )
    result = run(["match", "--rules", str(bad), "x.txt"], cwd=tmp_path)
    assert result.exit_code == 2
    assert f"{bad}: rule 'sdf-integration': condition.any[1].entity: unknown entity 'nobody'" in result.stderr
    assert (
        f"{bad}: rule 'sdf-integration': condition.any[2].regex: missing ), unterminated subpattern "
        "at position 1; fix the pattern"
    ) in result.stderr
    assert "Traceback" not in result.output


def test_text_and_html_files_are_explained(tmp_path):
    seed = SEEDS[2].read_text(encoding="utf-8")
    text_file = tmp_path / "seed.txt"
    text_file.write_text(seed, encoding="utf-8")
    paragraphs = "".join(f"<p>{line}</p>\n" for line in seed.splitlines() if line.strip())
    html_file = tmp_path / "seed.html"
    html_file.write_text(
        f"<!DOCTYPE html><html><head><title>Turkey and Syria</title>"
        f"<script>var x = 'Murhaf Abu Qasra';</script></head><body><article>{paragraphs}"
        f"</article></body></html>",
        encoding="utf-8",
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("Nothing about it.", encoding="utf-8")
    result = run(["match", "--rules", str(RULES), str(text_file), str(html_file), str(empty)], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{text_file}: 3 rule(s) matched" in out
    assert f"{html_file}: 3 rule(s) matched" in out
    assert f"{empty}: no rule matched" in out
    assert "'Murhaf Abu Kasra' (entity abu-qasra, alias 'Murhaf Abu Kasra')" in out


def test_gzipped_pages_and_broken_gzip(tmp_path):
    import gzip

    page = tmp_path / "page.html.gz"
    page.write_bytes(
        gzip.compress("<html><body><p>Le ministre Murhaf Abu Qasra a parlé.</p></body></html>".encode())
    )
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08garbage")
    result = run(["match", "--rules", str(RULES), str(page), str(broken)], cwd=tmp_path)
    assert result.exit_code == 2
    assert f"{page}: 1 rule(s) matched" in result.stdout
    assert "broken.gz: broken gzip data" in result.stderr


def test_a_missing_file_is_reported_and_the_rest_still_run(tmp_path):
    present = tmp_path / "a.txt"
    present.write_text("Murhaf Abu Qasra", encoding="utf-8")
    result = run(["match", "--rules", str(RULES), str(tmp_path / "gone.txt"), str(present)], cwd=tmp_path)
    assert result.exit_code == 2
    assert "gone.txt: cannot read" in result.stderr
    assert f"{present}: 1 rule(s) matched" in result.stdout


def test_derive_proposes_a_loadable_draft_from_the_seeds(tmp_path):
    out = tmp_path / "draft.toml"
    result = run(["rules", "derive", str(ROOT / "seeds"), "-o", str(out)], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    draft = out.read_text(encoding="utf-8")
    assert "matches 5 of 5 seed documents" in draft
    rules = load_rules([out])
    minister = next(e for e in rules.entities if "Murhaf Abu Qasra" in e.aliases)
    assert {"Murhaf Abu Kasra", "Murhef Abu Kasra"} <= set(minister.aliases)
    assert minister.kind == "person"
    president = next(e for e in rules.entities if "Ahmad al-Sharaa" in e.aliases)
    assert {"Ahmed Shara", "Ahmed al-Sharaa"} <= set(president.aliases)
    kinds = {e.name: e.kind for e in rules.entities}
    assert kinds.get("Syrian Democratic Forces") == "organisation"
    terms = {t for r in rules.rules for t in _terms(r.condition)}
    assert {"military", "training"} <= terms
    assert not terms & {"the", "and", "said"}


def _terms(node):
    if hasattr(node, "children"):
        for child in node.children:
            yield from _terms(child)
    elif node.kind == "term":
        yield from node.values


def test_derive_with_a_background_folder_and_bad_inputs(tmp_path):
    background = tmp_path / "bg"
    background.mkdir()
    (background / "one.txt").write_text("The council met on Monday to discuss the budget and roads.", "utf-8")
    (background / "two.jsonl").write_text(
        json.dumps({"text": "Football: the team won the cup."}) + "\n", "utf-8"
    )
    result = run(["rules", "derive", str(ROOT / "seeds"), "--background", str(background)], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "[[entities]]" in result.stdout and "against 2 background documents" in result.stderr
    single = tmp_path / "single"
    single.mkdir()
    (single / "one.txt").write_bytes(SEEDS[3].read_bytes())
    result = run(["rules", "derive", str(single), "--background", str(background)], cwd=tmp_path)
    assert result.exit_code == 0 and "matches 1 of 1 seed documents" in result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(["rules", "derive", str(empty), "--background", str(background)], cwd=tmp_path)
    assert result.exit_code == 2
    assert "no .txt, .md or .html seed documents" in result.stderr
    result = run(["rules", "derive", str(ROOT / "seeds"), "--background", str(empty)], cwd=tmp_path)
    assert result.exit_code == 2 and "no background texts found" in result.stderr


@pytest.mark.parametrize("command", [["match", "--help"], ["rules", "derive", "--help"]])
def test_help(tmp_path, command):
    result = run(command, cwd=tmp_path)
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize(
    "text, names",
    [
        ("Defense Minister Murhaf Abu Qasra met Turkish officials.", ["Murhaf Abu Qasra", "Turkish"]),
        ("Talks between Ankara and Damascus resumed.", ["Ankara", "Damascus"]),
        ("President Ahmad al-Sharaa’s visit", ["Ahmad al-Sharaa"]),
        ("the Turkish-Syrian border", ["Turkish", "Syrian"]),
        ("the Kurdish-led Syrian Democratic Forces (SDF)", ["Syrian Democratic Forces", "SDF"]),
        ("the Ministry of National Defense said", ["Ministry of National Defense"]),
    ],
)
def test_derive_finds_names(text, names):
    from watcher.match.derivation import name_candidates

    assert [name for name, _, initial in name_candidates(text) if not initial] == names


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Murhaf Abu Qasra", "Murhef Abu Kasra", True),
        ("Ahmed Shara", "Ahmad al-Sharaa", True),
        ("Turkey", "Turkish", False),
        ("Syria", "Serbia", False),
        ("Abu Qasra", "Murhaf Abu Qasra", False),
    ],
)
def test_derive_spelling_variants(a, b, same):
    from watcher.match.derivation.entities import _variants

    assert _variants(normalise_term(a), normalise_term(b)) is same


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path):
    docs = tmp_path / "many.jsonl"
    docs.write_text(
        "".join(json.dumps({"id": i, "text": "Murhaf Abu Qasra. " * 50}) + "\n" for i in range(3000)),
        encoding="utf-8",
    )
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = subprocess.run(
        [str(WATCHER), "match", "--rules", str(RULES), "--jsonl", str(docs)],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        timeout=120,
    )
    reader.stdin.close()
    first = reader.stdout.read()
    reader.wait()
    assert json.loads(first)["id"] == 0
    assert writer.returncode == 0
    assert b"Traceback" not in writer.stderr and b"BrokenPipe" not in writer.stderr
