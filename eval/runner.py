"""Run an eval dataset through the assistant (the same path as `ask`) and the textbook baseline,
and report: the table, report.json/md, the chart and the gate (see eval.judge for the verdicts)."""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from assistant.schema import Answer
from eval import open_book
from eval.dataset import DEFAULT_DATASET, EVAL_DIR, load_dataset
from eval.errors import EvalError
from eval.gate import Limits, check_thresholds, load_limits
from eval.judge import Record, make_record
from eval.metrics import summarize
from eval.render import (
    render_diff,
    render_gate,
    render_side_by_side,
    render_table,
    render_targets,
)
from eval.report import build_report, load_report, write_report
from ingest.errors import IndexMismatchError
from ingest.store.client import open_embedded

if TYPE_CHECKING:
    from assistant.answering.pipeline import Assistant
    from assistant.app import App

DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.toml"
DEFAULT_OPEN_BOOK_THRESHOLDS = EVAL_DIR / "thresholds-open-book.toml"


class System(Protocol):
    """What the runner asks questions of: the assistant, or the textbook pipeline."""

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer one question given the previous questions of the conversation."""
        ...


class ReaderSystem:
    """The assistant's "read closer": the reader's checked answer to each question."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """The reader's answer, once checked (what is streamed before is not judged), with the
        time its first text took in its signals (`first_text_ms`)."""
        started, first = time.perf_counter(), None
        for item in self.assistant.read_closer(question, history):
            if isinstance(item, Answer):
                waited = (time.perf_counter() - started) * 1000 if first is None else first
                return replace(item, signals={**item.signals, "first_text_ms": waited})
            first = first if first is not None else (time.perf_counter() - started) * 1000
        raise EvalError(f"the reader gave no answer to {question!r}")


def run_eval(system: System, rows: Sequence[Mapping[str, Any]]) -> list[Record]:
    """Ask every question (follow-ups with their earlier questions) and judge the answers."""
    records = []
    for row in rows:
        history = [turn["question"] for turn in row.get("history", [])]
        records.append(make_record(row, system.ask(row["question"], history=history)))
    return records


# --- the command -------------------------------------------------------------------------------


def _settings_info(app: App) -> dict[str, Any]:
    settings = app.settings
    keys = (
        "embedding_model", "sentence_vectors", "chunk_size", "chunk_overlap", "k", "fusion",
        "dense_weight", "reranker_model", "rerank_candidates", "refusal_threshold",
        "llm_model", "llm_role",
    )  # fmt: skip
    info = {"answerer": settings.answerer, **{k: getattr(settings, k) for k in keys}}
    info["decision_params"] = str(settings.decision_params or "") or "shipped"
    decider = app.decider()
    info["decider"] = decider.name
    model = getattr(decider, "model", None)
    if model is not None:
        info["answer_threshold"] = model.answer_threshold
        info["short_threshold"] = model.short_threshold
        info["vetoes"] = list(getattr(decider, "vetoes", ()))
    return info


@dataclass(frozen=True)
class OpenBook:
    """An open-book run: the dataset file, how many passages are pooled and left out."""

    path: Path
    pool: int = 150
    negatives: int = 60
    thresholds: Path | None = None


def run_cli(
    app: App,
    dataset: Path | None,
    out: Path,
    baseline: Path | None,
    *,
    thresholds: Path | None = None,
    open_books: Sequence[OpenBook] = (),
    reader: bool = False,
    textbook: bool = True,
) -> int:
    """`zone-assistant eval`: run, print the table, write the report; return the exit code.

    Each of `open_books` is evaluated too (report in out/open-book/<file name>; datasets over
    the same passages share one ingested pool). Without `textbook`, the baseline is not run.
    1 when a [thresholds] gate value of any is missed, else 0; [targets] are reported, never
    gated.
    """
    dataset = dataset or DEFAULT_DATASET
    rows = load_dataset(dataset, app.settings.max_question_chars)
    limits = load_limits(thresholds or DEFAULT_THRESHOLDS)
    earlier = load_report(baseline) if baseline else None
    for spec in open_books:  # every input checked before any work
        open_book.load_passages(spec.path)
        load_limits(spec.thresholds or open_book_thresholds(spec.path))
    writable(out)
    info = {"path": str(dataset), "questions": len(rows),
            "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest()}  # fmt: skip
    passed = run_suite(
        app, rows, info, out, limits, earlier, str(baseline or ""), reader, textbook=textbook
    )
    for spec in open_books:
        click.echo(f"\n=== open book: {spec.path} ===")
        where = out / "open-book" / spec.path.stem
        pools = out / "open-book" / "pools"
        passed = run_open_book(app, spec, where, pools, reader, textbook) and passed
    return 0 if passed else 1


def writable(out: Path) -> None:
    """Fail before a run of minutes when its report folder cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise EvalError(f"cannot write the report to {out}: {exc.strerror or exc}") from None


