"""Alert delivery on loopback: throughput, apprise's mail throttle, redaction cost.

    .venv/bin/python bench/alerts.py [--alerts 200] [--repeat 3]

Prints medians of:
  1. draining N immediate alerts to a json:// webhook (one channel), alerts/s;
  2. the same N split over 4 webhook channels (one worker each);
  3. three emails to a loopback SMTP server: one fresh apprise object per send
     (what watcher does) against one shared object (apprise throttles ~5.5 s
     between sends on one object), and their ratio;
  4. log records/s through a handler with and without the redaction filter
     (10 channels' secrets), and the ratio;
  5. messages rendered per second (text, markdown, html).
Not a test: figures vary with the machine; compare ratios between runs.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from alerts_support import Clock, Mailbox, Webhook, open_store, queue_story, write_config  # noqa: E402

from watcher.config import ChannelConfig  # noqa: E402
from watcher.notify.message import AlertContent, HitLine, Message, RuleLine, render  # noqa: E402
from watcher.notify.notifier import Notifier  # noqa: E402
from watcher.notify.redaction import install  # noqa: E402
from watcher.notify.sender import Sender  # noqa: E402


def drain_rate(n: int, channels: int) -> float:
    hooks = [Webhook() for _ in range(channels)]
    try:
        tables = "\n".join(
            f'[[channels]]\nname = "c{i}"\nurl = "{h.url()}"\nrules = ["r{i}"]\n' for i, h in enumerate(hooks)
        )
        with tempfile.TemporaryDirectory() as tmp:
            cfg = write_config(Path(tmp), tables)
            store = open_store(cfg)
            for i in range(n):
                queue_story(store, cfg, f"Story {i}", rule=f"r{i % channels}")
            start = time.perf_counter()
            summary = Sender(store, cfg, Clock()).drain()
            elapsed = time.perf_counter() - start
            assert summary.sent == n, summary
            store.close()
        return n / elapsed
    finally:
        for h in hooks:
            h.close()


def mail_seconds(shared: bool) -> float:
    import apprise  # only to show apprise's own throttle on a shared object

    box = Mailbox()
    try:
        channel = ChannelConfig("mail", box.url(), "url")
        start = time.perf_counter()
        if shared:
            obj = apprise.Apprise()
            obj.add(channel.url)
            for i in range(3):
                assert obj.notify(body="b", title=f"t{i}")
        else:
            notifier = Notifier(channel)
            for i in range(3):
                assert notifier.send(Message(f"t{i}", "b", "text")).ok
        return time.perf_counter() - start
    finally:
        box.close()


def log_rate(redacted: bool, n: int = 20000) -> float:
    handler = logging.StreamHandler(io.StringIO())
    channels = [
        ChannelConfig(
            f"c{i}", f"json://hooks.example.org/path{i}/TOKEN{i:04d}abcdef?+X-Key=K{i}secret", "url"
        )
        for i in range(10)
    ]
    if redacted:
        install(handler, channels, cap_third_party=False)
    logger = logging.getLogger(f"bench.{redacted}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    start = time.perf_counter()
    for i in range(n):
        logger.info("POST https://hooks.example.org/path%d/%s returned %d", i % 10, "x" * 20, 200)
    return n / (time.perf_counter() - start)


def render_rate(n: int = 3000) -> float:
    content = AlertContent(
        headline="Türkiye and Syria sign defence cooperation memorandum <b>@everyone</b>",
        source="Reuters World",
        published="2026-11-21T05:30:00+00:00",
        link="https://news.example/a?x=1",
        rules=tuple(
            RuleLine(
                f"r{j}",
                "Turkey–Syria defence",
                "high",
                tuple(
                    HitLine("Türkiye", "turkey", "title", "… Türkiye and Syria sign a defence memorandum …")
                    for _ in range(5)
                ),
            )
            for j in range(3)
        ),
        also=("Anadolu Agency", "Hürriyet"),
    )
    start = time.perf_counter()
    for i in range(n):
        render(content, ("text", "markdown", "html")[i % 3])
    return n / (time.perf_counter() - start)


def median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    one = median(lambda: drain_rate(args.alerts, 1), args.repeat)
    four = median(lambda: drain_rate(args.alerts, 4), args.repeat)
    print(f"drain {args.alerts} alerts, 1 webhook channel:  {one:8.1f} alerts/s")
    print(f"drain {args.alerts} alerts, 4 webhook channels: {four:8.1f} alerts/s  (x{four / one:.2f})")
    fresh = median(lambda: mail_seconds(False), args.repeat)
    shared = mail_seconds(True)
    print(f"3 emails, fresh apprise object per send: {fresh:6.2f} s")
    print(f"3 emails, one shared apprise object:     {shared:6.2f} s  (x{shared / fresh:.0f} slower)")
    plain = median(lambda: log_rate(False), args.repeat)
    masked = median(lambda: log_rate(True), args.repeat)
    print(
        f"log records/s plain: {plain:10.0f}; with redaction filter: {masked:10.0f} (x{plain / masked:.2f} cost)"
    )
    print(f"messages rendered/s: {median(render_rate, args.repeat):10.0f}")


if __name__ == "__main__":
    main()
