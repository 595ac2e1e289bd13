"""The signals the answer decision learns from, as numbers: one row per candidate sentence, one
row per question (its best candidate), one row per short answer.

Every feature is cheap: the similarities and coverages the answerer already computed, the
retrieval scores, and what the sentence holds of what the question word asks for (a figure for
多少 / how many, a date for 什么时候 / when, a name for 谁 / who, a place for 哪里 / where, a rank
for 第几). Changing a feature's meaning or order needs a retrain (`zone-assistant train`): the
parameters file records the names, and loading refuses a mismatch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.selection import Scored, Term
from assistant.answering.short_answer import HOW, Short
from assistant.schema import Context
from ingest.text.entities import has_name, has_place, has_rank
from ingest.text.quantities import has_date, has_figure_in, has_frequency, has_number
from ingest.text.sentences import is_enumeration
from ingest.text.width import CJK, fold

KINDS = ("number", "date", "frequency", "list", "rank", "who", "where", "fact")
# What a sentence must hold to answer a question of this kind.
WANTS: dict[str, Callable[[str], bool]] = {
    "number": has_number,
    "date": has_date,
    "frequency": has_frequency,
    "list": is_enumeration,
    "rank": has_rank,
    "who": has_name,
    "where": has_place,
}
# "多少美元" / "几家": the figure must come with the unit asked for (350亿元 answers no 美元).
ASKED_UNIT = re.compile(r"(?:多少|几)(美元|亿元|万元|元|家|个|项|条|本|名|人|位|次|公里|亩|平方米)")

SENTENCE = (
    "score", "sim", "sim_z", "sim_margin", "sim_z_en", "coverage", "untitled", "coverage_en",
    "chunk_rank", "chunk_dense", "chunk_lexical", "top_doc", "doc_dense", "doc_fused",
    "title_asked", "wants", "wants_en", "unit", "novelty", "length",
)  # fmt: skip
ANSWER = (
    "p_best", "p_quoted", "logit_margin", "sim", "sim_margin", "coverage", "untitled", "wants",
    "unit", "unknown_name", "en", "p_best_en", "sim_en", *(f"kind_{k}" for k in KINDS),
)  # fmt: skip
SHORT = (
    "p_answer", "p_best", *(f"how_{h}" for h in HOW), "rivals", "has_figure", "has_name",
    "whole_clause", "length", "en", *(f"kind_{k}" for k in KINDS),
)  # fmt: skip


@dataclass(frozen=True)
class Asked:
    """What the question asks, as the features need it."""

    text: str
    kind: str
    lang: str
    terms: tuple[Term, ...]

    @property
    def unknown_name(self) -> bool:
        """The question names a thing no article mentions (注册资本 in an article without it)."""
        return any(t.specific and not t.known for t in self.terms)


def wants(kind: str, text: str) -> float:
    """+1 / -1 when the sentence holds / lacks what the kind asks for; 0 for other questions."""
    test = WANTS.get(kind)
    return 0.0 if test is None else (1.0 if test(text) else -1.0)


def unit_evidence(question: str, kind: str, text: str) -> float:
    """+1 / -1 when a figure in the unit asked for (多少美元) is there / missing; 0 otherwise."""
    unit = ASKED_UNIT.search(question) if kind == "number" else None
    return 0.0 if unit is None else (1.0 if has_figure_in(text, unit[1]) else -1.0)


def novelty(question: str, text: str) -> float:
    """The share of the sentence's Chinese characters the question does not use: a sentence
    that only restates the question holds no answer. 0.5 for an English question."""
    chars = CJK.findall(text)
    if not CJK.search(question) or not chars:
        return 0.5
    asked = set(question)
    return sum(c not in asked for c in chars) / len(chars)


def candidate_rows(
    asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
) -> np.ndarray:
    """One SENTENCE row per candidate sentence (similarities required)."""
    sims = np.array([s.similarity or 0.0 for s in scored], dtype=np.float64)
    if not len(sims):
        return np.zeros((0, len(SENTENCE)))
    spread = max(float(sims.std()), 0.01)
    z = (sims - sims.mean()) / spread
    top = np.sort(sims)[::-1]
    second = top[1] if len(top) > 1 else top[0] - 0.05
    dense = [c.dense_score for c in contexts]
    known = [d for d in dense if d is not None]
    dense_top = max(known, default=0.0)
    dense_floor = min(known, default=0.0) - 0.02
    lexical = [c.lexical_score or 0.0 for c in contexts]
    lexical_top = max(lexical, default=0.0) or 1.0
    fused_top = max((c.score for c in contexts), default=0.0) or 1.0
    doc_dense: dict[str, float] = {}
    doc_fused: dict[str, float] = {}
    for c in contexts:
        d = c.dense_score if c.dense_score is not None else dense_floor
        doc_dense[c.source] = max(doc_dense.get(c.source, d), d)
        doc_fused[c.source] = max(doc_fused.get(c.source, c.score), c.score)
    asked_folded = fold(asked.text)
    en = 1.0 if asked.lang == "en" else 0.0
    rows = []
    for i, s in enumerate(scored):
        ctx = contexts[s.context_rank]
        margin = sims[i] - (second if sims[i] >= top[0] else top[0])
        evidence = wants(asked.kind, s.text)
        chunk_dense = (ctx.dense_score if ctx.dense_score is not None else dense_floor) - dense_top
        rows.append(
            (
                s.score,
                sims[i],
                z[i],
                margin,
                z[i] * en,
                s.coverage,
                s.untitled,
                s.coverage * en,
                1.0 / (1 + s.context_rank),
                chunk_dense,
                (ctx.lexical_score or 0.0) / lexical_top,
                float(ctx.source == contexts[0].source),
                doc_dense[ctx.source] - dense_top,
                doc_fused[ctx.source] / fused_top,
                float(bool(ctx.title) and fold(ctx.title) in asked_folded),
                evidence,
                evidence * en,
                unit_evidence(asked.text, asked.kind, s.text),
                novelty(asked.text, s.text),
                math.log1p(len(s.text)),
            )  # fmt: skip
        )
    return np.asarray(rows, dtype=np.float64)


def kind_onehot(kind: str) -> tuple[float, ...]:
    """The question's kind as indicator features (in KINDS order)."""
    return tuple(1.0 if kind == k else 0.0 for k in KINDS)


