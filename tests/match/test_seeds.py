"""The default rule pack: every seed matches with its explanation, variants in three scripts
match, and hard negatives stay silent."""

from pathlib import Path

import pytest

from watcher.match.matcher import Document, Matcher
from watcher.match.rules import load_rules
from watcher.text.fold import normalise_term

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def pack() -> Matcher:
    rules = load_rules([ROOT / "rules"])
    assert rules.warnings == ()
    return Matcher(rules)


def rule_ids(pack: Matcher, text: str, title: str = "") -> set[str]:
    return {m.rule_id for m in pack.match(Document("t", title, text))}


EXPECTED = {
    "000": {"turkey-syria-defence", "syria-defence-minister"},
    "001": {"turkey-syria-defence"},
    "002": {"turkey-syria-defence", "syria-defence-minister", "sdf-integration"},
    "003": {"turkey-syria-defence", "syria-defence-minister"},
    "004": {"turkey-syria-defence", "sdf-integration"},
}


def test_the_seed_corpus_is_here():
    assert [p.name[:3] for p in SEEDS] == sorted(EXPECTED)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name[:3])
def test_every_seed_matches_the_pack_with_an_explanation(pack, seed):
    text = seed.read_text(encoding="utf-8")
    matches = pack.match(Document(seed.name, "", text))
    assert {m.rule_id for m in matches} == EXPECTED[seed.name[:3]]
    for m in matches:
        assert m.hits and m.score > 0
        for hit in m.hits:
            written = normalise_term(text[hit.start : hit.end])
            term = normalise_term(hit.term.rstrip("*"))
            assert written == term or (hit.term.endswith("*") and written.startswith(term))
            assert normalise_term(text[hit.start : hit.end]) in normalise_term(hit.snippet)


def test_the_minister_is_found_in_each_spelling_the_seeds_use(pack):
    spellings = set()
    for seed in SEEDS:
        text = seed.read_text(encoding="utf-8")
        for m in pack.match(Document(seed.name, "", text)):
            if m.rule_id == "syria-defence-minister":
                spellings |= {text[h.start : h.end] for h in m.hits}
    assert {"Murhef Abu Kasra", "Murhaf Abu Kasra", "Murhaf Abu Qasra"} <= spellings


@pytest.mark.parametrize(
    "text, rule",
    [
        # the defence minister, any spelling or script
        ("Syria's defence minister Murhaf Abu Qasra visited the front.", "syria-defence-minister"),
        ("Savunma Bakanı Murhaf Ebu Kasra, Ankara'da görüştü.", "syria-defence-minister"),
        ("التقى وزير الدفاع السوري مرهف أبو قصرة نظيره", "syria-defence-minister"),
        ("Le ministre Mourhaf Abou Qasra a déclaré", "syria-defence-minister"),
        # cooperation, in English, Turkish and Arabic
        ("Türkiye will train and equip the new Syrian army, the ministry said.", "turkey-syria-defence"),
        (
            "Turkish instructors began advising Syria's armed forces at bases near Damascus.",
            "turkey-syria-defence",
        ),
        (
            "Milli Savunma Bakanlığı, Suriye ordusuna eğitim ve danışmanlık desteği verildiğini açıkladı.",
            "turkey-syria-defence",
        ),
        ("أعلنت وزارة الدفاع التركية بدء تدريب وحدات من الجيش السوري الجديد", "turkey-syria-defence"),
        (
            "Ankara and Damascus signed the Joint Training and Advisory MoU; Syria's army will benefit.",
            "turkey-syria-defence",
        ),
        ("Syrian officers have started courses at Turkey's war academies.", "turkey-syria-defence"),
        ("Ankara will deliver drones and air defence systems to Damascus.", "turkey-syria-defence"),
        ("Turkey and Syria signed a defence pact in Ankara.", "turkey-syria-defence"),
        (
            "Turkish Defence Minister Yaşar Güler said Ankara would keep supporting the restructuring of the Syrian army.",
            "turkey-syria-defence",
        ),
        ("Turkey plans to set up military bases in central Syria.", "turkey-syria-defence"),
        ("Türkiye, Suriye'de yeni askeri üsler kurmaya hazırlanıyor.", "turkey-syria-defence"),
        ("Suriyeli subaylar Türkiye'deki harp akademilerinde kursa başladı.", "turkey-syria-defence"),
        (
            "Turkey, Syria, Jordan and Iraq set up a joint operations centre against ISIS.",
            "turkey-syria-defence",
        ),
        ("Türkiye ve Suriye, DEAŞ'a karşı koordinasyon mekanizması kurdu.", "turkey-syria-defence"),
        ("اتفقت تركيا وسوريا على تنسيق الجهود ضد داعش", "turkey-syria-defence"),
        ("Erdoğan backed al-Sharaa's call for one state, one army.", "turkey-syria-defence"),
        # SDF integration
        (
            "The SDF agreed to merge its fighters into the Syrian army under the March 10 agreement.",
            "sdf-integration",
        ),
        ("SDG'nin Suriye ordusuna entegrasyonu yavaş ilerliyor, dedi Fidan.", "sdf-integration"),
        (
            "Suriye Demokratik Güçleri'nin yeni Suriye ordusuna katılımı için 10 Mart mutabakatı uygulanıyor.",
            "sdf-integration",
        ),
        ("بدأ دمج قوات سوريا الديمقراطية في الجيش السوري", "sdf-integration"),
        ("بدأ تنفيذ اتفاق ١٠ آذار لدمج قسد في الجيش السوري", "sdf-integration"),
        ("Ankara urged the YPG to integrate into Syria's army as agreed.", "sdf-integration"),
    ],
)
def test_variants_in_three_scripts(pack, text, rule):
    assert rule in rule_ids(pack, text)


