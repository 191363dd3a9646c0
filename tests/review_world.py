"""A database filled by a real ``watcher run --once`` for the review tests.

Five outlets on a loopback server: an English outlet publishing the seed
articles (Turkey–Syria defence) as full pages plus two real unrelated pages
and one hostile page; a second English outlet republishing one seed (same
story, second outlet); a Turkish and an Arabic outlet (summary only); and a
broken feed (HTTP 404). Rules come from ``tests/data/review_rules``; alerts
go to an apprise ``json://`` hook on the same loopback server; a second
channel ("pager", drones only) answers HTTP 500, so its alerts wait for a retry.

``build(dir)`` runs it once; tests copy the database before writing to it.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from click.testing import CliRunner
from httpserver import LoopbackServer
from support import watcher

from watcher.cli.main import main

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SEEDS = ROOT / "seeds"
REAL_PAGES = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "trafilatura"
RULES_V1 = TESTS / "data" / "review_rules" / "v1"
RULES_V2 = TESTS / "data" / "review_rules" / "v2"
START = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)

HOSTILE_TITLE = 'Ankara and Damascus sign defence pact <script>alert("title")</script>'
HOSTILE_TEXT = (
    "Turkey and Syria signed a defence cooperation protocol in Ankara on Monday, officials said.\n"
    "Readers of this page saw <script>alert('xss')</script> and <img src=x onerror=alert('img')> "
    "and a link <a href=\"javascript:alert('link')\">click</a> in the original markup.\n"
    "The Turkish Ministry of National Defence said Syrian officers will train in Turkish military "
    "academies under the agreement, which covers defence industry cooperation."
)

TURKISH = [
    (
        "Türkiye ile Suriye arasında savunma işbirliği anlaşması",
        "Türkiye ile Suriye, 3 Kasım'da Ankara'da savunma alanında kapsamlı bir işbirliği anlaşması imzaladı. "
        "Milli Savunma Bakanlığı, Suriye ordusunun yeniden yapılandırılmasına destek verileceğini açıkladı.",
    ),
    (
        "İstanbul'da Suriyeli subaylar için askeri eğitim programı",
        "Suriyeli subaylar İstanbul'daki askeri akademilerde eğitim alacak. Türkiye'nin Suriye ile "
        "savunma işbirliği kapsamında SİHA teslimatı da gündemde.",
    ),
    (
        '=HYPERLINK("http://evil.example","Türkiye Suriye savunma")',
        "-5 derece soğukta Türkiye ve Suriye savunma heyetleri görüştü; @bakanlik +90 hattını paylaştı.",
    ),
    (
        "Galatasaray derbide Fenerbahçe'yi yendi",
        "Galatasaray, İstanbul'daki derbide Fenerbahçe'yi 2-1 mağlup etti. Taraftarlar sabaha kadar kutladı.",
    ),
]

ARABIC = [
    (
        "تركيا وسوريا توقعان اتفاقية للتعاون الدفاعي",
        "وقعت تركيا وسوريا في أنقرة اتفاقية للتعاون الدفاعي تشمل تدريب ضباط الجيش السوري في الأكاديميات "
        "العسكرية التركية.",
    ),
    (
        "وزير الدفاع السوري يزور أنقرة لبحث التعاون العسكري",
        "بحث وزير الدفاع السوري مرهف أبو قصرة في أنقرة مع نظيره التركي يشار غولر التعاون الدفاعي "
        "وتسليم طائرات مسيرة.",
    ),
    (
        "ارتفاع أسعار الذهب في الأسواق العربية",
        "ارتفعت أسعار الذهب في الأسواق العربية اليوم وسط تراجع الدُّولَار.",
    ),
]


# A second outlet republishes seed 2 under its own headline, with its own
# boilerplate around it and the last paragraphs cut: a near-duplicate.
REWRITE_SEED = 2
REWRITE_TITLE = "Ankara weighs Damascus request to rebuild Syrian army"
REWRITE_HEAD = (
    "This report first appeared on a partner site and is republished here with permission. "
    "Subscribe to the Hürriyet Daily News morning briefing for the day's top stories."
)
REWRITE_TAIL = (
    "Follow Hürriyet Daily News on X, Telegram and WhatsApp for breaking news from Türkiye "
    "and the region. Copyright 2026, all rights reserved."
)


def rewritten_seed() -> tuple[str, str]:
    """(title, text) of the near-duplicate."""
    _, _, text = seed_articles()[REWRITE_SEED]
    paragraphs = text.split("\n")
    return REWRITE_TITLE, "\n".join([REWRITE_HEAD, *paragraphs[:-3], REWRITE_TAIL])


@dataclass(frozen=True)
class World:
    dir: Path
    config: Path
    database: Path
    run_output: str
    hook_posts: int

    def copy(self, dest: Path) -> World:
        """A private copy (database and config) that a test may write to."""
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.database, dest / self.database.name)
        config = dest / "watcher.toml"
        config.write_text(
            self.config.read_text(encoding="utf-8").replace(
                str(self.database), str(dest / self.database.name)
            ),
            encoding="utf-8",
        )
        config.chmod(0o600)
        return World(dest, config, dest / self.database.name, self.run_output, self.hook_posts)


def seed_articles() -> list[tuple[str, str, str]]:
    """(name, title, text) of each seed document."""
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        lines = [
            line.strip() for line in text.splitlines() if line.strip() and line.strip() != "Skip to content"
        ]
        out.append((path.stem, lines[0][:120].strip(), "\n".join(lines[1:])))
    return out


def page(title: str, text: str, outlet: str, *, escape_text: bool = True) -> bytes:
    paras = "\n".join(f"<p>{html.escape(p) if escape_text else p}</p>" for p in text.split("\n") if p.strip())
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | {outlet}</title></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article><h1>{html.escape(title)}</h1><p class="byline">By Staff Reporter</p>
{paras}</article></main><footer><p>© {outlet}</p></footer></body></html>""".encode()


