"""Write a copy of the default pack with the candidate additions of candidate_aliases.toml merged in.

    .venv/bin/python bench/relevance/candidate_pack.py OUT_DIR
    .venv/bin/python bench/relevance.py --rules OUT_DIR

The copy is for measuring only: the product's rules/ are not touched. Additions are inserted as
text into the TOML (aliases right after `aliases = [`, terms after the term they follow, a new `near`
alternative at the end of the turkey-syria-defence rule), then the result is loaded by the real rule
loader, so a mistake shows as a rule-file error.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PACK = ROOT / "rules" / "turkey-syria-defence.toml"
CANDIDATES = HERE / "candidate_aliases.toml"


def q(values: list[str]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)


def entity_block(text: str, entity: str) -> tuple[int, int]:
    start = text.index(f'id = "{entity}"')
    end = text.find("[[", start)
    return start, len(text) if end < 0 else end


def merge(text: str, cand: dict) -> str:
    for entity, add in cand.get("entities", {}).items():
        start, end = entity_block(text, entity)
        block = text[start:end]
        existing = set(re.findall(r'"([^"]+)"', block))
        aliases = [a for a in add.get("aliases", []) if a not in existing]
        if aliases:
            block = block.replace("aliases = [", f"aliases = [{q(aliases)}, ", 1)
        cases = [a for a in add.get("match_case", []) if a not in existing or a in aliases]
        if cases:
            if "match_case = [" in block:
                block = block.replace("match_case = [", f"match_case = [{q(cases)}, ", 1)
            else:
                block = block.replace("\n", f"\nmatch_case = [{q(cases)}]\n", 1)
        text = text[:start] + block + text[end:]
    new = "".join(
        f'\n[[entities]]\nid = "{eid}"\nname = {json.dumps(e["name"], ensure_ascii=False)}\nkind = "{e["kind"]}"\n'
        f"aliases = [{q(e['aliases'])}]\n"
        for eid, e in cand.get("new_entities", {}).items()
    )
    first_rule = text.index("[[rules]]")
    text = text[:first_rule] + new + "\n" + text[first_rule:]
    for rule, groups in cand.get("terms", {}).items():
        start = text.index(f'id = "{rule}"')
        for after, terms in groups.items():
            anchor = text.index(json.dumps(after), start)
            line_end = text.index("]", anchor)
            existing = set(re.findall(r'"([^"]+)"', text[anchor:line_end]))
            fresh = [t for t in terms if t not in existing]
            text = (
                text[:anchor] + f"{json.dumps(after)}, {q(fresh)}" + text[anchor + len(json.dumps(after)) :]
            )
    for rule, alternatives in cand.get("near", {}).items():
        start = text.index(f'id = "{rule}"')
        end = text.find("\n[[rules]]", start)
        end = len(text) if end < 0 else end
        extra = ""
        for words in alternatives.values():
            extra += (
                "\n[[rules.condition.any]]\nnear = [\n"
                '  { entities = ["turkey", "turkish-defence-ministry", "turkish-officials"] },\n'
                '  { entities = ["syria", "syrian-army", "syrian-defence-ministry", "abu-qasra", "sharaa",'
                ' "syrian-officials"] },\n'
                '  { entity = "military" },\n'
                f"  {{ terms = [{q(words)}] }},\n]\nsame_sentence = true\n"
            )
        text = text[:end] + extra + text[end:]
    return text


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    text = merge(PACK.read_text(encoding="utf-8"), tomllib.loads(CANDIDATES.read_text(encoding="utf-8")))
    (out / PACK.name).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(ROOT))
    from watcher.match.rules import load_rules

    rules = load_rules([out])
    print(f"wrote {out / PACK.name}: {len(rules.entities)} entities, {len(rules.rules)} rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
