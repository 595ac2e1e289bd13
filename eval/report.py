"""Eval reports: the gate and target checks, the diff, the table, Markdown and SVG.

The gate ([thresholds]) holds floors that catch regressions: a missed one fails the run. The
targets ([targets]) are the goals the assistant must reach: reported as met or not yet met, never
failing the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Literal

# The two systems of a report: this project's assistant and the textbook LangChain pipeline.
SYSTEMS = ("assistant", "textbook")
# Metrics compared against an earlier report (latency is timing, not quality).
QUALITY_METRICS = (
    "fact_accuracy", "citation_support", "negative_rejection", "false_refusal",
    "hit@1", "hit@3", "hit@5", "mrr",
)  # fmt: skip
LOWER_IS_BETTER = frozenset({"false_refusal", "latency_p50", "latency_p95"})
FLOAT_DIGITS = 4
GATED_K = 3  # a question misses retrieval when its evidence is not in the top GATED_K chunks
SNIPPET_CHARS = 200
_COLUMNS = (
    ("fact_accuracy", "fact"), ("citation_support", "cite"), ("negative_rejection", "reject"),
    ("false_refusal", "f.refuse"), ("hit@1", "hit@1"), ("hit@3", "hit@3"), ("mrr", "mrr"),
    ("latency_p50", "p50 ms"),
)  # fmt: skip


@dataclass(frozen=True)
class Threshold:
    """One limit (gate or target): metric >= target (bound "min") or <= target (bound "max")."""

    metric: str
    bound: Literal["min", "max"]
    target: float


@dataclass(frozen=True)
class ThresholdResult:
    """A limit against the measured value; passed is None when the metric does not apply."""

    threshold: Threshold
    value: float | None
    passed: bool | None

    def to_json(self, verdict: str = "passed") -> dict[str, Any]:
        """The report's form of this result; the verdict key is "passed" (gate) or "met"."""
        t = self.threshold
        return {
            "metric": t.metric, "bound": t.bound, "target": t.target,
            "value": self.value, verdict: self.passed,
        }  # fmt: skip


def check_thresholds(
    overall: Mapping[str, Any], thresholds: Sequence[Threshold]
) -> list[ThresholdResult]:
    """Judge each threshold against the overall metrics (a metric that is None is not applicable).

    Values are compared after rounding to the report's precision, so a value shown as 0.9500
    never fails a 0.95 target.
    """
    results = []
    for t in thresholds:
        if t.metric not in overall:
            raise ValueError(f"unknown metric {t.metric!r}; known: {', '.join(sorted(overall))}")
        value = overall[t.metric]
        if value is None:
            results.append(ThresholdResult(t, None, None))
            continue
        value = round(float(value), FLOAT_DIGITS)
        passed = value >= t.target if t.bound == "min" else value <= t.target
        results.append(ThresholdResult(t, value, passed))
    return results


def gate_passed(results: Sequence[ThresholdResult]) -> bool:
    """True unless some applicable threshold is missed."""
    return all(r.passed is not False for r in results)


def miss_reasons(record: Mapping[str, Any]) -> list[str]:
    """Why a per-question record counts against a gated metric; empty when it does not."""
    if not record["answerable"]:
        return [] if record["refused"] else ["not refused"]
    reasons = []
    if record["refused"]:
        reasons.append("false refusal")
    elif record["correct"] is not True:
        reasons.append("expected facts missing")
    if not record["refused"] and record["citation_ok"] is False:
        reasons.append("unsupported citation")
    rank = record["rank"]
    if rank is None or rank > GATED_K:
        shown = "not retrieved" if rank is None else f"rank {rank}"
        reasons.append(f"evidence not in top {GATED_K} ({shown})")
    return reasons


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
    records: Mapping[str, Sequence[Mapping[str, Any]]],
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
        "summary": {name: dict(summaries[name]) for name in SYSTEMS},
        "records": {
            name: [dict(r, misses=miss_reasons(r)) for r in records[name]] for name in SYSTEMS
        },
        "timing": dict(timing),
    }
    if targets:
        content["targets"] = {
            "all_met": gate_passed(targets),
            "targets": [r.to_json("met") for r in targets],
        }
    report = rounded(content)
    if earlier is not None:
        report["diff"] = diff_reports(earlier, report, earlier_name)
    return report