def answer_row(
    asked: Asked, rows: np.ndarray, logits: np.ndarray, probabilities: np.ndarray, quoted: list[int]
) -> np.ndarray:
    """The ANSWER row of a question: its best candidate's SENTENCE row, the sentence model's
    logits and probabilities, and the candidates quoted (best first)."""
    best = quoted[0]
    r = dict(zip(SENTENCE, rows[best], strict=True))
    others = np.delete(logits, best)
    margin = float(logits[best] - others.max()) if len(others) else 5.0
    en = 1.0 if asked.lang == "en" else 0.0
    p_best = float(probabilities[best])
    return np.asarray(
        (
            p_best,
            float(probabilities[quoted].sum()),
            margin,
            r["sim"],
            r["sim_margin"],
            r["coverage"],
            r["untitled"],
            r["wants"],
            r["unit"],
            float(asked.unknown_name),
            en,
            p_best * en,
            r["sim"] * en,
            *kind_onehot(asked.kind),
        ),  # fmt: skip
        dtype=np.float64,
    )


def short_row(
    asked: Asked, p_answer: float, p_best: float, short: Short, sentence: str
) -> np.ndarray:
    """The SHORT row of a short answer cut from the best sentence."""
    span = short.text
    how = [1.0 if short.how == h else 0.0 for h in HOW]
    holds = (
        float(has_number(span) or has_date(span) or has_rank(span)),
        float(has_name(span) or has_place(span)),
    )
    shape = (float(len(span) >= 0.8 * len(sentence)), math.log1p(len(span)))
    en = 1.0 if asked.lang == "en" else 0.0
    values = (p_answer, p_best, *how, math.log1p(short.rivals), *holds, *shape, en)
    return np.asarray((*values, *kind_onehot(asked.kind)), dtype=np.float64)
