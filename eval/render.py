"""The eval report on the console: the per-type table, the gate, the targets, the changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = (
    ("fact_accuracy", "fact"), ("grounded_accuracy", "grnd"), ("citation_support", "cite"),
    ("negative_rejection", "reject"),
    ("false_refusal", "f.refuse"), ("hit@1", "hit@1"), ("hit@3", "hit@3"), ("mrr", "mrr"),
    ("short_accuracy", "short"), ("short_precision", "s.prec"), ("short_shown", "s.shown"),
    ("short_chars_p50", "s.len"), ("figure_faithfulness", "fig"), ("latency_p50", "p50 ms"),
)  # fmt: skip


def fmt(metric: str, value: Any) -> str:
    """A metric value as shown: "-" for none, milliseconds whole, rates with three decimals."""
    if value is None:
        return "-"
    if metric.startswith("latency") or metric == "short_chars_p50":
        return f"{value:.0f}"
    return f"{value:.3f}"


def type_accuracy(metrics: Mapping[str, Any]) -> float | None:
    """The chart's accuracy of a group: fact accuracy, or rejection rate for negatives only."""
    value = metrics.get("fact_accuracy")
    return metrics.get("negative_rejection") if value is None else value


def render_table(report: Mapping[str, Any]) -> str:
    """The console table: a row per question type and overall, then the textbook overall row.

    The two columns after the bar give the textbook pipeline's accuracy and hit@3 for the group
    (neither, when the textbook was not run).
    """
    ours, textbook = report["summary"]["assistant"], report["summary"].get("textbook")
    header = ["group", "n", *(label for _, label in COLUMNS)]
    header += ["|", "textbook acc", "hit@3"] if textbook else []
    rows = []
    for group in sorted(g for g in ours if g != "overall") + ["overall"]:
        m = ours[group]
        rows.append([group, str(m["n"]), *(fmt(key, m[key]) for key, _ in COLUMNS)])
        if textbook:
            t = textbook.get(group, {})
            rows[-1] += ["|", fmt("", type_accuracy(t)), fmt("", t.get("hit@3"))]
    if textbook:
        m = textbook["overall"]
        rows.append(["textbook", str(m["n"]), *(fmt(k, m[k]) for k, _ in COLUMNS), "|", "", ""])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for i, row in enumerate([header, *rows]):
        if textbook and i == len(rows):  # before the textbook row
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    if textbook:
        lines.append(TEXTBOOK_NOTE)
    return "\n".join(lines)


TEXTBOOK_NOTE = (
    "textbook: the tutorial LangChain pipeline on the same articles and model (split, embed,"
    " dense top-k, the top chunk as the answer; never refuses), for comparison"
)


def short_by(limit: Mapping[str, Any]) -> str:
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
        lines.append(f"  {t['metric']} {sign} {t['target']:g}: {fmt('', t['value'])} {verdict}")
    lines.append("gate: " + ("passed" if report["gate"]["passed"] else "FAILED"))
    return "\n".join(lines)


def targets_verdict(targets: Mapping[str, Any]) -> str:
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
        verdict = {True: "met", False: "not yet met" + short_by(t), None: "n/a"}[t["met"]]
        lines.append(f"  {t['metric']} {sign} {t['target']:g}: {fmt('', t['value'])} {verdict}")
    lines.append("targets: " + targets_verdict(report["targets"]))
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
            f"  {m['metric']}: {fmt('', m['before'])} -> {fmt('', m['after'])} ({m['change']})"
        )
    if not changed:
        lines.append("  no metric changed")
    q = diff["questions"]
    for key in ("fixed", "broken", "added", "removed"):
        if q[key]:
            lines.append(f"  {key}: {', '.join(q[key])}")
    return "\n".join(lines)


# What the side-by-side table of the answerers shows (eval --reader).
SIDE_BY_SIDE = (
    ("fact_accuracy", "fact"), ("grounded_accuracy", "grnd"), ("citation_support", "cite"),
    ("false_refusal", "f.refuse"), ("negative_rejection", "reject"),
    ("figure_faithfulness", "fig"), ("latency_p50", "p50 ms"), ("latency_p95", "p95 ms"),
)  # fmt: skip
ANSWERERS = {"assistant": "extractive", "reader": "reader"}


def render_side_by_side(report: Mapping[str, Any]) -> str:
    """The extractive answers and the reader's, overall and per question type ('' without a
    reader run)."""
    summary = report["summary"]
    if "reader" not in summary:
        return ""
    header = ["group", "answerer", "n", *(label for _, label in SIDE_BY_SIDE), "first ms"]
    rows = []
    for group in sorted(g for g in summary["assistant"] if g != "overall") + ["overall"]:
        for name, label in ANSWERERS.items():
            m = summary[name].get(group)
            if m:
                first = first_text_p50(report.get("records", {}).get(name, []), group)
                rows.append([group, label, str(m["n"]),
                             *(fmt(key, m.get(key)) for key, _ in SIDE_BY_SIDE),
                             fmt("latency", first)])  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["extractive answers beside the reader's (read closer):"]
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [
            c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def first_text_p50(records: Sequence[Mapping[str, Any]], group: str) -> float | None:
    """The median time to the first streamed text of a group's answers (those that stream)."""
    from eval.metrics import percentile

    times = [
        float(r["signals"]["first_text_ms"])
        for r in records
        if (group == "overall" or r.get("type") == group)
        and "first_text_ms" in (r.get("signals") or {})
    ]
    return percentile(times, 50) if times else None
