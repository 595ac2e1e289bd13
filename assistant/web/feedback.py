"""Thumbs up/down on answers as JSON lines, so staff can turn misses into eval questions."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RATINGS = ("up", "down")
FEEDBACK_FILE = "feedback.jsonl"


class FeedbackStore:
    """An append-only JSON-lines file: one object per rating, with question, answer, citations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        """The store at data_dir / feedback.jsonl."""
        return cls(data_dir / FEEDBACK_FILE)

    def record(self, answer: dict[str, Any], rating: str, model: str = "") -> dict[str, Any]:
        """Append one rating of an answer (an `ask --json` object); return the stored entry."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
        entry = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "rating": rating,
            "question": answer.get("question", ""),
            "answer": answer.get("answer"),
            "refused": answer.get("refused"),
            "citations": answer.get("citations", []),
            "model": model,
        }
        if answer.get("error"):
            entry["error"] = answer["error"]
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                _flock(fh)
                fh.write(line)
        logger.info("feedback %s recorded for: %s", rating, entry["question"][:60])
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry, oldest first (an unreadable line is skipped with a warning)."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("skipping unreadable line %d of %s", number, self.path)
        return out


def _flock(fh: Any) -> None:
    """Lock the file against other processes appending at the same time (released on close)."""
    try:
        import fcntl
    except ImportError:  # Windows: the in-process lock is all there is
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
