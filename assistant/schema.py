"""The answer the assistant returns, and its JSON form (the `ask --json` and API contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Context:
    """A retrieved chunk, in rank order."""

    chunk_id: str
    source: str
    text: str
    score: float
    title: str = ""
    char_start: int = 0
    char_end: int = 0
    paragraph: int = 0

    def to_json(self) -> dict[str, Any]:
        """The contract's context object."""
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "text": self.text,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True)
class Citation:
    """One [n] marker of the answer: the chunk it points at and the verbatim quoted text."""

    n: int
    chunk_id: str
    source: str
    quote: str
    title: str = ""
    # Where the quote sits in the normalised document, for highlighting it in the passage.
    char_start: int = 0
    char_end: int = 0

    def to_json(self) -> dict[str, Any]:
        """The contract's citation object."""
        return {"n": self.n, "chunk_id": self.chunk_id, "source": self.source, "quote": self.quote}


@dataclass(frozen=True)
class Answer:
    """A complete answer: text with [n] markers, its citations and the retrieved contexts."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    latency_ms: float = 0.0
    standalone_question: str = ""

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys of the `ask --json` contract."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "contexts": [c.to_json() for c in self.contexts],
            "latency_ms": round(self.latency_ms, 3),
        }
