"""The lexical index: BM25 search, substring statistics, persistence across processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.lexical import LexicalIndex, LexicalStore
from tests.conftest import ROOT

IDS = ["a", "b", "c"]
TEXTS = [
    "海港新区\n今年以来，海港新区新引进重点项目42个，总投资280余亿元。",
    "森林公园\n森林公园新增步道12公里，种植树木8000余棵。",
    "海港发展集团\n集团下设3个子公司，资产总额150亿元。ＡＢＣ",
]


def built(fingerprint: str = "fp1") -> LexicalIndex:
    return LexicalIndex.build(IDS, TEXTS, fingerprint)


def test_search_ranks_by_bm25_and_leaves_out_chunks_without_a_token():
    index = built()
    hits = index.search(["海港", "项目"], k=3)
    assert [cid for cid, _ in hits] == ["a", "c"]  # "a" has both tokens, "c" only 海港
    assert hits[0][1] > hits[1][1] > 0
    assert index.search(["不存在的词"], k=3) == []
    assert index.search(["步道"], k=3)[0][0] == "b"


def test_substring_statistics_ignore_segmentation_and_width():
    index = built()
    assert index.substring_df("海港") == 2  # "海港新区" and "海港发展集团"
    assert index.substring_df("新引进重点") == 1
    assert index.substring_df("abc") == 1  # full-width ＡＢＣ folds to abc
    assert index.substring_df("无此词") == 0 and index.substring_df("\x00") == 0
    assert index.term_idf("无此词") == index.max_idf > index.term_idf("海港") > 0
    assert "步道" in index.vocabulary and "" not in index.vocabulary


def test_empty_index_answers_nothing(tmp_path: Path):
    empty = LexicalIndex.build([], [], "empty")
    assert (len(empty), empty.search(["海港"], 3), empty.substring_df("海港")) == (0, [], 0)
    empty.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path, "empty")
    assert loaded is not None and len(loaded) == 0


def test_saved_index_loads_memory_mapped_and_searches_the_same(tmp_path: Path):
    index = built()
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path, "fp1")
    assert loaded is not None
    assert loaded.ids == IDS and loaded.vocabulary == index.vocabulary
    assert loaded.search(["海港", "项目"], 3) == index.search(["海港", "项目"], 3)
    assert loaded.substring_df("海港") == 2
    assert LexicalIndex.load(tmp_path, "other-fingerprint") is None


class Rows:
    """The chunk rows of the store; counts how often the index had to be rebuilt."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> tuple[list[str], list[str]]:
        self.calls += 1
        return list(IDS), list(TEXTS)


def test_store_rebuilds_only_when_missing_stale_or_corrupt(tmp_path: Path):
    rows = Rows()
    store = LexicalStore(tmp_path / "lex")
    assert len(store.get("fp1", rows)) == 3 and rows.calls == 1
    store.get("fp1", rows)
    assert rows.calls == 1  # in memory
    assert LexicalStore(tmp_path / "lex").get("fp1", rows).ids == IDS
    assert rows.calls == 1  # another store (process) loads it from disk
    LexicalStore(tmp_path / "lex").get("fp2", rows)
    assert rows.calls == 2  # stale: rebuilt, and the old state removed
    assert sorted(p.name for p in (tmp_path / "lex").iterdir()) == ["fp2"]
    for damaged in (
        "meta.json",
        "vocab.index.json",
        "substrings-keys.npy",
        "substrings-positions.npy",
    ):
        (tmp_path / "lex" / "fp2" / damaged).write_text("{not json", encoding="utf-8")
        assert LexicalStore(tmp_path / "lex").get("fp2", rows).search(["步道"], 1)[0][0] == "b"
    assert rows.calls == 6  # each damaged file meant one rebuild


def test_store_answers_from_memory_when_the_folder_cannot_be_written(tmp_path: Path):
    blocker = tmp_path / "lex"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    index = LexicalStore(blocker).get("fp1", Rows())
    assert index.search(["步道"], 1)[0][0] == "b"


@pytest.mark.integration
def test_a_second_process_does_not_segment_the_corpus_again(article_settings):
    """`ask` in a new process loads the saved BM25 index: jieba never sees the corpus again."""
    code = f"""
import json, sys
import ingest.lexical as lexical
segmented = []
real = lexical.tokenize
lexical.tokenize = lambda text: segmented.append(len(text)) or real(text)
from assistant.app import build_app
from assistant.settings import load_settings
app = build_app(load_settings(data_dir={str(article_settings.data_dir)!r},
                              knowledge_dir={str(article_settings.knowledge_dir)!r}))
index = app.index.lexical()
print(json.dumps({{"chunks": len(index), "segmented": len(segmented)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["chunks"] > 10 and result["segmented"] == 0


def brute_df(texts: list[str], term: str) -> int:
    return sum(term in t for t in texts) if term and "\x00" not in term else 0


@given(
    texts=st.lists(st.text(alphabet="开发区改革的家\x00ab", max_size=12), max_size=8),
    term=st.text(alphabet="开发区改革的家\x00ab", max_size=4),
)
@settings(max_examples=300, deadline=None)
def test_substring_counter_counts_exactly_what_a_scan_counts(texts, term, tmp_path_factory):
    """The bigram index gives the scan's count for any term, also after save and load."""
    from ingest.substrings import SubstringCounter

    clean = [t.replace("\x00", " ") for t in texts]
    counter = SubstringCounter.build(texts)
    assert counter.count(term) == brute_df(clean, term)
    folder = tmp_path_factory.mktemp("sub")
    counter.save(folder)
    assert SubstringCounter.load(folder).count(term) == brute_df(clean, term)


@given(
    texts=st.lists(st.text(alphabet="李日华里理花", max_size=10), max_size=6),
    options=st.lists(st.text(alphabet="李日华里理花", min_size=1, max_size=3), min_size=2,
                     max_size=3),
)  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_spelled_finds_every_string_of_the_options_a_scan_finds(texts, options):
    """The strings whose i-th character is one of options[i] are those a scan finds."""
    import itertools

    from ingest.substrings import SubstringCounter

    counter = SubstringCounter.build(texts)
    wanted = {
        "".join(chars)
        for chars in itertools.product(*options)
        if any("".join(chars) in t for t in texts)
    }
    assert set(counter.spelled(options, most=1000)) == wanted


def test_substring_counter_on_the_article_agrees_with_a_scan():
    from ingest.substrings import SubstringCounter
    from ingest.text.width import fold
    from tests.conftest import ARTICLE

    lines = [fold(line) for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line]
    counter = SubstringCounter.build(lines)
    for line in lines[:40]:
        for size in (1, 2, 3, 5):
            for start in range(0, max(len(line) - size, 1), 7):
                term = line[start : start + size]
                assert counter.count(term) == brute_df(lines, term), term
