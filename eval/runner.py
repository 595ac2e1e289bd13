"""Run an eval dataset through the assistant (the same path as `ask`) and the textbook baseline.

Per question: `rank` is where the evidence sits among the retrieved chunks; `correct` whether the
answer (citation markers removed) states every expected fact, False when an answerable question is
refused; `citation_ok` whether every citation is supported, None for refusals and negatives.

A citation [n] is supported when its quote occurs verbatim (ignoring whitespace) in the chunk it
names, that chunk is among the retrieved ones, and every answer sentence carrying [n] is
supported by the chunk under `eval.metrics.citation_supported`: the chunk holds the evidence or
every expected fact, or, for a sentence that states only some of the facts (one part of a
multi-part answer), every fact that sentence states; and always every number of the sentence.
The sentence carrying [n] is the answer text between the previous marker (or sentence end) and
[n]; when the answer has no [n] (the textbook pipeline's), the citation's quote stands for it.
An answered question that cites nothing is unsupported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import click

from assistant.errors import AssistantError
from assistant.schema import Answer
from assistant.settings import Settings
from eval.matching import match_fact, normalize
from eval.metrics import citation_supported, evidence_rank, summarize
from eval.report import (
    QUALITY_METRICS,
    Threshold,
    build_report,
    check_thresholds,
    render_diff,
    render_gate,
    render_markdown,
    render_svg,
    render_table,
    render_targets,
)

logger = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVAL_DIR / "dataset.jsonl"
DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.toml"
NEGATIVE = "negative"

_MARKERS = re.compile(r"(?:\s*[\[［【]\s*\d+(?:\s*[,，、\-–]\s*\d+)*\s*[\]］】])+")
_MARKER_NUMBERS = re.compile(r"(\d+)(?:\s*[\-–]\s*(\d+))?")
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?=\s)")
_TRAILING_END = re.compile(r"[\s。！？!?；;.]+$")


class EvalError(AssistantError):
    """An eval input (dataset, thresholds, earlier report) is missing or malformed."""


class Limits(NamedTuple):
    """A thresholds file: the gate (a miss fails the run) and the targets (reported only)."""

    gate: list[Threshold]
    targets: list[Threshold]


class System(Protocol):
    """What the runner asks questions of: the assistant, or the textbook pipeline."""

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer one question given the previous questions of the conversation."""
        ...


# --- inputs ------------------------------------------------------------------------------------


def _row_problem(row: Any, seen: Mapping[str, int]) -> str | None:
    """What is wrong with one parsed dataset line, or None."""
    if not isinstance(row, dict):
        return "expected a JSON object"
    missing = [k for k in ("id", "question", "type", "facts", "evidence") if k not in row]
    if missing:
        return "missing " + ", ".join(repr(k) for k in missing)
    for key in ("id", "question", "type"):
        if not isinstance(row[key], str) or not row[key].strip():
            return f"{key!r} must be a non-empty string"
    if row["id"] in seen:
        return f"duplicate id {row['id']!r} (first on line {seen[row['id']]})"
    if row["type"] == "overall":
        return "'overall' is reserved and cannot be a type"
    facts = row["facts"]
    if not isinstance(facts, list) or not all(
        isinstance(f, list) and f and all(isinstance(a, str) and a.strip() for a in f)
        for f in facts
    ):
        return "'facts' must be a list of facts, each a non-empty list of non-empty strings"
    if row["type"] == NEGATIVE and facts:
        return "a negative question must have no facts"
    if row["type"] != NEGATIVE and not facts:
        return "'facts' is empty; only type 'negative' questions have no facts"
    evidence = row["evidence"]
    if facts and (not isinstance(evidence, str) or not evidence.strip()):
        return "an answerable question needs 'evidence' (a non-empty string)"
    history = row.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and isinstance(t.get("question"), str) and t["question"].strip()
        for t in history
    ):
        return "'history' must be a list of objects with a non-empty 'question'"
    return None


