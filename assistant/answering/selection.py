"""Candidate sentences of the retrieved chunks, scored against the question.

By meaning when the index holds sentence vectors (multilingual e5 of "title：sentence", stored at
ingest): similarity to the question, plus a little lexical coverage and kind evidence. Without
them, by lexical coverage, the chunk's rank and kind evidence, as before.

The weights were chosen on the CMRC 2018 trial pool's tuning half and checked on its held-out
half (eval/decisions.md). The e5 similarities of one question's candidates lie within about
0.05, hence the small weights.

By meaning, coverage leaves out the terms of the sentence's article title: every sentence of an
article is about its title, and most leave it unsaid ("以甲壳类、头足类和小鱼为食" in the article
on 蓝线裸顶鲷), so counting the title's name favoured the sentence that only names the subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.answering import question as q
from assistant.answering.translate import QueryTranslator
from assistant.schema import Context
from assistant.timing import stage
from ingest.lexical import LexicalIndex
from ingest.text.quantities import has_date, has_frequency, has_number
from ingest.text.sentences import is_enumeration, split_sentences
from ingest.text.tokens import GUESS_CHARS, STOPWORDS, ascii_words, question_terms
from ingest.text.width import CJK_RANGES

# What a sentence must state to answer a question of this kind.
EVIDENCE: dict[str, Callable[[str], bool]] = {
    "number": has_number,
    "date": has_date,
    "frequency": has_frequency,
}
COVERAGE_WEIGHT = 0.06  # of the coverage outside the title (module docstring)
KIND_WEIGHT = 0.02
# English questions against Chinese sentences: e5 similarities spread about 3.7x less between
# one question's candidates (eval/decisions.md), so coverage (of the translated terms) and kind
# weigh about 3.7x more.
COVERAGE_WEIGHT_EN = 0.1
KIND_WEIGHT_EN = 0.07
# Without sentence vectors: coverage + RANK_BONUS/(1+rank) + kind bonus (the earlier scoring).
RANK_BONUS = 0.1
KIND_BONUS = 0.15
LIST_BONUS = 0.1
# An unknown 3+-character word whose stem (the word less one of these suffixes) the articles hold
# is a derivation (藏书量, 重要性, 原生地), not a thing the articles lack.
_DERIVATIONAL = "性量地方家者语学率度化式型类"
_QUESTION_WORD = re.compile(r"哪|什么|多少|几|谁|怎|何|多长|多久|多大")
# A "word" that starts or ends with one of these is a segmentation slip (冈是, 松才), not a name.
_FUNCTION_CHARS = frozenset("是才不着了的被在和与也都就又还把将给让对向从到得地很最更")

CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")
Similarities = Mapping[str, Mapping[tuple[int, int], float]]


@dataclass(frozen=True)
class Term:
    """A question term: matched by any of `words`; `weight` is its IDF share of the question."""

    words: frozenset[str]
    weight: float
    known: bool
    specific: bool = False
    noun: bool = False


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its score and where it lies."""

    score: float
    coverage: float
    context_rank: int
    start: int
    end: int
    text: str
    similarity: float | None = None
    untitled: float = 0.0  # coverage of the terms its article's title does not hold


class SentenceSimilarity(Protocol):
    """Similarity of a question to the sentences of the retrieved chunks."""

    def similarities(self, question: str, contexts: Sequence[Context]) -> Similarities:
        """By chunk id, by sentence span; a chunk without sentence vectors is left out."""
        ...


class StoredSimilarity:
    """Dot products of the question's vector with the sentence vectors stored at ingest."""

    def __init__(self, store: Callable[[], Any], embed_query: Callable[[str], list[float]]):
        self.store = store
        self.embed_query = embed_query

    def similarities(self, question: str, contexts: Sequence[Context]) -> Similarities:
        """Cosine similarities (the vectors are normalised)."""
        import numpy as np

        with stage("sentence vectors"):
            # The sentences of a chunk are numbered as ingest split them (ingest/chunk.py).
            counts = {c.chunk_id: len(split_sentences(c.text)) for c in contexts}
            stored = self.store().sentence_vectors(counts)
        if not stored:
            return {}
        query = np.asarray(self.embed_query(question), dtype=np.float32)
        return {
            chunk: {(start, end): float(np.dot(vector, query)) for start, end, vector in rows}
            for chunk, rows in stored.items()
        }


