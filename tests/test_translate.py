"""English and paraphrased questions reach the corpus's own words (CC-CEDICT + the glossary)."""

from __future__ import annotations

import pytest

from assistant.answering.translate import QueryTranslator, glossary_phrases

VOCAB = frozenset("资金 经费 款项 项目 树木 步道 公园 道路 平台公司".split())
GLOSSARY = {"platform company|platform companies": ["平台公司"], "park": ["公园"]}


@pytest.fixture(scope="module")
def translator() -> QueryTranslator:
    return QueryTranslator(lambda: VOCAB, GLOSSARY)


def test_glossary_phrases_longest_first():
    assert glossary_phrases(GLOSSARY) == [
        ("platform companies", ("平台公司",)),
        ("platform company", ("平台公司",)),
        ("park", ("公园",)),
    ]


def test_english_keywords_map_to_corpus_words(translator: QueryTranslator):
    groups = translator.groups("How many trees were planted in the park by platform companies?")
    assert groups == [frozenset({"平台公司"}), frozenset({"公园"}), frozenset({"树木"})]
    assert translator.groups("twelve km, 2021") == [frozenset({"12"}), frozenset({"2021"})]
    assert translator.to_chinese("How many trees are in the park?") == "公园 树木"


def test_words_no_article_uses_reach_synonyms_the_corpus_uses(translator: QueryTranslator):
    assert translator.synonyms("种树") == frozenset({"树木"})
    assert translator.synonyms("小路") == frozenset({"步道", "道路"})
    assert translator.expand_chinese("公园种树了吗？") == "树木"
    assert translator.expand_chinese("资金到位了吗？") == ""  # a corpus word needs no detour


def test_the_lookup_follows_the_corpus_vocabulary():
    vocab = {"words": frozenset({"树木"})}
    translator = QueryTranslator(lambda: vocab["words"])
    assert translator.to_chinese("trees and roads") == "树木"
    vocab["words"] = frozenset({"树木", "道路"})  # a new article: a new vocabulary object
    assert translator.to_chinese("trees and roads") == "树木 道路"


@pytest.mark.parametrize(
    "damage", [b"", b"\x00garbage", b"i*\x00\x00\x00"], ids=["empty", "junk", "int"]
)
def test_a_damaged_dictionary_cache_is_rebuilt(tmp_path, damage: bytes):
    """A cache that fails to load, or loads as another value (marshal of 42), is rebuilt."""
    from assistant.answering.translate import cedict_entries

    first = cedict_entries(tmp_path)
    (cache,) = tmp_path.glob("cedict-*.marshal")
    cache.write_bytes(damage)
    cedict_entries.cache_clear()
    assert cedict_entries(tmp_path) == first
    assert len(cache.read_bytes()) > 1_000_000  # written again


def test_one_word_is_looked_up_in_a_kept_table_that_a_damage_remakes(tmp_path, monkeypatch):
    """A Chinese question's unknown word is looked up in a SQLite copy of CC-CEDICT in the
    cache folder, not in the whole dictionary loaded; a damaged copy is made again."""
    import assistant.answering.translate as tr

    whole = tr.cedict_entries(tmp_path)
    assert tr.definitions_of("种树", tmp_path) == whole["种树"]
    (table,) = tmp_path.glob("cedict-*.sqlite")
    QueryTranslator(lambda: VOCAB, cache_dir=tmp_path).to_chinese("trees")  # its lookup, kept

    def unavailable(cache_dir=None):
        raise AssertionError("all of CC-CEDICT was loaded for one word")

    with monkeypatch.context() as patch:
        patch.setattr(tr, "cedict_entries", unavailable)
        translator = QueryTranslator(lambda: VOCAB, cache_dir=tmp_path)
        assert translator.synonyms("种树") == frozenset({"树木"})
        assert tr.definitions_of("没有这个词", tmp_path) == []
    table.write_bytes(b"not a database")
    tr._definitions.cache_clear()
    assert tr.definitions_of("小路", tmp_path) == whole["小路"]
    assert table.stat().st_size > 1_000_000  # made again


def test_the_reverse_lookup_is_kept_per_vocabulary(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A cold English question loads the corpus's lookup instead of all of CC-CEDICT; a new
    vocabulary gets its own, and the one of the old corpus goes."""
    import assistant.answering.translate as tr

    vocab = {"words": frozenset({"树木"})}
    first = QueryTranslator(lambda: vocab["words"], cache_dir=tmp_path)
    assert first.to_chinese("trees and roads") == "树木"
    (kept,) = tmp_path.glob("reverse-*.marshal")

    def unavailable(cache_dir=None):
        raise AssertionError("CC-CEDICT was loaded although the lookup is cached")

    with monkeypatch.context() as patch:
        patch.setattr(tr, "cedict_entries", unavailable)
        again = QueryTranslator(lambda: vocab["words"], cache_dir=tmp_path)
        assert again.to_chinese("trees and roads") == "树木"
    vocab["words"] = frozenset({"树木", "道路"})
    assert first.to_chinese("trees and roads") == "树木 道路"
    (now,) = tmp_path.glob("reverse-*.marshal")
    assert now != kept


@pytest.mark.integration
def test_data_folders_share_the_dictionary_tables_and_keep_their_own_lookup(tmp_path, mini_corpus):
    """ASSISTANT_DICTIONARY_CACHE: the tables derived from CC-CEDICT go to the shared folder
    (every knowledge base would derive the same); each data folder keeps its corpus's lookup."""
    from tests.conftest import make_app

    shared = tmp_path / "dictionaries"
    for name in ("a", "b"):
        app = make_app(tmp_path / name, mini_corpus, dictionary_cache=shared)
        try:
            assert app.ingest().exit_code == 0
            app.assistant.ask("How many trees are in the forest park?")
            app.assistant.ask("小路有多长？")  # a word no article uses: looked up in the table
        finally:
            app.close()
        assert len(list((tmp_path / name / "cache").glob("reverse-*.marshal"))) == 1
        assert not list((tmp_path / name / "cache").glob("cedict-*"))
    assert {p.suffix for p in shared.glob("cedict-*")} == {".marshal", ".sqlite"}
    default = make_app(tmp_path / "c", mini_corpus, dictionary_cache=None).settings  # not the run's
    assert default.dictionary_dir == tmp_path / "c/cache"
