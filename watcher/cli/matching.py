"""CLI commands for matching: ``watcher match`` and the ``watcher rules`` group (``rules derive``).

``watcher match`` needs no database and no network: it loads the configured
rules (or ``--rules PATH``, without reading any config) and runs them over
text/HTML files, or over JSON lines.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.cli.console import CliContext, fail

if TYPE_CHECKING:  # the matcher (re2, pyahocorasick) is built when a command runs
    from watcher.extract.extractor import Extractor
    from watcher.match.document import Document
    from watcher.match.matcher import Matcher, RuleMatch

MAX_LINE_BYTES = 32 * 1024 * 1024  # one JSON line; longer ones get an error line
MAX_FILE_BYTES = 64 * 1024 * 1024  # one text/HTML file
EXIT_BAD_INPUT = 1


@click.command("match", short_help="Run the rules over files and explain every match.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--jsonl",
    is_flag=True,
    help="FILEs hold one JSON object per line (id, title, text; optional summary, url, "
    "published, language); print one JSON line per input line. '-' reads standard input.",
)
@click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    metavar="PATH",
    help="Rule file or folder to use instead of the configured rules (repeatable).",
)
@click.pass_obj
def match(obj: CliContext, files: tuple[str, ...], jsonl: bool, rule_paths: tuple[str, ...]) -> None:
    """Run the rules over documents and explain every match (no database, no network).

    \b
    watcher match article.txt page.html
    watcher match --jsonl docs.jsonl > verdicts.jsonl
    cat docs.jsonl | watcher match --rules rules/ --jsonl -
    """
    from watcher import app

    matcher = app.matcher(obj.rules(rule_paths))  # --rules PATH... reads no config
    with contextlib.closing(matcher):
        if jsonl:
            try:
                bad = sum(_match_jsonl(matcher, name) for name in files)
            except BrokenPipeError:  # `watcher match --jsonl big.jsonl | head`
                _quiet_stdout()
                raise SystemExit(0) from None
            if bad:
                click.echo(f'watcher: {bad} input line(s) could not be read; see the "error" lines', err=True)
                raise SystemExit(EXIT_BAD_INPUT)
            return
        with Pages() as pages:
            unreadable = [name for name in files if not _match_file(matcher, name, pages)]
    if unreadable:
        raise SystemExit(2)


def _quiet_stdout() -> None:
    """After the reader went away, point stdout at /dev/null so the exit flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


# --- JSON lines ---------------------------------------------------------------


def verdict(doc_id, matches: tuple[RuleMatch, ...], language: str | None = None) -> dict:
    """One output line: the detected language (the declared one when it cannot be detected)."""
    return {
        "id": doc_id,
        "matched": bool(matches),
        "language": language,
        "rules": [m.to_json() for m in matches],
    }


