"""The short answer: the asked fact, verbatim from the chosen sentence."""

from __future__ import annotations

import pytest

from assistant.answering import question as q
from assistant.answering.selection import Term
from assistant.answering.short_answer import short_answer, template_span
from ingest.text.tokens import question_terms


def terms_of(question: str) -> list[Term]:
    """Every content word of the question, rarer (longer) words weighing more."""
    return [
        Term(frozenset({w}), float(len(w)), True, noun=bool(kind))
        for w, kind in question_terms(question)
    ]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (  # a span of two figures is one answer, not its upper bound
            "非洲猴面包树的果子大概有几厘米长？",
            "非洲猴面包树的果实长约15至20厘米。",
            "约15至20厘米",
        ),
        (  # a figure with its unit, the first of two
            "中电光谷招商落户了多少家市场主体？",
            "招商落户（含注册）各类市场主体1900余家，投资超千万元的600余家。",
            "1900余家",
        ),
        (  # a figure the question states (7个) is not the answer
            "7个重点主题园区新引进了多少个入驻项目？",
            "今年以来，7个重点主题园区新引进入驻项目49个，储备重点在谈项目28个。",
            "49个",
        ),
        (  # 从多少…到多少: a range
            "开投集团资产从多少增长到了多少？",
            "其中所属开投集团资产短短3年多时间实现从5000万元到260亿元的跨越。",
            "5000万元到260亿元",
        ),
        (
            "开发区是从什么时候开始全面改革的？",
            "自2020年9月份全面改革以来，开发区立足新发展阶段。",
            "2020年9月份",
        ),
        (
            "拉萨河的支流有哪些？",
            "主要支流有：麦曲、桑曲、拉曲、学绒藏布及堆龙曲等。",
            "麦曲、桑曲、拉曲、学绒藏布及堆龙曲",
        ),
        ("生命数耗完即算为什么？", "玩家生命数耗完即算为踢爆，游戏结束。", "踢爆"),
        pytest.param(  # the longest question piece wins over the nearest one: a known limit
            "潘仕成的祖籍在哪里？",
            "潘仕成，字德畬，祖籍福建，家族世居广州。",
            "福建",
            marks=pytest.mark.xfail(strict=True, reason="aligns on 潘仕成, not 祖籍"),
        ),
        ("园区管委会每隔多久召开一次会议？", "园区管委会每月召开一次联席会议。", "每月"),
        (  # a bracketed aside of a lead sentence is not where the answer starts
            "潘嘉丽的职业是什么？",
            "潘嘉丽（英文名：Joanna Poon），是新加坡歌手",
            "新加坡歌手",
        ),
        (  # nor a -{…}- variant
            "猴面包树的别名是什么？",
            "猴面包树-{zh-hant:猴麵包樹}-，又名猢狲树",
            "又名猢狲树",
        ),
        (  # empty brackets at the end are left out
            "希尔伯特空间中每个线性算子有一个相应的什么？",
            "希尔伯特空间中每个线性算子有一个相应的伴随算子（）",
            "伴随算子",
        ),
        (  # the measure asked for (毫米), not the 一 of 一样
            "香港地铁使用的轨距是多少毫米的？",
            "香港地铁则使用和伦敦地铁一样的1432毫米轨距",
            "1432毫米",
        ),
    ],
)
def test_the_asked_fact_verbatim(question: str, sentence: str, expected: str) -> None:
    got = short_answer(question, sentence, q.kind(question), terms_of(question))
    assert got == expected
    assert got in sentence


def test_template_aligns_the_question_around_its_wh_word() -> None:
    sentence = "玩家生命数耗完即算为踢爆。"
    # 为什么 is the wh-word, so the span starts at 为 (which short_answer then trims)
    assert template_span("生命数耗完即算为什么？", sentence) == (9, 12)
    assert template_span("没有疑问词的句子", sentence) is None


def test_english_questions_take_the_name_near_the_question_words() -> None:
    question = "Which subdistrict did the zone draw up the 18 measures with?"
    sentence = "2020年10月，与属地辛安街道共同研究制定了全面深度协同作战“18条意见”。"
    terms = [Term(frozenset({"街道"}), 2.0, True, noun=True), Term(frozenset({"18"}), 1.0, True)]
    got = short_answer(question, sentence, q.kind(question), terms, lang="en")
    assert got in sentence and "辛安" in got
