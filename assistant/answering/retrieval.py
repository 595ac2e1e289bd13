"""Dense (Chroma) and lexical (jieba BM25) retrievers behind LangChain's interface, and their
fusion into typed contexts (the hybrid search the answering chain calls)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.schema import Context, QueryPart
from assistant.timing import stage
from ingest.index import KnowledgeIndex
from ingest.text.tokens import tokenize

logger = logging.getLogger(__name__)


def _document(chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Document:
    return Document(
        id=chunk_id, page_content=text, metadata={**meta, "chunk_id": chunk_id, "score": score}
    )


class DenseRetriever(BaseRetriever):
    """Nearest chunks by embedding (cosine) among committed documents, via langchain-chroma."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: KnowledgeIndex
    embeddings: Embeddings
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        store = self.index.store
        with stage("dense search"):  # includes embedding the query (recorded on its own too)
            found = store.similar(self.embeddings, query, k or self.k)
        # Cosine distance in [0, 2] becomes a similarity in [-1, 1].
        return [
            _document(str(doc.id), doc.page_content, doc.metadata, 1.0 - dist)
            for doc, dist in found
        ]


class LexicalRetriever(BaseRetriever):
    """BM25 over jieba tokens: the retriever that actually finds Chinese passages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    index: KnowledgeIndex
    k: int = 4

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        with stage("lexical search"):
            hits = self.index.lexical().search(tokenize(query), k or self.k)
            rows = self.index.store.get_chunks([chunk_id for chunk_id, _ in hits])
        return [_document(cid, *rows[cid], score) for cid, score in hits if cid in rows]


class Search(Protocol):
    """What the answering chain retrieves with: the contexts of one question part, best first."""

    def search(self, part: QueryPart, k: int | None = None) -> list[Context]:
        """The `k` (default: the search's own) best contexts of `part`."""
        ...


class HybridSearch:
    """Fuse dense and lexical rankings, drop chunks mostly covered by a better one, keep k.

    The dense side embeds the question as asked (e5 reads Chinese and English alike; the
    expanded text retrieves worse: eval/decisions.md); the lexical side searches
    `part.search`, the question in the corpus's words (English keywords translated, unused
    Chinese words expanded). Written here rather than using langchain-classic's
    EnsembleRetriever because fusion must also de-duplicate overlapping chunks and keep both
    scores for the answerer and the eval.
    """

    def __init__(
        self,
        dense: BaseRetriever,
        lexical: BaseRetriever,
        k: int = 4,
        fusion: str = "minmax",
        dense_weight: float = 0.5,
        depth: int = 12,
        rrf_k: int = 60,
    ) -> None:
        self.dense, self.lexical = dense, lexical
        self.k, self.fusion, self.dense_weight = k, fusion, dense_weight
        self.depth, self.rrf_k = depth, rrf_k

    def search(self, part: QueryPart, k: int | None = None) -> list[Context]:
        """The fused contexts of one question part."""
        k = k or self.k
        depth = max(self.depth, 3 * k)
        lists = {
            "dense": self.dense.invoke(part.text, k=depth),
            "lexical": self.lexical.invoke(part.search, k=depth),
        }
        weights = {"dense": self.dense_weight, "lexical": 1.0 - self.dense_weight}
        fused: dict[str, float] = {}
        docs: dict[str, Document] = {}
        raw: dict[str, dict[str, float]] = {}
        for name, found in lists.items():
            scores = [float(d.metadata["score"]) for d in found]
            for rank, doc in enumerate(found):
                cid = str(doc.id)
                docs.setdefault(cid, doc)
                raw.setdefault(cid, {})[name] = scores[rank]
                part_score = weights[name] * _normalised(self.fusion, scores, rank, self.rrf_k)
                fused[cid] = fused.get(cid, 0.0) + part_score
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        picked: list[Context] = []
        for cid in order:
            ctx = to_context(docs[cid], fused[cid], raw[cid].get("dense"), raw[cid].get("lexical"))
            if any(_mostly_covered(ctx, other) for other in picked):
                continue
            picked.append(ctx)
            if len(picked) == k:
                break
        return picked


class RerankingSearch:
    """Re-orders the hybrid candidates with a scorer (a cross-encoder) and keeps the best k.

    Optional (ASSISTANT_RERANKER_MODEL): the eval decides whether a given model helps.
    """

    def __init__(self, base: Search, scorer: Any, k: int = 4, candidates: int = 12) -> None:
        self.base = base
        self.scorer = scorer  # .predict([(query, passage), ...]) -> scores; .warm_up()
        self.k, self.candidates = k, candidates

    def warm_up(self) -> None:
        """Load the scorer's model now (a missing model fails here, with a one-line error)."""
        warm = getattr(self.scorer, "warm_up", None)
        if callable(warm):
            warm()

    def search(self, part: QueryPart, k: int | None = None) -> list[Context]:
        """The base search's candidates, re-ordered by the scorer."""
        k = k or self.k
        found = self.base.search(part, max(k, self.candidates))
        if not found:
            return []
        scores = [float(x) for x in self.scorer.predict([(part.text, c.text) for c in found])]
        order = sorted(range(len(found)), key=lambda i: (-scores[i], i))[:k]
        return [replace(found[i], score=scores[i], fused_score=found[i].score) for i in order]


def article_contexts(index: KnowledgeIndex, source: str) -> list[Context]:
    """Every body chunk of one article, in its order (what an overview reads)."""
    return [
        to_context(_document(cid, text, meta, 0.0), 0.0)
        for cid, text, meta in index.store.document_chunks(source)
        if meta.get("role", "body") == "body"
    ]


def to_context(
    doc: Document, score: float, dense: float | None = None, lexical: float | None = None
) -> Context:
    """A retrieved LangChain document as the answer's context record."""
    m = doc.metadata
    return Context(
        chunk_id=str(doc.id or m.get("chunk_id")),
        source=str(m.get("source", "")),
        text=doc.page_content,
        score=score,
        title=str(m.get("title", "")),
        char_start=int(m.get("char_start", 0)),
        char_end=int(m.get("char_end", 0)),
        paragraph=int(m.get("paragraph", 0)),
        dense_score=dense,
        lexical_score=lexical,
    )


def _normalised(fusion: str, scores: list[float], rank: int, rrf_k: int) -> float:
    """One list's contribution of the candidate at `rank`, before weighting.

    rrf: 1/(k + rank + 1). weighted: score / top score. minmax: (score - min) / (max - min),
    which keeps the spread of a dense model whose cosines all lie close together (e5's lie
    within about 0.75-0.91, so dividing by the top flattens them).
    """
    if fusion == "rrf":
        return 1.0 / (rrf_k + rank + 1)
    if fusion == "minmax":
        low, high = min(scores), max(scores)
        return (scores[rank] - low) / (high - low) if high > low else 1.0
    top = max(scores, default=0.0) or 1.0
    return max(scores[rank], 0.0) / top


def _mostly_covered(ctx: Context, better: Context) -> bool:
    """True when over half of ctx's span lies inside a better-ranked chunk of its source."""
    if ctx.source != better.source:
        return False
    overlap = min(ctx.char_end, better.char_end) - max(ctx.char_start, better.char_start)
    return overlap > 0.5 * max(ctx.char_end - ctx.char_start, 1)


def build_search(
    index: KnowledgeIndex,
    embeddings: Embeddings,
    k: int,
    fusion: str = "minmax",
    dense_weight: float = 0.5,
    scorer: Any | None = None,
    rerank_candidates: int = 12,
) -> Search:
    """The hybrid search (candidate lists a few times deeper than k), optionally reranked."""
    final = max(k, rerank_candidates) if scorer is not None else k
    hybrid = HybridSearch(
        DenseRetriever(index=index, embeddings=embeddings, k=k),
        LexicalRetriever(index=index, k=k),
        k=k,
        fusion=fusion,
        dense_weight=dense_weight,
        depth=max(3 * final, 12),
    )
    if scorer is not None:
        return RerankingSearch(hybrid, scorer, k=k, candidates=rerank_candidates)
    return hybrid
