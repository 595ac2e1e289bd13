"""How many chunks contain a string, exactly, from an index of character bigrams.

The answerer weighs a question's terms by how many chunks contain them as substrings (so the
weight does not depend on how jieba segments). Scanning every text for each new term grew with
the corpus: 10-46 ms a term at 100k chunks (measured), most of a slow answer. This index keeps,
for every character bigram of the chunk texts, the sorted positions where it occurs: a term of
n characters starts at p when its i-th bigram occurs at p + i for every i, so a term costs a few
binary searches and intersections of position lists, and the count is exact (the tests compare
it with the scan). Written here with numpy because it is about 80 lines; a suffix-array package
(pydivsufsort) would answer the same question with a compiled dependency and no gain here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_SHIFT = 21  # code points are below 2**21: a bigram is (first << 21) | second
_FILES = ("starts", "keys", "offsets", "positions")


class SubstringCounter:
    """Distinct chunks containing a string, for texts given once (already folded)."""

    def __init__(self, starts: Any, keys: Any, offsets: Any, positions: Any) -> None:
        self.starts = starts  # where each text starts in the joined string
        self.keys = keys  # every distinct bigram, sorted
        self.offsets = offsets  # keys[i]'s positions are positions[offsets[i]:offsets[i + 1]]
        self.positions = positions  # positions of each bigram, ascending within it

    @classmethod
    def build(cls, texts: Sequence[str]) -> SubstringCounter:
        """Index the texts (joined with a NUL after each, so no bigram of a term spans two)."""
        joined = "".join(t.replace("\x00", " ") + "\x00" for t in texts) + "\x00"
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        bigrams = (codes[:-1] << np.uint64(_SHIFT)) | codes[1:]
        del codes  # at 100k chunks each of these arrays is about 115 MB
        order = np.argsort(bigrams, kind="stable")  # by bigram, then by position
        ordered = bigrams[order]
        del bigrams
        first = np.flatnonzero(
            np.diff(ordered, prepend=ordered[:1] + 1 if len(ordered) else ordered)
        )
        keys = ordered[first]  # each distinct bigram once (ordered is sorted already)
        offsets = np.append(first, len(ordered)).astype(np.int64)
        lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
        starts = np.concatenate(([0], np.cumsum(lengths)))[: len(texts)].astype(np.int64)
        dtype = np.int32 if len(joined) < 2**31 else np.int64
        return cls(starts, keys, offsets, order.astype(dtype))

    def _occurrences(self, low: int, high: int) -> Any:
        """Positions of the bigrams with keys in [low, high)."""
        lo, hi = np.searchsorted(self.keys, [low, high])
        return self.positions[self.offsets[lo] : self.offsets[hi]]

    def count(self, term: str) -> int:
        """How many texts contain `term` (0 for an empty term or one holding NUL)."""
        if not term or "\x00" in term or not len(self.starts):
            return 0
        codes = [ord(c) for c in term]
        if len(codes) == 1:  # every character is the first of a bigram (texts end with NUL)
            starts = np.sort(self._occurrences(codes[0] << _SHIFT, (codes[0] + 1) << _SHIFT))
        else:
            lists = []
            for i, (a, b) in enumerate(zip(codes, codes[1:], strict=False)):
                key = (a << _SHIFT) | b
                found = self._occurrences(key, key + 1)
                if not len(found):
                    return 0
                lists.append(found.astype(np.int64) - i)  # where the term would start
            lists.sort(key=len)
            starts = lists[0]
            for other in lists[1:]:  # keep the starts every other bigram confirms
                at = np.searchsorted(other, starts).clip(max=len(other) - 1)
                starts = starts[other[at] == starts]
                if not len(starts):
                    return 0
        if not len(starts):
            return 0
        texts = np.searchsorted(self.starts, starts, side="right")  # ascending
        return int(1 + np.count_nonzero(np.diff(texts)))

    def spelled(self, options: Sequence[str], most: int = 20) -> list[str]:
        """The strings the texts hold whose i-th character is one of `options[i]` (2+
        positions), at most `most` of them: the corpus's readings of a name spelled in pinyin.

        Each position's characters are paired with the next's and kept where the bigram occurs
        (one vectorised look-up in the sorted bigrams per pair), then whole strings are counted.
        """
        if len(options) < 2 or not len(self.keys):
            return []
        allowed: list[dict[str, list[str]]] = []  # per pair: first character -> seconds
        for first, second in zip(options, options[1:], strict=False):
            a = np.array([ord(c) for c in first], dtype=np.uint64)
            b = np.array([ord(c) for c in second], dtype=np.uint64)
            pairs = ((a[:, None] << np.uint64(_SHIFT)) | b[None, :]).ravel()
            at = np.searchsorted(self.keys, pairs).clip(max=len(self.keys) - 1)
            hit = np.flatnonzero(self.keys[at] == pairs)
            step: dict[str, list[str]] = {}
            for i in hit:
                step.setdefault(first[i // len(b)], []).append(second[i % len(b)])
            if not step:
                return []
            allowed.append(step)
        paths = [c for c in allowed[0]]
        for step in allowed:
            paths = [p + c for p in paths for c in step.get(p[-1], ())][: 50 * most]
        return [p for p in paths if self.count(p)][:most]

    def save(self, folder: Path) -> None:
        """Write the arrays as .npy files into folder."""
        for name in _FILES:
            np.save(folder / f"substrings-{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, folder: Path) -> SubstringCounter:
        """The saved arrays, memory-mapped. Raises OSError or ValueError when unreadable."""
        arrays = [np.load(folder / f"substrings-{n}.npy", mmap_mode="r") for n in _FILES]
        starts, keys, offsets, positions = arrays
        if len(offsets) != len(keys) + 1 or (len(offsets) and offsets[-1] != len(positions)):
            raise ValueError("saved substring index is inconsistent")
        return cls(starts, keys, offsets, positions)

    def __len__(self) -> int:
        return len(self.starts)