def _emit(record: dict) -> None:
    click.echo(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n", nl=False)


def _match_jsonl(matcher: Matcher, name: str) -> int:
    """Match every line of one JSONL file; return the number of bad lines."""
    bad = 0
    try:
        stream = _open(name)
    except OSError as exc:
        fail(f"{name}: cannot read: {exc.strerror or exc}")
        raise  # unreachable
    with stream as stream:
        for number, raw in enumerate(_lines(stream), start=1):
            if raw is not None and not raw.strip():
                continue
            doc_id, doc, error = _parse_line(raw)
            if error:
                bad += 1
                click.echo(f"watcher: {name}:{number}: {error}", err=True)
                record = verdict(doc_id, ())
                record["error"] = f"line {number}: {error}"
                _emit(record)
                continue
            found = matcher.assess(doc)
            record = verdict(doc_id, found.matches, found.language)
            if found.problem:
                record["problem"] = found.problem
            _emit(record)
    return bad


def _open(name: str):
    """A binary stream for a file name, or standard input for "-" (left open)."""
    if name == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    return open(name, "rb")


def _lines(stream):
    """Lines of a binary stream; None for a line longer than MAX_LINE_BYTES (its rest is skipped)."""
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            return
        if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def _parse_line(raw: bytes | None):
    """(id, Document, None) or (id or None, None, error message)."""
    from watcher.match.document import Document

    if raw is None:
        return None, None, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB; skipped"
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(record, dict):
        return None, None, "each line must be a JSON object with id, title and text"
    doc_id = record.get("id")
    if doc_id is None or isinstance(doc_id, (dict, list, bool)):
        return None, None, 'missing "id" (a string or number)'
    fields = {}
    for key in ("title", "text", "summary"):
        value = record.get(key) or ""
        if not isinstance(value, str):
            return doc_id, None, f'"{key}" must be a string'
        fields[key] = value
    extra = {}
    for key in ("url", "published", "language"):
        value = record.get(key)
        extra[key] = value if isinstance(value, str) else None
    return doc_id, Document(str(doc_id), fields["title"], fields["text"], fields["summary"], **extra), None


# --- text and HTML files --------------------------------------------------------


def _match_file(matcher: Matcher, name: str, pages: Pages) -> bool:
    try:
        with _open(name) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        click.echo(f"watcher: {name}: cannot read: {exc.strerror or exc}", err=True)
        return False
    if data[:2] == b"\x1f\x8b":  # gzip, as pages are often stored
        import gzip

        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError) as exc:
            click.echo(f"watcher: {name}: broken gzip data: {exc}", err=True)
            return False
    if len(data) > MAX_FILE_BYTES:
        click.echo(f"watcher: {name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; skipped", err=True)
        return False
    unusable = _not_text(data)
    if unusable:
        click.echo(
            f"watcher: {name}: {unusable}; skipped (give text, HTML or gzip-compressed pages)", err=True
        )
        return False
    doc = _document(name, data, pages)
    found = matcher.assess(doc)
    _print_explanation(name, doc, found.matches, found.language)
    if found.problem:
        click.echo(f"  ! {found.problem}")
    return True


def _not_text(data: bytes) -> str | None:
    """Why these bytes are no document to match (empty, or binary), or None."""
    if not data.strip():
        return "the file is empty" if not data else "the file holds only blank space"
    head = data[:8192]
    if b"\x00" in head:
        return "not a text file (binary data)"
    decoded = head.decode("utf-8", errors="replace")
    if decoded.count("\ufffd") > len(decoded) // 3:
        return "not a text file (mostly bytes that are not UTF-8 text)"
    return None


def _document(name: str, data: bytes, pages: Pages) -> Document:
    from watcher.match.document import Document

    text = data.decode("utf-8", errors="replace")
    if _is_html(name, text):
        title, text = pages.text(data, name)
        return Document(name, title, text)
    return Document(name, "", text)


def _is_html(name: str, text: str) -> bool:
    suffixes = [s.lower() for s in Path(name).suffixes[-2:]]
    if {".html", ".htm", ".xhtml"} & set(suffixes):
        return True
    head = text[:4096].lower()
    return head.lstrip().startswith("<!doctype html") or "<html" in head or "<body" in head


