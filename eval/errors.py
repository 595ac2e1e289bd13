"""The eval layer's errors, and the reading of its input files that raises them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.errors import UserError


class EvalError(UserError):
    """An eval input (dataset, thresholds, earlier report) is missing or malformed."""


def read_input(path: Path, what: str) -> str:
    """The text of an eval input file; an EvalError names it when it is missing, not a regular
    file (a FIFO would hang the run, a folder fail it late) or unreadable."""
    try:
        if not path.exists():
            raise EvalError(f"{what} {path} does not exist")
        if not path.is_file():
            raise EvalError(f"{what} {path} is not a regular file")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read {what} {path}: {type(exc).__name__}") from None


def parse_json(line: str) -> Any:
    """JSON text; nesting deep enough to exhaust the parser is a ValueError like any
    other malformed input (it was "unexpected RecursionError")."""
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
