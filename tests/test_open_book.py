"""Open-book evaluation: pooling passages, negatives from passages left out, the refusal curve."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from eval import open_book
from eval.errors import EvalError
from eval.judge import Record
from eval.report import CURVE_GRID, refusal_curve, reliability

LINES = [
    {"pid": "P1", "title": "拉萨河", "context": "拉萨河位于西藏自治区。主要支流有麦曲、桑曲。",
     "qas": [{"id": "P1_Q0", "question": "拉萨河位于哪里？", "answers": ["西藏自治区", "西藏自治区"]},
             {"id": "P1_Q1", "question": " ", "answers": ["x"]}]},
    {"pid": "P2", "title": "乙酰胺", "context": "乙酰胺是由乙酸衍生出的酰胺。",
     "qas": [{"id": "P2_Q0", "question": "什么是乙酰胺？", "answers": ["由乙酸衍生出的酰胺"]}]},
    {"pid": "P3", "title": "泡泡战士", "context": "生命数耗完即算为踢爆。",
     "qas": [{"id": "P3_Q0", "question": "", "answers": []},
             {"id": "P3_Q1", "question": "生命数耗完即算为什么？", "answers": ["踢爆"]}]},
]  # fmt: skip


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return path


def test_pool_rows_and_negatives(tmp_path: Path):
    passages = open_book.load_passages(write(tmp_path / "d.jsonl", LINES))
    pool, left_out = open_book.split(passages, pool=2, negatives=1)
    assert [p.pid for p in pool] == ["P1", "P2"] and [p.pid for p in left_out] == ["P3"]
    rows = open_book.rows(pool, left_out)
    halves = {p.pid: open_book.half_of(p.pid) for p in passages}
    assert [(r["id"], r["type"], r["facts"], r["source"], r["half"]) for r in rows] == [
        # duplicate gold spans merged; the type names the passage's half
        ("P1_Q0", f"open-book {halves['P1']}", [["西藏自治区"]], "P1.txt", halves["P1"]),
        ("P2_Q0", f"open-book {halves['P2']}", [["由乙酸衍生出的酰胺"]], "P2.txt", halves["P2"]),
        ("P3_Q1", f"negative {halves['P3']}", [], "", halves["P3"]),  # the first question asked
    ]
    assert set(halves.values()) <= {open_book.TUNING, open_book.HELD_OUT}
    # sha256 parity: the project's one split into tuning and held-out halves
    assert (open_book.half_of("TRIAL_800"), open_book.half_of("TRIAL_154")) == (
        "tuning",
        "held-out",
    )
    assert rows[0]["evidence"] == "西藏自治区"
    assert open_book.fingerprint(pool, left_out) != open_book.fingerprint(pool, [])


def test_articles_are_written_once_and_stale_ones_removed(tmp_path: Path):
    passages = open_book.load_passages(write(tmp_path / "d.jsonl", LINES))
    folder = tmp_path / "knowledge"
    open_book.write_articles(folder, passages[:2])
    assert (folder / "P1.txt").read_text("utf-8") == (
        "拉萨河\n\n　　拉萨河位于西藏自治区。主要支流有麦曲、桑曲。\n"
    )
    stamp = (folder / "P1.txt").stat().st_mtime_ns
    open_book.write_articles(folder, passages[:1])
    assert sorted(p.name for p in folder.iterdir()) == ["P1.txt"]
    assert (folder / "P1.txt").stat().st_mtime_ns == stamp  # unchanged: re-ingest is a no-op


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"pid": "x"}\n', "line 1: expected {pid, title, context, qas} as JSON"),
        ("not json\n", "line 1: expected {pid, title, context, qas} as JSON"),
        ("\n", "has no passages"),
    ],
)
def test_bad_open_book_files_are_one_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "d.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalError) as err:
        open_book.load_passages(path)
    assert message in str(err.value)
    with pytest.raises(EvalError, match="a pool of 3 and 1 left out do not fit"):
        open_book.split(open_book.load_passages(write(path, LINES)), 3, 1)


def record(answerable: bool, confidence: float | None, veto: str = "") -> Record:
    signals = {} if confidence is None else {"confidence": confidence, "veto": veto}
    return Record(id="q", type="t", answerable=answerable, refused=False, latency_ms=1.0,
                  correct=True, signals=signals)  # fmt: skip


def test_refusal_curve_counts_vetoes_and_the_threshold():
    records = [
        record(True, 0.95),
        record(True, 0.36),
        record(True, 0.99, veto="no number"),  # a veto refuses it at every threshold
        record(False, 0.34),
        record(False, 0.83),
        record(True, None),  # decided by the rules: not on the curve
    ]
    curve = {row["threshold"]: row for row in refusal_curve(records)}
    assert set(curve) == set(CURVE_GRID)
    assert curve[0.3]["false_refusals"] == 1 / 3 and curve[0.3]["negatives_refused"] == 0.0
    assert curve[0.35]["negatives_refused"] == 0.5
    assert curve[0.4]["false_refusals"] == 2 / 3 and curve[0.4]["negatives_refused"] == 0.5
    assert curve[0.85]["negatives_refused"] == 1.0
    assert (curve[0.4]["answerable"], curve[0.4]["negatives"]) == (3, 2)
    assert refusal_curve([record(True, None)]) == []


def test_reliability_bins_answered_questions_by_confidence():
    records = [record(True, 0.9), record(False, 0.85), record(True, 0.3), record(True, None)]
    records[2] = replace(records[2], correct=False)
    assert reliability(records) == [
        {"bin": "0.2-0.4", "n": 1, "predicted": 0.3, "observed": 0.0},
        {"bin": "0.8-1.0", "n": 2, "predicted": pytest.approx(0.875), "observed": 0.5},
    ]
