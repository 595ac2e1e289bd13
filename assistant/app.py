"""The composition root: the one place that builds the real embedding model, Chroma and answerer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answer import ExtractiveAnswerer
from assistant.embeddings import SentenceTransformerEmbeddings
from assistant.pipeline import Answerer, Assistant
from assistant.retrieval import RerankingRetriever, build_retriever
from assistant.settings import Settings
from assistant.translate import QueryTranslator
from ingest.index import KnowledgeIndex, open_client
from ingest.lexical import tokenize
from ingest.pipeline import IngestSummary, Progress, ingest_paths

if TYPE_CHECKING:
    from assistant.llm import LLMAnswerer


def build_index(settings: Settings, client: Any | None = None) -> KnowledgeIndex:
    """The knowledge index named by the settings (embedded Chroma, or a server via CHROMA_HOST)."""
    if client is None:
        client = open_client(settings.chroma_dir, settings.chroma_host, settings.chroma_port)
    build_info = {
        "embedding_model": settings.embedding_model,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }
    return KnowledgeIndex(client, settings.collection, build_info, settings.lexical_dir)


def build_embeddings(
    settings: Settings, threads: int | None = None
) -> SentenceTransformerEmbeddings:
    """The embedding model (loaded lazily, once per process; `threads` sets torch's threads)."""
    return SentenceTransformerEmbeddings(
        settings.embedding_model, settings.embedding_batch_size, threads
    )


def run_ingest(
    settings: Settings,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    index: KnowledgeIndex | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest the given paths (default: the knowledge folder) into the index."""
    index = index or build_index(settings)
    return ingest_paths(
        index,
        build_embeddings(settings, threads=os.cpu_count() or 1),
        paths or [settings.knowledge_dir],
        knowledge_dir=settings.knowledge_dir,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        max_bytes=int(settings.max_file_mb * 1_000_000),
        rebuild=rebuild,
        progress=progress,
    )


def build_assistant(settings: Settings, index: KnowledgeIndex | None = None) -> Assistant:
    """Wire the real parts; raises NoIndexError or IndexMismatchError before any model loads."""
    index = index or build_index(settings)
    index.check_compatible()
    embeddings = build_embeddings(settings, threads=settings.query_threads)
    retriever = build_retriever(
        index,
        embeddings,
        settings.k,
        settings.fusion,
        settings.dense_weight,
        reranker_model=settings.reranker_model,
        rerank_candidates=settings.rerank_candidates,
    )
    translator = QueryTranslator(lambda: index.lexical().doc_freq.keys())
    answerer: Answerer
    llm: LLMAnswerer | None = None
    if settings.llm_base_url:
        from assistant.llm import LLMAnswerer

        answerer = llm = LLMAnswerer(settings)
        answerer_name = f"llm ({settings.llm_model} at {settings.llm_base_url})"
    else:
        answerer = ExtractiveAnswerer(
            index.lexical,
            threshold=settings.refusal_threshold,
            translator=translator,
        )
        answerer_name = answerer.name
    return Assistant(
        retriever,
        answerer,
        max_question_chars=settings.max_question_chars,
        warmers=[
            embeddings.warm_up,
            index.lexical,
            lambda: tokenize("预热"),
            *([retriever.warm_up] if isinstance(retriever, RerankingRetriever) else []),
        ],
        translator=translator,
        snapshot=index.pinned,
        rewriter=llm.rewrite if llm else None,
        query_translator=llm.translate if llm else None,
        description=f"answerer: {answerer_name}; embedding model: {settings.embedding_model}"
        + (f"; reranker: {settings.reranker_model}" if settings.reranker_model else ""),
    )
