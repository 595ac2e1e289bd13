"""The Chinese-text layer (ingest/text): width, sentences, tokens, markers, quantities."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jieba
import pytest

from eval.matching import extract_numbers
from ingest.text import markers, quantities
from ingest.text.sentences import sentences, split_sentences
from ingest.text.tokens import bigrams, question_terms, tokenize
from ingest.text.width import collapse, fold, language, squash, visible

SENTENCE = "开发区的综合考评在全省排第几？"

# --- width and whitespace --------------------------------------------------------------------


def test_fold_squash_collapse_visible():
    assert fold("ＡＢＣ１２３，Ｘ") == "abc123,x"
    assert squash(" 投资 超\n千万元 ") == "投资超千万元"
    assert collapse("  a \n\t b  ") == "a b"
    assert visible("中电\x00光谷\u200b招商\u202e") == "中电 光谷 招商 "
    assert (language("How many?"), language("多少"), language("")) == ("en", "zh", "en")
    # An English question naming a Chinese entity is English; a Chinese one naming a brand is not.
    assert (
        language(
            "How many market entities has China Electronics Optics Valley (中电光谷) attracted?"
        )
        == "en"
    )
    assert language("What is 中电光谷?") == "en"
    assert (language("华为P40的价格是多少？"), language("iPhone在中国卖多少钱")) == ("zh", "zh")
    # A Chinese question word makes it Chinese, whatever English it names.
    assert language("MIT OpenCourseWare指什么？") == "zh"
    assert language("《This Is Where I Came In》是Bee Gees的第几张原创专辑？") == "zh"


# --- sentences ---------------------------------------------------------------------------------


def test_sentences_keep_quotes_and_decimals_whole():
    text = "制定了“18条意见。”今年增长3.5%！下一句？"
    assert sentences(text) == ["制定了“18条意见。”", "今年增长3.5%！", "下一句？"]
    assert split_sentences("  ") == []


def test_an_initial_or_a_title_ends_no_sentence():
    """CMRC's 亚太基金会 passage: the quote and the short answer ended at "John H."."""
    text = "主席为约翰·麦克阿瑟（John H. McArthur）教授。Dr. Smith left the USA. 编号 No. 2。"
    assert sentences(text) == [
        "主席为约翰·麦克阿瑟（John H. McArthur）教授。",
        "Dr. Smith left the USA.",
        "编号 No. 2。",
    ]


# --- tokens --------------------------------------------------------------------------------------


def test_tokens_drop_stopwords_and_fold_width():
    tokens = tokenize("平台公司的资产总额是多少？ＡＢＣ")
    assert "的" not in tokens and "多少" not in tokens and "abc" in tokens
    assert {"平台", "公司", "资产", "总额"} <= set(tokens)
    terms = dict(question_terms("华为公司的注册资本是多少？"))
    assert terms["华为公司"] == "specific" and terms["注册资本"] == "specific"
    assert bigrams("投资a1900") == {"投资", "19", "90", "00"}


def test_jieba_from_its_kept_files_cuts_and_tags_as_jieba_itself(tmp_path):
    """jieba's words and tags read a word at a time from the table kept beside jieba's cache
    (0.4 s of a cold question when loaded whole), and read whole once a process has cut much
    text: the same cuts and tags as jieba's own loading, made anew and read back."""
    # a text of 35k of jieba's own words: more reads than loading the whole table costs
    long_text = tmp_path.parent / "long.txt"
    words = Path(jieba.__file__).with_name("dict.txt").read_text(encoding="utf-8").split("\n")
    long_text.write_text("，".join(line.split(" ")[0] for line in words[::10]), encoding="utf-8")
    ours = (
        "import hashlib, json, jieba; from ingest.text.tokens import _posseg, tagged; "
        f"cut = tagged({SENTENCE!r}); kind = type(jieba.dt.FREQ).__name__; "
        f"article = tagged(open({str(long_text)!r}).read()); "
        "tab = _posseg().dt.word_tag_tab; "
        "print(kind, type(jieba.dt.FREQ).__name__, type(tab).__name__, len(tab), "
        "hashlib.sha256(json.dumps([sorted(tab.items()), article]).encode()).hexdigest(), cut)"
    )
    jiebas = ours.replace("from ingest.text.tokens import _posseg, tagged",
                          "import jieba.posseg as p; _posseg = lambda: p; "
                          "tagged = lambda t: [(w.word, w.flag) for w in p.lcut(t)]")  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp_path)}

    def run(code: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True, timeout=120).stdout.split(maxsplit=5)  # fmt: skip

    made = run(ours)
    assert (tmp_path / "jieba.cache").is_file() and list(tmp_path.glob("jieba-words-*.sqlite"))
    read = run(ours)
    # a question's words read from the table, the long text's from the whole dictionary
    assert read[:3] == ["TableLookup", "dict", "dict"]
    assert read[3:] == made[3:] == run(jiebas)[3:]
    assert int(read[3]) > 300_000 and "('综合', " in read[5]


