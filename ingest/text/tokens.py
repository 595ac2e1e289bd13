"""Words of Chinese text (jieba): index tokens, a question's content words, character bigrams."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.text.cached import (
    TableLookup,
    cached,
    kept_table,
    load_whole,
    settled,
    table_about,
)
from ingest.text.width import CJK_RANGES, fold

_TOKEN_OK = re.compile(rf"[0-9a-z{CJK_RANGES}]")
_RUNS = re.compile(rf"[{CJK_RANGES}0-9]+")
_ASCII_WORD = re.compile(r"[a-z]{3,}")
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
_NAME_FLAGS = ("nr", "ns", "nt", "nz", "nrt", "nrfg")
_lock = threading.Lock()
_ready = False
_tags_ready = False


def segmenter() -> Any:
    """The jieba module, its dictionary loaded once per process (thread-safe)."""
    global _ready
    import jieba as _jieba

    with _lock:
        if not _ready:
            _jieba.setLogLevel(logging.WARNING)
            _use_kept_dictionary(_jieba.dt)
            _jieba.initialize()  # a no-op when the kept one is used; else jieba loads its own
            _ready = True
        else:
            _jieba.dt.FREQ = settled(_jieba.dt.FREQ)
    return _jieba


def _cache_dir(tokenizer: Any) -> Path:
    """Where jieba keeps its dictionary cache (its temp folder); our tables go there too."""
    return Path(tokenizer.tmp_dir or tempfile.gettempdir())


def _dictionary_file() -> tuple[Path, str]:
    """jieba's dictionary file, and the jieba release that ships it."""
    import jieba

    return Path(jieba.__file__).with_name("dict.txt"), jieba.__version__


def _use_kept_dictionary(tokenizer: Any) -> None:
    """jieba's default dictionary read a word at a time from a table kept beside jieba's cache
    (its words, their frequencies and tags): a question needs a few hundred of its 500k words,
    and loading them all (below) took 0.2 s of every cold question and the tags 0.2 s more
    (measured). Without the table, the whole dictionary from jieba's own cache file. Any other
    dictionary is left to jieba."""
    if tokenizer.dictionary is not None or tokenizer.cache_file or tokenizer.initialized:
        return
    table = kept_table(
        _cache_dir(tokenizer), "jieba-words-v1", *_dictionary_file(),
        ("freq INTEGER NOT NULL", "tag TEXT"), lambda: _table_rows(tokenizer),
    )  # fmt: skip
    try:
        total = table_about(table)["total"] if table is not None else None
    except (sqlite3.Error, KeyError):
        total = None
    if table is None or total is None:
        tokenizer.FREQ, tokenizer.total = _whole_dictionary(tokenizer)
    else:
        tokenizer.FREQ = TableLookup(table, "freq", lambda: _whole_dictionary(tokenizer)[0])
        tokenizer.total = total
    tokenizer.initialized = True


def _whole_dictionary(tokenizer: Any) -> tuple[dict[str, int], int]:
    """(word and word-prefix → frequency, total) from jieba's own cache file, read whole (see
    load_whole: 0.15 s instead of jieba's 0.48 s); jieba trusts that cache for its default
    dictionary without a check, and so does this. Without it, jieba makes it."""
    value = load_whole(_cache_dir(tokenizer) / "jieba.cache")
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], dict) and value[0]:
        return value[0], value[1]
    import jieba

    fresh = jieba.Tokenizer()
    fresh.tmp_dir = tokenizer.tmp_dir
    fresh.initialize()
    return fresh.FREQ, fresh.total


def _table_rows(tokenizer: Any) -> tuple[Any, dict[str, int]]:
    frequencies, total = _whole_dictionary(tokenizer)
    tags = _whole_tags(tokenizer)
    rows = ((word, freq, tags.get(word)) for word, freq in frequencies.items())
    return rows, {"total": total}


def _whole_tags(tokenizer: Any) -> dict[str, str]:
    """Word → tag of jieba's dictionary, kept as a marshal file beside jieba's cache."""
    dictionary, release = _dictionary_file()
    tags: dict[str, str] = cached(
        _cache_dir(tokenizer), "jieba-tags", dictionary, release, lambda: _read_tags(dictionary),
        lambda v: isinstance(v, dict) and bool(v),
    )  # fmt: skip
    return tags


