"""The eval report's content (report.json): summaries, per-question records and their misses,
the gate and targets, the diff; how it is written to disk and read back."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.chart import render_svg
from eval.diff import diff_reports
from eval.errors import EvalError, parse_json, read_input
from eval.gate import FLOAT_DIGITS, ThresholdResult, gate_passed
from eval.judge import Record
from eval.markdown import render_markdown

# The two systems of every report: this project's assistant and the textbook LangChain pipeline
# (with `eval --reader`, a third: the assistant's reader, "read closer").
SYSTEMS = ("assistant", "textbook")
GATED_K = 3  # a question misses retrieval when its evidence is not in the top GATED_K chunks


def miss_reasons(record: Record) -> list[str]:
    """Why a per-question record counts against a gated metric; empty when it does not."""
    if not record.answerable:
        return [] if record.refused else ["not refused"]
    reasons = []
    if record.refused:
        reasons.append("false refusal")
    elif record.correct is not True:
        reasons.append("expected facts missing")
    if not record.refused and record.citation_ok is False:
        reasons.append("unsupported citation")
    rank = record.rank
    if rank is None or rank > GATED_K:
        shown = "not retrieved" if rank is None else f"rank {rank}"
        reasons.append(f"evidence not in top {GATED_K} ({shown})")
    return reasons


CURVE_GRID = [round(0.05 * i, 2) for i in range(1, 20)]  # 0.05 .. 0.95


def _decided(records: Sequence[Record]) -> list[Record]:
    """The records the learned decision decided (they carry its confidence)."""
    return [r for r in records if "confidence" in r.signals]


def refusal_curve(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Refusals against false refusals for each answer threshold of the grid.

    Over the questions the learned decision decided: at threshold t a question is refused when
    a veto refuses it (signals["veto"]) or its confidence is below t. Empty when none was.
    """
    scored = _decided(records)
    negatives = [r for r in scored if not r.answerable]
    answerable = [r for r in scored if r.answerable]
    if not scored:
        return []

    def refused(r: Record, t: float) -> bool:
        return bool(r.signals.get("veto")) or r.signals["confidence"] < t

    return [
        {
            "threshold": t,
            "negatives_refused": sum(refused(r, t) for r in negatives) / len(negatives)
            if negatives
            else None,
            "false_refusals": sum(refused(r, t) for r in answerable) / len(answerable)
            if answerable
            else None,
            "negatives": len(negatives),
            "answerable": len(answerable),
        }
        for t in CURVE_GRID
    ]


def reliability(records: Sequence[Record], bins: int = 5) -> list[dict[str, Any]]:
    """Predicted against observed over the answered questions: per bin of the decision's
    confidence, its mean and the share answered right (an answered negative is wrong)."""
    answered = [r for r in _decided(records) if not r.refused]
    out = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            r for r in answered
            if low <= (c := r.signals["confidence"]) < high or (high == 1 and c == 1)
        ]  # fmt: skip
        if inside:
            out.append({
                "bin": f"{low:.1f}-{high:.1f}", "n": len(inside),
                "predicted": sum(r.signals["confidence"] for r in inside) / len(inside),
                "observed": sum(bool(r.answerable and r.correct) for r in inside)
                / len(inside),
            })  # fmt: skip
    return out


def closest_refused(records: Sequence[Record], most: int = 30) -> list[dict[str, Any]]:
    """The refusals, each with the closest passages the user is shown beside it (first two)."""
    return [
        {
            "id": r.id,
            "question": r.question,
            "answerable": r.answerable,
            "closest": [c["text"][:120] for c in r.contexts[:2]],
        }  # fmt: skip
        for r in records
        if r.refused
    ][:most]


def rounded(value: Any) -> Any:
    """The value with every float rounded to FLOAT_DIGITS, recursively (NaN and inf rejected)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number in report: {value!r}")
        return round(value, FLOAT_DIGITS)
    if isinstance(value, Mapping):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def is_timing_key(key: str) -> bool:
    """Keys that hold timings and may differ between two runs of the same eval."""
    return key.startswith("latency") or key == "timing"


def strip_timings(value: Any) -> Any:
    """The report without its timing keys: what must be identical between two runs."""
    if isinstance(value, Mapping):
        return {k: strip_timings(v) for k, v in value.items() if not is_timing_key(str(k))}
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value


def build_report(
    *,
    dataset: Mapping[str, Any],
    system: Mapping[str, Any],
    summaries: Mapping[str, Mapping[str, Any]],
    records: Mapping[str, Sequence[Record]],
    gate: Sequence[ThresholdResult],
    timing: Mapping[str, float],
    targets: Sequence[ThresholdResult] = (),
    earlier: Mapping[str, Any] | None = None,
    earlier_name: str = "",
) -> dict[str, Any]:
    """The report.json content (floats rounded), with a diff when an earlier report is given.

    "gate" decides the exit code; "targets" (only when there are targets) is reported only:
    {"all_met": ..., "targets": [{"metric", "bound", "target", "value", "met"}, ...]}.
    """
    content: dict[str, Any] = {
        "dataset": dict(dataset),
        "system": dict(system),
        "gate": {"passed": gate_passed(gate), "thresholds": [r.to_json() for r in gate]},
        "summary": {name: dict(summaries[name]) for name in _systems(summaries)},
        "records": {
            name: [{**r.to_json(), "misses": miss_reasons(r)} for r in records[name]]
            for name in _systems(records)
        },
        "timing": dict(timing),
    }
    curve = refusal_curve(records["assistant"])
    if curve:
        content["refusal_curve"] = curve
        content["reliability"] = reliability(records["assistant"])
    content["refusals"] = closest_refused(records["assistant"])
    if targets:
        content["targets"] = {
            "all_met": gate_passed(targets),
            "targets": [r.to_json("met") for r in targets],
        }
    report = rounded(content)
    if earlier is not None:
        report["diff"] = diff_reports(earlier, report, earlier_name)
    return report


def _systems(by_name: Mapping[str, Any]) -> list[str]:
    """The assistant and the textbook (unless it was not run), then any other run beside them
    (the reader)."""
    return [*(s for s in SYSTEMS if s in by_name), *(n for n in by_name if n not in SYSTEMS)]


def load_report(path: Path) -> dict[str, Any]:
    """An earlier report.json to compare against."""
    if not path.exists():
        raise EvalError(
            f"earlier report {path} does not exist; "
            "pass a report.json written by zone-assistant eval"
        )
    try:
        report = parse_json(read_input(path, "earlier report"))
    except ValueError:
        raise EvalError(f"earlier report {path} is not valid JSON") from None
    try:
        usable = isinstance(report["summary"]["assistant"]["overall"], dict) and all(
            isinstance(r["id"], str) and isinstance(r["misses"], list)
            for r in report["records"]["assistant"]
        )
    except (KeyError, TypeError):
        usable = False
    if not usable:
        raise EvalError(
            f"earlier report {path} is not a report.json written by zone-assistant eval"
        )
    return report


def write_report(out: Path, report: Mapping[str, Any], target: float | None) -> Path:
    """Write report.json, report.md and accuracy.svg into out; return the report.md path."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        (out / "accuracy.svg").write_text(render_svg(report, target), encoding="utf-8")
        (out / "report.md").write_text(render_markdown(report, "accuracy.svg"), encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return out / "report.md"