class Pages:
    """(title, text) of HTML pages: the project's extractor (one worker for all pages), else the visible text."""

    def __init__(self) -> None:
        self._extractor: Extractor | None = None

    def text(self, data: bytes, name: str) -> tuple[str, str]:
        from watcher.errors import ExtractionError

        if self._extractor is None:
            from watcher import app

            self._extractor = app.extractor()
        try:
            extracted = self._extractor.extract(data, url=Path(name).resolve().as_uri())
        except ExtractionError:
            from watcher.parse import markup

            return markup.visible_text(data.decode("utf-8", errors="replace"))
        return extracted.title or "", extracted.text

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _print_explanation(
    name: str, doc: Document, matches: tuple[RuleMatch, ...], language: str | None = None
) -> None:
    lang = f" [language {language}]" if language else ""
    if not matches:
        click.echo(f"{name}: no rule matched{lang}")
        return
    click.echo(f"{name}: {len(matches)} rule(s) matched{lang}")
    for m in matches:
        via = " — by meaning" if m.via == "similarity" else ""
        click.echo(f"  [{m.severity}] {m.rule_id}: {m.title} (score {m.score:g}){via}")
        if m.similarity is not None:
            click.echo(f"      {m.similarity.describe()}")
        for h in m.hits:
            source = doc.title if h.field == "title" else (doc.text if doc.text.strip() else doc.summary)
            who = f"entity {h.entity}, alias" if h.entity else "term"
            click.echo(f"      {h.field}[{h.start}:{h.end}] {source[h.start : h.end]!r} ({who} {h.term!r})")
            click.echo(f"          {h.snippet}")


# --- rules group -----------------------------------------------------------------


@click.group("rules", short_help="Rule files: draft rules from seeds, statistics.")
def rules() -> None:
    """Work with rule files (see rules/README.md for the rule language)."""


@rules.command("derive", short_help="Draft a rule file from a folder of example articles.")
@click.argument("seed_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--background",
    metavar="DIR|FILE|log",
    default=None,
    help="General news to contrast the seeds with: a folder or file of *.txt, *.jsonl "
    '(with "text") or JSON (with "articleBody" or "text"), gzip-compressed or not; or '
    '"log": the articles in your database. Default: the 295 Wikinews articles shipped '
    "with the watcher.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the draft rule file here (default: standard output).",
)
@click.option(
    "--terms",
    "max_terms",
    type=click.IntRange(1, 500),
    default=40,
    show_default=True,
    help="How many distinguishing terms to propose.",
)
@click.pass_obj
def derive(
    ctx: CliContext, seed_dir: Path, background: str | None, output: Path | None, max_terms: int
) -> None:
    """Propose a draft rule file from a seed corpus (SEED_DIR of .txt/.html files).

    The draft names the people, organisations, places and agreements the
    seeds mention, with the spelling variants found across them, and the
    terms that set the seeds apart from general news. Edit it before use.
    """
    from watcher.match import derivation

    if output is not None and not output.resolve().parent.is_dir():
        fail(
            f"-o {output}: the folder {output.resolve().parent} does not exist; give a file in an existing folder"
        )
    corpus = _background(ctx, background)
    with Pages() as pages:
        draft = derivation.derive(seed_dir, corpus, max_terms=max_terms, html_text=pages.text)
    if output is None:
        click.echo(draft.toml, nl=False)
    else:
        try:
            output.write_text(draft.toml, encoding="utf-8")
        except OSError as exc:
            fail(
                f"-o {output}: cannot write the draft there ({exc.strerror or exc}); "
                "give a file in an existing folder"
            )
    click.echo(
        f"watcher: {len(draft.entities)} entities and {len(draft.terms)} terms from "
        f"{draft.seed_count} seed documents against {draft.background_count} background documents"
        + (f"; draft written to {output}" if output else ""),
        err=True,
    )


LOG_BACKGROUND = 5000  # the newest articles of the log, when it is the background


def _background(ctx: CliContext, given: str | None) -> Path | list[str]:
    """The background corpus: the shipped one, a path, or the log's articles."""
    from watcher import defaults

    if given is None:
        try:
            return defaults.background_corpus()
        except defaults.MissingDefaults as exc:
            fail(str(exc))
    if given != "log":
        path = Path(given)
        if not path.exists():
            fail(f"--background {given}: no such file or folder; give a folder of news texts, or `log`")
        return path
    from watcher.store import articles

    store = ctx.store()
    try:
        texts = articles.recent_texts(store, limit=LOG_BACKGROUND)
    finally:
        store.close()
    if not texts:
        fail("--background log: the database holds no article yet; `watcher run --once` stores some")
    return texts


COMMANDS = [match, rules]