def _posseg() -> Any:
    """jieba.posseg, its word tags read like the words (from the kept table, else whole).

    Importing jieba.posseg reads the tags of the whole dictionary from its text file, 0.24 s of
    every cold question (measured). The import reads the file through the tokenizer's
    get_dict_file, so for the import it is given an empty one, then the tags. Written by hand
    because jieba has no cache of its own for the tags.
    """
    global _tags_ready
    loaded = segmenter()
    with _lock:
        if not _tags_ready:
            _tags_ready = True
            if "jieba.posseg" not in sys.modules and loaded.dt.dictionary is None:
                _import_posseg_with_kept_tags(loaded)
        import jieba.posseg

        jieba.posseg.dt.word_tag_tab = settled(jieba.posseg.dt.word_tag_tab)
    return jieba.posseg


def _import_posseg_with_kept_tags(loaded: Any) -> None:
    loaded.dt.get_dict_file = io.BytesIO  # what the import reads the tags from: nothing
    try:
        import jieba.posseg
    finally:
        del loaded.dt.get_dict_file
    words = loaded.dt.FREQ
    jieba.posseg.dt.word_tag_tab = (
        TableLookup(words.path, "tag", lambda: _whole_tags(loaded.dt))
        if isinstance(words, TableLookup)
        else _whole_tags(loaded.dt)
    )


def _read_tags(dictionary: Path) -> dict[str, str]:
    """Word → part-of-speech tag of jieba's dictionary file (lines 'word frequency tag')."""
    tags: dict[str, str] = {}
    with dictionary.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            word, _, tag = line.strip().split(" ")
            tags[word] = tag
    return tags


def _keep(token: str) -> bool:
    return bool(token) and _TOKEN_OK.search(token) is not None and token not in STOPWORDS


def tokenize(text: str) -> list[str]:
    """Index tokens: jieba search mode (compounds also yield their parts), stopwords dropped."""
    tokens = segmenter().lcut_for_search(fold(text))
    return [t for t in (t.strip() for t in tokens) if _keep(t)]


# jieba guesses words missing from its dictionary with an HMM at about 4 ms per unknown
# character (measured: a question of 1,000 random Chinese characters took 11.6 s to answer), so
# only a question's first GUESS_CHARS characters get guessed words; the rest is cut by the
# dictionary alone. Every eval question is shorter (zone set: 114, CMRC: 54 characters at most).
GUESS_CHARS = 120


def question_terms(text: str, guess_chars: int = GUESS_CHARS) -> list[tuple[str, str]]:
    """The content words of a question (jieba precise mode, no overlaps) with their noun kind.

    The kind is 'specific' (a name, or a compound noun of 3+ characters such as 注册资本),
    'generic' (a short common noun such as 规模) or '' (not a noun).
    """
    return list(_question_terms(text, guess_chars))


@lru_cache(maxsize=256)  # a question is weighed more than once on its way to an answer
def _question_terms(text: str, guess_chars: int) -> tuple[tuple[str, str], ...]:
    folded = fold(text)
    head, tail = folded[:guess_chars], folded[guess_chars:]
    pairs = _posseg().lcut(head) + (_posseg().lcut(tail, HMM=False) if tail else [])
    out: dict[str, str] = {}
    for pair in pairs:
        word = pair.word.strip()
        if _keep(word):
            out[word] = out.get(word, "") or noun_kind(word, pair.flag)
    return tuple(out.items())


def noun_kind(word: str, flag: str) -> str:
    """'' for non-nouns, 'specific' for names and compounds of 3+ characters, else 'generic'."""
    if not flag.startswith(("n", "vn", "j", "eng")):
        return ""
    if flag in _NAME_FLAGS or len(word) >= 3:
        return "specific"
    return "generic"


def tagged(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs of jieba precise mode, in order."""
    return [(p.word, p.flag) for p in _posseg().lcut(text)]


def tagged_words(text: str) -> list[tuple[str, str]]:
    """(word, flag) pairs from the dictionary alone (no HMM guesses): cheap enough for every
    candidate sentence of a question."""
    return [(p.word, p.flag) for p in _posseg().lcut(text, HMM=False)]


def bigrams(text: str) -> set[str]:
    """The character bigrams of the Chinese (and digit) runs of text."""
    return {run[i : i + 2] for run in _RUNS.findall(text) for i in range(len(run) - 1)}


def ascii_words(text: str) -> set[str]:
    """The Latin words of three or more letters, lower-cased."""
    return set(_ASCII_WORD.findall(text.lower()))
