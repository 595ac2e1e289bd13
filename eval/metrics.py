"""Retrieval, answer, citation and latency metrics over per-question evaluation records (the
verdicts on each question are the judge's, eval/judge.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eval.judge import Record

Metrics = dict[str, float | int | None]
# The quality metrics of `summarize` (latency is timing, not quality): what limits and diffs use.
QUALITY_METRICS = (
    "fact_accuracy", "grounded_accuracy", "citation_support", "negative_rejection",
    "false_refusal", "hit@1", "hit@3", "hit@5", "mrr", "short_accuracy", "short_precision",
    "short_shown", "figure_faithfulness",
)  # fmt: skip


def _check_ranks(ranks: Sequence[int | None]) -> None:
    if not ranks:
        raise ValueError("ranks must not be empty")
    for rank in ranks:
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
            raise ValueError(f"a rank is a 1-based int or None, got {rank!r}")


def hit_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Fraction of questions whose evidence is in the top k chunks (rank 1-based, None: absent)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    _check_ranks(ranks)
    return sum(rank is not None and rank <= k for rank in ranks) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float:
    """Mean reciprocal rank; a question whose evidence was not retrieved counts 0."""
    _check_ranks(ranks)
    return sum(1 / rank for rank in ranks if rank is not None) / len(ranks)


def rate(flags: Sequence[bool]) -> float | None:
    """Fraction of True flags; None for an empty sequence (the metric does not apply)."""
    if any(not isinstance(flag, bool) for flag in flags):
        raise ValueError("flags must be bools")
    return sum(flags) / len(flags) if flags else None


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), interpolating linearly between closest ranks (as numpy)."""
    if not values:
        raise ValueError("values must not be empty")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within [0, 100], got {p!r}")
    ordered = sorted(float(value) for value in values)
    if any(math.isnan(value) for value in ordered):
        raise ValueError("values must not contain NaN")
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _check_record(record: Record, by: str) -> None:
    if not hasattr(record, by):
        raise ValueError(f"records have no {by!r}: {record!r}")
    if not isinstance(record.answerable, bool) or not isinstance(record.refused, bool):
        raise ValueError(f"answerable and refused must be bools: {record!r}")
    latency = record.latency_ms
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise ValueError(f"latency_ms must be a non-negative number: {record!r}")


def _group_metrics(records: Sequence[Record]) -> Metrics:
    answerable = [r for r in records if r.answerable]
    negatives = [r for r in records if not r.answerable]
    # An overview reads the whole article: where its evidence ranks says nothing of retrieval.
    ranks = [r.rank for r in answerable if r.ranked]
    cited = [r.citation_ok for r in answerable if not r.refused and r.citation_ok is not None]
    latencies = [float(r.latency_ms) for r in records]
    shown = [r for r in records if not r.refused and r.short_answer]
    shorts = [len(r.short_answer or "") for r in shown if r.answerable]
    return {
        "n": len(records),
        "hit@1": hit_at_k(ranks, 1) if ranks else None,
        "hit@3": hit_at_k(ranks, 3) if ranks else None,
        "hit@5": hit_at_k(ranks, 5) if ranks else None,
        "mrr": mrr(ranks) if ranks else None,
        # An answerable question without a verdict (correct is None) counts as not correct.
        "fact_accuracy": rate([r.correct is True for r in answerable]),
        # States every fact as a passage it cites has it (None when not judged).
        "grounded_accuracy": rate([r.grounded is True for r in answerable])
        if all(r.grounded is not None for r in answerable)
        else None,
        "citation_support": rate([bool(flag) for flag in cited]),
        "negative_rejection": rate([r.refused for r in negatives]),
        "false_refusal": rate([r.refused for r in answerable]),
        # The short answer states every fact (None when not judged).
        "short_accuracy": rate([r.short_correct is True for r in answerable])
        if answerable and all(r.short_correct is not None for r in answerable)
        else None,
        # Right among the short answers shown (one shown for a negative is wrong), and how
        # often one is shown for an answerable question.
        "short_precision": rate([r.short_correct is True for r in shown])
        if shown and all(r.short_correct is not None or not r.answerable for r in shown)
        else None,
        "short_shown": rate([r in shown for r in answerable])
        if answerable and all(r.short_answer is not None for r in answerable)
        else None,
        "short_chars_p50": percentile(shorts, 50) if shorts else None,
        # Figures the answers state that the quotes they cite state (None: no figure stated).
        "figure_faithfulness": _share(
            sum(r.figures_supported for r in records), sum(r.figures_stated for r in records)
        ),
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarize(records: Sequence[Record], by: str = "type") -> dict[str, Metrics]:
    """Metrics per value of the records' field `by`, in sorted order, then "overall" over all.

    Retrieval metrics and fact_accuracy and false_refusal are over answerable
    records, citation_support over answerable non-refused records with a citation verdict,
    negative_rejection over unanswerable records; a metric with no such record is None.
    """
    if not records:
        raise ValueError("records must not be empty")
    for record in records:
        _check_record(record, by)
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(str(getattr(record, by)), []).append(record)
    if "overall" in groups:
        raise ValueError('"overall" is reserved and cannot be a group name')
    summary = {name: _group_metrics(groups[name]) for name in sorted(groups)}
    summary["overall"] = _group_metrics(records)
    return summary
