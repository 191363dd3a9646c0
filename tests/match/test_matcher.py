"""The matcher over English, Turkish and Arabic text: what matches, what stays silent, and the explanation."""

import pytest

from watcher.match.matcher import MAX_SHOWN, Document, Matcher
from watcher.match.rules import load_rules

RULES = """
[[entities]]
id = "abu-qasra"
name = "Murhaf Abu Qasra"
kind = "person"
aliases = ["Murhef Abu Kasra", "Murhaf Abu Kasra", "Abu Qasra", "Abu Kasra", "Murhaf Ebu Kasra",
           "مرهف أبو قصرة", "أبو قصرة"]

[[entities]]
id = "sharaa"
name = "Ahmed al-Sharaa"
kind = "person"
aliases = ["Ahmad al-Sharaa", "Ahmed Shara", "al-Sharaa", "Şara", "أحمد الشرع"]

[[entities]]
id = "turkey"
name = "Turkey"
kind = "place"
aliases = ["Türkiye", "Turkish", "Ankara", "تركيا", "التركية"]
exclude = ["Turkish Airlines", "roast turkey"]
match_case = ["Turkey"]

[[entities]]
id = "syria"
name = "Syria"
kind = "place"
aliases = ["Syrian", "Suriye", "Damascus", "سوريا", "السوري"]

[[entities]]
id = "sdf"
name = "Syrian Democratic Forces"
kind = "organisation"
aliases = ["SDF", "Suriye Demokratik Güçleri", "قوات سوريا الديمقراطية"]

[[rules]]
id = "leader"
title = "Abu Qasra named"
severity = "high"
channels = ["ops"]
condition = { entity = "abu-qasra" }

[[rules]]
id = "president"
title = "al-Sharaa named"
severity = "low"
condition = { entity = "sharaa" }

[[rules]]
id = "sdf"
title = "SDF named"
severity = "medium"
condition = { entity = "sdf", field = "title" }

[[rules]]
id = "cooperation"
title = "Turkey and Syria in one sentence with training"
severity = "high"
[rules.condition]
near = [{ entity = "turkey" }, { entity = "syria" }, { terms = ["train*", "eğitim", "تدريب"] }]
same_sentence = true

[[rules]]
id = "close"
title = "Turkey within 3 words of Syria"
severity = "low"
condition = { near = [{ entity = "turkey" }, { entity = "syria" }], within = 3 }

[[rules]]
id = "two-of"
title = "two different defence words"
severity = "low"
min_hits = 2
condition = { terms = ["army", "cadets", "academy", "drones"] }

[[rules]]
id = "weighted"
title = "scored"
severity = "low"
min_score = 3
condition = { any = [{ term = "memorandum", weight = 2 }, { term = "training", weight = 1.5 }, { term = "MoU" }] }

[[rules]]
id = "not-sport"
title = "Syria but not sport"
severity = "low"
condition = { all = [{ entity = "syria" }, { term = "qualifier" }], none = [{ terms = ["football", "FIFA"] }] }

[[rules]]
id = "regex"
title = "dated agreement"
severity = "medium"
condition = { regex = "\\\\b(?:10|ten) March agreement\\\\b" }
"""


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "test.toml").write_text(RULES, encoding="utf-8")
    return Matcher(load_rules([folder]))


def matched(matcher: Matcher, text: str, title: str = "") -> dict:
    return {m.rule_id: m for m in matcher.match(Document("d", title, text))}