def open_book_thresholds(dataset: Path) -> Path:
    """The default limits of an open-book dataset: eval/thresholds-open-book-<name>.toml when
    there is one (the English and paraphrased sets), else eval/thresholds-open-book.toml."""
    own = EVAL_DIR / f"thresholds-open-book-{dataset.stem}.toml"
    return own if own.is_file() else DEFAULT_OPEN_BOOK_THRESHOLDS


def run_open_book(
    app: App,
    spec: OpenBook,
    out: Path,
    pools: Path | None = None,
    reader: bool = False,
    textbook: bool = True,
) -> bool:
    """Ingest the pool (into pools/<its fingerprint>, kept: a re-run, or another dataset over
    the same passages, re-uses it) and run its questions; the report goes to out."""
    from assistant.app import build_app

    pool, left_out = open_book.split(open_book.load_passages(spec.path), spec.pool, spec.negatives)
    limits = load_limits(spec.thresholds or open_book_thresholds(spec.path))
    where = (pools or out / "pools") / open_book.pool_fingerprint(pool)[:16]
    knowledge = where / "knowledge"
    open_book.write_articles(knowledge, pool)
    settings = app.settings.model_copy(
        update={"knowledge_dir": knowledge, "data_dir": where / "data", "profile": None}
    )
    pool_app = build_app(settings)
    try:
        try:
            summary = pool_app.ingest()
        except IndexMismatchError as exc:  # the eval's own scratch index: rebuilt, not refused
            click.echo(f"rebuilding the open-book index ({exc})")
            summary = pool_app.ingest(rebuild=True)
        if summary.exit_code != 0:
            raise EvalError("the open-book pool did not ingest: " + "; ".join(summary.lines()))
        rows = open_book.rows(pool, left_out)
        info = {
            "path": str(spec.path), "questions": len(rows), "pool": len(pool),
            "left_out": len(left_out), "sha256": open_book.fingerprint(pool, left_out),
        }  # fmt: skip
        store = where / "textbook" if textbook else None
        return run_suite(
            pool_app, rows, info, out, limits, None, "", reader, textbook, textbook_store=store
        )
    finally:
        pool_app.close()


def run_suite(
    app: App,
    rows: Sequence[Mapping[str, Any]],
    dataset: Mapping[str, Any],
    out: Path,
    limits: Limits,
    earlier: dict[str, Any] | None,
    earlier_name: str,
    reader: bool = False,
    textbook: bool = True,
    textbook_store: Path | None = None,
) -> bool:
    """Ask the assistant and the textbook pipeline every question (and the reader, with
    `reader`); write and print the report; return whether the gate passed (the assistant's).
    Without `textbook`, the baseline is not run; with `textbook_store`, its collection is kept
    there for the next run."""
    from eval.baseline import DESCRIPTION, build_textbook

    started = time.perf_counter()
    assistant = app.assistant
    assistant.warm_up()
    warmed = time.perf_counter()
    records = run_eval(assistant, rows)
    asked = time.perf_counter()
    systems = {"assistant": records}
    described = "not run (--no-textbook)"
    if textbook:
        if textbook_store is None:
            client, keep = app.scratch_client(), False
        else:
            client, keep = open_embedded(textbook_store), True
        pipeline = build_textbook(app.settings, client, app.embeddings("query"), keep)
        try:
            systems["textbook"] = run_eval(pipeline, rows)
        finally:
            pipeline.close()
        described = f"{DESCRIPTION}, k={app.settings.k}, {pipeline.chunks} chunks"
    timing = {"warm_up_s": warmed - started, "assistant_s": asked - warmed}
    if textbook:
        timing["textbook_s"] = time.perf_counter() - asked
    if reader:
        read = time.perf_counter()
        with click.progressbar(rows, label="  reading closer", file=None) as bar:
            systems["reader"] = run_eval(ReaderSystem(assistant), list(bar))
        timing["reader_s"] = time.perf_counter() - read
    finished = time.perf_counter()
    report = _report(
        app, dataset, systems, limits,
        timing=timing,
        earlier=earlier, earlier_name=earlier_name,
        textbook=described,
    )  # fmt: skip
    target = next((t.target for t in limits.targets if t.metric == "fact_accuracy"), None)
    path = write_report(out, report, target)
    _print(
        report,
        f"{len(rows)} questions in {finished - started:.1f}s; report: {path} "
        "(and report.json, accuracy.svg)",
    )
    return bool(report["gate"]["passed"])


def _report(
    app: App,
    dataset: Mapping[str, Any],
    records: dict[str, list[Record]],
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
        dataset=dataset,
        system={
            "assistant": app.description,
            "textbook": textbook,
            "settings": _settings_info(app),
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
    if side := render_side_by_side(report):
        click.echo()
        click.echo(side)
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
