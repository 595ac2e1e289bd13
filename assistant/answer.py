"""The default answerer: offline and deterministic, it quotes the best source sentences verbatim."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant import question as q
from assistant.schema import Context
from ingest.chunk import split_sentences
from ingest.lexical import tokenize

REFUSAL = {"zh": "知识库中没有找到相关信息。", "en": "The sources do not answer this."}

_HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+[个家项条本年月亿万]")
_HAS_DATE = re.compile(r"\d{4}年|\d{1,2}月|今年|去年|明年|\d{1,2}日")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class Draft:
    """An answer before citation checking: text with [n] markers over `cited` contexts."""

    text: str
    refused: bool
    cited: dict[int, Context] = field(default_factory=dict)
    quotes: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its score and where it lies."""

    score: float
    coverage: float
    context_rank: int
    start: int
    end: int
    text: str


class ExtractiveAnswerer:
    """Scores the sentences of the retrieved chunks against the question and quotes the best.

    Signals: IDF-weighted coverage of the question's terms (lexical), the chunk's fused
    retrieval rank (dense + lexical), and the kind of question (多少 wants a number, 什么时候 a
    date, 哪些 a list). Below `threshold` coverage it refuses instead of guessing.
    """

    name = "extractive"

    def __init__(
        self, idf: Callable[[str], float], threshold: float = 0.5, max_sentences: int = 2
    ) -> None:
        self.idf = idf
        self.threshold = threshold
        self.max_sentences = max_sentences

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Compose a short answer of verbatim quotes with [n] markers, or a refusal."""
        lang = lang or q.language(question)
        terms = sorted(set(tokenize(question)))
        scored = self.rank_sentences(question, terms, contexts)
        if not scored or scored[0].coverage < self.threshold:
            return Draft(REFUSAL[lang], refused=True)
        best = scored[0]
        kind = q.kind(question)
        if kind == "number" and not _HAS_NUMBER.search(best.text):
            return Draft(REFUSAL[lang], refused=True)
        chosen = [best]
        limit = self.max_sentences + (1 if kind == "list" else 0)
        covered = self._covered(terms, best.text)
        for cand in scored[1:]:
            if len(chosen) >= limit:
                break
            new_terms = self._covered(terms, cand.text) - covered
            if cand.score >= 0.8 * best.score and new_terms and cand.coverage >= self.threshold:
                chosen.append(cand)
                covered |= new_terms
        # Quotes from one passage read best in source order.
        chosen.sort(
            key=lambda s: (
                contexts[s.context_rank].source,
                contexts[s.context_rank].char_start + s.start,
            )
        )
        draft = Draft("", refused=False)
        parts = []
        for i, sent in enumerate(chosen, start=1):
            draft.cited[i] = contexts[sent.context_rank]
            draft.quotes[i] = sent.text
            parts.append(f"{sent.text}[{i}]")
        draft.text = "".join(parts) if lang == "zh" else english_summary(chosen, parts)
        return draft

    def rank_sentences(
        self, question: str, terms: Sequence[str], contexts: Sequence[Context]
    ) -> list[Scored]:
        """Every sentence of every context, best first (ties broken by rank and position)."""
        weights = {t: self.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        kind = q.kind(question)
        out: list[Scored] = []
        for rank, ctx in enumerate(contexts):
            for start, end in split_sentences(ctx.text):
                text = ctx.text[start:end]
                coverage = sum(w for t, w in weights.items() if t in text) / total
                bonus = 0.1 / (1 + rank)
                if kind == "number":
                    bonus += 0.15 if _HAS_NUMBER.search(text) else -0.15
                elif kind == "date":
                    bonus += 0.15 if _HAS_DATE.search(text) else -0.15
                elif kind == "list":
                    bonus += 0.1 if text.count("、") >= 2 else 0.0
                out.append(Scored(coverage + bonus, coverage, rank, start, end, text))
        out.sort(key=lambda s: (-s.score, s.context_rank, s.start))
        return out

    @staticmethod
    def _covered(terms: Sequence[str], text: str) -> set[str]:
        return {t for t in terms if t in text}


def english_summary(chosen: Sequence[Scored], parts: Sequence[str]) -> str:
    """An English answer over Chinese evidence: the figures in English, then the cited quotes."""
    figures = []
    for i, sent in enumerate(chosen, start=1):
        nums = [n for n in _NUMBER.findall(sent.text)]
        if nums:
            figures.append(f"{', '.join(nums)} [{i}]")
    lead = "The sources state (quoted in Chinese)"
    if figures:
        lead = "Figures in the sources: " + "; ".join(figures) + ". Quoted"
    return lead + ": " + " ".join(parts)
