"""Benchmarks that report figures (never timed tests): ingest throughput and answer latency."""

from __future__ import annotations

import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from assistant.app import App, build_app
from assistant.settings import Settings
from eval.errors import EvalError
from eval.metrics import percentile
from ingest.text.sentences import split_sentences

ARTICLE = Path(__file__).resolve().parent.parent / "knowledge" / "000_a43dbe5c9c0e2b82.txt"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_corpus(
    folder: Path, chunks: int, per_file: int = 100, seed: int = 7, with_article: bool = False
) -> int:
    """Write Chinese articles made of shuffled article sentences: one paragraph ≈ one chunk.

    Each paragraph is 2 sentences of the real article of 30-120 characters (about 100-250
    characters), so with the default chunk size every paragraph becomes one chunk; longer
    sentences are left out, so some of the article's facts are in no synthetic article.
    `with_article` adds the article itself, whole: its facts among ever more look-alikes.
    Returns the number of files written.
    """
    from ingest.load import load_file
    from ingest.normalize import normalize

    loaded = load_file(ARTICLE, 10_000_000)
    doc = normalize(loaded.text, loaded.metadata.get("title"))
    sentences = [
        p.text[s:e]
        for p in doc.paragraphs
        if p.role == "body"
        for s, e in split_sentences(p.text)
        if 30 <= e - s <= 120
    ]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = (chunks + per_file - 1) // per_file
    for f in range(files):
        lines = [f"合成测试文章{f:05d}", ""]
        for p in range(per_file):
            a, b = rng.sample(sentences, 2)
            lines.append(f"　　第{f}篇第{p}段。{a}{b}")
        (folder / f"synthetic_{f:05d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if with_article:
        shutil.copyfile(ARTICLE, folder / ARTICLE.name)
    return files + int(with_article)


def bench_ingest(settings: Settings, chunks: int, workdir: Path) -> dict[str, Any]:
    """Ingest a synthetic corpus; compare with raw `encode` of the same texts in the same run."""
    from ingest.chunk import chunk_document, chunk_sentences
    from ingest.load import load_file
    from ingest.normalize import normalize
    from ingest.pipeline import embedded_texts

    corpus = workdir / "corpus"
    files = synthetic_corpus(corpus, chunks)
    settings = settings.model_copy(update={"data_dir": workdir / "data", "knowledge_dir": corpus})
    app = build_app(settings)
    embeddings = app.embeddings("ingest")  # as ingest does
    # Without kept passage vectors: the ingest is timed embedding every text (the synthetic
    # articles repeat sentences, which the cache would embed once).
    embeddings.passages = None
    embeddings.warm_up()
    embeddings.embed_documents(["预热"] * 8)

    texts: list[str] = []  # exactly what ingest embeds: chunks, and sentences when enabled
    for path in sorted(corpus.glob("*.txt")):
        loaded = load_file(path, 10**9)
        doc = normalize(loaded.text, loaded.metadata.get("title"))
        parts = chunk_document(doc, path.name, settings.chunk_size, settings.chunk_overlap)
        sentences = (
            [s for c in parts for s in chunk_sentences(c)] if settings.sentence_vectors else []
        )
        texts += embedded_texts(doc.title or path.stem, parts, sentences)
    started = time.perf_counter()
    embeddings.embed_documents(texts)  # the model alone, all texts in one call
    raw_seconds = time.perf_counter() - started
    rss_after_raw = peak_rss_mb()

    first = app.ingest()
    rss_after_ingest = peak_rss_mb()
    second = app.ingest()
    raw_rate = len(texts) / raw_seconds
    rate = len(texts) / first.seconds
    return {
        "embedding_model": settings.embedding_model,
        "files": files,
        "chunks": first.chunks_written,
        "texts_embedded": len(texts),
        "raw_encode_seconds": round(raw_seconds, 2),
        "raw_encode_texts_per_s": round(raw_rate, 1),
        "ingest_seconds": round(first.seconds, 2),
        "ingest_texts_per_s": round(rate, 1),
        "ingest_chunks_per_s": round(first.chunks_written / first.seconds, 2),
        "ratio_to_raw_encode": round(rate / raw_rate, 3),
        "reingest_unchanged_seconds": round(second.seconds, 2),
        "reingest_share_of_first": round(second.seconds / first.seconds, 4),
        "peak_rss_mb_after_raw_encode": round(rss_after_raw, 1),
        "peak_rss_mb_after_ingest": round(rss_after_ingest, 1),
        "failed": first.count("failed") + second.count("failed"),
    }


def bare_search_ms(app: App, question: str) -> float:
    """One bare dense search (langchain-chroma over the app's store, with the same model and
    k), in milliseconds, the question embedded anew: what `ask` is measured against."""
    embeddings = app.embeddings("query")
    store = app.index.store.vectorstore(embeddings)
    embeddings.forget_queries()
    t0 = time.perf_counter()
    store.similarity_search(question, k=app.settings.k)
    return (time.perf_counter() - t0) * 1000


def bench_answer(app: App, questions: list[str], repeat: int = 3) -> dict[str, Any]:
    """Warm `ask` latency against one bare Chroma similarity search with the same model."""
    assistant = app.assistant
    assistant.warm_up()
    for text in questions[:3]:  # warm both paths
        assistant.ask(text)
        bare_search_ms(app, text)
    ask_ms: list[float] = []
    bare_ms: list[float] = []
    embeddings = app.embeddings("query")
    for _ in range(repeat):
        for text in questions:
            bare_ms.append(bare_search_ms(app, text))
            embeddings.forget_queries()  # each path embeds the question itself, as a new one
            t0 = time.perf_counter()
            assistant.ask(text)
            ask_ms.append((time.perf_counter() - t0) * 1000)

    return {
        "questions": len(questions),
        "repeat": repeat,
        "ask_p50_ms": round(percentile(ask_ms, 50), 2),
        "ask_p95_ms": round(percentile(ask_ms, 95), 2),
        "bare_search_p50_ms": round(percentile(bare_ms, 50), 2),
        "bare_search_p95_ms": round(percentile(bare_ms, 95), 2),
        "ratio_p50": round(percentile(ask_ms, 50) / percentile(bare_ms, 50), 2),
    }


def machine_speed_ms() -> float:
    """The best of three runs of a fixed pure-Python loop (two million additions), in ms: how
    fast the machine runs Python at the time. The same code's cold `ask` took 1.55 s and 2.9 s
    on this machine an hour apart (measured), so a figure is comparable only beside this one."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000)


def bench_cold(questions: list[str], repeat: int = 5) -> dict[str, Any]:
    """A cold `ask`: a new process per question, as a user's first command line runs it, from
    its start to its end (imports, models, dictionaries and the answer), wall and CPU time."""
    speed_before = machine_speed_ms()
    per_question = []
    for text in questions:
        wall_ms, cpu_ms = [], []
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "assistant", "ask", text],
                capture_output=True, text=True, check=False, timeout=120,
            )  # fmt: skip
            wall_ms.append((time.perf_counter() - t0) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_ms.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                          * 1000)  # fmt: skip
            if done.returncode != 0:
                said = done.stderr.strip().splitlines()
                raise EvalError(f"ask failed: {said[-1] if said else f'exit {done.returncode}'}")
        per_question.append({
            "question": text,
            "wall_p50_ms": round(percentile(wall_ms, 50)),
            "wall_min_ms": round(min(wall_ms)),
            "cpu_p50_ms": round(percentile(cpu_ms, 50)),
        })  # fmt: skip
    return {
        "repeat": repeat,
        "machine_loop_ms": [speed_before, machine_speed_ms()],  # before and after the runs
        "questions": per_question,
    }
