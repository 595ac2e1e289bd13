"""What flows through the answering chain: the query, the retrieved contexts, the draft, and the
answer the assistant returns with its JSON form (the `ask --json` and API contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The fixed refusal, in the question's language: every answerer and the chain use these texts.
REFUSAL = {"zh": "知识库中没有找到相关信息。", "en": "The sources do not answer this."}


@dataclass(frozen=True)
class QueryPart:
    """One question of a query ("几个子公司？资产总额是多少？" has two): as asked (what the dense
    side embeds) and in the corpus's words (what the lexical side searches)."""

    text: str
    search: str


@dataclass(frozen=True)
class Query:
    """A cleaned question, made standalone and split into parts, as the chain passes it on."""

    question: str
    standalone: str
    lang: str
    parts: tuple[QueryPart, ...]
    history: tuple[str, ...] = ()
    k: int | None = None


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
    # The scores fused into `score` (None: not in that list), and the score before reranking.
    dense_score: float | None = None
    lexical_score: float | None = None
    fused_score: float | None = None
    # Its article's publication date (ISO, '' unknown) and the reposts of it (assistant/archive).
    published: str = ""
    also_in: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The contract's context object."""
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "text": self.text,
            "score": round(self.score, 6),
            "published": self.published,
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
    published: str = ""  # the article's date (ISO, '' unknown)
    also_in: tuple[str, ...] = ()  # reposts of the article, counted as this one source

    def to_json(self) -> dict[str, Any]:
        """The contract's citation object."""
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "quote": self.quote,
            "published": self.published,
        }


@dataclass(frozen=True)
class Retrieved:
    """A query with the contexts retrieved for each of its parts."""

    query: Query
    per_part: tuple[tuple[Context, ...], ...]
    # Why the archive cannot answer for the time asked about ('' when it can; assistant/archive).
    refusal: str = ""

    @property
    def contexts(self) -> list[Context]:
        """Every retrieved context once, in order of first retrieval."""
        merged: dict[str, Context] = {}
        for found in self.per_part:
            for ctx in found:
                merged.setdefault(ctx.chunk_id, ctx)
        return list(merged.values())


@dataclass
class Draft:
    """An answer before citation checking: text with [n] markers over `cited` contexts.

    `quotes` gives the verbatim chunk sentence each marker stands for; a marker without one gets
    the chunk sentence closest to the claims that survive the check.
    """

    text: str
    refused: bool
    cited: dict[int, Context] = field(default_factory=dict)
    quotes: dict[int, str] = field(default_factory=dict)
    short_answer: str = ""  # the asked fact, verbatim from the best sentence
    signals: dict[str, Any] = field(default_factory=dict)  # what the answerer decided on

    @staticmethod
    def refusal(lang: str, signals: dict[str, Any] | None = None) -> Draft:
        """The fixed refusal in the question's language."""
        return Draft(REFUSAL[lang], refused=True, signals=dict(signals or {}))


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
    # The asked fact, verbatim from the first cited sentence ("1900余家"); "" when refused.
    short_answer: str = ""
    # Why the answerer refused, or what made it confident: its signals, for the eval's curves.
    signals: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys of the `ask --json` contract."""
        return {
            "question": self.question,
            "short_answer": self.short_answer,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "contexts": [c.to_json() for c in self.contexts],
            "latency_ms": round(self.latency_ms, 3),
        }
