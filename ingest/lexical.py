"""Jieba-segmented BM25 (bm25s): the lexical half of hybrid retrieval, saved beside Chroma.

The index is saved with bm25s's own format (memory-mapped on load) in a folder named after the
fingerprint of the committed documents, so any process finds the index that matches what it
reads from Chroma without segmenting the corpus again; a missing, stale or unreadable one is
rebuilt.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from ingest.substrings import SubstringCounter
from ingest.text.tokens import tokenize
from ingest.text.width import fold

logger = logging.getLogger(__name__)

FORMAT = 4  # 4: the substring index replaced texts.txt
_META = "meta.json"
_EMPTY = "\x00"  # bm25s cannot index an empty token list; a placeholder keeps positions aligned
_TERM_CACHE = 4096

Rows = Callable[[], tuple[list[str], list[str]]]


class LexicalIndex:
    """BM25 over chunk tokens, plus how many chunks contain a term (for sentence scoring)."""

    def __init__(
        self, bm25: Any, ids: Sequence[str], substrings: SubstringCounter, fingerprint: str
    ) -> None:
        self._bm25 = bm25
        self.ids = list(ids)
        self.fingerprint = fingerprint
        self._substrings = substrings
        self.substring_df = lru_cache(maxsize=_TERM_CACHE)(self._substring_df)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], fingerprint: str) -> LexicalIndex:
        """Segment the texts and index them."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        bm25 = bm25s.BM25()
        if ids:
            bm25.index([tokenize(t) or [_EMPTY] for t in texts], show_progress=False)
        return cls(bm25, ids, SubstringCounter.build([fold(t) for t in texts]), fingerprint)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every token of the indexed chunks (the same object while the index is unchanged)."""
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        return frozenset(t for t in vocab if t and t != _EMPTY)

    def _substring_df(self, term: str) -> int:
        """How many chunks contain the term as a substring: independent of how jieba segments."""
        return self._substrings.count(fold(term))

    def spelled(self, options: Sequence[str], most: int = 20) -> list[str]:
        """The strings of the chunks whose i-th character is one of `options[i]`."""
        return self._substrings.spelled(options, most)

    def term_idf(self, term: str) -> float:
        """Smoothed IDF from substring document frequency (0 for terms in every chunk)."""
        return self._idf(self.substring_df(term))

    @property
    def max_idf(self) -> float:
        """The IDF of a term no chunk contains."""
        return self._idf(0)

    def _idf(self, df: int) -> float:
        n = max(len(self.ids), 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) for the tokens; chunks sharing no token are left out."""
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        known = [t for t in query_tokens if t in vocab] if self.ids else []
        if not known:
            return []
        import numpy as np

        scores = np.asarray(self._bm25.get_scores(known))
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:  # the k best (ties included) without sorting them all
            kth = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[scores[hits] >= kth]
        order = sorted(hits.tolist(), key=lambda i: (-float(scores[i]), i))[:k]
        return [(self.ids[i], float(scores[i])) for i in order]

    # --- persistence ---------------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Save under folder/<fingerprint>: written to a temp folder, then renamed into place."""
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / self.fingerprint
        tmp = folder / f".tmp-{self.fingerprint}-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            if self.ids:
                self._bm25.save(str(tmp), show_progress=False)
            self._substrings.save(tmp)
            meta = {"format": FORMAT, "fingerprint": self.fingerprint, "ids": self.ids}
            (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:  # another process saved the same state first: keep theirs
                if not (final / _META).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> LexicalIndex | None:
        """The saved index of this fingerprint (arrays memory-mapped), or None if there is none.

        Raises ValueError or OSError when the saved files are unreadable or inconsistent.
        """
        path = folder / fingerprint
        if not (path / _META).is_file():
            return None
        import bm25s

        meta = json.loads((path / _META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint:
            raise ValueError("saved lexical index has another format or fingerprint")
        ids = [str(i) for i in meta["ids"]]
        substrings = SubstringCounter.load(path)
        if len(substrings) != len(ids):
            raise ValueError("saved substring index does not match its chunk list")
        bm25 = bm25s.BM25()
        if ids:
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            bm25 = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
            if int(bm25.scores["num_docs"]) != len(ids):
                raise ValueError("saved lexical index does not match its chunk list")
        return cls(bm25, ids, substrings, fingerprint)


class LexicalStore:
    """Keeps the lexical index in step with the committed documents: in memory, on disk, or
    rebuilt from the chunk texts; old saved states are removed after a rebuild."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._current: LexicalIndex | None = None
        self._lock = threading.Lock()

    def get(self, fingerprint: str, rows: Rows) -> LexicalIndex:
        """The index for this fingerprint; `rows` gives (ids, texts) when it must be rebuilt."""
        with self._lock:
            if self._current is not None and self._current.fingerprint == fingerprint:
                return self._current
            index = self._load(fingerprint) or self._rebuild(fingerprint, rows)
            self._current = index
            return index

    def _load(self, fingerprint: str) -> LexicalIndex | None:
        try:
            return LexicalIndex.load(self.folder, fingerprint)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("saved lexical index is unreadable (%s); rebuilding it", exc)
            shutil.rmtree(self.folder / fingerprint, ignore_errors=True)
            return None

    def _rebuild(self, fingerprint: str, rows: Rows) -> LexicalIndex:
        started = time.perf_counter()
        ids, texts = rows()
        index = LexicalIndex.build(ids, texts, fingerprint)
        try:
            index.save(self.folder)
            self._remove_others(fingerprint)
        except OSError as exc:  # a read-only data folder still answers, from memory
            logger.warning("cannot save the lexical index in %s: %s", self.folder, exc)
        logger.info(
            "rebuilt lexical index: %d chunks in %.2fs", len(ids), time.perf_counter() - started
        )
        return index

    def _remove_others(self, keep: str) -> None:
        """Delete saved states of other fingerprints (a process that mapped one keeps its copy)."""
        for path in self.folder.iterdir():
            if path.name == keep or path.name.startswith(".tmp-"):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def reset(self) -> None:
        """Forget the index in memory and on disk."""
        with self._lock:
            self._current = None
            shutil.rmtree(self.folder, ignore_errors=True)