@pytest.mark.parametrize(
    "text, rule",
    [
        ("Defense Minister Murhaf Abu Qasra said", "leader"),
        ("Defense Minister Murhef Abu Kasra said", "leader"),
        ("Savunma Bakanı Murhaf Ebu Kasra açıkladı", "leader"),
        ("MURHAF ABU QASRA", "leader"),
        ("Abu-Qasra's visit", "leader"),
        ("قال وزير الدفاع مُرْهَف أَبُو قَصْرَة إن", "leader"),
        ("وزير الدفاع مرهف ابو قصره", "leader"),
        ("والتقى أبو قصرة", "leader"),
        ("President Ahmad al-Sharaa", "president"),
        ("President Ahmed Shara’s visit", "president"),
        ("al Sharaa’s government", "president"),
        ("Cumhurbaşkanı Şara'nın ziyareti", "president"),
        ("الرئيس أحمد الشرع", "president"),
        ("Türkiye will train the Syrian army.", "cooperation"),
        ("Turkiye trains Syrian cadets.", "cooperation"),
        ("Türkiye, Suriye'ye eğitim desteği verecek.", "cooperation"),
        ("بدأت تركيا تدريب الجيش السوري", "cooperation"),
        ("Turkey and Syria", "close"),
        ("TURKEY AND SYRIA", "close"),
        ("Ankara, Damascus", "close"),
        ("The army sent cadets.", "two-of"),
        ("A memorandum on training", "weighted"),
        ("Syria World Cup qualifier draw", "not-sport"),
        ("They signed the 10 March agreement.", "regex"),
    ],
)
def test_positive_cases(matcher, text, rule):
    assert rule in matched(matcher, text)


@pytest.mark.parametrize(
    "text, rule",
    [
        ("Abu Dhabi and Qasr al-Hosn", "leader"),
        ("a turkey and Syrian dates", "close"),  # the bird: Turkey must be capitalised
        ("Japan's SDFs", "sdf"),
        ("The XSDF standard", "sdf"),
        ("Japan's Self-Defense Forces (SDF) train with Turkish pilots.", "cooperation"),
        ("Turkish Airlines flies to Syria; pilots train in Istanbul.", "cooperation"),
        ("Türkiye will train. The Syrian army waits.", "cooperation"),  # not one sentence
        ("Turkey's long-standing plans, which many observers doubt, concern Syria", "close"),
        ("The army marched.", "two-of"),  # one distinct word
        ("army army army", "two-of"),
        ("a training on the MoU", "weighted"),  # 2.5 < 3
        ("Syria beat Iran in a football World Cup qualifier", "not-sport"),
        ("They signed the 10 March agreements.", "regex"),
        ("Thanksgiving: roast turkey with Syrian spices, training tips", "cooperation"),
    ],
)
def test_negative_cases(matcher, text, rule):
    assert rule not in matched(matcher, text)


def test_field_restriction(matcher):
    # (the acronym is backed up by the organisation's full name in the text)
    backed = "The Suriye Demokratik Güçleri said so."
    assert "sdf" in matched(matcher, backed, title="SDF fighters")
    assert "sdf" not in matched(matcher, "SDF fighters. " + backed, title="nothing here")


def test_an_acronym_alone_does_not_count_without_support_in_the_article(matcher):
    assert "sdf" not in matched(matcher, "nothing here", title="SDF fighters")
    assert "sdf" not in matched(matcher, "The Sustainable Development Fund (SDF) report", title="SDF grants")


def test_hits_point_at_the_text_as_given(matcher):
    text = "Talks: Defense Minister Murhaf Abu Qasra met Ahmad al-Sharaa’s team."
    found = matched(matcher, text)
    (hit,) = found["leader"].hits
    assert text[hit.start : hit.end] == "Murhaf Abu Qasra"  # the longest alias, not "Abu Qasra" too
    assert (hit.term, hit.entity, hit.field) == ("Murhaf Abu Qasra", "abu-qasra", "text")
    (hit,) = found["president"].hits
    assert text[hit.start : hit.end] == "Ahmad al-Sharaa"
    assert hit.term == "Ahmad al-Sharaa"
    assert "Murhaf Abu Qasra met Ahmad al-Sharaa’s team." in hit.snippet


def test_arabic_hit_offsets_include_the_diacritics(matcher):
    text = "قال وزير الدفاع مُرْهَف أَبُو قَصْرَة إن"
    (hit,) = matched(matcher, text)["leader"].hits
    assert text[hit.start : hit.end] == "مُرْهَف أَبُو قَصْرَة"


