"""Incremental, idempotent and crash-safe ingest, on tiny corpora with deterministic embeddings."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.settings import load_settings
from ingest.errors import IndexMismatchError
from ingest.generations import Generations
from ingest.index import KnowledgeIndex
from ingest.pipeline import IngestOptions, ingest_paths
from ingest.store import BuildRecord, ChunkStore, live_at, open_embedded

EMB = DeterministicFakeEmbedding(size=16)
BUILD = BuildRecord(embedding_model="fake-16", chunk_size=200, chunk_overlap=1)


def make_index(
    data: Path, opener: Any = open_embedded, build: BuildRecord | None = None, name: str = "test"
) -> KnowledgeIndex:
    """An embedded index under data: the writer's master and the published generations."""
    gens = Generations(data / "published", data / "chroma", opener)
    return KnowledgeIndex(name, build or BUILD, data / "lexical", generations=gens)


def master(data: Path, name: str = "test") -> ChunkStore:
    """The writer's store itself (what a Chroma server would hold), read in place."""
    return ChunkStore(open_embedded(data / "chroma"), name, BUILD)


def run(index: KnowledgeIndex, knowledge: Path, paths: list[Path] | None = None, **kw):
    options = IngestOptions(knowledge, chunk_size=200, chunk_overlap=1, max_bytes=100_000)
    return ingest_paths(index, EMB, paths or [knowledge], options, **kw)


def state(index: KnowledgeIndex) -> tuple:
    """Everything a query can depend on, minus timestamps."""
    docs = sorted(
        (d.source, d.doc_hash, d.content_hash, d.chunks) for d in index.store.documents().values()
    )
    col = index.store.chunk_collection
    got = (
        col.get(include=["documents", "metadatas"])
        if col is not None
        else {"ids": [], "documents": [], "metadatas": []}
    )
    hashes = [m["doc_hash"] for m in got["metadatas"]]
    chunks = sorted(zip(got["ids"], got["documents"], hashes, strict=True))
    lexical = index.lexical()
    return docs, chunks, sorted(lexical.ids)


def differ(got: tuple, want: tuple) -> str:
    """What two states differ in, briefly (a failing assertion names it)."""
    parts = []
    for name, a, b in zip(("documents", "chunks", "lexical ids"), got, want, strict=True):
        extra, missing = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        if extra or missing:
            parts.append(
                f"{name}: {len(extra)} extra {extra[:3]}, {len(missing)} missing {missing[:3]}"
            )
    return "; ".join(parts) or "same sets, other order or repeats"


def test_add_unchanged_change_remove(tmp_path: Path, mini_corpus: Path):
    index = make_index(tmp_path / "data")
    first = run(index, mini_corpus)
    assert [(o.source, o.status) for o in first.outcomes] == [
        ("forest.md", "added"),
        ("harbor.txt", "added"),
    ]
    assert first.exit_code == 0
    assert first.chunks_written == sum(d.chunks for d in index.store.documents().values()) > 0
    before = state(index)

    again = run(index, mini_corpus)
    assert [o.status for o in again.outcomes] == ["unchanged", "unchanged"]
    assert again.chunks_written == 0
    assert state(index) == before  # idempotent

    (mini_corpus / "forest.md").write_text("　　森林公园新增步道20公里。\n", encoding="utf-8")
    (mini_corpus / "harbor.txt").unlink()
    (mini_corpus / "new.txt").write_text("　　新文章的内容。\n", encoding="utf-8")
    third = run(index, mini_corpus)
    assert sorted((o.source, o.status) for o in third.outcomes) == [
        ("forest.md", "updated"),
        ("harbor.txt", "removed"),
        ("new.txt", "added"),
    ]
    docs, chunks, lexical_ids = state(index)
    assert [d[0] for d in docs] == ["forest.md", "new.txt"]
    texts = [c[1] for c in chunks]
    assert texts == sorted(texts, key=lambda t: [c[1] for c in chunks].index(t))
    assert "森林公园新增步道20公里。" in texts and not any("海港" in t for t in texts)
    assert sorted(c[0] for c in chunks) == lexical_ids  # BM25 follows Chroma


def test_ingesting_one_file_does_not_remove_the_others(tmp_path: Path, mini_corpus: Path):
    index = make_index(tmp_path / "data")
    run(index, mini_corpus)
    summary = run(index, mini_corpus, paths=[mini_corpus / "forest.md"])
    assert [(o.source, o.status) for o in summary.outcomes] == [("forest.md", "unchanged")]
    assert sorted(index.store.documents()) == ["forest.md", "harbor.txt"]