def load_dataset(path: Path) -> list[dict[str, Any]]:
    """Read and validate a JSONL eval dataset; raise EvalError naming the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalError(f"dataset file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read dataset file {path}: {type(exc).__name__}") from None
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(
                f"{path} line {number}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        problem = _row_problem(row, seen)
        if problem:
            raise EvalError(f"{path} line {number}: {problem}")
        seen[row["id"]] = number
        rows.append(row)
    if not rows:
        raise EvalError(f"dataset file {path} has no questions")
    return rows


def _limits_table(path: Path, name: str, table: Any) -> list[Threshold]:
    """The limits of one table: metric = { min = x } or { max = x }, x between 0 and 1."""
    out = []
    for metric, spec in table.items():
        if metric not in QUALITY_METRICS:
            raise EvalError(
                f"thresholds file {path}: [{name}] unknown metric {metric!r}; "
                f"known: {', '.join(QUALITY_METRICS)}"
            )
        bounds = [b for b in ("min", "max") if isinstance(spec, dict) and b in spec]
        value = spec.get(bounds[0]) if len(bounds) == 1 and len(spec) == 1 else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise EvalError(
                f"thresholds file {path}: [{name}] {metric} needs exactly one of "
                "{ min = x } or { max = x } with x between 0 and 1"
            )
        out.append(Threshold(metric, bounds[0], float(value)))  # type: ignore[arg-type]
    return out


def load_limits(path: Path) -> Limits:
    """Read a thresholds file: the [thresholds] gate (required) and the [targets] (optional).

    Both tables hold metric = { min = x } or { max = x }; a file without [targets] has none.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"thresholds file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read thresholds file {path}: {type(exc).__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EvalError(f"thresholds file {path}: invalid TOML ({exc})") from None
    gate = data.get("thresholds")
    if not isinstance(gate, dict) or not gate:
        raise EvalError(f"thresholds file {path}: needs a non-empty [thresholds] table")
    unknown = sorted(set(data) - {"thresholds", "targets"})
    if unknown:
        raise EvalError(
            f"thresholds file {path}: unknown key {unknown[0]!r}; "
            "only [thresholds] and [targets] tables are allowed"
        )
    targets = data.get("targets", {})
    if "targets" in data and (not isinstance(targets, dict) or not targets):
        raise EvalError(
            f"thresholds file {path}: [targets] must be a non-empty table (or be left out)"
        )
    return Limits(_limits_table(path, "thresholds", gate), _limits_table(path, "targets", targets))


def load_thresholds(path: Path) -> list[Threshold]:
    """The CI gate of a thresholds file: its [thresholds] (the whole file is validated)."""
    return load_limits(path).gate


def load_targets(path: Path) -> list[Threshold]:
    """The goals of a thresholds file: its [targets], empty when it has none (reported only)."""
    return load_limits(path).targets


def load_report(path: Path) -> dict[str, Any]:
    """An earlier report.json to compare against."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(
            f"earlier report {path} does not exist; "
            "pass a report.json written by zone-assistant eval"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
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


# --- judging one answer ------------------------------------------------------------------------


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers (their digits are not facts)."""
    return _MARKERS.sub("", text)


def _marker_numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for low, high in _MARKER_NUMBERS.findall(group):
        numbers.extend(range(int(low), int(high or low) + 1))
    return numbers


def carrying_sentences(answer: str) -> dict[int, list[str]]:
    """For each marker number, the answer sentences that carry it (see the module docstring)."""
    out: dict[int, list[str]] = {}
    previous = 0
    for group in _MARKERS.finditer(answer):
        segment = _TRAILING_END.sub("", answer[previous : group.start()])
        ends = list(_SENTENCE_END.finditer(segment))
        sentence = (segment[ends[-1].end() :] if ends else segment).strip() or segment.strip()
        for n in _marker_numbers(group.group()):
            out.setdefault(n, []).append(sentence)
        previous = group.end()
    return out


def sentence_supported(
    sentence: str, chunk: str, evidence: str | None, facts: Sequence[Sequence[str]]
) -> bool:
    """The chunk supports the sentence: evidence or all facts, or every fact the sentence states."""
    if citation_supported(sentence, chunk, evidence, facts):
        return True
    stated = [f for f in facts if match_fact(sentence, f) == "match"]
    return bool(stated) and citation_supported(sentence, chunk, None, stated)


def judge_citations(
    answer: Answer, row: Mapping[str, Any]
) -> tuple[bool | None, list[dict[str, Any]]]:
    """citation_ok for the record, and each citation with its verdict."""
    if answer.refused or not row["facts"]:
        return None, [
            {"n": c.n, "chunk_id": c.chunk_id, "quote": c.quote, "supported": None}
            for c in answer.citations
        ]
    contexts = {c.chunk_id: c.text for c in answer.contexts}
    sentences = carrying_sentences(answer.answer)
    judged = []
    for c in answer.citations:
        chunk = contexts.get(c.chunk_id)
        ok = (
            chunk is not None
            and bool(normalize(c.quote))
            and normalize(c.quote) in normalize(chunk)
            and all(
                sentence_supported(s, chunk, row["evidence"], row["facts"])
                for s in sentences.get(c.n) or [c.quote]
            )
        )
        judged.append({"n": c.n, "chunk_id": c.chunk_id, "quote": c.quote, "supported": ok})
    return (bool(judged) and all(j["supported"] for j in judged)), judged