def test_title_hits_come_first_and_name_their_field(matcher):
    found = matched(matcher, "Later Abu Kasra spoke.", title="Abu Qasra in Ankara")
    assert [(h.field, h.term) for h in found["leader"].hits] == [
        ("title", "Abu Qasra"),
        ("text", "Abu Kasra"),
    ]


def test_match_json_shape(matcher):
    (m,) = [m for m in matcher.match(Document("d", "", "Murhaf Abu Qasra")) if m.rule_id == "leader"]
    assert m.channels == ("ops",)
    assert m.to_json() == {
        "id": "leader",
        "title": "Abu Qasra named",
        "severity": "high",
        "score": 1.0,
        "via": "keywords",
        "evidence": 3.0,
        "similarity": None,
        "hits": [
            {
                "term": "Murhaf Abu Qasra",
                "entity": "abu-qasra",
                "field": "text",
                "start": 0,
                "end": 16,
                "snippet": "Murhaf Abu Qasra",
            }
        ],
    }


def test_score_counts_distinct_items_by_weight(matcher):
    found = matched(matcher, "A memorandum, a training, another memorandum")
    assert found["weighted"].score == 3.5


def test_long_repetitive_text_is_bounded(matcher):
    text = "Abu Qasra " * 20000
    (m,) = [m for m in matcher.match(Document("d", "", text)) if m.rule_id == "leader"]
    assert len(m.hits) <= MAX_SHOWN


@pytest.mark.parametrize("text", ["", "   ", "\x00\ud800\ufffe", "<<<>>>" * 100, "ـــ"])
def test_odd_input_does_not_crash(matcher, text):
    assert matcher.match(Document("d", text, text)) == ()


def test_summary_is_used_when_there_is_no_text(matcher):
    found = matcher.match(Document("d", "", "", summary="Murhaf Abu Qasra visited"))
    assert [m.rule_id for m in found] == ["leader"]


def test_regex_prefilter_and_offsets(tmp_path):
    (tmp_path / "r.toml").write_text(
        """
[[rules]]
id = "mou"
title = "MoU dated"
severity = "low"
condition = { regex = "MoU (?:signed|dated) (?:on )?\\\\d{1,2} \\\\w+" }
""",
        encoding="utf-8",
    )
    matcher = Matcher(load_rules([tmp_path]))
    text = "The MoU signed on 13 August sets out training."
    (m,) = matcher.match(Document("d", "", text))
    (hit,) = m.hits
    assert text[hit.start : hit.end] == "MoU signed on 13 August"
    assert matcher.match(Document("d", "", "The accord signed on 13 August")) == ()


def test_many_rules_only_matching_ones_are_reported(tmp_path):
    body = []
    for i in range(2000):
        body.append(
            f'[[entities]]\nid = "e{i}"\nname = "Zorvath{i} Quillon"\nkind = "person"\n'
            f'[[rules]]\nid = "r{i}"\ntitle = "rule {i}"\nseverity = "low"\n'
            f'condition = {{ all = [{{ entity = "e{i}" }}, {{ terms = ["army", "training"] }}] }}\n'
        )
    (tmp_path / "many.toml").write_text("\n".join(body), encoding="utf-8")
    matcher = Matcher(load_rules([tmp_path]))
    found = matcher.match(
        Document("d", "", "The army training with Zorvath1999 Quillon and Zorvath7 Quillon.")
    )
    assert sorted(m.rule_id for m in found) == ["r1999", "r7"]


def test_a_long_article_keeps_exact_offsets(matcher):
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 5000
    text = filler + "Türkiye will train the Syrian army. " + filler + "Final words of Murhef Abu Kasra."
    found = matched(matcher, text)
    (hit,) = found["leader"].hits
    assert text[hit.start : hit.end] == "Murhef Abu Kasra"
    assert {text[h.start : h.end] for h in found["cooperation"].hits} == {"Türkiye", "train", "Syrian"}