def test_bad_inputs_each_get_a_line_and_lose_nothing(tmp_path: Path, mini_corpus: Path):
    index = make_index(tmp_path / "data")
    run(index, mini_corpus)
    before = state(index)
    (mini_corpus / "empty.txt").write_bytes(b"")
    (mini_corpus / "garbage.pdf").write_bytes(b"\x00\x01\x02" * 50)
    (mini_corpus / "garbage.txt").write_bytes(bytes(range(256)) * 4)
    (mini_corpus / "huge.txt").write_text("　　大。" * 60_000, encoding="utf-8")
    (mini_corpus / "photo.png").write_bytes(b"\x89PNG")
    shutil.copy(mini_corpus / "forest.md", mini_corpus / "forest-copy.md")
    summary = run(index, mini_corpus, paths=[mini_corpus, tmp_path / "nope.txt"])
    failed = {o.source: o.reason for o in summary.outcomes if o.status == "failed"}
    assert failed == {
        str(tmp_path / "nope.txt"): "no such file or folder",
        "empty.txt": "file is empty",
        "forest.md": "same content as forest-copy.md",
        "garbage.pdf": "not a readable PDF: Stream has ended unexpectedly",
        "garbage.txt": "binary content, not text",
        "huge.txt": "file is 0.7 MB, over the 0.1 MB limit",
        "photo.png": "unsupported file type .png; supported: .txt, .md, .html, .htm, .pdf, .docx",
    }
    assert summary.exit_code == 1
    assert summary.lines()[-1].startswith(
        "files: 1 added, 0 updated, 1 unchanged, 0 removed, 7 failed;"
    )
    # forest.md's content is still indexed (as forest-copy.md, the first of the twins), harbor kept.
    docs = state(index)[0]
    assert [d[0] for d in docs] == ["forest-copy.md", "forest.md", "harbor.txt"]
    assert before[0][1] in docs


def test_nothing_ingestible_exits_2(tmp_path: Path):
    index = make_index(tmp_path / "data")
    summary = run(index, tmp_path, paths=[tmp_path / "missing"])
    assert summary.exit_code == 2
    assert summary.lines()[0] == f"failed: {tmp_path / 'missing'}: no such file or folder"


def test_other_model_or_chunking_needs_rebuild(tmp_path: Path, mini_corpus: Path):
    data = tmp_path / "data"
    run(make_index(data), mini_corpus)
    other = make_index(data, build=replace(BUILD, embedding_model="other-model"))
    with pytest.raises(IndexMismatchError) as err:
        other.store.check_compatible()
    assert str(err.value) == (
        "the index was built with embedding_model='fake-16' (now 'other-model'); "
        "re-ingest with: zone-assistant ingest --rebuild"
    )
    with pytest.raises(IndexMismatchError):
        run(other, mini_corpus)
    rebuilt = run(other, mini_corpus, rebuild=True)
    assert [o.status for o in rebuilt.outcomes] == ["added", "added"]
    other.store.check_compatible()


class Crash(Exception):
    pass


class CrashingClient:
    """Wraps a Chroma client; the n-th write (upsert/delete) raises Crash before it happens."""

    def __init__(self, client: Any, crash_at: int, counter: dict[str, int] | None = None) -> None:
        self._client, self.crash_at = client, crash_at
        self.counter = counter if counter is not None else {"n": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_or_create_collection(self, *a: Any, **kw: Any) -> Any:
        return _CrashingCollection(self._client.get_or_create_collection(*a, **kw), self)


class _CrashingCollection:
    def __init__(self, col: Any, owner: CrashingClient) -> None:
        self._col, self._owner = col, owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._col, name)
        if name not in ("upsert", "delete", "add", "update"):
            return attr

        def write(*a: Any, **kw: Any) -> Any:
            self._owner.counter["n"] += 1
            if self._owner.counter["n"] == self._owner.crash_at:
                raise Crash(f"killed at write {self._owner.crash_at}")
            return attr(*a, **kw)

        return write


def _v2(knowledge: Path) -> None:
    (knowledge / "forest.md").write_text(
        "　　森林公园新增步道20公里。另建停车场1处。\n", encoding="utf-8"
    )
    (knowledge / "harbor.txt").unlink()
    (knowledge / "new.txt").write_text("　　新文章第一句。新文章第二句。\n", encoding="utf-8")


