"""Eval datasets: JSON lines of questions with their expected facts and evidence, validated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.answering.question import clean_question
from assistant.errors import InvalidQuestionError
from eval.errors import EvalError, parse_json, read_input

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVAL_DIR / "dataset.jsonl"
NEGATIVE = "negative"


def _row_problem(row: Any, seen: Mapping[str, int], max_chars: int) -> str | None:
    """What is wrong with one parsed dataset line, or None."""
    if not isinstance(row, dict):
        return "expected a JSON object"
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired surrogate (a \\ud800-\\udfff escape): not text; fix the line"
    missing = [k for k in ("id", "question", "type", "facts", "evidence") if k not in row]
    if missing:
        return "missing " + ", ".join(repr(k) for k in missing)
    for key in ("id", "question", "type"):
        if not isinstance(row[key], str) or not row[key].strip():
            return f"{key!r} must be a non-empty string"
    for question in [row["question"], *(t.get("question") for t in _turns(row))]:
        try:
            clean_question(question, max_chars)  # what `ask` would refuse, before any model loads
        except InvalidQuestionError as exc:
            return f"'question': {exc}"
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
    least = row.get("min_facts", len(facts))
    whole = isinstance(least, int) and not isinstance(least, bool)
    if "min_facts" in row and not (whole and 1 <= least <= len(facts)):
        return f"'min_facts' must be a whole number from 1 to {len(facts)} (the facts it states)"
    for key in ("lead", "earlier", "absent"):
        value = row.get(key, [])
        if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
            return f"{key!r} must be a list of non-empty strings"
    history = row.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and isinstance(t.get("question"), str) and t["question"].strip()
        for t in history
    ):
        return "'history' must be a list of objects with a non-empty 'question'"
    return None


def _turns(row: dict[str, Any]) -> list[dict[str, Any]]:
    history = row.get("history", [])
    return [t for t in history if isinstance(t, dict)] if isinstance(history, list) else []


def load_dataset(path: Path, max_question_chars: int = 1000) -> list[dict[str, Any]]:
    """Read and validate a JSONL eval dataset; raise EvalError naming the line and the problem
    (a question `ask` would refuse, e.g. empty once invisible characters go, is one)."""
    text = read_input(path, "dataset file")
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except json.JSONDecodeError as exc:
            raise EvalError(
                f"{path} line {number}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        except ValueError as exc:
            raise EvalError(f"{path} line {number}: invalid JSON ({exc})") from None
        problem = _row_problem(row, seen, max_question_chars)
        if problem:
            raise EvalError(f"{path} line {number}: {problem}")
        seen[row["id"]] = number
        rows.append(row)
    if not rows:
        raise EvalError(f"dataset file {path} has no questions")
    return rows
