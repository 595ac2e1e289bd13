"""Read closer (assistant/llm/reading.py): the reader reads the passages the answer decision ranks
best, cut to those sentences and their neighbours; its reply is streamed, then checked; the
eval reports it beside the extractive answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.citations import FIGURE_REMOVED
from assistant.answering.pipeline import Assistant
from assistant.answering.selection import Scored
from assistant.llm.reading import closer_passages, glossed
from assistant.schema import Answer, Context
from eval.render import render_side_by_side
from tests.test_llm_unit import FakeLLM, StaticRetriever, answerer_for

PARAGRAPH = "甲园区成立于2017年。园区引进企业120家。园区总投资30亿元。园区位于北区。园区有三条路。"
CHUNK = Context("c1", "a.txt", PARAGRAPH, 0.9, "甲", char_start=100, char_end=100 + len(PARAGRAPH))
OTHER = Context("c2", "b.txt", "乙街道负责征地。乙街道还负责服务。", 0.5, "乙")


def scored(ctx_rank: int, ctx: Context, n: int) -> Scored:
    """The n-th sentence of a context as a candidate."""
    from ingest.text.sentences import split_sentences

    start, end = split_sentences(ctx.text)[n]
    return Scored(0.0, 0.0, ctx_rank, start, end, ctx.text[start:end])


def test_the_best_sentences_with_their_neighbours_in_the_order_of_the_best():
    ranked = [scored(1, OTHER, 1), scored(0, CHUNK, 1), scored(0, CHUNK, 4)]
    passages = closer_passages(ranked, [CHUNK, OTHER], most=2)
    assert [p.chunk_id for p in passages] == ["c2", "c1"]
    assert passages[0].text == OTHER.text  # both its sentences (one and its neighbour)
    assert passages[1].text == "甲园区成立于2017年。园区引进企业120家。园区总投资30亿元。"
    assert passages[1].char_start == 100 and passages[1].char_end == 100 + len(passages[1].text)
    assert PARAGRAPH[: len(passages[1].text)] == passages[1].text  # verbatim, checkable
    # A third sentence of the same chunk widens its span to hold both.
    wide = closer_passages(ranked, [CHUNK, OTHER], most=3, neighbours=0)
    assert wide[1].text == "园区引进企业120家。园区总投资30亿元。园区位于北区。园区有三条路。"


def test_figures_and_dates_are_glossed_in_english_after_them():
    assert glossed("2020年9月以来，招商1900余家，总资产近700亿元。") == (
        "2020年9月〔September 2020〕以来，招商1900余家〔more than 1,900〕，"
        "总资产近700亿元〔nearly 70 billion yuan〕。"
    )
    assert glossed("没有数字。") == "没有数字。"


def reader_assistant(fake: FakeLLM, tmp_path: Path, ranked_first: int = 1) -> Assistant:
    def closer(question: str, contexts, lang: str) -> list[Context]:
        return closer_passages([scored(0, CHUNK, ranked_first)], contexts, most=1)

    return Assistant(
        StaticRetriever(contexts=[CHUNK]),
        answerer_for(tmp_path, fake.url),  # not asked: it is the fast answer's place
        reader=answerer_for(tmp_path, fake.url),
        closer=closer,
    )


def test_read_closer_streams_the_reply_then_the_checked_answer(tmp_path: Path):
    with FakeLLM("园区引进企业120家。[1]园区引进企业999家。[1]") as fake:
        pieces = list(reader_assistant(fake, tmp_path).read_closer("甲园区引进了多少企业？"))
        prompt = fake.requests[-1]["messages"][1]["content"]
    *streamed, final = pieces
    assert "".join(streamed) == "园区引进企业120家。[1]园区引进企业999家。[1]"
    assert isinstance(final, Answer) and not final.refused
    # the unsupported figure is gone, and the answer says so
    assert final.answer == "园区引进企业120家。[1]\n" + FIGURE_REMOVED["zh"]
    assert final.citations[0].quote == "园区引进企业120家。"
    # The reader read the best sentence with its neighbours, not the whole chunk.
    assert "甲园区成立于2017年。园区引进企业120家。园区总投资30亿元。" in prompt
    assert "园区有三条路" not in prompt


def test_without_a_reader_read_closer_says_how_to_configure_one(tmp_path: Path):
    from assistant.errors import AssistantError

    with FakeLLM("x") as fake:
        plain = Assistant(StaticRetriever(contexts=[CHUNK]), answerer_for(tmp_path, fake.url))
        with pytest.raises(AssistantError, match="ASSISTANT_LLM_ROLE=read"):
            plain.read_closer("问题？")


def test_the_eval_shows_the_reader_beside_the_extractive_answers():
    row = {"n": 2, "fact_accuracy": 0.5, "grounded_accuracy": 0.5, "citation_support": 1.0,
           "false_refusal": 0.5, "negative_rejection": None, "figure_faithfulness": 1.0,
           "latency_p50": 40.0, "latency_p95": 55.0}  # fmt: skip
    slow = dict(row, fact_accuracy=1.0, latency_p50=3000.0, latency_p95=9000.0)
    report = {"summary": {"assistant": {"overall": row}, "textbook": {"overall": row},
                          "reader": {"overall": slow}}}  # fmt: skip
    lines = render_side_by_side(report).splitlines()
    assert lines[2].split()[:4] == ["overall", "extractive", "2", "0.500"]
    assert lines[3].split()[:4] == ["overall", "reader", "2", "1.000"]
    assert lines[3].split()[-3:] == ["3000", "9000", "-"]  # no record of a first text
    report["records"] = {"reader": [{"type": "fact", "signals": {"first_text_ms": 1500.0}}]}
    assert render_side_by_side(report).splitlines()[3].split()[-1] == "1500"
    del report["summary"]["reader"]
    assert render_side_by_side(report) == ""


def test_the_chat_reads_closer_as_a_turn_of_its_own_shown_once_checked(tmp_path: Path):
    from assistant.web.chat import READING, ChatController
    from assistant.web.feedback import FeedbackStore
    from assistant.web.render import Turn

    reply = "园区引进企业120家。[1]园区引进企业999家。[1]"
    with FakeLLM(reply) as fake:
        assistant = reader_assistant(fake, tmp_path)
        chat = ChatController(assistant, FeedbackStore.in_data_dir(tmp_path), tmp_path, 0)
        asked = Turn.new("甲园区引进了多少企业？", error="(the fast answer)")
        updates = list(chat.read_closer([asked]))
    *reading, (_, messages, turns) = updates
    assert reading and all(READING in u[1][-1]["content"] for u in reading)
    assert all("999" not in u[1][-1]["content"] for u in reading)  # never the unchecked text
    assert len(turns) == 2 and turns[1].closer and turns[1].question == asked.question
    assert messages[2]["content"].count("细读 · Read closer: 甲园区引进了多少企业？") == 1
    assert "120家" in messages[3]["content"] and "999" not in messages[3]["content"]
    # Read closer again: it reads the question asked, not its own turn.
    with FakeLLM(reply) as fake:
        chat.assistant = reader_assistant(fake, tmp_path)
        *_, (_, _, again) = chat.read_closer(turns)
    assert [t.question for t in again] == [asked.question] * 3


def test_without_a_reader_the_chat_has_nothing_to_read_closer(tmp_path: Path):
    from assistant.web.chat import ChatController
    from assistant.web.feedback import FeedbackStore
    from assistant.web.render import Turn

    with FakeLLM("x") as fake:
        plain = Assistant(StaticRetriever(contexts=[CHUNK]), answerer_for(tmp_path, fake.url))
        chat = ChatController(plain, FeedbackStore.in_data_dir(tmp_path), tmp_path, 0)
        turns = [Turn.new("问题？", error="e")]
        assert list(chat.read_closer(turns))[-1][2] == turns
