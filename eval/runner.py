"""Run an eval dataset through the assistant (the same path as `ask`) and the textbook baseline,
and report: the table, report.json/md, the chart and the gate (see eval.judge for the verdicts)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from assistant.schema import Answer
from assistant.settings import Settings
from eval.dataset import DEFAULT_DATASET, EVAL_DIR, load_dataset
from eval.gate import Limits, check_thresholds, load_limits
from eval.judge import make_record
from eval.metrics import summarize
from eval.render import render_diff, render_gate, render_table, render_targets
from eval.report import build_report, load_report, write_report

if TYPE_CHECKING:
    from assistant.app import App

DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.toml"


class System(Protocol):
    """What the runner asks questions of: the assistant, or the textbook pipeline."""

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer one question given the previous questions of the conversation."""
        ...


def run_eval(system: System, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ask every question (follow-ups with their earlier questions) and judge the answers."""
    records = []
    for row in rows:
        history = [turn["question"] for turn in row.get("history", [])]
        records.append(make_record(row, system.ask(row["question"], history=history)))
    return records


# --- the command -------------------------------------------------------------------------------


def _settings_info(settings: Settings) -> dict[str, Any]:
    keys = (
        "embedding_model", "chunk_size", "chunk_overlap", "k", "fusion", "dense_weight",
        "reranker_model", "rerank_candidates", "refusal_threshold", "llm_model",
    )  # fmt: skip
    return {"answerer": settings.answerer, **{k: getattr(settings, k) for k in keys}}


def run_cli(
    app: App,
    dataset: Path | None,
    out: Path,
    baseline: Path | None,
    *,
    thresholds: Path | None = None,
) -> int:
    """`zone-assistant eval`: run, print the table, write the report; return the exit code.

    1 when a [thresholds] gate value is missed, else 0; [targets] are reported, never gated.
    """
    from eval.baseline import DESCRIPTION, build_textbook

    settings = app.settings
    dataset = dataset or DEFAULT_DATASET
    rows = load_dataset(dataset)
    limits = load_limits(thresholds or DEFAULT_THRESHOLDS)
    earlier = load_report(baseline) if baseline else None

    started = time.perf_counter()
    assistant = app.assistant
    assistant.warm_up()
    warmed = time.perf_counter()
    records = run_eval(assistant, rows)
    asked = time.perf_counter()
    textbook = build_textbook(settings, app.scratch_client(), app.embeddings("query"))
    try:
        textbook_records = run_eval(textbook, rows)
    finally:
        textbook.close()
    finished = time.perf_counter()

    report = _report(
        app, dataset, rows, {"assistant": records, "textbook": textbook_records}, limits,
        timing={"warm_up_s": warmed - started, "assistant_s": asked - warmed,
                "textbook_s": finished - asked},
        earlier=earlier, earlier_name=str(baseline or ""),
        textbook=f"{DESCRIPTION}, k={settings.k}, {textbook.chunks} chunks",
    )  # fmt: skip
    target = next((t.target for t in limits.targets if t.metric == "fact_accuracy"), None)
    path = write_report(out, report, target)
    _print(report, f"{len(rows)} questions in {finished - started:.1f}s; report: {path} "
           "(and report.json, accuracy.svg)")
    return 0 if report["gate"]["passed"] else 1


def _report(
    app: App,
    dataset: Path,
    rows: Sequence[Mapping[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    limits: Limits,
    *,
    timing: dict[str, float],
    earlier: dict[str, Any] | None,
    earlier_name: str,
    textbook: str,
) -> dict[str, Any]:
    """The report of one run: summaries, gate and targets, and the diff to an earlier one."""
    summaries = {name: summarize(recs) for name, recs in records.items()}
    overall = summaries["assistant"]["overall"]
    return build_report(
        dataset={
            "path": str(dataset),
            "questions": len(rows),
            "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest(),
        },
        system={
            "assistant": app.description,
            "textbook": textbook,
            "settings": _settings_info(app.settings),
        },
        summaries=summaries,
        records=records,
        gate=check_thresholds(overall, limits.gate),
        targets=check_thresholds(overall, limits.targets),
        timing=timing,
        earlier=earlier,
        earlier_name=earlier_name,
    )


def _print(report: dict[str, Any], closing: str) -> None:
    click.echo(render_table(report))
    click.echo()
    click.echo(render_gate(report))
    if "targets" in report:
        click.echo()
        click.echo(render_targets(report))
    if "diff" in report:
        click.echo()
        click.echo(render_diff(report["diff"]))
    click.echo()
    click.echo(closing)
