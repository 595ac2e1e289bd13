"""Split normalised text into whole sentences and pack them into overlapping chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ingest.normalize import NormalizedDoc

CHUNKED_ROLES = ("body", "caption")
_ENDS = "。！？；…!?"
_CLOSERS = "”’」』）)\"'"
_OPENERS = "“「『"
_QUOTE_CLOSERS = "”」』"
# An unbalanced opening quote must not swallow the rest of a paragraph.
_MAX_QUOTED = 120


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences from one paragraph; text == doc.text[char_start:char_end]."""

    id: str
    source: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    paragraph: int
    section: int
    role: str
    author: str | None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of text.

    A sentence ends at 。！？；… (or . ! ? before whitespace), together with the closing quotes
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
        is_end = ch in _ENDS or (ch == "." and (i + 1 == n or text[i + 1].isspace()))
        if is_end and (depth == 0 or i - quote_start > _MAX_QUOTED or _closes_quote(text, i)):
            j = i + 1
            while j < n and (text[j] in _ENDS or text[j] in _CLOSERS):
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


def _closes_quote(text: str, i: int) -> bool:
    j = i + 1
    while j < len(text) and text[j] in _ENDS:
        j += 1
    return j < len(text) and text[j] in _QUOTE_CLOSERS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_document(doc: NormalizedDoc, source: str, size: int, overlap: int) -> list[Chunk]:
    """Pack the sentences of each body/caption paragraph into chunks of about `size` characters.

    Chunks never cross a paragraph and never cut a sentence; `overlap` whole sentences are
    repeated at the start of the next chunk of the same paragraph.
    """
    chunks: list[Chunk] = []
    for para in doc.paragraphs:
        if para.role not in CHUNKED_ROLES:
            continue
        spans = [(para.char_start + s, para.char_start + e) for s, e in split_sentences(para.text)]
        for start, end in pack(spans, size, overlap):
            text = doc.text[start:end]
            chunks.append(
                Chunk(
                    id=chunk_id(source, start, end, text),
                    source=source,
                    ordinal=len(chunks),
                    text=text,
                    char_start=start,
                    char_end=end,
                    paragraph=para.index,
                    section=para.section,
                    role=para.role,
                    author=para.author,
                )
            )
    return chunks


def pack(spans: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily group consecutive sentence spans into windows of at most `size` characters."""
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i + 1
        while j < len(spans) and spans[j][1] - spans[i][0] <= size:
            j += 1
        windows.append((spans[i][0], spans[j - 1][1]))
        if j >= len(spans):
            break
        i = max(i + 1, j - overlap)
    return windows


def chunk_id(source: str, start: int, end: int, text: str) -> str:
    """Deterministic id: the same source, span and text always give the same id."""
    return hashlib.sha1(f"{source}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:24]
