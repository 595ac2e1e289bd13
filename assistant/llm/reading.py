"""Read closer: a generative reader asked with the few passages the answer decision ranks best.

Given the four retrieved chunks whole, a 1.5B reader replied with the refusal sentence to 41 of
42 answerable investor questions; given one passage and a plain prompt, it read 18-19 of 20 CMRC
questions. So the reader gets the chunks of the best-ranked sentences, each cut to those
sentences and their neighbours (what the sentence says often leans on the one before), best
first; and, for an English question, every Chinese figure glossed in English beside it (it
wrote "700 billion yuan" for 近700亿元, which is 70 billion: the figure check removes such a
sentence, the gloss keeps the reader from writing it). Its reply goes through the same citation
and figure checks as every answer (assistant/answering/citations.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from assistant.answering.selection import Scored
from assistant.schema import Context
from ingest.text.quantities import dates, english_date, english_figure, figures
from ingest.text.sentences import split_sentences

MOST_SENTENCES = 3  # the best-ranked sentences whose passages the reader reads
NEIGHBOURS = 1  # sentences kept either side of each


def closer_passages(
    ranked: Sequence[Scored],
    contexts: Sequence[Context],
    most: int = MOST_SENTENCES,
    neighbours: int = NEIGHBOURS,
) -> list[Context]:
    """The chunks of the `most` best sentences, each cut to the span from the first to the last
    of its chosen sentences (with `neighbours` either side), best first. Each is a verbatim
    part of its chunk, so a citation of it is checked like any other."""
    spans: dict[int, tuple[int, int]] = {}
    for best in ranked[:most]:
        ctx = contexts[best.context_rank]
        sentences = split_sentences(ctx.text)
        at = next((i for i, sp in enumerate(sentences) if sp[0] == best.start), None)
        if at is None:
            continue
        low = sentences[max(0, at - neighbours)][0]
        high = sentences[min(len(sentences) - 1, at + neighbours)][1]
        a, b = spans.get(best.context_rank, (low, high))
        spans[best.context_rank] = (min(a, low), max(b, high))
    out = []
    for rank, (a, b) in spans.items():  # in the order of their best sentence
        ctx = contexts[rank]
        start = ctx.char_start + a
        out.append(replace(ctx, text=ctx.text[a:b], char_start=start, char_end=start + b - a))
    return out


def glossed(text: str) -> str:
    """The text with each date and figure also said in English, in 〔〕 after it
    ("近700亿元〔nearly 70 billion yuan〕"): for an English reader of Chinese passages."""
    notes: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for d in dates(text):
        notes.append((d.start + len(d.written), english_date(d.year, d.month, d.day)))
        taken.append((d.start, d.start + len(d.written)))
    for fig in figures(text):
        if not any(a <= fig.start < b for a, b in taken):
            notes.append((fig.start + len(fig.text), english_figure(fig)))
    for end, english in sorted(notes, reverse=True):
        text = f"{text[:end]}〔{english}〕{text[end:]}"
    return text
