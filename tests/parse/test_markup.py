"""HTML to text for feed content and the `watcher match` fallback: what a
reader sees, and linear time on the malformed shapes that make the stdlib's
HTMLParser quadratic."""

import time

import pytest

from watcher.parse import markup


def test_visible_text_keeps_blocks_as_lines_and_drops_invisible_parts():
    title, text = markup.visible_text(
        "<html><head><title>Ankara &amp; Damascus</title><style>p{color:red}</style>"
        "<script>alert(1)</script></head><body><h1>Talks</h1><p>Abu <b>Qasra</b> met Güler.</p>"
        "<!-- ad --><div>Second&nbsp;line</div></body></html>"
    )
    assert title == "Ankara & Damascus"
    assert text == "Talks\nAbu Qasra met Güler.\nSecond line"


def test_strip_tags_joins_inline_and_spaces_block_markup():
    assert markup.strip_tags("<p>a</p><p>b<i>c</i></p>").split() == ["a", "bc"]


@pytest.mark.parametrize(
    "hostile",
    ["<!--" * 200_000, "<a<a<a" * 200_000, "<p " * 200_000, "<script>" + "x" * 2_000_000, "<" * 1_000_000],
)
def test_malformed_markup_takes_linear_time(hostile):
    started = time.process_time()
    markup.visible_text(hostile)
    markup.strip_tags(hostile)
    assert time.process_time() - started < 5.0  # a safety bound (CPU time), not a speed test