def _change(metric: str, before: Any, after: Any) -> str:
    if before is None or after is None:
        return "n/a"
    if before == after:
        return "same"
    better = after < before if metric in LOWER_IS_BETTER else after > before
    return "better" if better else "worse"


def _ok_by_id(report: Mapping[str, Any]) -> dict[str, bool]:
    return {str(r["id"]): not r["misses"] for r in report["records"]["assistant"]}


def diff_reports(
    before: Mapping[str, Any], after: Mapping[str, Any], name: str = ""
) -> dict[str, Any]:
    """What got better or worse for the assistant from an earlier report to a new one.

    Metrics: every quality metric of every group (question type and overall) present in either
    report, with before, after and "better"/"worse"/"same"/"n/a". Questions: ids that now pass
    every gated check but did not ("fixed"), the reverse ("broken"), and ids only in one report.
    """
    old, new = before["summary"]["assistant"], after["summary"]["assistant"]
    groups = sorted(set(old) | set(new), key=lambda g: (g == "overall", g))
    metrics = []
    for group in groups:
        for metric in QUALITY_METRICS:
            was = old.get(group, {}).get(metric)
            now = new.get(group, {}).get(metric)
            metrics.append(
                {"group": group, "metric": metric, "before": was, "after": now,
                 "change": _change(metric, was, now)}
            )  # fmt: skip
    was_ok, now_ok = _ok_by_id(before), _ok_by_id(after)
    common = sorted(set(was_ok) & set(now_ok))
    return {
        "earlier": name,
        "same_dataset": before.get("dataset", {}).get("sha256") == after["dataset"].get("sha256"),
        "metrics": metrics,
        "questions": {
            "fixed": [i for i in common if now_ok[i] and not was_ok[i]],
            "broken": [i for i in common if was_ok[i] and not now_ok[i]],
            "added": sorted(set(now_ok) - set(was_ok)),
            "removed": sorted(set(was_ok) - set(now_ok)),
        },
    }


# --- rendering ---------------------------------------------------------------------------------


def _fmt(metric: str, value: Any) -> str:
    if value is None:
        return "-"
    if metric.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def type_accuracy(metrics: Mapping[str, Any]) -> float | None:
    """The chart's accuracy of a group: fact accuracy, or rejection rate for negatives only."""
    value = metrics.get("fact_accuracy")
    return metrics.get("negative_rejection") if value is None else value


def render_table(report: Mapping[str, Any]) -> str:
    """The console table: a row per question type and overall, then the textbook overall row.

    The two columns after the bar give the textbook pipeline's accuracy and hit@3 for the group.
    """
    ours, textbook = report["summary"]["assistant"], report["summary"]["textbook"]
    header = ["group", "n", *(label for _, label in _COLUMNS), "|", "textbook acc", "hit@3"]
    rows = []
    for group in sorted(g for g in ours if g != "overall") + ["overall"]:
        m, t = ours[group], textbook.get(group, {})
        rows.append(
            [group, str(m["n"]), *(_fmt(key, m[key]) for key, _ in _COLUMNS),
             "|", _fmt("", type_accuracy(t)), _fmt("", t.get("hit@3"))]
        )  # fmt: skip
    m = textbook["overall"]
    rows.append(["textbook", str(m["n"]), *(_fmt(key, m[key]) for key, _ in _COLUMNS), "|", "", ""])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for i, row in enumerate([header, *rows]):
        if i == len(rows):  # before the textbook row
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _short_by(limit: Mapping[str, Any]) -> str:
    """How far a missed limit's value is from it, e.g. " (short by 0.150)"; "" otherwise."""
    if limit["value"] is None:
        return ""
    gap = limit["target"] - limit["value"]
    gap = gap if limit["bound"] == "min" else -gap
    return f" (short by {gap:.3f})" if gap > 0 else ""


