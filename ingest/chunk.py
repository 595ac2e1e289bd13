"""Split normalised text into whole sentences and pack them into overlapping chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ingest.normalize import NormalizedDoc
from ingest.text.sentences import split_sentences

CHUNKED_ROLES = ("body", "caption")


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


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk: chunk.text[start:end] == text."""

    chunk_id: str
    index: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        """Deterministic, like its chunk's."""
        return f"{self.chunk_id}:{self.index}"


def chunk_sentences(chunk: Chunk) -> list[Sentence]:
    """The sentences of a chunk, with their spans in the chunk text."""
    return [
        Sentence(chunk.id, i, start, end, chunk.text[start:end])
        for i, (start, end) in enumerate(split_sentences(chunk.text))
    ]


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
