"""Check that every [n] marker points at a retrieved chunk that says what its sentence says."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.schema import Citation, Context

# Marker spellings of small models: 【1】 ［1］ [1, 2] [1，2] [1-3] [^1] [资料1] [Passage 1].
_LOOSE_MARKER = re.compile(
    r"[\[【［〔]\s*(?:\^|(?:passage|source|ref|id|doc|资料|段落|来源|文段|片段|参考)\s*[:：#]?\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；]|[-–~～])\s*\d{1,3})*)\s*[\]】］〕]",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"[“「《\"]([^”」》\"]{2,40})[”」》\"]")
_SCALES = {
    "万": 10**4,
    "亿": 10**8,
    "万亿": 10**12,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}
_SCALED = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*(万亿|亿|万|thousand|million|billion|trillion)", re.IGNORECASE
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z]{3,}")
_TOKEN = re.compile(
    r"(?P<marker>\[\d{1,3}\])"
    r"|(?P<newline>\s*\n\s*)"
    r"|(?P<end>(?:[。！？；;!?…]|\.(?=\s|$|\[))+)"
    r"|(?P<space>\s+)"
    r"|(?P<open>[“「『])"
    r"|(?P<close>[”」』])"
    r"|(?P<text>[^\[\s。！？；;!?….“「『”」』]+|.)"
)
# After a marker these continue the same claim ("甲[1]、乙[2]。") instead of starting a new one.
_CONTINUES = tuple(",，、:：)）")
_ASCII_END = ".;!?"

# A Chinese claim must share at least half of its character bigrams with the chunks it cites.
MIN_OVERLAP = 0.5
_MAX_RANGE = 20


def squash(text: str) -> str:
    """Text without whitespace, for 'verbatim apart from whitespace' comparisons."""
    return re.sub(r"\s+", "", text)


def normalize_markers(text: str) -> str:
    """Rewrite the marker spellings of small models ("【1】", "[1, 2]", "[1-3]") as "[1][2]..."."""

    def expand(match: re.Match[str]) -> str:
        numbers: list[int] = []
        for part in re.split(r"\s*[,，、;；]\s*", match.group(1)):
            ends = [int(x) for x in re.split(r"\s*[-–~～]\s*", part)]
            if len(ends) == 2 and 0 <= ends[1] - ends[0] <= _MAX_RANGE:
                numbers.extend(range(ends[0], ends[1] + 1))
            else:
                numbers.extend(ends)
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers))

    return _LOOSE_MARKER.sub(expand, text)


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the markers that follow it."""

    text: str
    markers: tuple[int, ...]


class _ClaimBuilder:
    """Collects the sentence text and markers of the claim being read."""

    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.text = ""
        self.markers: list[int] = []
        self.ended = False  # the sentence has ended; only markers may still attach to it
        self.after_marker = False
        self.depth = 0  # inside “quotes” a 。 does not end the claim

    def flush(self) -> None:
        text = re.sub(r"\s+([。！？；;!?….,，、])", r"\1", self.text).strip()
        if text:
            self.claims.append(Claim(text, tuple(dict.fromkeys(self.markers))))
            self.markers = []
        self.text, self.ended, self.after_marker, self.depth = "", False, False, 0

    def add(self, kind: str, token: str) -> None:
        if kind == "newline":
            self.flush()
        elif kind == "marker":
            self.markers.append(int(token[1:-1]))
            self.after_marker = bool(self.text.strip())
        elif kind == "space":
            self.text += token
        elif kind == "end":
            self.text += token
            self.ended = self.ended or self.depth == 0
        elif kind == "close":
            self.text += token
            self.depth = max(0, self.depth - 1)
        else:
            continues = self.after_marker and not self.ended and token.startswith(_CONTINUES)
            if (self.ended or self.after_marker) and not continues:
                self.flush()
            self.after_marker = False
            self.depth += kind == "open"
            self.text += token


def split_claims(answer: str) -> list[Claim]:
    """Split an answer into sentences, each with the [n] markers attached to it.

    Markers right after a sentence ("…。[1]") or inside it ("…家[1]。") belong to it; a marker
    followed by more text ends the claim ("甲[1]乙[2]。" is two claims); a 。 inside “quotes”
    does not end one. Loose marker spellings are normalised first.
    """
    builder = _ClaimBuilder()
    for match in _TOKEN.finditer(normalize_markers(answer)):
        kind = match.lastgroup or "text"
        builder.add(kind, match.group(0))
    builder.flush()
    return builder.claims


