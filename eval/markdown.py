"""The readable eval report (report.md): gate, targets, chart, per-type tables, misses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eval.metrics import QUALITY_METRICS
from eval.render import (
    COLUMNS,
    fmt,
    render_side_by_side,
    short_by,
    targets_verdict,
    type_accuracy,
)

SNIPPET_CHARS = 200


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _md_metrics_table(summary: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    lines = [
        "| group | n | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for group in groups:
        m = summary[group]
        lines.append(
            f"| {group} | {m['n']} | " + " | ".join(fmt(k, m[k]) for k, _ in COLUMNS) + " |"
        )
    return lines


def _bar(value: float | None, width: int = 20) -> str:
    if value is None:
        return ""
    full = round(value * width)
    return "█" * full + "░" * (width - full)


def render_markdown(report: Mapping[str, Any], chart: str = "accuracy.svg") -> str:
    """The readable report: gate, chart, per-type metrics, textbook comparison, diff, misses."""
    ours = report["summary"]["assistant"]
    groups = sorted(g for g in ours if g != "overall") + ["overall"]
    out = _md_gate(report)
    if "targets" in report:
        out += ["", *_md_targets(report["targets"])]
    out += _md_accuracy(report, groups, chart)
    out += ["", "## Assistant metrics per question type", ""]
    out += _md_metrics_table(ours, groups)
    out += _md_textbook(report, groups)
    if "reader" in report["summary"]:
        out += ["", "## The reader (read closer) beside the extractive answers", "", "```",
                render_side_by_side(report), "```"]  # fmt: skip
    if report.get("refusal_curve"):
        out += _md_curve(report)
    out += _md_refusals(report)
    if "diff" in report:
        out += ["", "## Changes since the earlier report", ""] + _md_diff(report["diff"])
    misses = [r for r in report["records"]["assistant"] if r["misses"]]
    out += ["", f"## Misses ({len(misses)})", ""]
    for r in misses:
        out += _md_miss(r)
    timing = report["timing"]
    out += ["## Timing", ""] + [f"- {k}: {v}" for k, v in sorted(timing.items())]
    return "\n".join(out) + "\n"


def _md_gate(report: Mapping[str, Any]) -> list[str]:
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
            f"| {t['metric']} | {sign} {t['target']:g} | {fmt('', t['value'])} | {verdict} |"
        )
    return out


def _md_accuracy(report: Mapping[str, Any], groups: Sequence[str], chart: str) -> list[str]:
    ours, textbook = report["summary"]["assistant"], report["summary"].get("textbook", {})
    out = [
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
        a, t = type_accuracy(ours[group]), type_accuracy(textbook.get(group, {}))
        out.append(f"| {group} | {ours[group]['n']} | {fmt('', a)} | `{_bar(a)}` | {fmt('', t)} |")
    return out


def _md_textbook(report: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    ours, textbook = report["summary"]["assistant"], report["summary"].get("textbook")
    if textbook is None:
        return []
    out = [
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
            f"| {metric} | {fmt(metric, ours['overall'][metric])} | "
            f"{fmt(metric, textbook['overall'][metric])} |"
        )
    return out


def _md_curve(report: Mapping[str, Any]) -> list[str]:
    """The refusal curve: for each answer threshold, negatives refused and false refusals; and
    the reliability of the decision's confidence (predicted against observed)."""
    curve = report["refusal_curve"]
    used = report["system"].get("settings", {}).get("answer_threshold")
    out = [
        "",
        "## Refusal curve",
        "",
        f"Over the {curve[0]['answerable']} answerable and {curve[0]['negatives']} unanswerable "
        "questions the learned decision decided: a question is refused when a veto refuses it or "
        "the decision's confidence is below the threshold. The row in bold is the threshold "
        f"in use ({used if used is not None else 'none'}, from the decision's parameters).",
        "",
        "| threshold | negatives refused | false refusals |",
        "|---:|---:|---:|",
    ]
    for row in curve:
        cells = [f"{row['threshold']:.2f}", fmt("", row["negatives_refused"]),
                 fmt("", row["false_refusals"])]  # fmt: skip
        if used is not None and row["threshold"] <= used < row["threshold"] + 0.05:
            cells = [f"**{c}**" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    if report.get("reliability"):
        out += [
            "",
            "## Reliability of the confidence",
            "",
            "Answered questions by the decision's confidence: the mean confidence (predicted) "
            "against the share answered right (observed; an answered negative is wrong).",
            "",
            "| confidence | n | predicted | observed | |",
            "|---|---:|---:|---:|---|",
        ]
        for b in report["reliability"]:
            out.append(
                f"| {b['bin']} | {b['n']} | {b['predicted']:.3f} | {b['observed']:.3f} | "
                f"`{_bar(b['predicted'], 10)}` `{_bar(b['observed'], 10)}` |"
            )
    return out


def _md_refusals(report: Mapping[str, Any]) -> list[str]:
    """The refusals with the closest passages shown beside them (not as an answer)."""
    refusals = report.get("refusals") or []
    if not refusals:
        return []
    out = ["", f"## Refusals and their closest passages ({len(refusals)} shown)", ""]
    for r in refusals:
        kind = "answerable" if r["answerable"] else "unanswerable"
        out.append(f"- **{r['id']}** ({kind}) {r['question']}")
        out += [f"  - closest: {text}" for text in r["closest"]]
    return out


def _md_targets(targets: Mapping[str, Any]) -> list[str]:
    """The "## Targets" section: each goal with its value and met / not yet met."""
    out = [
        f"## Targets: {targets_verdict(targets)}",
        "",
        "The goals the assistant must reach (`[targets]`). They are reported, not gated: a target "
        "not yet met does not fail the run.",
        "",
        "| metric | target | value | status |",
        "|---|---|---:|---|",
    ]
    for t in targets["targets"]:
        sign = "≥" if t["bound"] == "min" else "≤"
        verdict = {True: "met", False: f"**not yet met**{short_by(t)}", None: "n/a"}[t["met"]]
        out.append(
            f"| {t['metric']} | {sign} {t['target']:g} | {fmt('', t['value'])} | {verdict} |"
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
                f"| {m['group']} | {m['metric']} | {fmt('', m['before'])} | "
                f"{fmt('', m['after'])} | {m['change']} |"
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
