"""Check that every [n] marker points at a retrieved chunk that says what its sentence says.

Every answerer's draft goes through `check` once, in the chain: unsupported sentences are dropped,
markers renumbered, and only the cited chunks listed, each with the verbatim sentence it stands
for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from assistant.schema import REFUSAL, Citation, Context, Draft
from ingest.text.dates import relative_dates
from ingest.text.markers import MARKER, normalize_markers, renumber_markers
from ingest.text.quantities import (
    NUMBER,
    Amount,
    amounts,
    contains_number,
    number_words,
    same_amount,
)
from ingest.text.sentences import NOT_ABBREVIATED, split_sentences
from ingest.text.tokens import ascii_words, bigrams, tokenize
from ingest.text.width import collapse, fold, has_cjk, language, squash

_QUOTED = re.compile(r"[“「《\"]([^”」》\"]{2,40})[”」》\"]")
_TOKEN = re.compile(
    rf"(?P<marker>{MARKER.pattern})"
    r"|(?P<newline>\s*\n\s*)"
    r"|(?P<end>(?:[。！？；!?…]|;(?=\s|$|\[)|" + NOT_ABBREVIATED + r"\.(?=\s|$|\[))+)"
    r"|(?P<space>\s+)"
    r"|(?P<open>[“「『])"
    r"|(?P<close>[”」』])"
    r"|(?P<text>[^\[\s。！？；;!?….“「『”」』]+|.)"
)
# After a marker these continue the same claim ("甲[1]、乙[2]。") instead of starting a new one.
_CONTINUES = tuple(",，、:：)）")
_ASCII_END = ".;!?"
# Closing marks that may follow a sentence's end and still belong to it ("…作赛。"[1]).
_TRAILING_CLOSE = "\"'）)】》’"

logger = logging.getLogger(__name__)

# A Chinese claim must share at least half of its character bigrams with the chunks it cites.
MIN_OVERLAP = 0.5


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
        elif self.ended and not self.after_marker and not token.strip(_TRAILING_CLOSE):
            self.text += token
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


def unsupported_details(claim_text: str, chunk_text: str) -> list[str]:
    """Figures, numbers and quoted names of the claim that its chunk does not state.

    A figure with a scale or a currency ('70 billion yuan', '700亿元') must be worth what one
    of the chunk's figures is worth, in either language, without the opposite qualifier:
    '700 billion yuan' is not '700亿元' though the digits are (a wrong 万/亿 is the costliest
    mistake an investor can copy), 'over 70 billion' is not '近700亿'. Other numbers must occur
    in the chunk as whole numbers, looked for with line breaks removed (a figure a narrow
    column broke) and with spaces kept ("T-92 40公厘": removed, 92 would run into 40); names
    with commas removed on both sides ("《Love me, Kelly》").
    """
    chunk = squash(chunk_text).replace(",", "")
    spaced = collapse(chunk_text).replace(",", "")
    claimed = [a for a in amounts(claim_text) if a.strict]
    missing = [a.text for a in figure_mismatches(claimed, chunk_text)]
    for match in NUMBER.finditer(claim_text):
        if any(a.start <= match.start() < a.end for a in claimed):
            continue  # judged as a figure above
        number = match.group(0).replace(",", "")
        words = number_words(claim_text, match.start(), match.end())
        if not (contains_number(chunk, number, *words) or contains_number(spaced, number, *words)):
            missing.append(match.group(0))
    missing += [q for q in _QUOTED.findall(claim_text) if squash(q).replace(",", "") not in chunk]
    return missing


def overlap(claim_text: str, source_text: str) -> float | None:
    """Share of the claim's bigrams (Chinese) or words (other text) found in the source.

    None when the two cannot be compared word for word (an English claim over Chinese text).
    """
    if has_cjk(claim_text):
        grams = bigrams(claim_text)
        return len(grams & bigrams(source_text)) / len(grams) if grams else None
    words = ascii_words(claim_text)
    if not words or has_cjk(source_text):
        return None
    return len(words & ascii_words(source_text)) / len(words)


def check_claim(claim: Claim, cited: dict[int, Context], min_overlap: float = MIN_OVERLAP) -> str:
    """Why the claim is unsupported by the chunks it cites, or '' when it is supported."""
    if not claim.markers:
        return "no citation"
    unknown = [m for m in claim.markers if m not in cited]
    if unknown:
        return "cites no retrieved passage: " + ", ".join(f"[{m}]" for m in unknown)
    chunks = "\n".join(as_read(cited[m]) for m in claim.markers)
    missing = unsupported_details(claim.text, chunks)
    if missing:
        return "not in the cited passage: " + ", ".join(missing)
    share = overlap(claim.text, chunks)
    if share is not None and share < min_overlap:
        return f"only {share:.0%} of its wording is in the cited passage"
    return ""


def as_read(ctx: Context) -> str:
    """A passage as its reader understands it: with its relative dates resolved against its
    article's date ('今年3月' of 2021-09 also says 2021年3月), so an answer may say the year."""
    resolved = [r.chinese for r in relative_dates(ctx.text, ctx.published)]
    return ctx.text + ("\n" + " ".join(resolved) if resolved else "")


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
    wanted = bigrams("".join(claims)) | {w for c in claims for w in ascii_words(c)}
    best, best_key = chunk_text.strip(), (-1, 0.0)
    for start, end in split_sentences(chunk_text):
        sentence = chunk_text[start:end]
        found = bigrams(sentence) | ascii_words(sentence)
        shared = len(wanted & found)
        key = (shared, shared / (len(found) or 1))
        if key > best_key:
            best, best_key = sentence, key
    return best