def render_gate(report: Mapping[str, Any]) -> str:
    """The CI gate: a line per threshold (metric, bound, value, PASS/FAIL/n/a), then the verdict."""
    lines = ["gate (CI floors; a missed one fails the run, exit 1):"]
    for t in report["gate"]["thresholds"]:
        sign = ">=" if t["bound"] == "min" else "<="
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["passed"]]
        lines.append(f"  {t['metric']} {sign} {t['target']:.2f}: {_fmt('', t['value'])} {verdict}")
    lines.append("gate: " + ("passed" if report["gate"]["passed"] else "FAILED"))
    return "\n".join(lines)


def _targets_verdict(targets: Mapping[str, Any]) -> str:
    """E.g. "2 of 5 met; not yet met: fact_accuracy, hit@3" or "all 5 met"."""
    items = targets["targets"]
    met = [t["metric"] for t in items if t["met"] is True]
    missed = [t["metric"] for t in items if t["met"] is False]
    if not missed:
        na = len(items) - len(met)
        return f"all {len(met)} met" + (f" ({na} n/a)" if na else "")
    return f"{len(met)} of {len(items)} met; not yet met: {', '.join(missed)}"


def render_targets(report: Mapping[str, Any]) -> str:
    """The goals: one line per target (value, met / not yet met / n/a), then how many are met.

    Targets never change the exit code; the report must have a "targets" section.
    """
    lines = ["targets (the goals; reported only, they do not change the exit code):"]
    for t in report["targets"]["targets"]:
        sign = ">=" if t["bound"] == "min" else "<="
        verdict = {True: "met", False: "not yet met" + _short_by(t), None: "n/a"}[t["met"]]
        lines.append(f"  {t['metric']} {sign} {t['target']:.2f}: {_fmt('', t['value'])} {verdict}")
    lines.append("targets: " + _targets_verdict(report["targets"]))
    return "\n".join(lines)