def test_killed_at_any_write_then_rerun_equals_uninterrupted(tmp_path: Path, mini_corpus: Path):
    # Reference: v1 then v2 without interruption.
    ref_index = make_index(tmp_path / "ref")
    run(ref_index, mini_corpus)
    v1 = tmp_path / "v1"
    shutil.copytree(mini_corpus, v1)
    _v2(mini_corpus)
    first = state(ref_index)
    writes = {"n": 0}

    def counting(path: Path) -> CrashingClient:
        return CrashingClient(open_embedded(path), crash_at=-1, counter=writes)

    run(make_index(tmp_path / "count"), v1)
    run(make_index(tmp_path / "count", counting), mini_corpus)
    run(ref_index, mini_corpus)
    reference = state(ref_index)
    assert writes["n"] >= 6

    for crash_at in range(1, writes["n"] + 1):
        data = tmp_path / f"crash{crash_at}"
        run(make_index(data), v1)
        crashing = make_index(
            data, lambda path, at=crash_at: CrashingClient(open_embedded(path), at)
        )
        with pytest.raises(Crash):
            run(crashing, mini_corpus)
        # Questions never saw the half-done write: the published state is still v1.
        assert state(make_index(data)) == first, crash_at
        # The master (what a Chroma server holds, written in place) shows whole documents only.
        written = master(data)
        per_doc: dict[str, int] = {}
        visible = written.chunk_collection.get(
            where=live_at(written.state().gen), include=["metadatas"]
        )
        for meta in visible["metadatas"]:
            per_doc[meta["source"]] = per_doc.get(meta["source"], 0) + 1
        assert per_doc == {s: d.chunks for s, d in written.documents().items()}, crash_at
        written.client.close()
        index = make_index(data)
        run(index, mini_corpus)
        assert state(index) == reference, f"crash at write {crash_at}"


def test_killed_between_commit_and_clean_up_publishes_no_superseded_rows(
    tmp_path: Path, mini_corpus: Path, monkeypatch: pytest.MonkeyPatch
):
    """A writer killed after recording its commit but before deleting the rows it superseded,
    and before publishing: the next ingest has nothing to write, yet what it publishes holds
    none of those rows (seen in the kill -9 loop: a copy with the old version's chunks)."""
    from ingest.store.versions import Versions

    v1 = tmp_path / "v1"
    shutil.copytree(mini_corpus, v1)
    _v2(mini_corpus)
    ref = make_index(tmp_path / "ref")
    run(ref, v1)
    run(ref, mini_corpus)
    data = tmp_path / "data"
    run(make_index(data), v1)

    def killed(self: Generations, tag: str = "") -> str:
        raise Crash("killed before publishing")

    with monkeypatch.context() as patch:
        patch.setattr(Versions, "_collect", lambda self, col, committed: None)
        patch.setattr(Generations, "publish", killed)
        with pytest.raises(Crash):
            run(make_index(data), mini_corpus)
    index = make_index(data)
    run(index, mini_corpus)
    assert state(index) == state(ref), differ(state(index), state(ref))


def test_settings_errors_are_one_line():
    from assistant.errors import SettingsError

    with pytest.raises(SettingsError) as err:
        load_settings(k=0, fusion="max")
    assert str(err.value) == (
        "invalid settings: ASSISTANT_K (got 0): Input should be greater than or equal to 1; "
        "ASSISTANT_FUSION (got 'max'): Input should be 'rrf', 'weighted' or 'minmax'"
    )


# kill -9 during a real ingest, at random points (a long form, ~75 s here);
# ZONE_TEST_KILLS sets another number of kills.
KILLS = int(os.environ.get("ZONE_TEST_KILLS") or 10)