def rss(
    server: LoopbackServer, title: str, items: list[tuple[str, str, str, datetime]], language: str = "en"
) -> bytes:
    """items: (title, link, description, published); title/description are escaped here."""
    body = "\n".join(
        f"""<item><title>{html.escape(t)}</title><link>{html.escape(link)}</link>
<guid isPermaLink="false">{html.escape(link)}#{i}</guid><description>{html.escape(d)}</description>
<pubDate>{format_datetime(p)}</pubDate></item>"""
        for i, (t, link, d, p) in enumerate(items)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{html.escape(title)}</title><link>{server.url("/")}</link>
<description>test outlet</description><language>{language}</language>
{body}</channel></rss>""".encode()


def serve_outlets(server: LoopbackServer) -> dict[str, str]:
    """Route every page and feed; returns feed name -> feed URL."""
    when = iter(START + timedelta(hours=i) for i in range(100))
    english = []
    for name, title, text in seed_articles():
        path = f"/sabah/{name}.html"
        server.route(path, body=page(title, text, "Daily Sabah"), content_type="text/html; charset=utf-8")
        english.append((title, server.url(path), text.split("\n")[0][:200], next(when)))
    for real in sorted(REAL_PAGES.glob("*.html"))[:2]:
        path = f"/sabah/world/{real.stem}.html"
        server.route(path, body=real.read_bytes(), content_type="text/html; charset=utf-8")
        english.append(
            (
                real.stem.replace("-", " ").replace(".", " "),
                server.url(path),
                f"Report: {real.stem}",
                next(when),
            )
        )
    server.route(
        "/sabah/pact.html",
        body=page(HOSTILE_TITLE, HOSTILE_TEXT, "Daily Sabah"),
        content_type="text/html; charset=utf-8",
    )
    english.append(
        (
            HOSTILE_TITLE,
            server.url("/sabah/pact.html"),
            "Pact signed <img src=x onerror=alert('summary')>",
            next(when),
        )
    )
    english.append(
        (
            "Syria and Turkey defence talks (link-less)",
            "javascript:alert('entry')",
            "Turkey and Syria held defence talks; this entry's link is javascript:.",
            next(when),
        )
    )
    server.route(
        "/sabah/feed.xml",
        body=rss(server, "Daily Sabah", english),
        content_type="application/rss+xml; charset=utf-8",
    )

    _, title, text = seed_articles()[1]
    server.route(
        "/hurriyet/copy.html",
        body=page(title, text, "Hürriyet Daily News"),
        content_type="text/html; charset=utf-8",
    )
    re_title, re_text = rewritten_seed()
    server.route(
        "/hurriyet/rewrite.html",
        body=page(re_title, re_text, "Hürriyet Daily News"),
        content_type="text/html; charset=utf-8",
    )
    server.route(
        "/hurriyet/feed.xml",
        body=rss(
            server,
            "Hürriyet Daily News",
            [
                (title, server.url("/hurriyet/copy.html"), text.split("\n")[0][:200], next(when)),
                (re_title, server.url("/hurriyet/rewrite.html"), re_text.split("\n")[1][:200], next(when)),
            ],
        ),
        content_type="application/rss+xml; charset=utf-8",
    )

    server.route(
        "/safak/feed.xml",
        body=rss(
            server,
            "Yeni Şafak",
            [(t, server.url(f"/safak/{i}.html"), d, next(when)) for i, (t, d) in enumerate(TURKISH)],
            "tr",
        ),
        content_type="application/rss+xml; charset=utf-8",
    )
    server.route(
        "/jazeera/feed.xml",
        body=rss(
            server,
            "الجزيرة",
            [(t, server.url(f"/jazeera/{i}.html"), d, next(when)) for i, (t, d) in enumerate(ARABIC)],
            "ar",
        ),
        content_type="application/rss+xml; charset=utf-8",
    )
    server.route("/broken/feed.xml", body=b"gone fishing", status=404)
    server.route("/hook", body=b"{}", content_type="application/json")
    server.route("/down", body=b"upstream on fire", status=500)
    return {
        "Daily Sabah": server.url("/sabah/feed.xml"),
        "Hürriyet Daily News": server.url("/hurriyet/feed.xml"),
        "Yeni Şafak": server.url("/safak/feed.xml"),
        "الجزيرة": server.url("/jazeera/feed.xml"),
        "Broken Wire": server.url("/broken/feed.xml"),
    }


def write_config(
    path: Path, database: Path, feeds: dict[str, str], hook: str, rules: Path = RULES_V1
) -> None:
    summary_only = {"Yeni Şafak", "الجزيرة"}
    lines = [
        "[watcher]",
        f'database = "{database}"',
        f'rules = ["{rules}"]',
        "keep_days = 30",
        "",
        "[network]",
        'allow_private = ["127.0.0.0/8"]',
        'timeout = "10s"',
        "max_connections = 1",
        "",
        "[alerts]",
        'max_age = "36500d"  # the world is dated from START, weeks back: no baseline here',
        "",
        "[[channels]]",
        'name = "hook"',
        f'url = "{hook}"',
        "",
        "[[channels]]",
        'name = "pager"',
        f'url = "{hook.replace("/hook", "/down")}"',
        'rules = ["drones"]',
        "",
    ]
    for name, url in feeds.items():
        lines += [
            "[[feeds]]",
            f'name = "{name}"',
            f'url = "{url}"',
            f"fetch_article = {'false' if name in summary_only else 'true'}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)  # it holds channel URLs: `watcher check` warns otherwise


def build(directory: Path) -> World:
    """Serve the outlets, run ``watcher run --once`` for real, stop the server."""
    with LoopbackServer() as server:
        return fill(directory, server)


def fill(directory: Path, server: LoopbackServer) -> World:
    """Route the outlets on ``server`` and run ``watcher run --once`` against them."""
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "watcher.db"
    config = directory / "watcher.toml"
    feeds = serve_outlets(server)
    write_config(config, database, feeds, f"json://127.0.0.1:{server.port}/hook")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--once"], catch_exceptions=False)
    assert result.exit_code == 3, result.output  # the pass completed; Broken Wire failed
    return World(directory, config, database, result.output, len(server.requests_for("/hook")))


def shared(tmp_path_factory) -> World:
    """One world per test session: built by the first module that asks for it."""
    import json

    directory = tmp_path_factory.getbasetemp() / "review-world"
    marker = directory / "world.json"
    if marker.exists():
        data = json.loads(marker.read_text(encoding="utf-8"))
        return World(
            Path(data["dir"]),
            Path(data["config"]),
            Path(data["database"]),
            data["run_output"],
            data["hook_posts"],
        )
    world = build(directory)
    marker.write_text(
        json.dumps(
            {
                "dir": str(world.dir),
                "config": str(world.config),
                "database": str(world.database),
                "run_output": world.run_output,
                "hook_posts": world.hook_posts,
            }
        ),
        encoding="utf-8",
    )
    return world


def invoke(world: World, *args: str):
    """Run ``watcher --config <world> ARGS`` through click's test runner."""
    return watcher(world.config, *args)