def make_record(row: Mapping[str, Any], answer: Answer) -> dict[str, Any]:
    """The per-question record: what `summarize` needs plus what the report shows."""
    answerable = bool(row["facts"])
    texts = [c.text for c in answer.contexts]
    plain = strip_markers(answer.answer)
    verdicts = [match_fact(plain, f) for f in row["facts"]]
    citation_ok, citations = judge_citations(answer, row)
    correct = (not answer.refused and all(v == "match" for v in verdicts)) if answerable else None
    return {
        "id": row["id"],
        "type": row["type"],
        "lang": row.get("lang", ""),
        "question": row["question"],
        "history": [turn["question"] for turn in row.get("history", [])],
        "standalone": answer.standalone_question,
        "facts": row["facts"],
        "evidence": row["evidence"],
        "answerable": answerable,
        "refused": answer.refused,
        "answer": answer.answer,
        "fact_verdicts": verdicts,
        "correct": correct,
        "rank": evidence_rank(row["evidence"], texts) if answerable else None,
        "citation_ok": citation_ok,
        "citations": citations,
        "contexts": [{"chunk_id": c.chunk_id, "text": c.text} for c in answer.contexts],
        "latency_ms": answer.latency_ms,
    }


def run_eval(system: System, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ask every question (follow-ups with their earlier questions) and judge the answers."""
    records = []
    for row in rows:
        history = [turn["question"] for turn in row.get("history", [])]
        records.append(make_record(row, system.ask(row["question"], history=history)))
    return records


# --- the command -------------------------------------------------------------------------------


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


def _settings_info(settings: Settings) -> dict[str, Any]:
    keys = (
        "embedding_model", "chunk_size", "chunk_overlap", "k", "fusion", "dense_weight",
        "reranker_model", "rerank_candidates", "refusal_threshold", "llm_model",
    )  # fmt: skip
    return {"answerer": settings.answerer, **{k: getattr(settings, k) for k in keys}}


def run_cli(
    settings: Settings,
    dataset: Path | None,
    out: Path,
    baseline: Path | None,
    *,
    thresholds: Path | None = None,
) -> int:
    """`zone-assistant eval`: run, print the table, write the report; return the exit code.

    1 when a [thresholds] gate value is missed, else 0; [targets] are reported, never gated.
    """
    from assistant.app import build_assistant, build_embeddings
    from eval.baseline import DESCRIPTION, build_textbook

    dataset = dataset or DEFAULT_DATASET
    rows = load_dataset(dataset)
    limits = load_limits(thresholds or DEFAULT_THRESHOLDS)
    earlier = load_report(baseline) if baseline else None

    started = time.perf_counter()
    assistant = build_assistant(settings)
    assistant.warm_up()
    warmed = time.perf_counter()
    records = run_eval(assistant, rows)
    asked = time.perf_counter()
    textbook = build_textbook(settings, build_embeddings(settings))
    try:
        textbook_records = run_eval(textbook, rows)
    finally:
        textbook.close()
    finished = time.perf_counter()

    summaries = {"assistant": summarize(records), "textbook": summarize(textbook_records)}
    report = build_report(
        dataset={
            "path": str(dataset),
            "questions": len(rows),
            "sha256": hashlib.sha256(dataset.read_bytes()).hexdigest(),
        },
        system={
            "assistant": assistant.description,
            "textbook": f"{DESCRIPTION}, k={settings.k}, {textbook.chunks} chunks",
            "settings": _settings_info(settings),
        },
        summaries=summaries,
        records={"assistant": records, "textbook": textbook_records},
        gate=check_thresholds(summaries["assistant"]["overall"], limits.gate),
        targets=check_thresholds(summaries["assistant"]["overall"], limits.targets),
        timing={
            "warm_up_s": warmed - started,
            "assistant_s": asked - warmed,
            "textbook_s": finished - asked,
        },
        earlier=earlier,
        earlier_name=str(baseline or ""),
    )
    target = next((t.target for t in limits.targets if t.metric == "fact_accuracy"), None)
    path = write_report(out, report, target)

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
    click.echo(
        f"{len(rows)} questions in {finished - started:.1f}s; "
        f"report: {path} (and report.json, accuracy.svg)"
    )
    return 0 if report["gate"]["passed"] else 1