def join_claims(parts: Sequence[str]) -> str:
    """Claims (or answers) one after another: a space only before Latin text."""
    return _join(list(parts))


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        ascii_next = part[:1].isascii() and part[:1].isalnum()
        out += (" " if out and ascii_next else "") + part
    return out


def _with_marks(text: str, marks: str) -> str:
    # English reads "… 600 [1]." and Chinese "…。[1]".
    if marks and text[-1:] in _ASCII_END and not has_cjk(text[-2:-1] or "a"):
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
                        published=ctx.published,
                        also_in=ctx.also_in,
                        char_start=ctx.char_start + max(start, 0),
                        char_end=(
                            ctx.char_start + start + len(quote) if start >= 0 else ctx.char_end
                        ),
                    )
                )
            marks += f"[{mapping[old]}]"
        parts.append(_with_marks(claim.text, marks))
    return _join(parts), citations


@dataclass(frozen=True)
class Checked:
    """A draft after the citation check: what the user sees."""

    text: str
    citations: list[Citation]
    refused: bool


def addresses(claims: list[Claim], question: str) -> bool:
    """Some claim shares a word of two or more characters with a Chinese question.

    Small models copy whichever passage comes first, whatever the question: a reply that is
    grounded but never touches the question's words does not answer it.
    """
    if language(question) != "zh":
        return True
    terms = {t for t in tokenize(question) if len(t) >= 2}
    texts = [fold(c.text) for c in claims]
    return not terms or any(t in text for t in terms for text in texts)


