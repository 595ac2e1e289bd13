"""Check that every [n] marker points at a retrieved chunk that really says what the sentence says."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.schema import Citation, Context

_MARKER = re.compile(r"\[(\d{1,3})\]")
_CLAIM_END = re.compile(r"(?<=[。！？；!?])|(?<=\.)\s|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"[“「《\"]([^”」》\"]{2,40})[”」》\"]")


def squash(text: str) -> str:
    """Text without whitespace, for 'verbatim apart from whitespace' comparisons."""
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the markers that follow it."""

    text: str
    markers: tuple[int, ...]


def split_claims(answer: str) -> list[Claim]:
    """Split an answer into sentences, each with the [n] markers attached to it."""
    claims: list[Claim] = []
    for part in re.split(r"(?<=[。！？；!?])(?!\s*\[)|(?<=\])(?=[^\[\s。！？；!?,，])|\n+", answer):
        if not part or not part.strip():
            continue
        markers = tuple(int(m) for m in _MARKER.findall(part))
        text = _MARKER.sub("", part).strip()
        if text:
            claims.append(Claim(text, markers))
    return claims


def unsupported_details(claim_text: str, chunk_text: str) -> list[str]:
    """Numbers and quoted names of the claim that its chunk does not contain."""
    chunk = squash(chunk_text).replace(",", "")
    missing = [n for n in _NUMBER.findall(claim_text) if n.replace(",", "") not in chunk]
    missing += [q for q in _QUOTED.findall(claim_text) if squash(q) not in chunk]
    return missing


def verify(answer: str, cited: dict[int, Context]) -> tuple[list[Claim], list[Claim]]:
    """Split into (supported, dropped) claims.

    A claim is supported when it has at least one marker, every marker names a retrieved chunk,
    and its numbers and quoted names all occur in the chunks it cites.
    """
    kept: list[Claim] = []
    dropped: list[Claim] = []
    for claim in split_claims(answer):
        chunks = [cited[m].text for m in claim.markers if m in cited]
        ok = (
            bool(claim.markers)
            and len(chunks) == len(claim.markers)
            and not unsupported_details(claim.text, "\n".join(chunks))
        )
        (kept if ok else dropped).append(claim)
    return kept, dropped


def renumber(claims: list[Claim], cited: dict[int, Context], quotes: dict[int, str]) -> tuple[str, list[Citation]]:
    """Rewrite markers as 1..m in order of first use and list only the cited chunks."""
    mapping: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for claim in claims:
        marks = ""
        for old in claim.markers:
            if old not in mapping:
                mapping[old] = len(mapping) + 1
                ctx = cited[old]
                quote = quotes.get(old) or claim.text
                start = ctx.text.find(quote)
                citations.append(
                    Citation(
                        n=mapping[old],
                        chunk_id=ctx.chunk_id,
                        source=ctx.source,
                        quote=quote,
                        title=ctx.title,
                        char_start=ctx.char_start + max(start, 0),
                        char_end=ctx.char_start + max(start, 0) + len(quote) if start >= 0 else ctx.char_end,
                    )
                )
            marks += f"[{mapping[old]}]"
        parts.append(claim.text + marks)
    return "".join(parts), citations
