"""Chinese names an English question spells in pinyin, found in the articles however jieba cut
them (ingest/text/pinyin.py, QueryTranslator.names)."""

from __future__ import annotations

import pytest

from assistant.answering.translate import QueryTranslator
from ingest.substrings import SubstringCounter
from ingest.text.pinyin import characters, spelled_names, spelling, split_syllables

ENGLISH = frozenset({"women", "china", "hong", "kong", "maria", "shandong"})


def test_a_key_splits_into_syllables_or_is_not_pinyin():
    assert split_syllables("rihua") == ["ri", "hua"]
    assert split_syllables("zhuangshuang") == ["zhuang", "shuang"]
    assert split_syllables("fighter") is None
    assert spelling("Li-yin") == "liyin" and spelling("Lü") == "lv"


def test_characters_read_as_their_syllable_also_without_the_umlaut():
    assert "李" in characters("li") and "日" in characters("ri")
    assert "吕" in characters("lu")  # lü, which English spells lu


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did Li Rihua pass the exam?", [("Li Rihua", ("lirihua", "rihua"), True)]),
        ("Why was Empress He Fani demoted?", [("He Fani", ("hefani", "fani"), True)]),
        ("Where is Qu Cheng from?", [("Qu Cheng", ("qucheng",), False)]),
        ("How many firms are in Huangdao?", [("Huangdao", ("huangdao",), False)]),
        ("Where is Hong Kong?", [("Hong Kong", ("hongkong",), False)]),
        # English words are not names, whatever they read as (wo-men, chi-na).
        ("How big is Shandong Women's University in China?", []),
        ("What did Maria Sharapova win?", []),
    ],
)
def test_runs_of_capitalised_pinyin_words_may_be_names(question, expected):
    got = [(s.text, s.keys, s.is_name) for s in spelled_names(question, ENGLISH)]
    assert got == expected


@pytest.fixture(scope="module")
def translator() -> QueryTranslator:
    texts = ["李日华，字君实，明代书画家。", "何法倪是晋安帝的皇后。", "青岛开发区的黄岛"]
    counter = SubstringCounter.build(texts)
    return QueryTranslator(lambda: frozenset({"书画家", "皇后"}), spelled=counter.spelled)


def test_a_spelled_name_reaches_the_characters_the_articles_write(translator):
    """何法倪 is no word of the vocabulary (jieba cuts it), but the articles hold it."""
    names = translator.names("Why was He Fani chosen to be empress?")
    assert [(s.text, words) for s, words in names] == [("He Fani", frozenset({"何法倪"}))]
    assert translator.groups("Why was He Fani chosen to be empress?") == [
        frozenset({"何法倪"}),
        frozenset({"皇后"}),
    ]
    assert "李日华" in translator.to_chinese("What did Li Rihua paint?")


def test_a_name_no_article_holds_is_reported_without_words(translator):
    """A surely-a-name run the articles cannot read is an unknown name (the decision refuses
    questions about things the articles lack)."""
    names = translator.names("What did Zhang Sanfeng invent?")
    assert [(s.text, words) for s, words in names] == [("Zhang Sanfeng", frozenset())]
    assert translator.groups("What did Zhang Sanfeng invent?") == []


def test_without_the_articles_strings_no_name_is_looked_up():
    assert QueryTranslator(lambda: frozenset()).names("What did Li Rihua paint?") == []


def test_an_english_question_weighs_a_spelled_name_as_a_chinese_one_would():
    """Found, the name is a known term the sentences are covered by; not found, it is an
    unknown name, as 注册资本 is in a Chinese question about an article without it."""
    from assistant.answering.selection import coverage_of, weigh_terms
    from ingest.lexical import LexicalIndex

    texts = ["何法倪是晋安帝的皇后。", "晋安帝在位二十二年。"]
    index = LexicalIndex.build(["a", "b"], texts, "names")
    translator = QueryTranslator(lambda: index.vocabulary, spelled=index.spelled)
    found = weigh_terms("Who did He Fani marry?", "en", index, translator)
    assert any(t.words == frozenset({"何法倪"}) and t.known for t in found)
    assert coverage_of(found, texts[0]) > coverage_of(found, texts[1])
    missing = weigh_terms("Who did Zhang Sanfeng marry?", "en", index, translator)
    assert [t.words for t in missing if t.specific and not t.known] == [
        frozenset({"zhang sanfeng"})
    ]


def test_an_english_question_no_word_of_which_translates_finds_a_latin_name_as_written():
    """ "What is MIT OpenCourseWare?" over an article that writes the name in Latin letters: the
    name is the question's term (it was refused as asking nothing); beside translated words,
    a Latin word is not added."""
    from assistant.answering.selection import weigh_terms
    from ingest.lexical import LexicalIndex

    texts = ["MIT OpenCourseWare是由麻省理工学院在2002年创始的一项计划。", "它的目标是开放课程。"]
    index = LexicalIndex.build(["a", "b"], texts, "latin")
    translator = QueryTranslator(lambda: index.vocabulary, spelled=index.spelled)
    terms = weigh_terms("What is MIT OpenCourseWare?", "en", index, translator)
    assert sorted(w for t in terms for w in t.words) == ["mit", "opencourseware"]
    assert all(t.known for t in terms)
    assert weigh_terms("What is Kyllinga?", "en", index, translator) == []
    beside = weigh_terms("What is the goal of MIT OpenCourseWare?", "en", index, translator)
    assert [sorted(t.words) for t in beside] == [["目标"]]


def test_readings_come_without_importing_pypinyin_and_equal_its_table():
    """pypinyin's package import loads its phrase dictionary, a quarter second of every cold
    English question: the readings are read from its table's module alone."""
    import subprocess
    import sys

    code = (
        "import sys; from ingest.text.pinyin import _readings, syllables; syllables(); "
        "print('pypinyin' in sys.modules, len(_readings()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from pypinyin.pinyin_dict import pinyin_dict

    assert out.stdout.split() == ["False", str(len(pinyin_dict))]
    from ingest.text.pinyin import _readings

    assert _readings() == pinyin_dict