def render_diff(diff: Mapping[str, Any]) -> str:
    """Changed overall metrics, then fixed and broken questions (per-type changes: report.md)."""
    lines = [f"changes since {diff['earlier']}:" if diff["earlier"] else "changes:"]
    if not diff["same_dataset"]:
        lines.append("  (the dataset differs from the earlier run's)")
    changed = [
        m for m in diff["metrics"] if m["group"] == "overall" and m["change"] in ("better", "worse")
    ]
    for m in changed:
        lines.append(
            f"  {m['metric']}: {_fmt('', m['before'])} -> {_fmt('', m['after'])} ({m['change']})"
        )
    if not changed:
        lines.append("  no metric changed")
    q = diff["questions"]
    for key in ("fixed", "broken", "added", "removed"):
        if q[key]:
            lines.append(f"  {key}: {', '.join(q[key])}")
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _md_metrics_table(summary: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    lines = [
        "| group | n | " + " | ".join(label for _, label in _COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(_COLUMNS),
    ]
    for group in groups:
        m = summary[group]
        lines.append(
            f"| {group} | {m['n']} | " + " | ".join(_fmt(k, m[k]) for k, _ in _COLUMNS) + " |"
        )
    return lines


def _bar(value: float | None, width: int = 20) -> str:
    if value is None:
        return ""
    full = round(value * width)
    return "█" * full + "░" * (width - full)


def render_markdown(report: Mapping[str, Any], chart: str = "accuracy.svg") -> str:
    """The readable report: gate, chart, per-type metrics, textbook comparison, diff, misses."""
    ours, textbook = report["summary"]["assistant"], report["summary"]["textbook"]
    groups = sorted(g for g in ours if g != "overall") + ["overall"]
    ds, system = report["dataset"], report["system"]
    out = [
        "# Eval report",
        "",
        f"Dataset `{ds['path']}`: {ds['questions']} questions (sha256 {ds['sha256'][:12]}). "
        f"Assistant: {system['assistant']}. Textbook: {system['textbook']}.",
        "",
        f"## Gate: {'passed' if report['gate']['passed'] else 'FAILED'}",
        "",
        "The CI gate (`[thresholds]`): floors that catch regressions; a missed one fails the run.",
        "",
        "| metric | floor | value | result |",
        "|---|---|---:|---|",
    ]
    for t in report["gate"]["thresholds"]:
        sign = "≥" if t["bound"] == "min" else "≤"
        verdict = {True: "pass", False: "**FAIL**", None: "n/a"}[t["passed"]]
        out.append(
            f"| {t['metric']} | {sign} {t['target']:.2f} | {_fmt('', t['value'])} | {verdict} |"
        )
    if "targets" in report:
        out += ["", *_md_targets(report["targets"])]
    out += [
        "",
        "## Accuracy per question type",
        "",
        "Fact accuracy (all expected facts in the answer); for `negative`, the rejection rate.",
        "",
        f"![Accuracy per question type: assistant vs textbook]({chart})",
        "",
        "| type | n | assistant | | textbook |",
        "|---|---:|---:|---|---:|",
    ]
    for group in groups:
        a, t = type_accuracy(ours[group]), type_accuracy(textbook[group])
        out.append(
            f"| {group} | {ours[group]['n']} | {_fmt('', a)} | `{_bar(a)}` | {_fmt('', t)} |"
        )
    out += ["", "## Assistant metrics per question type", ""]
    out += _md_metrics_table(ours, groups)
    out += [
        "",
        "## Assistant vs the textbook LangChain pipeline",
        "",
        "The textbook pipeline: RecursiveCharacterTextSplitter over the raw article, the same "
        "embedding model, dense top-k from Chroma, the top chunk as the answer (never refuses; "
        "its citation is the top chunk).",
        "",
    ]
    out += _md_metrics_table(textbook, groups)
    out += ["", "| metric | assistant | textbook |", "|---|---:|---:|"]
    for metric in QUALITY_METRICS:
        out.append(
            f"| {metric} | {_fmt(metric, ours['overall'][metric])} | "
            f"{_fmt(metric, textbook['overall'][metric])} |"
        )
    if "diff" in report:
        out += ["", "## Changes since the earlier report", ""] + _md_diff(report["diff"])
    misses = [r for r in report["records"]["assistant"] if r["misses"]]
    out += ["", f"## Misses ({len(misses)})", ""]
    for r in misses:
        out += _md_miss(r)
    timing = report["timing"]
    out += ["## Timing", ""] + [f"- {k}: {v}" for k, v in sorted(timing.items())]
    return "\n".join(out) + "\n"


def _md_targets(targets: Mapping[str, Any]) -> list[str]:
    """The "## Targets" section: each goal with its value and met / not yet met."""
    out = [
        f"## Targets: {_targets_verdict(targets)}",
        "",
        "The goals the assistant must reach (`[targets]`). They are reported, not gated: a target "
        "not yet met does not fail the run.",
        "",
        "| metric | target | value | status |",
        "|---|---|---:|---|",
    ]
    for t in targets["targets"]:
        sign = "≥" if t["bound"] == "min" else "≤"
        verdict = {True: "met", False: f"**not yet met**{_short_by(t)}", None: "n/a"}[t["met"]]
        out.append(
            f"| {t['metric']} | {sign} {t['target']:.2f} | {_fmt('', t['value'])} | {verdict} |"
        )
    return out


def _md_diff(diff: Mapping[str, Any]) -> list[str]:
    out = [f"Earlier report: `{diff['earlier']}`."]
    if not diff["same_dataset"]:
        out.append("The dataset differs from the earlier run's.")
    out += ["", "| group | metric | before | after | change |", "|---|---|---:|---:|---|"]
    for m in diff["metrics"]:
        if m["group"] == "overall" or m["change"] in ("better", "worse"):
            out.append(
                f"| {m['group']} | {m['metric']} | {_fmt('', m['before'])} | "
                f"{_fmt('', m['after'])} | {m['change']} |"
            )
    out.append("")
    for key, ids in diff["questions"].items():
        out.append(f"- {key}: {', '.join(ids) if ids else 'none'}")
    return out


def _md_miss(r: Mapping[str, Any]) -> list[str]:
    facts = "; ".join(" / ".join(alts) for alts in r["facts"]) or "(none: should be refused)"
    out = [f"### {r['id']} ({r['type']}): {', '.join(r['misses'])}", ""]
    out.append(f"- Question: {r['question']}")
    if r["history"]:
        out.append(f"- Earlier questions: {' → '.join(r['history'])}")
        out.append(f"- Rewritten as: {r['standalone']}")
    out.append(f"- Expected facts: {facts}")
    if r["evidence"]:
        out.append(f"- Evidence: {r['evidence']}")
    out.append(f"- Answer: {_snippet(r['answer'], 400)}")
    for c in r["citations"]:
        verdict = "supported" if c["supported"] else "NOT supported"
        out.append(f"- Citation [{c['n']}] `{c['chunk_id']}` ({verdict}): {_snippet(c['quote'])}")
    out.append("- Retrieved chunks:")
    for rank, c in enumerate(r["contexts"], start=1):
        out.append(f"  {rank}. `{c['chunk_id']}`: {_snippet(c['text'])}")
    out.append("")
    return out


def render_svg(report: Mapping[str, Any], target: float | None = None) -> str:
    """A horizontal grouped bar chart of accuracy per question type, assistant vs textbook.

    A dashed line marks the fact-accuracy target (the goal of [targets]) when given.
    """
    ours, textbook = report["summary"]["assistant"], report["summary"]["textbook"]
    groups = sorted(g for g in ours if g != "overall") + ["overall"]
    left, bar_w, row_h, top = 140, 400, 34, 40
    width, height = left + bar_w + 70, top + row_h * len(groups) + 30
    colors = {"assistant": "#2b6cb0", "textbook": "#a0aec0"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="16" font-weight="bold">Accuracy per question type</text>',
        f'<rect x="{left}" y="24" width="10" height="10" fill="{colors["assistant"]}"/>',
        f'<text x="{left + 14}" y="33">assistant</text>',
        f'<rect x="{left + 90}" y="24" width="10" height="10" fill="{colors["textbook"]}"/>',
        f'<text x="{left + 104}" y="33">textbook LangChain</text>',
    ]
    for i, group in enumerate(groups):
        y = top + i * row_h + 4
        label = "negative (rejected)" if group == "negative" else group
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        for j, (name, summary) in enumerate((("assistant", ours), ("textbook", textbook))):
            value = type_accuracy(summary.get(group, {}))
            by = y + j * 13
            w = 0 if value is None else round(value * bar_w, 1)
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w}" height="12" fill="{colors[name]}"/>'
            )
            parts.append(f'<text x="{left + w + 4}" y="{by + 10}">{_fmt("", value)}</text>')
    axis_y = top + row_h * len(groups)
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="black" stroke-width="1"/>'
    )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + tick * bar_w
        parts.append(f'<text x="{x}" y="{axis_y + 14}" text-anchor="middle">{tick:g}</text>')
    if target is not None:
        x = left + target * bar_w
        parts.append(
            f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{axis_y}" stroke="#c53030" '
            'stroke-dasharray="4 3" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x}" y="{axis_y + 26}" text-anchor="middle" fill="#c53030">'
            f"target {target:g}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