@pytest.mark.integration
@pytest.mark.long
def test_kill_9_at_random_points_then_rerun_equals_clean_run(tmp_path: Path):
    """A real `zone-assistant ingest` that adds, changes and removes articles, SIGKILLed at a
    random moment each time: questions see the old state or the new one, whole, and running
    the ingest again gives exactly the uninterrupted result."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from eval.bench import synthetic_corpus

    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    synthetic_corpus(v1, chunks=120, per_file=3)
    shutil.copytree(v1, v2)
    for name in ("synthetic_00000.txt", "synthetic_00001.txt"):
        (v2 / name).unlink()
    (v2 / "synthetic_00002.txt").write_text("　　改过的文章。只有两句。\n", encoding="utf-8")
    synthetic_corpus(v2 / "new", chunks=30, per_file=3, seed=11)
    exe = Path(sys.executable).parent / "zone-assistant"
    build = BuildRecord(embedding_model="hashing-384", chunk_size=300, chunk_overlap=1)

    def ingest(data: Path, corpus: Path, kill_after: float | None = None) -> int:
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_KNOWLEDGE_DIR": str(corpus),
               "ASSISTANT_EMBEDDING_MODEL": "hashing-384"}  # fmt: skip
        proc = subprocess.Popen([str(exe), "ingest"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        if kill_after is not None:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=600)

    def snapshot(data: Path) -> tuple:
        index = make_index(data, build=build, name="zone_articles")
        try:
            return state(index)
        finally:
            index.close()

    assert ingest(tmp_path / "ref", v1) == 0
    before = snapshot(tmp_path / "ref")
    shutil.copytree(tmp_path / "ref", tmp_path / "base")
    started = time.monotonic()
    assert ingest(tmp_path / "ref", v2) == 0
    took = time.monotonic() - started
    after = snapshot(tmp_path / "ref")
    assert before != after
    rng = random.Random(int(os.environ.get("ZONE_TEST_KILL_SEED") or 20261125))
    killed = 0
    for attempt in range(KILLS):
        data = tmp_path / f"kill{attempt}"
        shutil.copytree(tmp_path / "base", data)
        code = ingest(data, v2, kill_after=rng.uniform(0.2, took))
        killed += code == -signal.SIGKILL
        got = snapshot(data)
        assert got in (before, after), f"kill {attempt}: a mixed state: {differ(got, after)}"
        assert ingest(data, v2) == 0
        got = snapshot(data)
        if got != after:
            shutil.copytree(data, tmp_path / "failed", dirs_exist_ok=True)
        assert got == after, f"kill {attempt}: the rerun differs: {differ(got, after)}"
        shutil.rmtree(data)
    print(f"\nkill -9: {killed} of {KILLS} ingests killed mid-way, each consistent and repaired")
    assert killed >= max(1, KILLS // 2), f"only {killed} of {KILLS} ingests were killed"


def test_pinned_manifest_is_one_snapshot_per_question(tmp_path: Path, mini_corpus: Path):
    index = make_index(tmp_path / "data")
    run(index, mini_corpus, paths=[mini_corpus / "forest.md"])
    with index.pinned():
        before = index.store.documents()
        run(index, mini_corpus)  # harbor.txt is published meanwhile
        assert index.store.documents() == before == {"forest.md": before["forest.md"]}
        assert len(index.lexical()) == before["forest.md"].chunks  # BM25 of the pinned state
    assert sorted(index.store.documents()) == ["forest.md", "harbor.txt"]


def _doc(store: ChunkStore, source: str, texts: list[str], near: str | None = None) -> None:
    """Write a document; with `near`, its vectors lie just around that text's (distinct
    points: HNSW loses identical ones)."""
    from ingest.chunk import Chunk
    from ingest.store import DocumentRecord

    record = DocumentRecord(source, f"{source}-hash", "c", source, len(texts), 0.0)
    chunks = [
        Chunk(f"{source}-{i}", source, i, t, 0, len(t), 0, 0, "body", None)
        for i, t in enumerate(texts)
    ]
    vectors = EMB.embed_documents(texts)
    if near is not None:
        import numpy as np

        rng = np.random.default_rng(0)
        centre = np.array(EMB.embed_query(near))
        vectors = [list(centre + rng.normal(0, 0.01, centre.shape)) for _ in texts]
    store.write_document(record, chunks, vectors)


def test_dense_search_sees_only_the_committed_state_while_a_session_writes(tmp_path: Path):
    """The unfiltered fast path must not leak a running session's rows, even when they crowd
    out every committed one, and must see them once committed."""
    store = ChunkStore(open_embedded(tmp_path / "chroma"), "test", BUILD)
    _doc(store, "old.txt", ["港口吞吐量增长", "园区新增企业"])
    store.commit()
    query = "港口吞吐量增长"
    _doc(store, "new.txt", [f"新{i}" for i in range(40)], near=query)  # nearer than "园区…"
    found = store.similar(EMB, query, 2)
    assert sorted(d.metadata["source"] for d, _ in found) == ["old.txt", "old.txt"]
    store.commit()
    found = store.similar(EMB, query, 2)
    assert "new.txt" in {d.metadata["source"] for d, _ in found}


def test_a_build_record_names_each_setting_that_differs_from_the_recorded_one():
    recorded = BUILD.metadata()
    assert BUILD.differences(recorded) == []
    other = replace(BUILD, chunk_size=500, sentence_vectors=False)
    assert other.differences(recorded) == [
        "sentence_vectors=True (now False)",
        "chunk_size=200 (now 500)",
    ]
    assert BUILD.differences({}) == [f"{k}=None (now {v!r})" for k, v in recorded.items()]


def test_the_long_forms_run_in_ci() -> None:
    """CI runs the kill loop, soak, scale and load tests a developer's loop skips."""
    from tests.conftest import LONG

    assert LONG or os.environ.get("CI") != "true"
