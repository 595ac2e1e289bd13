"""The README's quality block is written from real reports, between its markers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from eval.errors import EvalError
from eval.quality_table import BEGIN, END, block, rewrite


def _report(path: Path, summary: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": {"assistant": summary}}), encoding="utf-8")


def _group(n: int, **values: float | None) -> dict:
    keys = (
        "fact_accuracy",
        "grounded_accuracy",
        "citation_support",
        "negative_rejection",
        "false_refusal",
        "hit@3",
        "short_shown",
        "short_precision",
        "figure_faithfulness",
    )
    return {"n": n, **dict.fromkeys(keys), **values}  # fmt: skip


def test_the_block_comes_from_the_reports_and_replaces_only_itself(tmp_path: Path):
    out = tmp_path / "out"
    _report(out / "report.json", {
        "overall": _group(88, fact_accuracy=0.797, grounded_accuracy=0.77, citation_support=0.923,
                          negative_rejection=0.929, false_refusal=0.122, **{"hit@3": 0.946},
                          short_shown=0.23, short_precision=0.941, figure_faithfulness=1.0),
        "english": _group(8, fact_accuracy=0.625), "paraphrase": _group(8, fact_accuracy=0.375),
    })  # fmt: skip
    _report(out / "open-book" / "cmrc2018_trial" / "report.json", {
        "open-book held-out": _group(307, grounded_accuracy=0.8436, false_refusal=0.0391,
                                     short_precision=0.8462, short_shown=0.127),
        "open-book tuning": _group(286, grounded_accuracy=0.8042),
        "overall": _group(653, negative_rejection=0.9333),
    })  # fmt: skip
    text = block(out, date(2026, 12, 2))
    assert "Zone set (88 questions): fact 0.797, grounded 0.770" in text
    assert "English 5/8, paraphrase 3/8; short answer shown for 23%" in text
    assert "| Chinese (trial) | 0.844 | 0.804 | 0.039 | 0.933 | 0.846 / 13% |" in text
    assert "English |" not in text  # no report for it: no row
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{BEGIN}\nold figures\n{END}\nafter\n", encoding="utf-8")
    rewrite(readme, text)
    written = readme.read_text(encoding="utf-8")
    assert written.startswith("# Title\n\nbefore\n" + BEGIN) and written.endswith(END + "\nafter\n")
    assert "old figures" not in written and "Measured 2026-12-02 by `make quality`" in written
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(EvalError, match="has no <!-- quality:begin -->"):
        rewrite(readme, text)