def check(
    draft: Draft,
    question: str,
    lang: str,
    accept: Callable[[list[Claim], str], bool] | None = None,
) -> Checked:
    """Keep the supported sentences of a draft, or refuse when none is left; `accept` (the
    answerer's own test, e.g. `addresses`) may still refuse what is left."""
    if draft.refused:
        return Checked(draft.text, [], True)
    kept, dropped = verify(draft.text, draft.cited)
    # A generated English answer stands beside the Chinese it rests on: each passage it cites
    # is quoted whole (a reader's passages are a few sentences, assistant/llm/reading.py), since an
    # English sentence shares too few characters with one Chinese sentence to pick it.
    beside = lang == "en" and not draft.quotes
    quotes = _quotes(draft, kept, beside)
    elsewhere: list[Claim] = []  # figures its passage states, but not the quote shown with it
    if not draft.quotes:  # generated: its figures must be those of the quote it is shown with
        elsewhere = [c for c in kept if _outside_quotes(c, quotes, draft.cited)]
        if elsewhere:
            kept = [c for c in kept if c not in elsewhere]
            dropped, quotes = dropped + elsewhere, _quotes(draft, kept, beside)
    for claim in dropped:
        logger.debug("dropped unsupported claim: %s", claim.text[:80])
    if not kept or (accept is not None and not accept(kept, question)):
        return Checked(REFUSAL[lang], [], True)
    text, citations = renumber(kept, draft.cited, quotes)
    if beside:  # every quoted sentence carries its marker, as every answer sentence does
        text += "\nQuoted in Chinese: " + "".join(
            f"{c.quote[a:b]}[{c.n}]" for c in citations for a, b in split_sentences(c.quote)
        )
    if elsewhere or any(wrong_figures(claim, draft.cited) for claim in dropped):
        text += "\n" + FIGURE_REMOVED[lang]  # the reader is told, not left to guess
    return Checked(text, citations, False)


def _quotes(draft: Draft, kept: Sequence[Claim], beside: bool) -> dict[int, str]:
    """The verbatim sentence each marker stands for: the draft's own (extractive), else the
    chunk sentence closest to the claims that cite it (or the whole passage, `beside`)."""
    quotes = dict(draft.quotes)
    for n, ctx in draft.cited.items():
        supporting = [c.text for c in kept if n in c.markers]
        if n not in quotes and supporting:
            quotes[n] = ctx.text.strip() if beside else best_sentence(supporting, ctx.text)
    return quotes


def _outside_quotes(claim: Claim, quotes: dict[int, str], cited: dict[int, Context]) -> list[str]:
    """The figures and dates of a generated claim that none of its quotes states, though its
    passage may ("海尔信息谷已入驻49家企业" took the 49 of another sentence, "2020年2月" the
    year of another); relative dates count as resolved (今年2月 of 2021-09 says 2021年2月)."""
    said = [as_read(replace(cited[m], text=quotes[m])) for m in claim.markers if m in quotes]
    return unsupported_details(claim.text, "\n".join(said)) if said else []


FIGURE_REMOVED = {
    "zh": "（已删去一句：其中的数字与所引原文不符。）",
    "en": "(One sentence was removed: its figure is not what the quoted source says.)",
}


def wrong_figures(claim: Claim, cited: dict[int, Context]) -> list[str]:
    """The claim's figures (amounts and whole numbers) that no passage it cites states."""
    chunks = "\n".join(as_read(cited[m]) for m in claim.markers if m in cited)
    missing = unsupported_details(claim.text, chunks) if chunks else []
    return [d for d in missing if any(c.isdigit() for c in d)]


def figure_mismatches(claimed: Sequence[Amount], chunk_text: str) -> list[Amount]:
    """The claimed amounts that no amount of the chunk is worth (see unsupported_details)."""
    stated = amounts(squash(chunk_text)) + amounts(collapse(chunk_text))
    return [a for a in claimed if not any(same_amount(a, s) for s in stated)]


def merge_checked(parts: Sequence[Checked], lang: str, sep: str | None = None) -> Checked:
    """The checked answers of a question's parts as one: markers numbered across the parts,
    joined as claims are, or by `sep` (a line each)."""
    texts: list[str] = []
    citations: list[Citation] = []
    for part in parts:
        if part.refused:
            continue
        offset = len(citations)
        texts.append(renumber_markers(part.text, {c.n: c.n + offset for c in part.citations}))
        citations += [replace(c, n=c.n + offset) for c in part.citations]
    if not texts:
        return Checked(REFUSAL[lang], [], True)
    return Checked(join_claims(texts) if sep is None else sep.join(texts), citations, False)