def test_a_kept_table_reads_a_key_at_a_time_then_whole(tmp_path, caplog):
    """A kept table answers like the mapping it was made from (a NULL value is no key); past
    `whole_after` reads, or when its file fails, the whole mapping answers."""
    from ingest.text.cached import TableLookup, kept_table, table_about

    whole = {"甲": 3, "甲乙": 0, "丙": 7}
    wholes: list[int] = []

    def load() -> dict[str, int]:
        wholes.append(1)
        return whole

    rows = [(w, f, "n" if f else None) for w, f in whole.items()] + [("丁", 1, None)]
    source = tmp_path / "source.txt"
    source.write_text("the dictionary the table is derived from")
    stale = tmp_path / "t-0.9-40.sqlite"  # another release's copy
    stale.write_bytes(b"old")
    path = kept_table(tmp_path, "t", source, "1.0", ["freq INTEGER", "tag TEXT"],
                      lambda: (rows, {"total": 10}))  # fmt: skip
    assert path is not None and table_about(path) == {"total": 10} and not stale.exists()
    tags = TableLookup(path, "tag", lambda: {"甲": "n", "丙": "n"}, whole_after=100)
    assert "甲乙" not in tags and tags.get("甲乙", "x") == "x" and tags["丙"] == "n"
    freq = TableLookup(path, "freq", load, whole_after=3)
    assert "甲乙" in freq and freq["甲乙"] == 0 and freq.get("乙") is None and freq.reads == 2
    assert freq.get("甲") == 3 and freq.loaded is None  # the third read
    assert freq.get("丙") == 7 and freq.loaded is whole and freq.reads == 3 and wholes == [1]
    with pytest.raises(KeyError):
        freq["乙"]
    assert len(freq) == 3 and wholes == [1]

    broken = TableLookup(path, "freq", load, whole_after=100)
    path.write_bytes(b"not a database")
    assert broken.get("丙") == 7 and broken.loaded is whole
    assert "cannot read" in caplog.text
    assert kept_table(tmp_path, "t", source, "1.0", ["freq INTEGER", "tag TEXT"],
                      lambda: (rows, {"total": 10})) == path  # fmt: skip
    assert TableLookup(path, "freq", load).get("丁") == 1  # made again


# --- citation markers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("甲【1】乙［2］", "甲[1]乙[2]"),
        ("甲[1, 2]。", "甲[1][2]。"),
        ("甲[1，3]、[2-4]", "甲[1][3]、[2][3][4]"),
        ("甲[^1] [资料2] [Passage 3]", "甲[1] [2] [3]"),
        ("在[2020]年", "在[2020]年"),  # four digits: a year, not a marker
        ("范围[1-40]", "范围[1][40]"),  # a range longer than 20 is two markers
    ],
)
def test_loose_markers_are_normalised(raw: str, expected: str):
    assert markers.normalize_markers(raw) == expected


def test_markers_strip_renumber_split_and_runs():
    text = "甲600 [1][2]。乙【3】"
    assert markers.strip_markers(text) == "甲600。乙"
    assert markers.marker_runs(text) == [(4, 11, [1, 2]), (13, 16, [3])]
    assert markers.cited_numbers("a[2]b[1]c[2]") == [2, 1]
    assert markers.renumber_markers("a[2]b[1]c[9]", {1: 5, 2: 6}) == "a[6]b[5]c[9]"
    assert markers.renumber_markers("a[2]", lambda n: n + 10) == "a[12]"
    assert markers.split_at_markers("a[1]b") == [("a", None), ("[1]", 1), ("b", None)]


# --- quantities ----------------------------------------------------------------------------------


