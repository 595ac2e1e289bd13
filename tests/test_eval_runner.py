"""The eval runner and report: judging answers, the gate, the diff, rendering, inputs, the command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.cli import main
from assistant.schema import Answer, Citation, Context
from eval.baseline import build_textbook
from eval.chart import render_svg
from eval.dataset import load_dataset
from eval.diff import diff_reports
from eval.errors import EvalError
from eval.gate import (
    Threshold,
    check_thresholds,
    gate_passed,
    load_limits,
    load_targets,
    load_thresholds,
)
from eval.judge import Record, carrying_sentences, make_record
from eval.markdown import render_markdown
from eval.metrics import summarize
from eval.render import TEXTBOOK_NOTE, render_diff, render_gate, render_table, render_targets
from eval.report import build_report, load_report, miss_reasons, strip_timings
from eval.runner import DEFAULT_THRESHOLDS, run_cli, run_eval
from ingest.store.client import open_embedded
from ingest.text.markers import strip_markers
from tests.conftest import make_settings

CHUNK_A = "中电光谷招商落户（含注册）各类市场主体1900余家，投资超千万元的600余家。"
CHUNK_B = "2020年10月，与属地辛安街道共同研究制定了全面深度协同作战“18条意见”。"
CHUNK_C = "平台公司主要以“区域开发建设”为基础。"
CONTEXTS = [
    Context("a", "doc.txt", CHUNK_A, 0.9),
    Context("b", "doc.txt", CHUNK_B, 0.8),
    Context("c", "doc.txt", CHUNK_C, 0.7),
]

ROW_NUMBER = {
    "id": "num-01", "question": "中电光谷招商落户了多少家市场主体？", "type": "number", "lang": "zh",
    "facts": [["1900家", "1900"]], "evidence": "各类市场主体1900余家", "source": "doc.txt",
}  # fmt: skip
ROW_MULTI = {
    "id": "multi-01", "question": "有多少家市场主体，制定了几条意见？", "type": "multihop",
    "lang": "zh", "facts": [["1900"], ["18条"]], "evidence": "协同作战“18条意见”", "source": "doc.txt",
}  # fmt: skip
ROW_NEGATIVE = {
    "id": "neg-01", "question": "人才库储备了多少人？", "type": "negative", "lang": "zh",
    "facts": [], "evidence": None, "source": None,
}  # fmt: skip


def answer(
    text: str, citations: Sequence[Citation] = (), refused: bool = False, question: str = "q"
) -> Answer:
    return Answer(question, text, refused, list(citations), list(CONTEXTS), 12.5, question)


def cite(n: int, chunk_id: str, quote: str) -> Citation:
    return Citation(n, chunk_id, "doc.txt", quote)


def record(rid: str, rtype: str, **values: Any) -> Record:
    """A hand-made record."""
    base: dict[str, Any] = {
        "id": rid, "type": rtype, "lang": "zh", "question": f"question {rid}",
        "standalone": f"question {rid}", "facts": (("x",),), "evidence": "x", "answerable": True,
        "refused": False, "answer": "x[1]", "fact_verdicts": ("match",), "correct": True, "rank": 1,
        "citation_ok": True, "latency_ms": 10.0,
    }  # fmt: skip
    base.update(values)
    return Record(**base)


# --- judging one answer ------------------------------------------------------------------------


def test_carrying_sentences_takes_the_sentence_before_each_marker() -> None:
    text = "开头没有引用。第一句1900余家。[1]第二句“18条意见”[2][3]。English 600 [1]; 2020 [4]"
    assert carrying_sentences(text) == {
        1: ["第一句1900余家", "English 600"],
        2: ["第二句“18条意见”"],
        3: ["第二句“18条意见”"],
        4: ["2020"],
    }
    assert carrying_sentences("一句话[1-3]") == {1: ["一句话"], 2: ["一句话"], 3: ["一句话"]}
    assert carrying_sentences("没有标记") == {}


def test_strip_markers_removes_citation_digits() -> None:
    assert strip_markers("有1900余家[1]，18条意见[2][3]。") == "有1900余家，18条意见。"


def test_record_of_a_correct_cited_answer() -> None:
    rec = make_record(ROW_NUMBER, answer(CHUNK_A + "[1]", [cite(1, "a", CHUNK_A)]))
    assert rec.correct is True
    assert rec.fact_verdicts == ("match",)
    assert rec.rank == 1
    assert rec.citation_ok is True
    assert list(rec.citations) == [{"n": 1, "chunk_id": "a", "quote": CHUNK_A, "supported": True}]
    assert list(rec.contexts) == [{"chunk_id": c.chunk_id, "text": c.text} for c in CONTEXTS]
    assert rec.latency_ms == 12.5
    assert miss_reasons(rec) == []


def test_record_judges_the_short_answer() -> None:
    given = answer(CHUNK_A + "[1]", [cite(1, "a", CHUNK_A)])
    assert make_record(ROW_NUMBER, given).short_correct is False  # none given
    given = replace(given, short_answer="1900余家")
    assert make_record(ROW_NUMBER, given).short_correct is True
    assert make_record(ROW_NUMBER, replace(given, refused=True)).short_correct is False
    given = replace(given, short_answer="600余家")  # the other figure of the sentence
    assert make_record(ROW_NUMBER, given).short_correct is False
    assert make_record(ROW_MULTI, given).short_correct is False
    assert make_record(ROW_NEGATIVE, given).short_correct is None


def test_citation_to_a_chunk_without_the_evidence_is_unsupported() -> None:
    rec = make_record(ROW_NUMBER, answer("市场主体1900余家[1]", [cite(1, "c", CHUNK_C)]))
    assert rec.correct is True
    assert rec.citation_ok is False
    assert miss_reasons(rec) == ["unsupported citation"]


def test_citation_whose_quote_is_not_in_the_chunk_is_unsupported() -> None:
    quote = "各类市场主体1900余家，投资超千万元的700余家。"
    rec = make_record(ROW_NUMBER, answer(quote + "[1]", [cite(1, "a", quote)]))
    assert rec.citation_ok is False


def test_citation_with_a_number_missing_from_the_chunk_is_unsupported() -> None:
    rec = make_record(
        ROW_NUMBER, answer("市场主体1900余家，其中700家投资超千万[1]", [cite(1, "a", CHUNK_A)])
    )
    assert rec.citation_ok is False


def test_citation_to_a_chunk_that_is_not_retrieved_is_unsupported() -> None:
    rec = make_record(ROW_NUMBER, answer(CHUNK_A + "[1]", [cite(1, "zzz", CHUNK_A)]))
    assert rec.citation_ok is False


def test_each_part_of_a_multi_part_answer_may_cite_its_own_chunk() -> None:
    text = CHUNK_A + "[1]" + CHUNK_B + "[2]"
    rec = make_record(ROW_MULTI, answer(text, [cite(1, "a", CHUNK_A), cite(2, "b", CHUNK_B)]))
    assert rec.correct is True
    assert rec.rank == 2
    assert [c["supported"] for c in rec.citations] == [True, True]
    assert rec.citation_ok is True
    # A sentence that states none of the facts, cited to a chunk without the evidence, is not.
    text = CHUNK_A + "[1]" + CHUNK_C + "[2]"
    rec = make_record(ROW_MULTI, answer(text, [cite(1, "a", CHUNK_A), cite(2, "c", CHUNK_C)]))
    assert [c["supported"] for c in rec.citations] == [True, False]
    assert rec.correct is False
    assert rec.fact_verdicts == ("match", "missing")


def test_answer_without_markers_is_judged_by_the_quote() -> None:
    # The textbook pipeline's shape: the chunk is the answer and its own citation.
    rec = make_record(ROW_NUMBER, answer(CHUNK_A, [cite(1, "a", CHUNK_A)]))
    assert (rec.correct, rec.citation_ok) == (True, True)


def test_answered_question_without_citations_is_unsupported() -> None:
    rec = make_record(ROW_NUMBER, answer("1900家"))
    assert (rec.correct, rec.citation_ok) == (True, False)


def test_citation_marker_digits_are_not_taken_as_facts() -> None:
    row = dict(ROW_NUMBER, facts=[["1个"]])
    rec = make_record(row, answer("一共有[1]", [cite(1, "a", CHUNK_A)]))
    assert rec.fact_verdicts == ("missing",)
    assert rec.correct is False


def test_refused_answerable_question() -> None:
    rec = make_record(ROW_NUMBER, answer("知识库中没有找到相关信息。", refused=True))
    assert (rec.correct, rec.citation_ok, rec.refused) == (False, None, True)
    assert miss_reasons(rec) == ["false refusal"]


def test_negative_question_records() -> None:
    refused = make_record(ROW_NEGATIVE, answer("知识库中没有找到相关信息。", refused=True))
    assert (refused.correct, refused.rank, refused.citation_ok) == (None, None, None)
    assert miss_reasons(refused) == []
    answered = make_record(ROW_NEGATIVE, answer(CHUNK_A + "[1]", [cite(1, "a", CHUNK_A)]))
    assert answered.citation_ok is None
    assert miss_reasons(answered) == ["not refused"]


def test_run_eval_passes_earlier_questions_of_a_follow_up() -> None:
    asked: list[tuple[str, list[str]]] = []

    class Stub:
        def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
            asked.append((question, list(history)))
            return answer(CHUNK_A + "[1]", [cite(1, "a", CHUNK_A)], question=question)

    follow = dict(ROW_NUMBER, id="follow-01", type="followup", question="那投资超千万元的呢？",
                  facts=[["600"]], history=[{"question": "有多少家？", "answer": "1900余家"}])  # fmt: skip
    records = run_eval(Stub(), [ROW_NUMBER, follow])
    assert asked == [(ROW_NUMBER["question"], []), ("那投资超千万元的呢？", ["有多少家？"])]
    assert [r.history for r in records] == [(), ("有多少家？",)]
    assert [r.correct for r in records] == [True, True]


def test_miss_reasons_for_retrieval() -> None:
    assert miss_reasons(record("f", "fact", rank=3)) == []
    assert miss_reasons(record("f", "fact", rank=4)) == ["evidence not in top 3 (rank 4)"]
    assert miss_reasons(record("f", "fact", rank=None, correct=False)) == [
        "expected facts missing",
        "evidence not in top 3 (not retrieved)",
    ]


# --- gate, targets, report, diff ---------------------------------------------------------------

# The goals: the shipped [targets], and the gate of the hand-made reports below.
THRESHOLDS = [
    Threshold("fact_accuracy", "min", 0.9),
    Threshold("citation_support", "min", 0.95),
    Threshold("negative_rejection", "min", 0.9),
    Threshold("false_refusal", "max", 0.05),
    Threshold("hit@3", "min", 0.95),
]
# Targets of the hand-made reports: met, not yet met (min and max), and not applicable.
TARGETS = [
    Threshold("citation_support", "min", 0.95),
    Threshold("fact_accuracy", "min", 0.9),
    Threshold("false_refusal", "max", 0.05),
    Threshold("hit@5", "min", 0.5),
]


def test_check_thresholds() -> None:
    overall = {
        "fact_accuracy": 0.9, "citation_support": 0.94996, "negative_rejection": None,
        "false_refusal": 0.06, "hit@3": 0.9,
    }  # fmt: skip
    results = check_thresholds(overall, THRESHOLDS)
    assert [(r.value, r.passed) for r in results] == [
        (0.9, True),
        (0.95, True),  # shown as 0.9500, so it meets 0.95
        (None, None),  # no negatives: not applicable
        (0.06, False),
        (0.9, False),
    ]
    assert gate_passed(results) is False
    assert gate_passed(results[:3]) is True
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        check_thresholds(overall, [Threshold("accuracy", "min", 0.5)])


def sample_records() -> list[dict[str, Any]]:
    return [
        record("f1", "fact"),
        record("f2", "fact", correct=False, fact_verdicts=["missing"], rank=2, latency_ms=30.0),
        record(
            "n1",
            "number",
            refused=True,
            correct=False,
            citation_ok=None,
            rank=None,
            answer="知识库中没有找到相关信息。",
        ),
        record(
            "x1",
            "negative",
            answerable=False,
            refused=True,
            correct=None,
            rank=None,
            citation_ok=None,
            facts=[],
            evidence=None,
            fact_verdicts=[],
        ),
    ]


def textbook_records() -> list[dict[str, Any]]:
    return [
        record("f1", "fact", rank=2, latency_ms=1.0),
        record("f2", "fact", correct=False, rank=None, citation_ok=False, latency_ms=1.0),
        record("n1", "number", correct=False, rank=4, citation_ok=False, latency_ms=1.0),
        record(
            "x1",
            "negative",
            answerable=False,
            correct=None,
            rank=None,
            citation_ok=None,
            facts=[],
            evidence=None,
            latency_ms=1.0,
        ),
    ]


def make_report(
    records: list[dict[str, Any]],
    earlier: dict[str, Any] | None = None,
    *,
    gate: Sequence[Threshold] = THRESHOLDS,
    targets: Sequence[Threshold] = (),
) -> dict[str, Any]:
    summaries = {"assistant": summarize(records), "textbook": summarize(textbook_records())}
    overall = summaries["assistant"]["overall"]
    return build_report(
        dataset={"path": "d.jsonl", "questions": len(records), "sha256": "ab" * 32},
        system={"assistant": "extractive", "textbook": "textbook", "settings": {"k": 4}},
        summaries=summaries,
        records={"assistant": records, "textbook": textbook_records()},
        gate=check_thresholds(overall, gate),
        targets=check_thresholds(overall, targets),
        timing={"assistant_s": 1.23456},
        earlier=earlier,
        earlier_name="old/report.json" if earlier else "",
    )


def test_report_content_is_rounded_and_records_carry_misses() -> None:
    report = make_report(sample_records())
    overall = report["summary"]["assistant"]["overall"]
    assert overall["fact_accuracy"] == 0.3333
    assert overall["false_refusal"] == 0.3333
    assert overall["negative_rejection"] == 1.0
    assert overall["citation_support"] == 1.0
    assert report["timing"] == {"assistant_s": 1.2346}
    assert [r["misses"] for r in report["records"]["assistant"]] == [
        [], ["expected facts missing"], ["false refusal", "evidence not in top 3 (not retrieved)"], [],
    ]  # fmt: skip
    assert report["gate"]["passed"] is False
    assert [t["passed"] for t in report["gate"]["thresholds"]] == [False, True, True, False, False]
    assert "diff" not in report


def test_strip_timings_removes_only_timing_keys() -> None:
    report = make_report(sample_records())
    stripped = strip_timings(report)
    assert "timing" not in stripped
    assert "latency_p50" not in stripped["summary"]["assistant"]["overall"]
    assert "latency_ms" not in stripped["records"]["assistant"][0]
    assert stripped["summary"]["assistant"]["overall"]["hit@3"] == 0.6667
    other = make_report([replace(r, latency_ms=r.latency_ms * 7) for r in sample_records()])
    assert other != report and strip_timings(other) == stripped


def test_console_table() -> None:
    table = render_table(make_report(sample_records()))
    assert table.split("\n") == [
        # "grnd" is "-": these records were not judged for grounding (no "grounded" key)
        "group     n   fact  grnd   cite  reject  f.refuse  hit@1  hit@3    mrr  short  s.prec  s.shown  s.len  fig  p50 ms  |  textbook acc  hit@3",
        "fact      2  0.500     -  1.000       -     0.000  0.500  1.000  0.750      -       -        -      -    -      20  |         0.500  0.500",
        "negative  1      -     -      -   1.000         -      -      -      -      -       -        -      -    -      10  |         0.000      -",
        "number    1  0.000     -      -       -     1.000  0.000  0.000  0.000      -       -        -      -    -      10  |         0.000  0.000",
        "overall   4  0.333     -  1.000   1.000     0.333  0.333  0.667  0.500      -       -        -      -    -      10  |         0.333  0.333",
        "-" * 138,
        "textbook  4  0.333     -  0.333   0.000     0.000  0.000  0.333  0.250      -       -        -      -    -       1  |",
        TEXTBOOK_NOTE,
    ]


def test_gate_lines() -> None:
    assert render_gate(make_report(sample_records())).split("\n") == [
        "gate (CI floors; a missed one fails the run, exit 1):",
        "  fact_accuracy >= 0.9: 0.333 FAIL",  # floors as written, never rounded
        "  citation_support >= 0.95: 1.000 PASS",
        "  negative_rejection >= 0.9: 1.000 PASS",
        "  false_refusal <= 0.05: 0.333 FAIL",
        "  hit@3 >= 0.95: 0.667 FAIL",
        "gate: FAILED",
    ]


def test_targets_are_reported_and_never_decide_the_gate() -> None:
    lenient = [Threshold("fact_accuracy", "min", 0.3)]
    report = make_report(sample_records(), gate=lenient, targets=TARGETS)
    assert report["gate"]["passed"] is True  # every target but one is missed
    assert report["targets"] == {
        "all_met": False,
        "targets": [
            {"metric": "citation_support", "bound": "min", "target": 0.95, "value": 1.0, "met": True},
            {"metric": "fact_accuracy", "bound": "min", "target": 0.9, "value": 0.3333, "met": False},
            {"metric": "false_refusal", "bound": "max", "target": 0.05, "value": 0.3333, "met": False},
            {"metric": "hit@5", "bound": "min", "target": 0.5, "value": 0.6667, "met": True},
        ],
    }  # fmt: skip
    assert render_targets(report).split("\n") == [
        "targets (the goals; reported only, they do not change the exit code):",
        "  citation_support >= 0.95: 1.000 met",
        "  fact_accuracy >= 0.9: 0.333 not yet met (short by 0.567)",
        "  false_refusal <= 0.05: 0.333 not yet met (short by 0.283)",
        "  hit@5 >= 0.5: 0.667 met",
        "targets: 2 of 4 met; not yet met: fact_accuracy, false_refusal",
    ]
    # Without targets there is no targets section at all.
    assert "targets" not in make_report(sample_records())


def test_targets_all_met_and_not_applicable() -> None:
    records = [r for r in sample_records() if r.type != "negative"]
    targets = [Threshold("citation_support", "min", 0.9), Threshold("negative_rejection", "min", 1)]
    report = make_report(records, targets=targets)
    assert report["targets"]["all_met"] is True
    assert [t["met"] for t in report["targets"]["targets"]] == [True, None]
    assert render_targets(report).split("\n")[1:] == [
        "  citation_support >= 0.9: 1.000 met",
        "  negative_rejection >= 1: - n/a",
        "targets: all 1 met (1 n/a)",
    ]
    assert "## Targets: all 1 met (1 n/a)" in render_markdown(report)


def test_diff_against_an_earlier_report() -> None:
    before = make_report(sample_records())
    improved = sample_records()
    improved[1] = record("f2", "fact")  # fixed
    improved[2] = record("n2", "number", rank=4)  # n1 removed, n2 added (a retrieval miss)
    improved[0] = record("f1", "fact", refused=True, correct=False, citation_ok=None)  # broken
    after = make_report(improved, earlier=before)
    diff = after["diff"]
    assert diff["earlier"] == "old/report.json"
    assert diff["same_dataset"] is True
    assert diff["questions"] == {
        "fixed": ["f2"], "broken": ["f1"], "added": ["n2"], "removed": ["n1"],
    }  # fmt: skip
    overall = {m["metric"]: m for m in diff["metrics"] if m["group"] == "overall"}
    assert (overall["fact_accuracy"]["before"], overall["fact_accuracy"]["after"]) == (
        0.3333,
        0.6667,
    )
    assert overall["fact_accuracy"]["change"] == "better"
    assert overall["false_refusal"]["change"] == "same"
    assert (overall["hit@3"]["before"], overall["hit@3"]["after"]) == (0.6667, 0.6667)
    fact = {m["metric"]: m for m in diff["metrics"] if m["group"] == "fact"}
    assert (fact["false_refusal"]["before"], fact["false_refusal"]["after"]) == (0.0, 0.5)
    assert fact["false_refusal"]["change"] == "worse"  # lower is better
    number = {m["metric"]: m for m in diff["metrics"] if m["group"] == "number"}
    assert number["false_refusal"]["change"] == "better"
    assert number["fact_accuracy"]["change"] == "better"
    assert number["hit@3"]["change"] == "same"
    negative = {m["metric"]: m for m in diff["metrics"] if m["group"] == "negative"}
    assert negative["fact_accuracy"]["change"] == "n/a"


def test_diff_metric_changes_in_both_directions() -> None:
    before = make_report(sample_records())
    worse = sample_records()
    worse[3] = replace(worse[3], refused=False)
    after = diff_reports(before, make_report(worse))
    overall = {m["metric"]: m["change"] for m in after["metrics"] if m["group"] == "overall"}
    assert overall["negative_rejection"] == "worse"
    assert overall["fact_accuracy"] == "same"
    assert after["questions"]["broken"] == ["x1"]


def test_markdown_lists_every_miss_with_truncated_chunks() -> None:
    long_chunk = "甲" * 250
    records = sample_records()
    records[1] = replace(
        records[1],
        contexts=[{"chunk_id": "c1", "text": long_chunk}],
        citations=[{"n": 1, "chunk_id": "c1", "quote": "x", "supported": True}],
    )
    md = render_markdown(make_report(records))
    assert "## Gate: FAILED" in md
    assert "| metric | floor | value | result |" in md
    assert "| false_refusal | ≤ 0.05 | 0.333 | **FAIL** |" in md
    assert "## Targets" not in md  # no targets given
    assert "![Accuracy per question type: assistant vs textbook](accuracy.svg)" in md
    assert "## Misses (2)" in md
    assert "### f2 (fact): expected facts missing" in md
    assert "### n1 (number): false refusal, evidence not in top 3 (not retrieved)" in md
    assert "### f1 " not in md
    assert f"  1. `c1`: {'甲' * 200}…\n" in md
    assert "- Citation [1] `c1` (supported): x" in md
    assert "- Expected facts: x" in md


def test_markdown_targets_section_says_not_yet_met() -> None:
    report = make_report(sample_records(), gate=[Threshold("mrr", "min", 0.1)], targets=TARGETS)
    md = render_markdown(report)
    assert "## Gate: passed" in md
    assert "## Targets: 2 of 4 met; not yet met: fact_accuracy, false_refusal\n" in md
    assert "a target not yet met does not fail the run" in md
    assert "| citation_support | ≥ 0.95 | 1.000 | met |" in md
    assert "| fact_accuracy | ≥ 0.9 | 0.333 | **not yet met** (short by 0.567) |" in md
    assert "| false_refusal | ≤ 0.05 | 0.333 | **not yet met** (short by 0.283) |" in md
    assert md.index("## Gate") < md.index("## Targets") < md.index("## Accuracy per question")


def test_markdown_shows_the_diff_section() -> None:
    before = make_report(sample_records())
    md = render_markdown(make_report(sample_records(), earlier=before))
    assert "## Changes since the earlier report" in md
    assert "| overall | fact_accuracy | 0.333 | 0.333 | same |" in md
    assert "- fixed: none" in md


def test_svg_chart_has_a_bar_per_type_and_system() -> None:
    svg = render_svg(make_report(sample_records()), target=0.9)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.count('fill="#2b6cb0"/>') == 5  # legend + fact, negative, number, overall
    assert svg.count('fill="#a0aec0"/>') == 5
    assert ">negative (rejected)<" in svg
    assert ">target 0.9<" in svg
    assert 'width="200.0" height="12" fill="#2b6cb0"' in svg  # fact accuracy 0.5 of 400 px


# --- inputs ------------------------------------------------------------------------------------


def write_lines(path: Path, lines: Sequence[Any]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_load_dataset_reads_rows_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [ROW_NUMBER, "", ROW_NEGATIVE])
    assert load_dataset(path) == [ROW_NUMBER, ROW_NEGATIVE]


def test_the_shipped_dataset_loads() -> None:
    rows = load_dataset(Path(__file__).resolve().parents[1] / "eval" / "dataset.jsonl")
    assert len(rows) == 95


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": "x",', "invalid JSON (Expecting property name enclosed in double quotes at column 12)"),
        ("[1, 2]", "expected a JSON object"),
        ({"id": "x", "question": "q", "type": "fact"}, "missing 'facts', 'evidence'"),
        (dict(ROW_NUMBER, question="  "), "'question' must be a non-empty string"),
        (dict(ROW_NUMBER, id="num-00"), "duplicate id 'num-00' (first on line 1)"),
        (dict(ROW_NUMBER, facts=[["1900"], []]), "'facts' must be a list of facts, each a non-empty list of non-empty strings"),
        (dict(ROW_NUMBER, facts="1900"), "'facts' must be a list of facts, each a non-empty list of non-empty strings"),
        (dict(ROW_NUMBER, facts=[]), "'facts' is empty; only type 'negative' questions have no facts"),
        (dict(ROW_NEGATIVE, facts=[["1"]]), "a negative question must have no facts"),
        (dict(ROW_NUMBER, evidence=None), "an answerable question needs 'evidence' (a non-empty string)"),
        (dict(ROW_NUMBER, history=["q"]), "'history' must be a list of objects with a non-empty 'question'"),
        (dict(ROW_NUMBER, type="overall"), "'overall' is reserved and cannot be a type"),
        (dict(ROW_NUMBER, min_facts=2), "'min_facts' must be a whole number from 1 to 1 (the facts it states)"),
        (dict(ROW_NUMBER, min_facts=True), "'min_facts' must be a whole number from 1 to 1 (the facts it states)"),
    ],
)  # fmt: skip
def test_load_dataset_names_line_and_problem(tmp_path: Path, line: Any, problem: str) -> None:
    first = dict(ROW_NUMBER, id="num-00")
    path = write_lines(tmp_path / "d.jsonl", [first, line])
    with pytest.raises(EvalError) as caught:
        load_dataset(path)
    assert str(caught.value) == f"{path} line 2: {problem}"


def test_load_dataset_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EvalError) as caught:
        load_dataset(tmp_path / "nope.jsonl")
    assert str(caught.value) == f"dataset file {tmp_path / 'nope.jsonl'} does not exist"
    empty = write_lines(tmp_path / "empty.jsonl", [""])
    with pytest.raises(EvalError) as caught:
        load_dataset(empty)
    assert str(caught.value) == f"dataset file {empty} has no questions"


# The shipped targets: the goals above, negatives refused raised to the multilingual issue's 0.93.
SHIPPED_TARGETS = [
    t if t.metric != "negative_rejection" else Threshold(t.metric, t.bound, 0.93)
    for t in THRESHOLDS
]


def test_shipped_gate_and_targets() -> None:
    # The targets are the issues' goals, exactly; never lower one.
    assert load_targets(DEFAULT_THRESHOLDS) == SHIPPED_TARGETS
    # The gate: floors at today's levels (raised as the assistant improves), one per target,
    # each no stricter than its target.
    gate = load_thresholds(DEFAULT_THRESHOLDS)
    assert load_limits(DEFAULT_THRESHOLDS) == (gate, SHIPPED_TARGETS)
    assert [g.metric for g in gate] == [t.metric for t in SHIPPED_TARGETS]
    targets = {t.metric: t for t in SHIPPED_TARGETS}
    for floor in gate:
        target = targets[floor.metric]
        assert floor.bound == target.bound
        assert (
            (floor.target <= target.target)
            if floor.bound == "min"
            else (floor.target >= target.target)
        )


def test_targets_are_optional_in_a_thresholds_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("[thresholds]\nmrr = { min = 0.5 }\n", encoding="utf-8")
    assert load_limits(path) == ([Threshold("mrr", "min", 0.5)], [])
    assert load_targets(path) == []


MALFORMED_SPEC = "needs exactly one of { min = x } or { max = x } with x between 0 and 1"
KNOWN = (
    "known: fact_accuracy, grounded_accuracy, citation_support, negative_rejection, "
    "false_refusal, hit@1, hit@3, hit@5, mrr, short_accuracy, short_precision, short_shown, "
    "figure_faithfulness"
)
GOOD_GATE = "[thresholds]\nmrr = { min = 0.5 }\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[thresholds\n", "invalid TOML (Expected ']' at the end of a table declaration (at line 1, column 12))"),
        ("x = 1\n", "needs a non-empty [thresholds] table"),
        ("[targets]\nmrr = { min = 0.5 }\n", "needs a non-empty [thresholds] table"),
        ("[thresholds]\naccuracy = { min = 0.9 }\n", f"[thresholds] unknown metric 'accuracy'; {KNOWN}"),
        ("[thresholds]\nmrr = { min = 0.5, max = 0.9 }\n", f"[thresholds] mrr {MALFORMED_SPEC}"),
        ("[thresholds]\nmrr = { min = 90 }\n", f"[thresholds] mrr {MALFORMED_SPEC}"),
        ("[thresholds]\nmrr = 0.5\n", f"[thresholds] mrr {MALFORMED_SPEC}"),
        # A malformed [targets] is an error too, even though targets are never gated.
        (GOOD_GATE + "[targets]\naccuracy = { min = 0.9 }\n", f"[targets] unknown metric 'accuracy'; {KNOWN}"),
        (GOOD_GATE + "[targets]\nmrr = { min = 0.5, max = 0.9 }\n", f"[targets] mrr {MALFORMED_SPEC}"),
        (GOOD_GATE + "[targets]\nmrr = { min = 1.5 }\n", f"[targets] mrr {MALFORMED_SPEC}"),
        (GOOD_GATE + "[targets]\nmrr = { min = true }\n", f"[targets] mrr {MALFORMED_SPEC}"),
        (GOOD_GATE + "[targets]\n", "[targets] must be a non-empty table (or be left out)"),
        (GOOD_GATE.replace("[thresholds]", "targets = 0.9\n[thresholds]"), "[targets] must be a non-empty table (or be left out)"),
        (GOOD_GATE + "[target]\nmrr = { min = 0.5 }\n", "unknown key 'target'; only [thresholds] and [targets] tables are allowed"),
    ],
)  # fmt: skip
def test_load_thresholds_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    for load in (load_limits, load_thresholds, load_targets):
        with pytest.raises(EvalError) as caught:
            load(path)
        assert str(caught.value) == f"thresholds file {path}: {problem}"


def test_load_report_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError) as caught:
        load_report(tmp_path / "r.json")
    assert str(caught.value) == (
        f"earlier report {tmp_path / 'r.json'} does not exist; "
        "pass a report.json written by zone-assistant eval"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"summary": {}}', encoding="utf-8")
    with pytest.raises(EvalError) as caught:
        load_report(bad)
    assert (
        str(caught.value)
        == f"earlier report {bad} is not a report.json written by zone-assistant eval"
    )
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_report(sample_records())), encoding="utf-8")
    assert load_report(good)["dataset"]["path"] == "d.jsonl"


# --- the command -------------------------------------------------------------------------------


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_malformed_dataset_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [ROW_NUMBER, '{"id": "x"'])
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    code, out, err = invoke(["eval", "--dataset", str(path), "--out", str(tmp_path / "out")], env)
    assert (code, out) == (2, "")
    assert err == f"Error: {path} line 2: invalid JSON (Expecting ',' delimiter at column 11)\n"
    assert not (tmp_path / "out").exists()


def test_cli_missing_dataset_and_missing_index(tmp_path: Path) -> None:
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    code, _, err = invoke(["eval", "--dataset", str(tmp_path / "none.jsonl")], env)
    assert (code, err) == (2, f"Error: dataset file {tmp_path / 'none.jsonl'} does not exist\n")
    code, _, err = invoke(["eval", "--out", str(tmp_path / "out")], env)
    assert (code, err) == (2, "Error: no index yet; run: zone-assistant ingest\n")


# A dataset the stub systems answer: one fact found, one designed to miss, one negative refused.
STUB_DATASET = [
    ROW_NUMBER,
    dict(ROW_NUMBER, id="miss-01", facts=[["1999年"]]),
    ROW_NEGATIVE,
]


class StubSystem:
    """Answers every answerable question with CHUNK_A, cited; refuses the negative one."""

    description = "stub"
    chunks = 3

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        if question == ROW_NEGATIVE["question"]:
            return answer("知识库中没有找到相关信息。", refused=True, question=question)
        return answer(CHUNK_A + "[1]", [cite(1, "a", CHUNK_A)], question=question)


@pytest.fixture()
def stub_systems(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """run_cli with stub systems instead of the real assistant and textbook pipeline."""
    monkeypatch.setattr("assistant.app.App.assistant", property(lambda app: StubSystem()))
    monkeypatch.setattr("assistant.app.App.embeddings", lambda app, purpose="query": None)
    monkeypatch.setattr("assistant.app.App.scratch_client", lambda app: None)
    monkeypatch.setattr(
        "eval.baseline.build_textbook", lambda settings, client, emb, keep=False: StubSystem()
    )
    return {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}


def write_limits(path: Path, gate: str, targets: str | None = None) -> Path:
    text = f"[thresholds]\n{gate}\n" + (f"[targets]\n{targets}\n" if targets else "")
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_targets_never_change_the_exit_code(
    tmp_path: Path, stub_systems: dict[str, str]
) -> None:
    dataset = write_lines(tmp_path / "d.jsonl", STUB_DATASET)  # fact accuracy 0.5
    limits = write_limits(
        tmp_path / "t.toml",
        "fact_accuracy = { min = 0.5 }",
        "fact_accuracy = { min = 0.9 }\nnegative_rejection = { min = 0.9 }",
    )
    out = tmp_path / "out"
    args = ["eval", "--dataset", str(dataset), "--out", str(out), "--thresholds", str(limits)]
    code, stdout, err = invoke(args, stub_systems)
    assert (code, err) == (0, "")
    assert "  fact_accuracy >= 0.5: 0.500 PASS\ngate: passed\n" in stdout
    assert (
        "targets (the goals; reported only, they do not change the exit code):\n"
        "  fact_accuracy >= 0.9: 0.500 not yet met (short by 0.400)\n"
        "  negative_rejection >= 0.9: 1.000 met\n"
        "targets: 1 of 2 met; not yet met: fact_accuracy\n"
    ) in stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["gate"]["passed"] is True
    assert report["targets"]["all_met"] is False
    assert [(t["metric"], t["met"]) for t in report["targets"]["targets"]] == [
        ("fact_accuracy", False),
        ("negative_rejection", True),
    ]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Targets: 1 of 2 met; not yet met: fact_accuracy" in md
    assert "| fact_accuracy | ≥ 0.9 | 0.500 | **not yet met** (short by 0.400) |" in md
    assert ">target 0.9<" in (out / "accuracy.svg").read_text(encoding="utf-8")


def test_cli_missed_gate_threshold_exits_1(tmp_path: Path, stub_systems: dict[str, str]) -> None:
    dataset = write_lines(tmp_path / "d.jsonl", STUB_DATASET)
    # Every target met, one gate floor missed: the gate alone decides.
    limits = write_limits(
        tmp_path / "t.toml",
        'fact_accuracy = { min = 0.6 }\n"hit@3" = { min = 0.5 }',
        "negative_rejection = { min = 0.9 }",
    )
    out = tmp_path / "out"
    args = ["eval", "--dataset", str(dataset), "--out", str(out), "--thresholds", str(limits)]
    code, stdout, err = invoke(args, stub_systems)
    assert (code, err) == (1, "")
    assert (
        "  fact_accuracy >= 0.6: 0.500 FAIL\n  hit@3 >= 0.5: 1.000 PASS\ngate: FAILED\n" in stdout
    )
    assert "targets: all 1 met\n" in stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (report["gate"]["passed"], report["targets"]["all_met"]) == (False, True)


def passing_eval(tmp_path: Path) -> tuple[list[str], Path]:
    """`eval` arguments of the stub dataset with a floor it meets, and its report folder."""
    dataset = write_lines(tmp_path / "d.jsonl", STUB_DATASET)
    limits = write_limits(tmp_path / "t.toml", "fact_accuracy = { min = 0.5 }")
    out = tmp_path / "out"
    return ["eval", "--dataset", str(dataset), "--out", str(out), "--thresholds", str(limits)], out


def test_cli_without_targets_has_no_targets_section(
    tmp_path: Path, stub_systems: dict[str, str]
) -> None:
    args, out = passing_eval(tmp_path)
    code, stdout, _ = invoke(args, stub_systems)
    assert code == 0
    assert "targets (" not in stdout and "targets:" not in stdout
    assert "targets" not in json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "## Targets" not in (out / "report.md").read_text(encoding="utf-8")
    assert ">target " not in (out / "accuracy.svg").read_text(encoding="utf-8")


def test_cli_malformed_targets_is_one_line_and_exit_2(
    tmp_path: Path, stub_systems: dict[str, str]
) -> None:
    limits = write_limits(tmp_path / "t.toml", "mrr = { min = 0.5 }", "mrr = { max = 2 }")
    out = tmp_path / "out"
    code, stdout, err = invoke(
        ["eval", "--out", str(out), "--thresholds", str(limits)], stub_systems
    )
    assert (code, stdout) == (2, "")
    assert err == f"Error: thresholds file {limits}: [targets] mrr {MALFORMED_SPEC}\n"
    assert not out.exists()
    missing = tmp_path / "none.toml"
    code, _, err = invoke(["eval", "--out", str(out), "--thresholds", str(missing)], stub_systems)
    assert (code, err) == (2, f"Error: thresholds file {missing} does not exist\n")


SMALL_DATASET = [
    ROW_NUMBER | {"source": "000_a43dbe5c9c0e2b82.txt"},
    {"id": "date-01", "question": "青岛经济技术开发区是从什么时候开始全面改革的？", "type": "date",
     "lang": "zh", "facts": [["2020年9月"]], "evidence": "自2020年9月份全面改革以来",
     "source": "000_a43dbe5c9c0e2b82.txt"},
    # Designed to miss: the article says 2020年9月, so this fact can never be found.
    {"id": "miss-01", "question": "开发区是哪一年开始全面改革的？", "type": "date", "lang": "zh",
     "facts": [["1999年"]], "evidence": "自2020年9月份全面改革以来",
     "source": "000_a43dbe5c9c0e2b82.txt"},
    {"id": "follow-01", "question": "那投资超千万元的呢？", "type": "followup", "lang": "zh",
     "facts": [["600家", "600"]], "evidence": "投资超千万元的600余家",
     "source": "000_a43dbe5c9c0e2b82.txt",
     "history": [{"question": "中电光谷招商落户了多少家市场主体？", "answer": "1900余家。"}]},
    ROW_NEGATIVE,
]  # fmt: skip
LENIENT = "[thresholds]\nfact_accuracy = { min = 0.0 }\nfalse_refusal = { max = 1.0 }\n"
# The fact-accuracy goal as a target: unreachable here (miss-01 can never be correct).
LENIENT_WITH_TARGET = LENIENT + "[targets]\nfact_accuracy = { min = 0.90 }\n"
STRICT = "[thresholds]\nfact_accuracy = { min = 0.90 }\n"


@pytest.mark.integration
def test_two_runs_give_identical_reports_and_the_gate_decides_the_exit_code(
    article_app, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_lines(tmp_path / "small.jsonl", SMALL_DATASET)
    lenient, strict = tmp_path / "lenient.toml", tmp_path / "strict.toml"
    lenient.write_text(LENIENT_WITH_TARGET, encoding="utf-8")
    strict.write_text(STRICT, encoding="utf-8")
    first, second = tmp_path / "one", tmp_path / "two"
    # A missed target never changes the exit code.
    assert run_cli(article_app, dataset, first, None, thresholds=lenient) == 0
    assert run_cli(article_app, dataset, second, None, thresholds=lenient) == 0
    reports = [json.loads((d / "report.json").read_text(encoding="utf-8")) for d in (first, second)]
    assert strip_timings(reports[0]) == strip_timings(reports[1])
    assert reports[0]["gate"]["passed"] is True
    assert reports[0]["targets"]["all_met"] is False
    assert [(t["metric"], t["met"]) for t in reports[0]["targets"]["targets"]] == [
        ("fact_accuracy", False)
    ]
    assert [r["id"] for r in reports[0]["records"]["assistant"]] == [r["id"] for r in SMALL_DATASET]
    assert [r["id"] for r in reports[0]["records"]["textbook"]] == [r["id"] for r in SMALL_DATASET]
    miss = reports[0]["records"]["assistant"][2]
    assert miss["correct"] is False and miss["misses"][0] in (
        "expected facts missing",
        "false refusal",
    )
    assert (first / "accuracy.svg").read_text(encoding="utf-8").startswith("<svg")
    md = (first / "report.md").read_text(encoding="utf-8")
    assert "### miss-01 (date): " in md

    assert "## Targets: 0 of 1 met; not yet met: fact_accuracy" in md

    # A gate floor of 0.90 cannot be met with a question designed to miss: exit 1.
    third = tmp_path / "three"
    capsys.readouterr()
    assert run_cli(article_app, dataset, third, first / "report.json", thresholds=strict) == 1
    report = json.loads((third / "report.json").read_text(encoding="utf-8"))
    assert report["gate"]["passed"] is False
    assert "targets" not in report
    assert report["diff"]["questions"] == {"fixed": [], "broken": [], "added": [], "removed": []}
    assert {m["change"] for m in report["diff"]["metrics"]} <= {"same", "n/a"}
    out = capsys.readouterr().out
    assert "  fact_accuracy >= 0.9: " in out and "gate: FAILED" in out
    assert "targets (" not in out
    assert f"changes since {first / 'report.json'}:\n  no metric changed" in out


def test_console_diff_shows_overall_changes_and_questions() -> None:
    before = make_report(sample_records())
    improved = sample_records()
    improved[1] = record("f2", "fact")
    text = render_diff(make_report(improved, earlier=before)["diff"])
    assert text.split("\n") == [
        "changes since old/report.json:",
        "  fact_accuracy: 0.333 -> 0.667 (better)",
        "  hit@1: 0.333 -> 0.667 (better)",
        "  mrr: 0.500 -> 0.667 (better)",
        "  fixed: f2",
    ]


class CountingEmbeddings(DeterministicFakeEmbedding):
    """Fake vectors that count the passages embedded."""

    embedded: int = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def test_a_kept_textbook_collection_is_embedded_once_per_set_of_passages(
    mini_corpus: Path, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", mini_corpus)
    embeddings = CountingEmbeddings(size=8)
    built = [build_textbook(settings, open_embedded(tmp_path / "tb"), embeddings, keep=True)
             for _ in range(2)]  # fmt: skip
    assert embeddings.embedded == built[0].chunks > 0  # the second run re-used the vectors
    for system in built:
        system.close()  # a kept collection stays
    first = built[0].ask("开发区").citations[0].chunk_id
    again = build_textbook(settings, open_embedded(tmp_path / "tb"), embeddings, keep=True)
    assert (
        embeddings.embedded == built[0].chunks
        and again.ask("开发区").citations[0].chunk_id == first
    )
    # Other passages are embedded afresh; a run that keeps nothing drops its collection.
    next(mini_corpus.glob("*.txt")).write_text("全新的文章。" * 40, encoding="utf-8")
    build_textbook(settings, open_embedded(tmp_path / "tb"), embeddings, keep=True)
    assert embeddings.embedded > built[0].chunks
    scratch = build_textbook(settings, open_embedded(tmp_path / "tb2"), embeddings)
    scratch.close()
    assert open_embedded(tmp_path / "tb2").list_collections() == []


def test_cli_without_the_textbook_reports_the_assistant_alone(
    tmp_path: Path, stub_systems: dict[str, str]
) -> None:
    args, out = passing_eval(tmp_path)
    code, stdout, err = invoke([*args, "--no-textbook"], stub_systems)
    assert (code, err) == (0, "")
    assert "textbook acc" not in stdout and "\ntextbook " not in stdout  # columns, row
    assert TEXTBOOK_NOTE not in stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert set(report["summary"]) == set(report["records"]) == {"assistant"}
    assert report["system"]["textbook"] == "not run (--no-textbook)"
    assert "textbook_s" not in report["timing"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Assistant vs the textbook" not in md and "Textbook: not run" in md
    assert (out / "accuracy.svg").stat().st_size > 0
    # With it, as before.
    code, stdout, _ = invoke(args, stub_systems)
    assert code == 0 and TEXTBOOK_NOTE in stdout
    assert "## Assistant vs the textbook" in (out / "report.md").read_text(encoding="utf-8")
