"""Judge one answer against its dataset row: facts, evidence rank, citation support.

Per question: `rank` is where the evidence sits among the retrieved chunks; `correct` whether the
answer (citation markers removed) states every expected fact, False when an answerable question is
refused; `citation_ok` whether every citation is supported, None for refusals and negatives.

A citation [n] is supported when its quote occurs verbatim (ignoring whitespace) in the chunk it
names, that chunk is among the retrieved ones, and every answer sentence carrying [n] is
supported by the chunk under `eval.metrics.citation_supported`: the chunk holds the evidence or
every expected fact, or, for a sentence that states only some of the facts (one part of a
multi-part answer), every fact that sentence states; and always every number of the sentence.
The sentence carrying [n] is the answer text between the previous marker (or sentence end) and
[n]; when the answer has no [n] (the textbook pipeline's), the citation's quote stands for it.
An answered question that cites nothing is unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from assistant.schema import Answer
from eval.matching import extract_numbers, match_fact, normalize, same_quantity
from ingest.text.markers import marker_runs, strip_markers

_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s)")  # a line (a dated article's label) ends one
_TRAILING_END = re.compile(r"[\s。！？!?；;.]+$")


def evidence_rank(evidence: str, chunk_texts: Sequence[str]) -> int | None:
    """1-based rank of the first chunk holding the evidence, ignoring whitespace; None if none.

    A chunk holds the evidence when it contains it, or, when the evidence is longer than the
    chunk, when the evidence contains the whole chunk.
    """
    target = normalize(evidence)
    if not target:
        raise ValueError("evidence must not be empty")
    for rank, text in enumerate(chunk_texts, start=1):
        chunk = normalize(text)
        if target in chunk or (chunk and len(target) > len(chunk) and chunk in target):
            return rank
    return None


def citation_supported(
    sentence: str,
    cited_chunk_text: str,
    evidence: str | None,
    facts: Sequence[Sequence[str]],
) -> bool:
    """Whether a cited chunk supports an answer sentence.

    The chunk must contain the evidence (ignoring whitespace) or every fact (one alternative of
    each), and every number of the sentence, citation markers aside, must have an equal number
    with a compatible unit in the chunk.
    """
    if evidence is None and not facts:
        raise ValueError("need evidence or facts to judge support")
    chunk = normalize(cited_chunk_text)
    holds_evidence = evidence is not None and normalize(evidence) in chunk
    holds_facts = bool(facts) and all(
        match_fact(cited_chunk_text, alternatives) == "match" for alternatives in facts
    )
    if not (holds_evidence or holds_facts):
        return False
    chunk_numbers = extract_numbers(cited_chunk_text)
    return all(
        any(same_quantity(number, known) for known in chunk_numbers)
        for number in extract_numbers(strip_markers(sentence))
    )


def carrying_sentences(answer: str) -> dict[int, list[str]]:
    """For each marker number, the answer sentences that carry it (see the module docstring)."""
    out: dict[int, list[str]] = {}
    previous = 0
    for start, end, numbers in marker_runs(answer):
        segment = _TRAILING_END.sub("", answer[previous:start])
        ends = list(_SENTENCE_END.finditer(segment))
        sentence = (segment[ends[-1].end() :] if ends else segment).strip() or segment.strip()
        for n in numbers:
            out.setdefault(n, []).append(sentence)
        previous = end
    return out


def sentence_supported(
    sentence: str, chunk: str, evidence: str | None, facts: Sequence[Sequence[str]]
) -> bool:
    """The chunk supports the sentence: evidence or all facts, or every fact the sentence states."""
    if citation_supported(sentence, chunk, evidence, facts):
        return True
    stated = [f for f in facts if match_fact(sentence, f) == "match"]
    return bool(stated) and citation_supported(sentence, chunk, None, stated)


def judge_citations(
    answer: Answer, row: Mapping[str, Any]
) -> tuple[bool | None, list[dict[str, Any]]]:
    """citation_ok for the record, and each citation with its verdict."""
    if answer.refused or not row["facts"]:
        return None, [
            {"n": c.n, "chunk_id": c.chunk_id, "quote": c.quote, "supported": None}
            for c in answer.citations
        ]
    contexts = {c.chunk_id: c.text for c in answer.contexts}
    sentences = carrying_sentences(answer.answer)
    judged = []
    for c in answer.citations:
        chunk = contexts.get(c.chunk_id)
        ok = (
            chunk is not None
            and bool(normalize(c.quote))
            and normalize(c.quote) in normalize(chunk)
            and (
                "min_facts" in row  # an overview's quote need state no point: it is verbatim
                or all(
                    sentence_supported(s, chunk, row["evidence"], row["facts"])
                    for s in sentences.get(c.n) or [c.quote]
                )
            )
        )
        judged.append({"n": c.n, "chunk_id": c.chunk_id, "quote": c.quote, "supported": ok})
    return (bool(judged) and all(j["supported"] for j in judged)), judged


def figure_support(answer: Answer) -> tuple[int, int]:
    """(figures stated, figures the quotes of their sentence's citations state) over the answer's
    sentences, by value and unit with the judge's own number parser: 'approximately 700 billion
    yuan' citing '近700亿元' is stated and not supported. A sentence citing two passages
    ("…“18条意见”、“7条意见”。[1][2]") may take each figure from either's quote."""
    if answer.refused:
        return 0, 0
    quotes = {c.n: c.quote for c in answer.citations}
    cited_by: dict[str, set[int]] = {}
    for n, sentences in carrying_sentences(answer.answer).items():
        for sentence in sentences:
            cited_by.setdefault(sentence, set()).add(n)
    stated = supported = 0
    for sentence, markers in cited_by.items():
        held = extract_numbers("\n".join(quotes.get(n, "") for n in sorted(markers)))
        for quantity in extract_numbers(sentence):
            stated += 1
            supported += any(same_quantity(quantity, h) for h in held)
    return stated, supported


def grounded(answer: Answer, facts: Sequence[Sequence[str]], least: int | None = None) -> bool:
    """Every fact (or `least` of them) is stated by the answer in a form that a passage it
    cites holds verbatim (the open-book criterion: the answer holds a gold span and cites it)."""
    if answer.refused or not facts:
        return False
    plain = strip_markers(answer.answer)
    cited_ids = {c.chunk_id for c in answer.citations}
    cited = [normalize(c.text) for c in answer.contexts if c.chunk_id in cited_ids]
    held = sum(
        any(
            match_fact(plain, [alt]) == "match" and any(normalize(alt) in chunk for chunk in cited)
            for alt in alternatives
        )
        for alternatives in facts
    )
    return held >= (len(facts) if least is None else least)


def short_correct(answer: Answer, facts: Sequence[Sequence[str]]) -> bool:
    """The short answer states every expected fact (a refusal or no short answer does not)."""
    short = answer.short_answer or ""
    return (
        bool(short)
        and not answer.refused
        and short_states(short, facts, answer.standalone_question or answer.question)
    )


def short_states(short: str, facts: Sequence[Sequence[str]], question: str = "") -> bool:
    """A short answer states each fact: it holds one of the fact's alternatives, or it is the
    core of one that is a clause ("55米" of the CMRC span "树高可达55米"): a part of it holding
    all its figures but those the question states itself ("31459人" of "2002年…居民总数为
    31459人" asked about 2002), or a third of it (“王蕴” is not the core of "晋陵郡太守王蕴之女",
    too little of it; "三个" is no part of "约只有8公斤重")."""
    said = re.fullmatch(r"(.+) \((.+)\)", short)  # English with the original beside it
    if said:
        return short_states(said[1], facts, question) or short_states(said[2], facts, question)
    core = normalize(short)
    if not core or not facts:
        return False
    asked = {n.value for n in extract_numbers(question)}
    held = {n.value for n in extract_numbers(core)}

    def figures_held(alt: str) -> bool:
        figures = [n.value for n in extract_numbers(alt) if n.value not in asked]
        return bool(figures) and all(v in held for v in figures)

    return all(
        match_fact(short, fact) == "match"
        or any(
            core in (alt := normalize(a)) and (3 * len(core) >= len(alt) or figures_held(alt))
            for a in fact
        )
        for fact in facts
    )


def ordered(answer: str, row: Mapping[str, Any]) -> bool:
    """What a dated archive asks of an answer: it states a `lead` alternative (the newest
    figure) before any `earlier` one (an older article's), and none of the `absent` strings
    (a figure of another time than the one asked about)."""
    text = normalize(answer)
    if any(normalize(a) in text for a in row.get("absent", [])):
        return False
    if not row.get("lead"):
        return True
    lead = [p for a in row["lead"] if (p := text.find(normalize(a))) >= 0]
    earlier = [p for a in row.get("earlier", []) if (p := text.find(normalize(a))) >= 0]
    return bool(lead) and all(min(lead) < p for p in earlier)


def enough(verdicts: Sequence[str], row: Mapping[str, Any]) -> bool:
    """The answer states the facts the row asks for: every one, or `min_facts` of them (an
    overview states at least k of its n points)."""
    least = int(row.get("min_facts", len(verdicts)))
    return sum(v == "match" for v in verdicts) >= least


@dataclass(frozen=True)
class Record:
    """One question judged: what `summarize` needs plus what the report shows. A verdict left
    None was not judged (a negative's `correct`, a hand-made record's `grounded`)."""

    id: str
    type: str
    answerable: bool
    refused: bool
    latency_ms: float
    correct: bool | None = None
    rank: int | None = None  # where the evidence sits among the retrieved chunks (1-based)
    citation_ok: bool | None = None  # None: a refusal, a negative, or nothing cited
    grounded: bool | None = None
    short_answer: str | None = None
    short_correct: bool | None = None
    figures_stated: int = 0
    figures_supported: int = 0
    ranked: bool = True  # an overview's contexts are its article, in order: no retrieval rank
    half: str | None = None
    lang: str = ""
    question: str = ""
    history: tuple[str, ...] = ()
    standalone: str = ""
    facts: tuple[tuple[str, ...], ...] = ()
    evidence: str | None = None
    answer: str = ""
    fact_verdicts: tuple[str, ...] = ()
    signals: Mapping[str, Any] = field(default_factory=dict)
    citations: tuple[Mapping[str, Any], ...] = ()
    contexts: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As report.json holds it."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, all the way down (JSON's shapes)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def make_record(row: Mapping[str, Any], answer: Answer) -> Record:
    """Judge one answer against its dataset row."""
    answerable = bool(row["facts"])
    texts = [c.text for c in answer.contexts]
    plain = strip_markers(answer.answer)
    verdicts = [match_fact(plain, f) for f in row["facts"]]
    citation_ok, citations = judge_citations(answer, row)
    correct = (
        not answer.refused and enough(verdicts, row) and ordered(plain, row) if answerable else None
    )
    figures_stated, figures_supported = figure_support(answer)
    return Record(
        id=row["id"],
        type=row["type"],
        half=row.get("half"),
        lang=row.get("lang", ""),
        question=row["question"],
        history=tuple(turn["question"] for turn in row.get("history", [])),
        standalone=answer.standalone_question,
        facts=tuple(tuple(f) for f in row["facts"]),
        evidence=row["evidence"],
        answerable=answerable,
        refused=answer.refused,
        answer=answer.answer,
        fact_verdicts=tuple(verdicts),
        correct=correct,
        grounded=grounded(answer, row["facts"], row.get("min_facts")) if answerable else None,
        figures_stated=figures_stated,
        figures_supported=figures_supported,
        short_answer=answer.short_answer,
        # Where articles disagree, the short answer is the newest figure alone.
        short_correct=(
            short_correct(answer, [row["lead"]] if row.get("lead") else row["facts"])
            if answerable
            else None
        ),
        signals=answer.signals,
        rank=evidence_rank(row["evidence"], texts) if answerable else None,
        ranked="min_facts" not in row,
        citation_ok=citation_ok,
        citations=tuple(citations),
        contexts=tuple({"chunk_id": c.chunk_id, "text": c.text} for c in answer.contexts),
        latency_ms=answer.latency_ms,
    )