def _contains_number(chunk: str, number: str) -> bool:
    """The number occurs in the chunk as a whole number: '600' is not found in '1600'."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?!\d|\.\d)", chunk) is not None


def _amounts(text: str) -> set[int]:
    """Every scaled amount of the text as a plain value: '700亿' and '70 billion' → 70000000000."""
    values = set()
    for match in _SCALED.finditer(text):
        scale = _SCALES[match.group(2).lower()]
        values.add(round(float(match.group(1).replace(",", "")) * scale))
    return values


def unsupported_details(claim_text: str, chunk_text: str) -> list[str]:
    """Numbers and quoted names of the claim that its chunk does not contain.

    A scaled English amount is found in its Chinese form too: '70 billion' matches '700亿'.
    """
    chunk = squash(chunk_text).replace(",", "")
    amounts = _amounts(chunk_text)
    scaled = {m.start(1): m for m in _SCALED.finditer(claim_text)}
    missing = []
    for match in _NUMBER.finditer(claim_text):
        number = match.group(0).replace(",", "")
        if _contains_number(chunk, number):
            continue
        amount = scaled.get(match.start())
        if amount is None or _amounts(amount.group(0)) - amounts:
            missing.append(match.group(0))
    missing += [q for q in _QUOTED.findall(claim_text) if squash(q) not in chunk]
    return missing


def bigrams(text: str) -> set[str]:
    """The character bigrams of the Chinese runs of text (whitespace and punctuation ignored)."""
    runs = re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff0-9]+", text)
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)}


def overlap(claim_text: str, source_text: str) -> float | None:
    """Share of the claim's bigrams (Chinese) or words (other text) found in the source.

    None when the two cannot be compared word for word (an English claim over Chinese text).
    """
    if _CJK.search(claim_text):
        grams = bigrams(claim_text)
        return len(grams & bigrams(source_text)) / len(grams) if grams else None
    words = set(_WORD.findall(claim_text.lower()))
    if not words or _CJK.search(source_text):
        return None
    return len(words & set(_WORD.findall(source_text.lower()))) / len(words)


def check_claim(claim: Claim, cited: dict[int, Context], min_overlap: float = MIN_OVERLAP) -> str:
    """Why the claim is unsupported by the chunks it cites, or '' when it is supported."""
    if not claim.markers:
        return "no citation"
    unknown = [m for m in claim.markers if m not in cited]
    if unknown:
        return "cites no retrieved passage: " + ", ".join(f"[{m}]" for m in unknown)
    chunks = "\n".join(cited[m].text for m in claim.markers)
    missing = unsupported_details(claim.text, chunks)
    if missing:
        return "not in the cited passage: " + ", ".join(missing)
    share = overlap(claim.text, chunks)
    if share is not None and share < min_overlap:
        return f"only {share:.0%} of its wording is in the cited passage"
    return ""


def verify(
    answer: str, cited: dict[int, Context], min_overlap: float = MIN_OVERLAP
) -> tuple[list[Claim], list[Claim]]:
    """Split into (supported, dropped) claims.

    A claim is supported when it has at least one marker, every marker names a retrieved chunk,
    its numbers and quoted names all occur in the chunks it cites, and (when the claim and the
    chunks can be compared word for word) enough of its wording does too.
    """
    kept: list[Claim] = []
    dropped: list[Claim] = []
    for claim in split_claims(answer):
        (dropped if check_claim(claim, cited, min_overlap) else kept).append(claim)
    return kept, dropped


def best_sentence(claims: list[str], chunk_text: str) -> str:
    """The verbatim sentence of the chunk that shares the most character bigrams with the claims."""
    from ingest.chunk import split_sentences

    wanted = bigrams("".join(claims)) | {w for c in claims for w in _WORD.findall(c.lower())}
    best, best_key = chunk_text.strip(), (-1, 0.0)
    for start, end in split_sentences(chunk_text):
        sentence = chunk_text[start:end]
        found = bigrams(sentence) | set(_WORD.findall(sentence.lower()))
        shared = len(wanted & found)
        key = (shared, shared / (len(found) or 1))
        if key > best_key:
            best, best_key = sentence, key
    return best


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        ascii_next = part[:1].isascii() and part[:1].isalnum()
        out += (" " if out and ascii_next else "") + part
    return out


def _with_marks(text: str, marks: str) -> str:
    # English reads "… 600 [1]." and Chinese "…。[1]".
    if marks and text[-1:] in _ASCII_END and not _CJK.search(text[-2:-1] or "a"):
        return f"{text[:-1]} {marks}{text[-1]}"
    return text + marks


def renumber(
    claims: list[Claim], cited: dict[int, Context], quotes: dict[int, str]
) -> tuple[str, list[Citation]]:
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
                        char_end=(
                            ctx.char_start + start + len(quote) if start >= 0 else ctx.char_end
                        ),
                    )
                )
            marks += f"[{mapping[old]}]"
        parts.append(_with_marks(claim.text, marks))
    return _join(parts), citations