def test_one_matcher_serves_many_threads(matcher):
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        f"Doc {i}: Murhef Abu Kasra met Türkiye's officials; Türkiye will train the Syrian army. "
        * (i % 7 + 1)
        for i in range(60)
    ] + ["وتركيا تدرب الجيش السوري ضمن تعاون"] * 20
    expected = [[m.to_json() for m in matcher.match(Document(str(i), "", t))] for i, t in enumerate(texts)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(
            pool.map(
                lambda it: [m.to_json() for m in matcher.match(Document(str(it[0]), "", it[1]))],
                enumerate(texts),
            )
        )
    assert got == expected


def test_a_rule_satisfied_through_a_none_branch_is_still_found(tmp_path):
    # all = [C, any = [A, none = [B]]]: an article with C only matches, although A and B are absent
    (tmp_path / "r.toml").write_text(
        """
[[rules]]
id = "r"
title = "r"
severity = "low"
condition = { all = [{ terms = ["kobani", "raqqa", "hasakah", "qamishli", "deir"] },
                     { any = [{ term = "convoy" }, { none = [{ term = "ceasefire" }] }] }] }
""",
        encoding="utf-8",
    )
    matcher = Matcher(load_rules([tmp_path]))
    assert [m.rule_id for m in matcher.match(Document("d", "", "Shelling near Kobani."))] == ["r"]
    assert matcher.match(Document("d", "", "A ceasefire near Kobani.")) == ()
    assert [m.rule_id for m in matcher.match(Document("d", "", "A ceasefire convoy near Kobani."))] == ["r"]


def test_trigger_index_never_hides_a_match(tmp_path):
    """Random rule trees over a small vocabulary: indexed matching equals evaluating every rule."""
    import random

    rng = random.Random(7)
    words = ["kobani", "raqqa", "convoy", "ceasefire", "drones", "cadets", "border", "talks"]

    def tree(depth: int) -> str:
        roll = rng.random()
        if depth == 0 or roll < 0.35:
            picked = rng.sample(words, rng.randint(1, 3))
            return "{ terms = [" + ", ".join(f'"{w}"' for w in picked) + "] }"
        op = rng.choice(["all", "any", "none", "near"])
        children = ", ".join(tree(depth - 1) for _ in range(rng.randint(2, 3)))
        if op == "near":
            children = ", ".join("{ terms = [" + f'"{w}"' + "] }" for w in rng.sample(words, 2))
            return f"{{ near = [{children}], within = {rng.randint(1, 4)} }}"
        return f"{{ {op} = [{children}] }}"

    rules, count = [], 0
    while count < 60:
        condition = tree(3)
        body = (
            f'[[rules]]\nid = "r{count}"\ntitle = "r"\nseverity = "low"\n'
            f'condition = {{ all = [{{ terms = ["{rng.choice(words)}"] }}, {condition}] }}\n'
        )
        (tmp_path / "probe.toml").write_text(body, encoding="utf-8")
        try:
            load_rules([tmp_path / "probe.toml"])
        except Exception:
            continue
        rules.append(body)
        count += 1
    (tmp_path / "probe.toml").unlink()
    (tmp_path / "all.toml").write_text("\n".join(rules), encoding="utf-8")
    indexed = Matcher(load_rules([tmp_path]))
    exhaustive = Matcher(load_rules([tmp_path]))
    exhaustive._always = list(range(len(exhaustive.rules.rules)))  # evaluate every rule on every document
    matched = 0
    for _ in range(300):
        text = " ".join(rng.choice(words + ["the", "and"]) for _ in range(rng.randint(1, 12)))
        doc = Document("d", "", text)
        found = [m.to_json() for m in indexed.match(doc)]
        assert found == [m.to_json() for m in exhaustive.match(doc)], text
        matched += bool(found)
    assert 50 < matched < 300  # the comparison is not vacuous