@pytest.mark.parametrize(
    "text",
    [
        # Japan's Self-Defense Forces
        "Japan's Self-Defense Forces (SDF) will integrate new drones into their training, Tokyo said.",
        "The SDF held joint training with US forces near Okinawa; the SDF plans to merge two units.",
        # Turkey's defence ties with other countries
        "Turkey will train and equip Somalia's army under a defence cooperation agreement signed in Ankara.",
        "Türkiye and Azerbaijan held joint military exercises; Turkish officers advise Azerbaijan's army.",
        "Turkish troops will help train Libya's military, the defence ministry in Ankara said.",
        "About 5,000 Turkish troops are stationed at the joint Türkiye-Qatar base, which supports Qatar's army.",
        # civilian Turkey–Syria deals
        "Turkey and Syria signed an agreement to supply natural gas and electricity to Aleppo.",
        "Turkish and Syrian trade ministers agreed to rebuild border crossings and cut tariffs.",
        "Ankara and Damascus discussed cooperation on Euphrates water sharing and dams.",
        "Turkey's AFAD and the Syria Civil Defence (White Helmets) cooperated in earthquake relief, with support teams.",
        "Turkish Airlines resumed flights to Damascus; the airline will train Syrian cabin crews.",
        # other countries' military ties with Syria
        "Russia will train the Syrian army and keep its military bases at Hmeimim and Tartus.",
        "Saudi Arabia offered to support Syria's armed forces with training programmes.",
        # the bird and sport
        "Thanksgiving tip: brine the turkey overnight; Syrian spices and army of helpers support the cook.",
        "Turkey beat Syria 2-0 in the World Cup qualifier; Turkish defence held, training paid off.",
        "Syrian cadets trained in Turkey's national football team camp ahead of the qualifier.",
        # the same in Turkish and Arabic
        "Türkiye ile Azerbaycan ortak askeri tatbikat düzenledi; Türk subaylar eğitim verdi.",
        "Türkiye ve Suriye arasında doğalgaz ve elektrik anlaşması imzalandı, ticaret desteklenecek.",
        "Milli takım Suriye'yi 2-0 yendi; Türkiye savunmada başarılıydı ve antrenman işe yaradı.",
        "روسيا تدرب الجيش السوري وتحتفظ بقواعدها العسكرية في حميميم",
        "وقعت تركيا وسوريا اتفاقية لتوريد الكهرباء والغاز ودعم التجارة",
        # others' strikes on Syrian bases
        "Turkey condemned Israeli strikes on Syrian army bases near Damascus.",
        "Turkey and Syria will open army talks with us, Kurdish officials said.",
        # other actors' operations against ISIS in Syria
        "The US-led coalition and the SDF conducted joint raids against ISIS in eastern Syria, angering Turkey.",
        # unrelated mentions
        "The SDF and Turkey traded fire near Kobani; no talks on military cooperation were held.",
        "Abu Dhabi's defence minister met Qasr al-Watan officials.",
    ],
)
def test_hard_negatives_stay_silent(pack, text):
    assert rule_ids(pack, text) == set()


def test_title_and_text_both_count(pack):
    found = pack.match(Document("t", "Murhaf Abu Qasra in Ankara", "The minister met officials."))
    # (a Syrian defence minister meeting officials in Ankara is also a Turkish–Syrian defence meeting)
    assert {m.rule_id for m in found} == {"syria-defence-minister", "turkey-syria-defence"}
    (m,) = [m for m in found if m.rule_id == "syria-defence-minister"]
    assert m.hits[0].field == "title"
    assert (m.hits[0].start, m.hits[0].end) == (0, 16)


def test_the_pack_stays_silent_on_real_general_news(pack):
    gold = ROOT.parent / "shared" / "fixtures" / "real" / "html" / "scrapinghub" / "ground-truth.json"
    import json

    articles = json.loads(gold.read_text(encoding="utf-8"))
    assert len(articles) > 100
    noisy = {
        key: [m.rule_id for m in pack.match(Document(key, "", value["articleBody"]))]
        for key, value in articles.items()
    }
    assert {k: v for k, v in noisy.items() if v} == {}