def weigh_terms(
    question: str,
    lang: str,
    index: LexicalIndex,
    translator: QueryTranslator | None,
    guess_chars: int = GUESS_CHARS,
) -> list[Term]:
    """What a sentence should contain, weighted by rarity in the articles.

    A Chinese question gives one term per content word (jieba precise mode); an English one
    gives one term per keyword, holding the corpus words that translate it. Unknown words
    count only when they are nouns: an unknown noun is the thing asked about.
    """
    out: list[Term] = []
    if lang == "en" and translator is not None:
        groups = sorted(set(translator.groups(question)), key=sorted)
        # A Chinese name spelled in pinyin that no article reads as ("Li Rihua" without 李日华)
        # is an unknown name, as in a Chinese question.
        unknown = [
            Term(frozenset({spelled.text.lower()}), index.max_idf, False, True, True)
            for spelled, words in translator.names(question)
            if not words
        ]
        # When no word translates, a Latin name the articles write as it is asked ("What is
        # MIT OpenCourseWare?"); beside translated words it drew the choice to the sentence
        # that names a Latin species name (English held-out right -2, eval/decisions.md).
        written = [
            Term(frozenset({w}), index.term_idf(w), True, noun=True)
            for w in sorted(ascii_words(question) - STOPWORDS)
            if w in index.vocabulary and not groups
        ]
        if not (unknown or written) and all(w.isdigit() for g in groups for w in g):
            return []  # numbers alone name nothing to ask about ("<script>alert(1)</script>")
        out = [Term(g, max(index.term_idf(w) for w in g), True, noun=True) for g in groups if g]
        out += written + unknown
        # The Chinese an English question holds ("Huaihai Zhonglu (淮海中路)") is weighed as
        # in a Chinese question: a name no article has is an unknown name.
        question = " ".join(CJK_RUN.findall(question))
        if not question:
            return out
    for word, noun in question_terms(question, guess_chars):
        if index.substring_df(word):
            out.append(Term(frozenset({word}), index.term_idf(word), True, noun=bool(noun)))
        elif noun == "specific" and names_a_thing(word, index):
            out.append(Term(frozenset({word}), index.max_idf, False, True))
        elif synonyms := (translator.synonyms(word) if translator else frozenset()):
            weight = 0.5 * max(index.term_idf(w) for w in synonyms)
            out.append(Term(synonyms, weight, True, noun=bool(noun)))
        elif noun:
            out.append(Term(frozenset({word}), index.max_idf, False))
    return out


def names_a_thing(word: str, index: LexicalIndex) -> bool:
    """Whether an unknown 'specific' word of the question names a thing the articles lack.

    Not when it holds a question word (哪些地方, 多长时间), starts or ends with a function
    character (a segmentation slip: 冈是, 松才), or derives from a word the articles hold (藏书量
    of 藏书, 重要性 of 重要): those refused answerable questions and caught no negative
    (eval/decisions.md).
    """
    if _QUESTION_WORD.search(word) or word[0] in _FUNCTION_CHARS or word[-1] in _FUNCTION_CHARS:
        return False
    return not (len(word) >= 3 and word[-1] in _DERIVATIONAL and index.substring_df(word[:-1]))


def rank_sentences(
    question: str,
    terms: Sequence[Term],
    contexts: Sequence[Context],
    lang: str,
    similarities: Similarities | None = None,
) -> list[Scored]:
    """Every sentence of every context, best first (ties broken by rank and position).

    By meaning when every context has sentence similarities, else lexically.
    """
    kind = q.kind(question)
    semantic = bool(similarities) and all(c.chunk_id in (similarities or {}) for c in contexts)
    out: list[Scored] = []
    for rank, ctx in enumerate(contexts):
        untitled = untitled_terms(terms, ctx.title) if semantic else []
        for start, end in split_sentences(ctx.text):
            text = ctx.text[start:end]
            coverage = coverage_of(terms, text)
            evidence = kind_evidence(kind, text)
            if semantic and similarities is not None:
                sim = similarities[ctx.chunk_id].get((start, end))
                if sim is None:
                    continue  # a sentence the index has no vector for cannot be compared
                english = lang == "en"
                rest = coverage_of(untitled, text) if untitled else 0.0
                score = sim + (COVERAGE_WEIGHT_EN if english else COVERAGE_WEIGHT) * rest
                score += (KIND_WEIGHT_EN if english else KIND_WEIGHT) * evidence
                out.append(Scored(score, coverage, rank, start, end, text, sim, rest))
            else:
                bonus = KIND_BONUS * evidence if kind in EVIDENCE else LIST_BONUS * (evidence > 0)
                score = coverage + RANK_BONUS / (1 + rank) + bonus
                out.append(Scored(score, coverage, rank, start, end, text))
    out.sort(key=lambda s: (-s.score, s.context_rank, s.start))
    return out


def kind_evidence(kind: str, text: str) -> float:
    """+1 / -1 when the sentence has / lacks what the kind wants; 0.66 for a list of names."""
    if kind in EVIDENCE:
        return 1.0 if EVIDENCE[kind](text) else -1.0
    if kind == "list":
        return 0.66 if is_enumeration(text) else 0.0
    return 0.0


def untitled_terms(terms: Sequence[Term], title: str) -> list[Term]:
    """The terms an article's title does not hold: what its sentences must say themselves."""
    lowered = title.lower()
    return [t for t in terms if not any(w in lowered for w in t.words)]


def coverage_of(terms: Sequence[Term], text: str) -> float:
    """The share of the question's weight that the text covers."""
    total = sum(t.weight for t in terms) or 1.0
    return sum(t.weight for t in covered(terms, text)) / total


def covered(terms: Sequence[Term], text: str) -> set[Term]:
    """The known terms the text contains."""
    lowered = text.lower()
    return {t for t in terms if t.known and any(w in lowered for w in t.words)}
