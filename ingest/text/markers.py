"""Citation markers: "[n]" after a claim names the n-th cited passage.

The canonical spelling is "[n]"; small models also write 【1】 ［1］ [1, 2] [1，2] [1-3] [^1]
[资料1] [Passage 1], which `normalize_markers` rewrites as "[1]…" runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

MARKER = re.compile(r"\[(\d{1,3})\]")
_LOOSE = (
    r"[\[【［〔]\s*(?:\^|(?:passage|source|ref|id|doc|资料|段落|来源|文段|片段|参考)\s*[:：#]?\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；]|[-–~～])\s*\d{1,3})*)\s*[\]】］〕]"
)
LOOSE_MARKER = re.compile(_LOOSE, re.IGNORECASE)
# A run of markers and the whitespace before each: "… 600 [1][2]" → " [1][2]".
_RUN = re.compile(rf"(?:\s*{_LOOSE})+", re.IGNORECASE)
_MAX_RANGE = 20


def marker(n: int) -> str:
    """The canonical marker of passage n."""
    return f"[{n}]"


def _numbers(body: str) -> list[int]:
    """'1, 2' → [1, 2]; '1-3' → [1, 2, 3] (a range of at most 20); duplicates dropped."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", body):
        ends = [int(x) for x in re.split(r"\s*[-–~～]\s*", part)]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= _MAX_RANGE:
            numbers.extend(range(ends[0], ends[1] + 1))
        else:
            numbers.extend(ends)
    return list(dict.fromkeys(numbers))


def normalize_markers(text: str) -> str:
    """Rewrite every marker spelling as canonical "[1][2]..." runs."""
    return LOOSE_MARKER.sub(lambda m: "".join(marker(n) for n in _numbers(m.group(1))), text)


def strip_markers(text: str) -> str:
    """The text without its markers (in any spelling) and the whitespace before them."""
    return _RUN.sub("", text)


def marker_runs(text: str) -> list[tuple[int, int, list[int]]]:
    """(start, end, passage numbers) of each run of adjacent markers, in order."""
    out = []
    for run in _RUN.finditer(text):
        numbers = [n for m in LOOSE_MARKER.finditer(run.group()) for n in _numbers(m.group(1))]
        out.append((run.start(), run.end(), numbers))
    return out


def cited_numbers(text: str) -> list[int]:
    """The passage numbers the canonical markers of text name, in order of first use."""
    return list(dict.fromkeys(int(n) for n in MARKER.findall(text)))


def renumber_markers(text: str, mapping: Mapping[int, int] | Callable[[int], int]) -> str:
    """Canonical markers rewritten through mapping (numbers it lacks are kept as they are)."""
    get = mapping if callable(mapping) else (lambda n: mapping.get(n, n))
    return MARKER.sub(lambda m: marker(get(int(m.group(1)))), text)


def split_at_markers(text: str) -> list[tuple[str, int | None]]:
    """The text as (piece, None) and (marker, n) parts, in order."""
    parts: list[tuple[str, int | None]] = []
    last = 0
    for m in MARKER.finditer(text):
        if m.start() > last:
            parts.append((text[last : m.start()], None))
        parts.append((m.group(0), int(m.group(1))))
        last = m.end()
    if last < len(text):
        parts.append((text[last:], None))
    return parts
