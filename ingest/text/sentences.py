"""Sentence spans of Chinese (and mixed) text: the unit that chunks are packed from and quoted."""

from __future__ import annotations

import re

# The version of where sentences (and so chunks and sentence vectors) begin and end: an index
# built under another is re-ingested (it is part of the build record, ingest/store/build.py).
# 2: a period after an initial or a title ("John H. McArthur") ends no sentence.
SEGMENTATION = 2
ENDS = "。！？；…!?"
_CLOSERS = "”’」』）)\"'"
_OPENERS = "“「『"
_QUOTE_CLOSERS = "”」』"
# An unbalanced opening quote must not swallow the rest of a paragraph.
_MAX_QUOTED = 120
# A period after a capital letter or a short title ends no sentence: "（John H. McArthur）" was
# cut at "H." (the quote and the short answer ended mid-name), as were "No. 2", "F.C.", "Dr.".
NOT_ABBREVIATED = "".join(
    rf"(?<!\b{a})" for a in ("[A-Z]", "No", "Mr", "Ms", "Dr", "St", "Co", "Jr", "vs")
)
_PERIOD_ENDS = re.compile(NOT_ABBREVIATED + r"\.")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of text.

    A sentence ends at 。！？；… (or . ! ? before whitespace, a period not after an initial or
    a title such as "Dr"), together with the closing quotes
    and brackets right after it; a sentence end inside “quotes” does not count, so quoted names
    like “18条意见” and decimal numbers stay whole.
    """
    spans: list[tuple[int, int]] = []
    start, depth, quote_start, i, n = 0, 0, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPENERS:
            if depth == 0:
                quote_start = i
            depth += 1
        elif ch in _QUOTE_CLOSERS and depth:
            depth -= 1
        is_end = ch in ENDS or (
            ch == "."
            and (i + 1 == n or text[i + 1].isspace())
            and _PERIOD_ENDS.match(text, i) is not None
        )
        if is_end and (depth == 0 or i - quote_start > _MAX_QUOTED or _closes_quote(text, i)):
            j = i + 1
            while j < n and (text[j] in ENDS or text[j] in _CLOSERS):
                if text[j] in _QUOTE_CLOSERS and depth:
                    depth -= 1
                j += 1
            if depth and i - quote_start > _MAX_QUOTED:
                depth = 0
            while j < n and text[j].isspace() and text[j] != "\n":
                j += 1
            spans.append((start, j))
            start, i = j, j
            continue
        i += 1
    if start < n and text[start:].strip():
        spans.append((start, n))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def sentences(text: str) -> list[str]:
    """The sentences of text, verbatim."""
    return [text[s:e] for s, e in split_sentences(text)]


def _closes_quote(text: str, i: int) -> bool:
    j = i + 1
    while j < len(text) and text[j] in ENDS:
        j += 1
    return j < len(text) and text[j] in _QUOTE_CLOSERS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# A run of names separated by 、 ("麦曲、桑曲、拉曲"): what a "哪些" question wants.
_ENUMERATION = re.compile(r"[^，。；：、\s,;:]{1,24}(?:、[^，。；：、\s,;:]{1,24})+")


def enumerations(text: str) -> list[tuple[int, int]]:
    """Spans of the 、-separated runs of names in text."""
    return [m.span() for m in _ENUMERATION.finditer(text)]


def is_enumeration(text: str) -> bool:
    """The text lists three or more things with 、."""
    return text.count("、") >= 2
