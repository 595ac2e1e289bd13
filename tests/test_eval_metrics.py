"""Retrieval, answer, citation and latency metrics on hand-computed examples."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from eval.judge import Record, citation_supported, evidence_rank
from eval.metrics import (
    hit_at_k,
    mrr,
    percentile,
    rate,
    summarize,
)

RANKS = [1, 3, None, 2]


def test_hit_at_k() -> None:
    assert hit_at_k(RANKS, 1) == 0.25
    assert hit_at_k(RANKS, 2) == 0.5
    assert hit_at_k(RANKS, 3) == 0.75
    assert hit_at_k(RANKS, 10) == 0.75
    assert hit_at_k([None], 5) == 0.0


def test_mrr() -> None:
    # (1 + 1/3 + 0 + 1/2) / 4 = 11/24
    assert mrr(RANKS) == pytest.approx(11 / 24)
    assert mrr([None, None]) == 0.0


@pytest.mark.parametrize("k", [0, -1, True, 1.0])
def test_hit_at_k_rejects_bad_k(k: Any) -> None:
    with pytest.raises(ValueError):
        hit_at_k(RANKS, k)


@pytest.mark.parametrize("ranks", [[], [0], [1, -2], [1.5]])
def test_rank_metrics_reject_bad_ranks(ranks: Any) -> None:
    with pytest.raises(ValueError):
        hit_at_k(ranks, 1)
    with pytest.raises(ValueError):
        mrr(ranks)


def test_evidence_rank() -> None:
    chunks = [
        "园区经济是推进区域高质量发展的重要载体。",
        "招商落户（含注册）各类市场主体1900\n余家，投资超千万元的600余家",
        "投资超千万元的600余家",
    ]
    assert evidence_rank("投资超千万元的600余家", chunks) == 2
    assert evidence_rank("市场主体 1900余家", chunks) == 2
    assert evidence_rank("辛安街道", chunks) is None
    # Evidence longer than a chunk: the chunk lies inside the evidence.
    assert evidence_rank("园区经济是推进区域高质量发展的重要载体。改革以来", chunks) == 1
    assert evidence_rank("x", []) is None
    with pytest.raises(ValueError):
        evidence_rank(" \n", chunks)


CHUNK = (
    "目前，平台公司资产总额近\n700亿元，"
    "其中所属开投集团资产短短3年多时间实现从5000万元到260亿元的跨越。"
)
EVIDENCE = "目前，平台公司资产总额近700亿元"


def test_citation_supported() -> None:
    assert citation_supported("平台公司资产总额近700亿元[1]。", CHUNK, EVIDENCE, [["700亿"]])
    assert citation_supported("资产近七百亿元【2】", CHUNK, None, [["700亿"]])
    assert citation_supported("Total assets are nearly 70 billion yuan [1].", CHUNK, EVIDENCE, [])


def test_citation_not_supported() -> None:
    # A number of the sentence that is not in the chunk.
    assert not citation_supported("资产总额近800亿元[1]。", CHUNK, EVIDENCE, [["700亿"]])
    # A chunk that holds neither the evidence nor the facts.
    assert not citation_supported("共6个子公司[1]。", "下设6个子公司", EVIDENCE, [["700亿"]])
    with pytest.raises(ValueError):
        citation_supported("句子", CHUNK, None, [])


def test_rate() -> None:
    assert rate([True, False, True, True]) == 0.75
    assert rate([]) is None
    with pytest.raises(ValueError):
        rate([1, 0])  # type: ignore[list-item]


def test_percentile() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    for bad in ([], [1.0, math.nan]):
        with pytest.raises(ValueError):
            percentile(bad, 50)
    with pytest.raises(ValueError):
        percentile(values, 101)


def record(
    type_: str,
    answerable: bool,
    refused: bool,
    correct: bool | None,
    rank: int | None,
    citation_ok: bool | None,
    latency_ms: float,
) -> Record:
    return Record(
        id="q", type=type_, answerable=answerable, refused=refused, correct=correct, rank=rank,
        citation_ok=citation_ok, latency_ms=latency_ms,
    )  # fmt: skip


RECORDS = [
    record("fact", True, False, True, 1, True, 100.0),
    record("fact", True, False, False, 4, False, 200.0),
    record("fact", True, True, None, None, None, 300.0),
    record("negative", False, True, None, None, None, 50.0),
    record("negative", False, False, None, 2, True, 150.0),
]


def test_summarize_per_type() -> None:
    summary = summarize(RECORDS)
    assert list(summary) == ["fact", "negative", "overall"]
    assert summary["fact"] == {
        "n": 3,
        "hit@1": pytest.approx(1 / 3),
        "hit@3": pytest.approx(1 / 3),
        "hit@5": pytest.approx(2 / 3),
        "mrr": pytest.approx((1 + 1 / 4) / 3),
        "fact_accuracy": pytest.approx(1 / 3),
        "grounded_accuracy": None,  # the records carry no grounding verdict
        "citation_support": 0.5,
        "negative_rejection": None,
        "false_refusal": pytest.approx(1 / 3),
        "short_accuracy": None,  # nor a short-answer verdict
        "short_precision": None,
        "short_shown": None,
        "short_chars_p50": None,
        "figure_faithfulness": None,
        "latency_p50": 200.0,
        "latency_p95": 290.0,
    }
    assert summary["negative"] == {
        "n": 2,
        "hit@1": None,
        "hit@3": None,
        "hit@5": None,
        "mrr": None,
        "fact_accuracy": None,
        "grounded_accuracy": None,
        "citation_support": None,
        "negative_rejection": 0.5,
        "false_refusal": None,
        "short_accuracy": None,
        "short_precision": None,
        "short_shown": None,
        "short_chars_p50": None,
        "figure_faithfulness": None,
        "latency_p50": 100.0,
        "latency_p95": 145.0,
    }


def test_short_answer_metrics() -> None:
    """Short accuracy is over answerable questions (a refusal counts as wrong); the median
    length over the short answers given."""
    rows = [
        replace(RECORDS[0], short_answer="1900余家", short_correct=True),
        replace(RECORDS[1], short_answer="中电光谷招商落户", short_correct=False),
        replace(RECORDS[2], refused=True, short_answer="", short_correct=False),
    ]
    m = summarize(rows)["overall"]
    assert m["short_accuracy"] == pytest.approx(1 / 3)
    assert m["short_chars_p50"] == pytest.approx((6 + 8) / 2)


def test_summarize_overall() -> None:
    overall = summarize(RECORDS)["overall"]
    assert overall["n"] == 5
    assert overall["hit@1"] == pytest.approx(1 / 3)
    assert overall["negative_rejection"] == 0.5
    assert overall["false_refusal"] == pytest.approx(1 / 3)
    # latencies 50, 100, 150, 200, 300: p50 is 150, p95 at position 3.8 is 200 + 0.8 * 100
    assert overall["latency_p50"] == 150.0
    assert overall["latency_p95"] == pytest.approx(280.0)


def test_summarize_by_another_key() -> None:
    records = [replace(r, lang="zh") for r in RECORDS[:2]] + [replace(RECORDS[3], lang="en")]
    summary = summarize(records, by="lang")
    assert list(summary) == ["en", "zh", "overall"]
    assert summary["zh"]["hit@3"] == 0.5
    assert summary["en"]["negative_rejection"] == 1.0


def test_summarize_rejects_bad_records() -> None:
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize(RECORDS, by="colour")
    with pytest.raises(ValueError):
        summarize([replace(RECORDS[0], type="overall")])
    with pytest.raises(ValueError):
        summarize([replace(RECORDS[0], latency_ms=-1.0)])


def test_short_answer_precision_counts_only_the_shown_ones() -> None:
    def rec(answerable: bool, refused: bool, short: str, right: bool | None) -> Record:
        made = record("t", answerable, refused, right, 1 if answerable else None, None, 1.0)
        return replace(made, short_answer=short, short_correct=right)

    records = [
        rec(True, False, "6个", True),  # shown, right
        rec(True, False, "4个", False),  # shown, wrong
        rec(True, False, "", False),  # answered, none shown
        rec(True, True, "", False),  # refused
        rec(False, False, "9个", None),  # a negative answered with one: wrong
    ]
    m = summarize(records)["overall"]
    assert m["short_precision"] == pytest.approx(1 / 3)
    assert m["short_shown"] == pytest.approx(2 / 4)
    assert m["short_accuracy"] == pytest.approx(1 / 4)


def test_figure_faithfulness_counts_figures_by_value_against_their_quotes():
    """The 700亿元 case: the digits of the quote, ten times its value, is stated and not held."""
    from assistant.schema import Answer, Citation
    from eval.judge import figure_support
    from eval.metrics import summarize

    cites = [Citation(1, "c", "a.txt", "平台公司资产总额近700亿元"),
             Citation(2, "d", "a.txt", "招商落户1900余家")]  # fmt: skip
    wrong = Answer("q", "Assets are approximately 700 billion yuan [1]. 1,900 firms [2].", False,
                   cites)  # fmt: skip
    right = Answer("q", "Assets are nearly 70 billion yuan [1].", False, cites)
    assert figure_support(wrong) == (2, 1)
    assert figure_support(right) == (1, 1)
    assert figure_support(Answer("q", "没有。", True)) == (0, 0)
    both = Answer("q", "资产近700亿元，招商1900余家。[1][2]", False, cites)
    assert figure_support(both) == (2, 2)  # each figure from either passage it cites, once
    records = [
        replace(record("fact", True, False, True, 1, True, 1.0), figures_stated=s,
                figures_supported=h)
        for s, h in (figure_support(wrong), figure_support(right))
    ]  # fmt: skip
    assert summarize(records)["overall"]["figure_faithfulness"] == 2 / 3
