"""`zone-assistant bench scale`: how ingest, memory and answer latency grow with the corpus.

For each corpus size (built from the article's own sentences, nothing downloaded, plus the article
itself: the canary question must still find its answer among the look-alikes) and each mode
(embedded Chroma, a Chroma server), in fresh processes: the ingest's time, peak memory and the
index's size on disk; the app's start time (build, warm up, first answer) and peak memory; warm
`ask` latency (p50/p95) of the whole path and per stage, beside a bare dense search; then a
table, a PNG plot and the growth exponent of each figure between sizes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from eval.bench import bare_search_ms, synthetic_corpus
from eval.chroma_server import ChromaServer
from eval.dataset import DEFAULT_DATASET, load_dataset
from eval.metrics import percentile

STAGES = ("embed query", "dense search", "lexical search", "sentence vectors", "answer",
          "check citations", "prepare", "retrieve")  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One measured process: its wall time, peak memory and what it printed."""

    seconds: float
    peak_rss_mb: float
    stdout: str
    returncode: int


def run_measured(cmd: list[str], env: dict[str, str], timeout: float) -> Run:
    """Run a command, returning its wall time and its own peak RSS (wait4's rusage); it is
    killed after `timeout` seconds."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    return Run(time.perf_counter() - started, usage.ru_maxrss / 1024, text, proc.returncode)


def folder_mb(path: Path) -> float:
    """Size on disk of a folder (its files' allocated blocks)."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 1e6


def measure(
    size: int, mode: str, corpus: Path, out: Path, model: str, repeat: int, canary: str
) -> dict:
    """Ingest, start and ask, for one size and mode, in fresh processes."""
    base = out / f"{mode}-{size}"
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(base / "data"),
           "ASSISTANT_KNOWLEDGE_DIR": str(corpus), "ASSISTANT_EMBEDDING_MODEL": model,
           # each size and mode embeds from scratch, and the index's size leaves the cache out
           "ASSISTANT_EMBEDDING_CACHE": str(out / f"{mode}-{size}-vectors")}  # fmt: skip
    server = ChromaServer(base / "chroma-server") if mode == "server" else None
    if server is not None:
        server.start()
        env.update(server.env)
    try:
        exe = str(Path(sys.executable).with_name("zone-assistant"))
        ingest = run_measured([exe, "ingest"], env, timeout=6 * 3600)
        if ingest.returncode != 0:
            raise RuntimeError(f"ingest of {size} chunks ({mode}) failed: {ingest.stdout[-500:]}")
        probe = run_measured(
            [sys.executable, "-m", "eval.scale", str(repeat), canary], env, timeout=3600
        )
        found = json.loads(probe.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.stop()
    return {
        "chunks": size, "mode": mode, "ingest_s": round(ingest.seconds, 1),
        "ingest_peak_rss_mb": round(ingest.peak_rss_mb), "index_mb": round(folder_mb(base)),
        "app_peak_rss_mb": round(probe.peak_rss_mb), **found,
    }  # fmt: skip


def probe(repeat: int, canary_question: str) -> dict[str, Any]:
    """In this process: start the app, answer the canary, then time warm questions."""
    from assistant.answering.selection import StoredSimilarity
    from assistant.app import build_app
    from assistant.settings import load_settings
    from assistant.timing import recording

    started = time.perf_counter()
    app = build_app(load_settings())
    assistant = app.assistant
    assistant.warm_up()
    canary = assistant.ask(canary_question)
    start_s = time.perf_counter() - started
    questions = [row["question"] for row in load_dataset(DEFAULT_DATASET)]
    embeddings = app.embeddings("query")
    # A model without a calibrated threshold (hashing-384) chooses sentences lexically; the
    # comparison with the stored sentence vectors that e5 pays is then timed on its own, on
    # the same contexts, so the figures hold the whole cost of the default path.
    compare = None
    if getattr(assistant.answerer, "similarity", 1) is None and app.settings.sentence_vectors:
        compare = StoredSimilarity(lambda: app.index.store, embeddings.embed_query)
    totals: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    for _ in range(repeat):
        for question in questions:
            embeddings.forget_queries()  # each question pays for its own vector
            with recording() as timings:
                t0 = time.perf_counter()
                answer = assistant.ask(question)
                if compare is not None:
                    with app.index.pinned():
                        compare.similarities(question, answer.contexts)
                totals.append((time.perf_counter() - t0) * 1000)
            for name in STAGES:
                stages[name].append(timings.get(name, 0.0))
    return {
        "start_s": round(start_s, 2),
        "ask_p50_ms": round(percentile(totals, 50), 1),
        "ask_p95_ms": round(percentile(totals, 95), 1),
        "bare_search_p50_ms": round(_bare_search(app, questions, repeat), 1),
        "stages_p50_ms": {k: round(percentile(v, 50), 2) for k, v in stages.items()},
        "stages_p95_ms": {k: round(percentile(v, 95), 2) for k, v in stages.items()},
        "canary_refused": canary.refused,
        "canary_signals": canary.signals,
    }


def _bare_search(app: Any, questions: list[str], repeat: int) -> float:
    """p50 of a bare dense search (eval.bench.bare_search_ms) over the questions."""
    return percentile([bare_search_ms(app, q) for _ in range(repeat) for q in questions], 50)


def growth(rows: list[dict], key: str) -> list[dict]:
    """The exponent b of figure ~ size^b between consecutive sizes of each mode."""
    out = []
    for mode in sorted({r["mode"] for r in rows}):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["chunks"])
        for a, b in zip(mine, mine[1:], strict=False):
            if a[key] and b[key]:
                exponent = math.log(b[key] / a[key]) / math.log(b["chunks"] / a["chunks"])
                out.append({"mode": mode, "from": a["chunks"], "to": b["chunks"],
                            "figure": key, "exponent": round(exponent, 2)})  # fmt: skip
    return out


def bench_scale(
    sizes: list[int], modes: list[str], out: Path, model: str, repeat: int, canary: str
) -> dict[str, Any]:
    """Measure every size and mode; write scale.json, scale.md and scale.png into out. The
    canary is a question the article answers, asked of every synthetic corpus."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        corpus = out / f"corpus-{size}"
        if not corpus.is_dir():
            synthetic_corpus(corpus, size, with_article=True)
        for mode in modes:
            click.echo(f"{size} chunks, {mode}: ingesting and asking …", err=True)
            row = measure(size, mode, corpus, out, model, repeat, canary)
            rows.append(row)
            (out / "scale.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2))
            click.echo(f"  ingest {row['ingest_s']} s, start {row['start_s']} s, ask p50 "
                       f"{row['ask_p50_ms']} ms, p95 {row['ask_p95_ms']} ms", err=True)  # fmt: skip
    exponents = [
        g for key in ("ask_p50_ms", "ask_p95_ms", "app_peak_rss_mb", "start_s", "ingest_s")
        for g in growth(rows, key)
    ]  # fmt: skip
    result = {"model": model, "repeat": repeat, "canary": canary, "rows": rows,
              "growth": exponents}  # fmt: skip
    (out / "scale.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    from eval.scale_report import plot, table

    (out / "scale.md").write_text(table(result), encoding="utf-8")
    plot(result, out / "scale.png")
    return result


if __name__ == "__main__":  # the probe, in its own process (python -m eval.scale REPEAT)
    print(json.dumps(probe(int(sys.argv[1]), sys.argv[2]), ensure_ascii=False))
