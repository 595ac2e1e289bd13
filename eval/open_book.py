"""Open-book evaluation on passages nobody here wrote (the CMRC 2018 format).

A pool of passages is written as articles (title line, blank line, passage) into a scratch
knowledge folder and ingested with the settings under test; every question of a pooled passage
must be answered with a gold span that a cited passage holds, and a question of a passage left
out of the pool must be refused. The dataset's format (one JSON object per line):

    {"pid": "TRIAL_800", "title": "…", "context": "…",
     "qas": [{"id": "…", "question": "…", "answers": ["…", …]}]}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.dataset import NEGATIVE
from eval.errors import EvalError, parse_json, read_input
from ingest.text.width import language

OPEN_BOOK = "open-book"


@dataclass(frozen=True)
class Passage:
    """One passage and its questions."""

    pid: str
    title: str
    context: str
    qas: tuple[dict[str, Any], ...]

    @property
    def source(self) -> str:
        """The article's file name in the scratch knowledge folder."""
        return f"{self.pid}.txt"


def load_passages(path: Path) -> list[Passage]:
    """Read an open-book dataset; EvalError names the line and the problem."""
    lines = read_input(path, "open-book dataset").splitlines()
    passages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
            passages.append(
                Passage(str(row["pid"]), str(row["title"]), str(row["context"]), tuple(row["qas"]))
            )
        except (ValueError, KeyError, TypeError):
            raise EvalError(
                f"{path} line {number}: expected {{pid, title, context, qas}} as JSON"
            ) from None
    if not passages:
        raise EvalError(f"open-book dataset {path} has no passages")
    return passages


def split(
    passages: Sequence[Passage], pool: int, negatives: int
) -> tuple[list[Passage], list[Passage]]:
    """The first `pool` passages (in file order) and the next `negatives` left out of it."""
    if pool < 1 or negatives < 0 or pool + negatives > len(passages):
        raise EvalError(
            f"the open-book dataset has {len(passages)} passages: a pool of {pool} and "
            f"{negatives} left out do not fit"
        )
    return list(passages[:pool]), list(passages[pool : pool + negatives])


def article(passage: Passage) -> str:
    """A passage as an article: title line, blank line, the passage as one paragraph."""
    return f"{passage.title}\n\n　　{passage.context.strip()}\n"


def write_articles(folder: Path, pool: Sequence[Passage]) -> None:
    """The pool as article files (unchanged files are left alone, so re-ingest is a no-op)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {p.source: article(p) for p in pool}
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


# Tuning and measuring are kept apart by passage: an even sha256 of the passage id is the half
# that thresholds and models are tuned (and trained) on, an odd one the half they are judged on.
TUNING, HELD_OUT = "tuning", "held-out"


def half_of(pid: str) -> str:
    """The half of the passages a passage belongs to: TUNING or HELD_OUT."""
    return TUNING if int(hashlib.sha256(pid.encode()).hexdigest(), 16) % 2 == 0 else HELD_OUT


def rows(pool: Sequence[Passage], left_out: Sequence[Passage]) -> list[dict[str, Any]]:
    """Eval rows: every question of the pool (its gold spans are one fact's alternatives, the
    first the evidence), and the first question of each left-out passage as a negative. Each
    row's type names its half ("open-book held-out"), so the report gives both halves."""
    out: list[dict[str, Any]] = []
    for passage in pool:
        for qa in passage.qas:
            answers = [a for a in dict.fromkeys(qa.get("answers", [])) if a.strip()]
            if qa.get("question", "").strip() and answers:
                out.append(_row(qa, passage, OPEN_BOOK, [answers], answers[0], passage.source))
    for passage in left_out:
        asked = [q for q in passage.qas if q.get("question", "").strip()]
        if asked:
            out.append(_row(asked[0], passage, NEGATIVE, [], "", ""))
    return out


def _row(
    qa: dict[str, Any],
    passage: Passage,
    kind: str,
    facts: list[list[str]],
    evidence: str,
    source: str,
) -> dict[str, Any]:
    question = str(qa["question"]).strip()
    half = half_of(passage.pid)
    return {
        "id": str(qa["id"]), "question": question, "type": f"{kind} {half}",
        "lang": language(question), "facts": facts, "evidence": evidence, "source": source,
        "half": half,
    }  # fmt: skip


def pool_fingerprint(pool: Sequence[Passage]) -> str:
    """Identifies the passages of a pool by content (datasets over the same passages share it)."""
    texts = [[p.pid, p.title, p.context] for p in pool]
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()


def fingerprint(pool: Sequence[Passage], left_out: Sequence[Passage]) -> str:
    """Identifies the pool and its negatives (the report records it)."""
    ids = [p.pid for p in pool] + ["|"] + [p.pid for p in left_out]
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()
