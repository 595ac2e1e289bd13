"""Jieba-segmented BM25 (bm25s): the lexical half of hybrid retrieval, persisted beside Chroma."""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_FORMAT = 2
_TOKEN_OK = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]")
# Function words and question words that say nothing about which passage answers a question.
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 等 也 都 而 又 或 并 对 为 以 于 把 被 将 从 向 由 其 之 这 那 该 此 "
    "个 吗 呢 吧 啊 么 有 有没有 没有 什么 哪些 哪个 哪 多少 几 几个 如何 怎么 怎样 为什么 "
    "何时 什么时候 哪年 哪一年 谁 是否 请问 请 一下 关于 上 中 下 里 方面 情况 主要 进行 "
    "哪家 哪里 哪儿 一共 总共 哪几 哪几个 哪几种 几种 几本 几项 几条 时候 是从 哪位 哪一 哪种 "
    "多长 什么样 怎么样 为何 是不是 能否 可以 文章 文中 报道 提到 内容 具体 分别 到底 目前 "
    "the a an of to in on for and or is are was were be by with what which who when how many "
    "much does do did it its this that as at from".split()
)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> Any:
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    return jieba


def question_terms(text: str) -> list[tuple[str, str]]:
    """The content words of a question (jieba precise mode, no overlaps) with their noun kind.

    The kind is 'specific' (a name, or a compound noun of 3+ characters such as 注册资本),
    'generic' (a short common noun such as 规模) or '' (not a noun).
    """
    import jieba.posseg

    _jieba()
    text = unicodedata.normalize("NFKC", text).lower()
    out: dict[str, str] = {}
    for pair in jieba.posseg.lcut(text):
        word = pair.word.strip()
        if word and _TOKEN_OK.search(word) and word not in STOPWORDS:
            out[word] = out.get(word, "") or _noun_kind(word, pair.flag)
    return [(w, kind) for w, kind in out.items()]


def _noun_kind(word: str, flag: str) -> str:
    """'' for non-nouns, 'specific' for names and compounds of 3+ characters, else 'generic'."""
    if not flag.startswith(("n", "vn", "j", "eng")):
        return ""
    if flag in ("nr", "ns", "nt", "nz", "nrt", "nrfg") or len(word) >= 3:
        return "specific"
    return "generic"


def tokenize(text: str) -> list[str]:
    """Segment with jieba (search mode: compounds also yield their parts); drop stopwords."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens = _jieba().lcut_for_search(text)
    return [
        t for t in (t.strip() for t in tokens) if t and _TOKEN_OK.search(t) and t not in STOPWORDS
    ]


class LexicalIndex:
    """BM25 over chunk token lists, plus document frequencies for sentence scoring."""

    def __init__(
        self,
        ids: Sequence[str],
        tokens: Sequence[list[str]],
        fingerprint: str,
        texts: Sequence[str] = (),
    ) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.ids = list(ids)
        self.tokens = [list(t) for t in tokens]
        self.texts = [unicodedata.normalize("NFKC", t).lower() for t in texts]
        self.fingerprint = fingerprint
        self._substring_df: dict[str, int] = {}
        self.doc_freq: Counter[str] = Counter()
        for toks in self.tokens:
            self.doc_freq.update(set(toks))
        self._bm25 = bm25s.BM25()
        if self.ids:
            # bm25s cannot index an empty token list; a placeholder keeps positions aligned.
            self._bm25.index([t or ["\x00"] for t in self.tokens], show_progress=False)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], fingerprint: str) -> LexicalIndex:
        """Segment the texts and index them."""
        return cls(ids, [tokenize(t) for t in texts], fingerprint, texts)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency (unknown tokens get the highest value)."""
        n = max(len(self.ids), 1)
        return math.log(
            1 + (n - self.doc_freq.get(token, 0) + 0.5) / (self.doc_freq.get(token, 0) + 0.5)
        )

    def substring_df(self, term: str) -> int:
        """How many chunks contain the term as a substring: independent of how jieba segments."""
        term = unicodedata.normalize("NFKC", term).lower()
        if term not in self._substring_df:
            self._substring_df[term] = sum(1 for t in self.texts if term in t)
        return self._substring_df[term]

    def term_idf(self, term: str) -> float:
        """Smoothed IDF from substring document frequency (0 for terms in every chunk)."""
        n = max(len(self.ids), 1)
        df = self.substring_df(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) for the tokens; chunks sharing no token are left out."""
        known = [t for t in query_tokens if t in self._bm25.vocab_dict] if self.ids else []
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))[:k]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]

    def save(self, folder: Path) -> None:
        """Write atomically (temp file + rename) so a killed process never leaves half a file."""
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "ids": self.ids,
            "tokens": self.tokens,
        }
        tmp = folder / f"lexical.json.gz.{os.getpid()}.tmp"
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False)
        os.replace(tmp, folder / "lexical.json.gz")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """Read a saved index, or None when missing or unreadable."""
        path = folder / "lexical.json.gz"
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                payload = json.load(fh)
        except (OSError, ValueError, EOFError):
            return None
        if payload.get("format") != _FORMAT or not {"ids", "tokens", "texts", "fingerprint"} <= set(
            payload
        ):
            return None
        return cls(payload["ids"], payload["tokens"], payload["fingerprint"], payload["texts"])
