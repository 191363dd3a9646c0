"""The structured alert: what a ``format = "json"`` channel receives, for
machines (Huginn, n8n, Node-RED, a script) rather than people.

One JSON object per alert (UTF-8, ``Content-Type: application/json``)::

    {
      "event": "alert",
      "story_id": 12,
      "article_id": 57,
      "url": "https://www.example.org/news/defence-pact",
      "title": "Turkey and Syria sign defence pact",
      "feed": "Example News",
      "published": "2026-11-03T09:15:00+00:00",
      "rules": [
        {"id": "turkey-syria-defence", "title": "Turkey-Syria defence cooperation",
         "severity": "high", "score": 4.5, "via": "keywords", "similar_to": null,
         "hits": [{"term": "defence cooperation", "entity": null, "field": "text",
                   "snippet": "…signed a defence cooperation protocol in Ankara…"}]}
      ],
      "outlets": ["Example News", "Second Outlet"],
      "article_page": "http://127.0.0.1:8765/article/57",
      "spread": null
    }

``rules`` are those the channel takes, most severe first, each with its top
hits (at most :data:`TOP_HITS`); ``outlets`` are every feed that reported the
story, the alerting article's first; ``article_page`` is the article's page on
the review site (``[serve] public_url``, else its host and port). Text is as
the feed gave it, control characters removed; ``published`` is ISO 8601 or
null. A rule matched by meaning has ``"via": "similarity"`` and ``similar_to``
("close in meaning to about 2: “…” (0.91)"); an alert about a story that spread
(a rule's ``spread``) says how far in ``spread`` ("now reported by 5 outlets in
2 languages (en, tr)"), else null. ``watcher notify --test NAME`` sends
``{"event": "test", ...}``. An ``ops = true`` channel gets each operator notice
as one object::

    {"event": "notice", "state": "start", "severity": "high",
     "title": "feed Example News is degraded",
     "detail": ["Example News (https://…): 9 of 10 article pages failed …", "…"]}

(``state`` is ``end`` when the condition is over).
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from watcher.notify.message import AlertContent, Message, NoticeContent, title_for

TOP_HITS = 5
MAX_TEXT = 2000  # characters of any one text field
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    value = " ".join(_CONTROL.sub("", value).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def alert(content: AlertContent, *, page_base: str | None) -> dict:
    """The structured alert as a dict (see the module's docstring)."""
    return {
        "event": "alert",
        "story_id": content.story_id,
        "article_id": content.article_id,
        "url": _text(content.link),
        "title": _text(content.headline),
        "feed": _text(content.source),
        "published": content.published,
        "rules": [
            {
                "id": rule.rule_id,
                "title": _text(rule.title),
                "severity": rule.severity,
                "score": rule.score,
                "via": rule.via,
                "similar_to": _text(rule.similar_to),
                "hits": [
                    {
                        "term": _text(h.term),
                        "entity": _text(h.entity),
                        "field": h.field,
                        "snippet": _text(h.snippet),
                    }
                    for h in rule.hits[:TOP_HITS]
                ],
            }
            for rule in content.rules
        ],
        "outlets": [_text(content.source), *(_text(o) for o in content.also)],
        "article_page": f"{page_base.rstrip('/')}/article/{content.article_id}" if page_base else None,
        "spread": _text(content.spread) or None,
    }


def render(content: AlertContent, *, page_base: str | None) -> Message:
    body = json.dumps(alert(content, page_base=page_base), ensure_ascii=False)
    return Message(title_for(content), body, "json")


def notice(content: NoticeContent) -> Message:
    """An operator notice as one JSON object (see the module's docstring)."""
    body = {
        "event": "notice",
        "state": content.event,
        "severity": content.severity,
        "title": _text(content.title),
        "detail": [_text(line) for line in content.body.splitlines() if line.strip()],
    }
    return Message(f"[watcher] {_text(content.title, 200)}", json.dumps(body, ensure_ascii=False), "json")


def test_message(channel: str, text: str, now: datetime) -> Message:
    body = {"event": "test", "channel": channel, "message": text, "sent_at": now.isoformat()}
    return Message("[watcher] test message", json.dumps(body, ensure_ascii=False), "json")
