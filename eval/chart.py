"""The eval report's chart (accuracy.svg): accuracy per question type, assistant vs textbook."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from eval.render import fmt, type_accuracy


def render_svg(report: Mapping[str, Any], target: float | None = None) -> str:
    """A horizontal grouped bar chart of accuracy per question type, assistant vs textbook.

    A dashed line marks the fact-accuracy target (the goal of [targets]) when given.
    """
    ours, textbook = report["summary"]["assistant"], report["summary"].get("textbook", {})
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
        label = f"{group} (rejected)" if group.startswith("negative") else group
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        for j, (name, summary) in enumerate((("assistant", ours), ("textbook", textbook))):
            value = type_accuracy(summary.get(group, {}))
            by = y + j * 13
            w = 0 if value is None else round(value * bar_w, 1)
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w}" height="12" fill="{colors[name]}"/>'
            )
            parts.append(f'<text x="{left + w + 4}" y="{by + 10}">{fmt("", value)}</text>')
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
