"""What got better or worse between two eval reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.metrics import QUALITY_METRICS

LOWER_IS_BETTER = frozenset({"false_refusal", "latency_p50", "latency_p95"})


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
