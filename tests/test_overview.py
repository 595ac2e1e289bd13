"""Overview questions: the sentences that carry an article's structure, in its order, each
cited (assistant/answering/overview.py); an overview of something no article holds is refused."""

from __future__ import annotations

import pytest

from assistant.answering import question as q
from assistant.answering.overview import overview_sentences, topic_words
from assistant.schema import Context
from eval.judge import enough
from ingest.text.markers import strip_markers

PARTS = [
    "一年来，东湾开发区实施管委会与街道协同、与平台公司联合、与园区互动的机制，激发了活力。"
    "今天天气很好。",
    "园区方面，开发区与运营公司联合招商，园区引进企业120家。园区还举办了招商会。",
    "街道方面，开发区与街道建立联席会议机制，街道负责征地清场。街道与开发区共享信息。",
    "平台公司方面，平台公司资产总额达到300亿元。平台公司承担开发建设职能。",
]


def article() -> list[Context]:
    out, at = [], 0
    for i, text in enumerate(PARTS):
        out.append(Context(f"c{i}", "a.txt", text, 0.0, "东湾", at, at + len(text), i))
        at += len(text) + 1
    return out


@pytest.mark.parametrize(
    "question",
    ["总结一下改革的主要做法", "概括一下这篇文章", "开发区改革有哪些主要做法？",
     "What changed in the reform?", "Summarize the article", "What are the main measures?"],
)  # fmt: skip
def test_overview_questions_are_recognised(question):
    assert q.kind(question) == "overview"


@pytest.mark.parametrize("question", ["平台公司资产总额是多少？", "What are the total assets?"])
def test_questions_about_one_fact_are_not_overviews(question):
    assert q.kind(question) != "overview"


def test_the_sentence_naming_the_parts_leads_and_the_order_is_the_articles():
    chosen = overview_sentences(article(), most=3)
    texts = [s.text for s in chosen]
    assert texts[0].startswith("一年来")  # it names every part
    assert "今天天气很好。" not in texts
    contexts = article()
    starts = [contexts[s.context_rank].char_start + s.start for s in chosen]
    assert starts == sorted(starts)


def test_an_overview_of_one_part_reads_that_part_first():
    chosen = overview_sentences(article(), topic=[["街道"], ["协同"]], most=2)
    assert all("街道" in s.text for s in chosen)


def test_the_topic_is_the_question_less_the_overview_words():
    assert topic_words("总结一下平台公司的做法", lambda w: True)[0] == ["平台公司"]
    assert topic_words("总结一下平台公司的做法", lambda w: w != "平台公司")[0] == ["平台", "公司"]
    words, unknown = topic_words("总结一下火星殖民计划", lambda w: w == "计划")
    assert unknown == ["火星", "殖民"]


def test_k_of_n_points():
    assert enough(["match", "missing", "match"], {"min_facts": 2})
    assert not enough(["match", "missing", "match"], {})


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "lang"), [("总结一下改革的主要做法", "zh"), ("What changed in the reform?", "en")]
)
def test_the_zone_article_overview_names_its_three_mechanisms(article_assistant, question, lang):
    answer = article_assistant.ask(question)
    assert not answer.refused
    plain = strip_markers(answer.answer)
    for part in ("属地街道", "平台公司", "园区"):
        assert part in plain
    assert len(answer.citations) >= 3
    assert all(c.quote in answer.answer for c in answer.citations)
    assert answer.answer.startswith("Quoted in Chinese") == (lang == "en")


@pytest.mark.integration
@pytest.mark.parametrize(
    "question", ["总结一下火星殖民计划", "Summarize the Mars colonization plan"]
)
def test_an_overview_of_what_no_article_holds_is_refused(article_assistant, question):
    answer = article_assistant.ask(question)
    assert answer.refused
    assert "火星" in answer.signals["refused_by"] or "mars" in answer.signals["refused_by"]
