"""The default answerer: offline and deterministic, it quotes the best source sentences verbatim."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant import question as q
from assistant.schema import Context
from assistant.translate import QueryTranslator
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
        self,
        idf: Callable[[str], float],
        threshold: float = 0.5,
        max_sentences: int = 2,
        translator: QueryTranslator | None = None,
    ) -> None:
        self.idf = idf
        self.translator = translator
        self.threshold = threshold
        self.max_sentences = max_sentences

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Compose a short answer of verbatim quotes with [n] markers, or a refusal."""
        lang = lang or q.language(question)
        terms = self.term_groups(question, lang)
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

    def term_groups(self, question: str, lang: str) -> list[frozenset[str]]:
        """What a sentence should contain: each group is matched by any of its words.

        A Chinese question gives one group per jieba token; an English one gives one group per
        keyword, holding the corpus words that translate it.
        """
        if lang == "en" and self.translator is not None:
            return sorted(set(self.translator.groups(question)), key=sorted)
        return [frozenset({t}) for t in sorted(set(tokenize(question)))]

    def rank_sentences(
        self, question: str, terms: Sequence[frozenset[str]], contexts: Sequence[Context]
    ) -> list[Scored]:
        """Every sentence of every context, best first (ties broken by rank and position)."""
        weights = {g: max(self.idf(t) for t in g) for g in terms if g}
        total = sum(weights.values()) or 1.0
        kind = q.kind(question)
        out: list[Scored] = []
        for rank, ctx in enumerate(contexts):
            for start, end in split_sentences(ctx.text):
                text = ctx.text[start:end]
                coverage = sum(w for g, w in weights.items() if any(t in text for t in g)) / total
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
    def _covered(terms: Sequence[frozenset[str]], text: str) -> set[frozenset[str]]:
        return {g for g in terms if any(t in text for t in g)}


_MONTHS = "January February March April May June July August September October November December"
_DATE = re.compile(r"(\d{4})年(?:(\d{1,2})月(?:份)?)?")
_QUANTITY = re.compile(
    r"(?P<pre>近|超过|超|约|逾)?(?P<num>\d+(?:\.\d+)?)(?P<approx>余|多)?(?P<mult>万|亿)?"
    r"(?P<unit>元|家|个|项|条|本|公里|棵|%)?"
)
_UNITS = {"元": " yuan", "公里": " km", "%": "%"}


def english_figure(match: re.Match[str]) -> str:
    """'350余亿元' → 'more than 35 billion yuan'; '2020年11月' is handled by the date pattern."""
    value = float(match["num"]) * {"万": 1e4, "亿": 1e8, None: 1.0}[match["mult"]]
    if value >= 1e9:
        amount = f"{value / 1e9:g} billion"
    elif value >= 1e6:
        amount = f"{value / 1e6:g} million"
    else:
        amount = f"{value:,.0f}" if value == int(value) else f"{value:g}"
    lead = {"近": "nearly ", "超": "over ", "超过": "over ", "约": "about ", "逾": "over "}.get(
        match["pre"] or "", ""
    )
    if match["approx"]:
        lead = "more than "
    return f"{lead}{amount}{_UNITS.get(match['unit'] or '', '')}"


def english_figures(text: str) -> list[str]:
    """The dates and figures of a Chinese sentence, said in English with the original beside."""
    out: list[str] = []
    taken: list[tuple[int, int]] = []
    for m in _DATE.finditer(text):
        month = f"{_MONTHS.split()[int(m[2]) - 1]} " if m[2] and 1 <= int(m[2]) <= 12 else ""
        out.append(f"{month}{m[1]} ({m[0]})")
        taken.append(m.span())
    for m in _QUANTITY.finditer(text):
        if any(a <= m.start() < b for a, b in taken) or not (m["unit"] or m["mult"] or m["approx"]):
            continue
        out.append(f"{english_figure(m)} ({m[0]})")
    return out


def english_summary(chosen: Sequence[Scored], parts: Sequence[str]) -> str:
    """An English answer over Chinese evidence: dates and figures in English, then the quotes."""
    lines = []
    for i, sent in enumerate(chosen, start=1):
        figures = english_figures(sent.text)
        if figures:
            lines.append(f"The source gives {'; '.join(figures)} [{i}].")
    return " ".join(lines + ["Quoted in Chinese: " + " ".join(parts)])