def test_whole_numbers_and_scaled_amounts():
    assert quantities.contains_number("投资超千万元的600余家", "600")
    assert not quantities.contains_number("市场主体1600余家", "600")
    assert not quantities.contains_number("增长3.600", "600")
    # a number glued to Latin letters is part of a name, unless the claim says the same letters
    assert not quantities.contains_number("以2V2、4V4随机配对", "4", "", "minutes")
    assert quantities.contains_number("以4V4随机配对，4分钟内不得配对", "4", "", "minutes")
    assert quantities.contains_number("(40mm/L70)", "40", "a", "mm")
    assert quantities.contains_number("(40mm/L70)", "70", "L", "")
    assert not quantities.contains_number("T-92 40公厘", "92", "", "rounds")
    assert quantities.contains_number("T-92 40公厘", "92", "T", "")
    assert quantities.number_words("the T-92 gun", 6, 8) == ("T", "gun")
    assert quantities.number_words("within 4 minutes", 7, 8) == ("within", "minutes")
    found = quantities.amounts("近700亿元，over 70 billion yuan，1.5万，1,900余家，40%")
    assert [(a.value, a.direction, a.strict) for a in found] == [
        (7e10, "less", True), (7e10, "more", True), (15000, "", True), (1900, "more", False),
        (40, "", False),
    ]  # fmt: skip


def test_evidence_of_a_figure_a_date_a_frequency():
    assert quantities.has_number("新引进项目42个") and quantities.has_number("三个园区")
    assert not quantities.has_number("一年来，一个电话")
    assert quantities.has_date("2020年9月") and quantities.has_date("今年以来")
    # Era years are dates; 一年 is a span (an era's first year is 元年, its eleventh 十一年).
    assert all(map(quantities.has_date, ["宁康三年", "元年", "光绪十一年", "一九九五年"]))
    assert not quantities.has_date("一年来，青岛开发区创新实施") and not quantities.has_date(
        "一年级"
    )
    assert quantities.has_frequency("每月召开一次") and not quantities.has_frequency("定期召开")
    assert quantities.has_figure_in("总投资350余亿元", "亿元")
    assert not quantities.has_figure_in("总投资350余亿元", "美元")


def test_figures_and_dates_in_english():
    found = quantities.figures("各类市场主体1900余家，总投资350余亿元，近40%，3个")
    assert [(f.text, f.value, f.approx, f.unit) for f in found] == [
        ("1900余家", 1900.0, True, "家"),
        ("350余亿元", 3.5e10, True, "元"),
        ("近40%", 40.0, False, "%"),
        ("3个", 3.0, False, "个"),
    ]
    assert [quantities.english_figure(f) for f in found] == [
        "more than 1,900",
        "more than 35 billion yuan",
        "nearly 40%",
        "3",
    ]
    assert quantities.dates("2019年11月，2020年") == [
        ("2019年11月", 0, 2019, 11, None),
        ("2020年", 9, 2020, None, None),
    ]
    assert quantities.dates("8月16日决赛") == [("8月16日", 0, None, 8, 16)]
    assert quantities.english_date(None, 8, 16) == "August 16"
    assert quantities.english_date(2019, 11) == "November 2019"


@pytest.mark.parametrize(
    "text", ["1900余家", "350余亿元", "近700亿元", "5000万元", "投资超千万元的600余家", "49个"]
)
def test_figures_agree_with_the_eval_judge(text: str):
    """The eval keeps its own parser on purpose (an independent judge); both read the same
    values from the figures the answerer states."""
    ours = [f.value for f in quantities.figures(text)]
    judge = [q.value for q in extract_numbers(text) if q.unit or q.approx]
    assert ours and set(ours) <= set(judge)


@pytest.mark.parametrize(
    ("text", "name", "place", "rank"),
    [
        ("赛轮集团发布了年报。", True, False, False),
        ("商务部发布了考评结果。", True, False, False),
        ("综合考评位居全省首位。", False, True, True),
        ("项目落户在朝阳区望京街道。", False, True, False),
        ("今年引进项目42个。", False, False, False),
        ("他获得了第二名。", False, False, True),
    ],
)
def test_names_places_and_ranks(text: str, name: bool, place: bool, rank: bool) -> None:
    """What a 谁 / 哪里 / 第几 question needs a sentence to hold (ingest/text/entities.py)."""
    from ingest.text.entities import has_name, has_place, has_rank

    assert (has_name(text), has_place(text), has_rank(text)) == (name, place, rank)
