"""Dense (Chroma), lexical (jieba BM25) and fused hybrid retrievers behind LangChain's interface."""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict

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
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        store = self.index.store
        with stage("dense search"):  # includes embedding the query (recorded on its own too)
            found = store.similar(self.embeddings, query, self.k)
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
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        with stage("lexical search"):
            hits = self.index.lexical().search(tokenize(query), self.k)
            rows = self.index.store.get_chunks([chunk_id for chunk_id, _ in hits])
        return [_document(cid, *rows[cid], score) for cid, score in hits if cid in rows]


class HybridRetriever(BaseRetriever):
    """Fuse dense and lexical rankings, drop chunks mostly covered by a better one, keep k.

    Written here rather than using langchain-classic's EnsembleRetriever because fusion must
    also de-duplicate overlapping chunks and keep both scores for the answerer and the eval.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    dense: BaseRetriever
    lexical: BaseRetriever
    k: int = 4
    fusion: str = "rrf"
    dense_weight: float = 0.3
    rrf_k: int = 60
    candidates: int = 20

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        config = RunnableConfig(callbacks=run_manager.get_child())
        lists = {
            "dense": self.dense.invoke(query, config=config),
            "lexical": self.lexical.invoke(query, config=config),
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
                part = weights[name] * _normalised(self.fusion, scores, rank, self.rrf_k)
                fused[cid] = fused.get(cid, 0.0) + part
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        picked: list[Document] = []
        for cid in order:
            doc = docs[cid]
            if any(_mostly_covered(doc, other) for other in picked):
                continue
            meta = {**doc.metadata, "score": fused[cid]}
            meta["dense_score"] = raw[cid].get("dense")
            meta["lexical_score"] = raw[cid].get("lexical")
            picked.append(Document(id=cid, page_content=doc.page_content, metadata=meta))
            if len(picked) == self.k:
                break
        return picked


class RerankingRetriever(BaseRetriever):
    """Re-orders the hybrid candidates with a scorer (a cross-encoder) and keeps the best k.

    Optional (ASSISTANT_RERANKER_MODEL): the eval decides whether a given model helps.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    base: BaseRetriever
    scorer: Any  # .predict([(query, passage), ...]) -> scores; .warm_up() if it loads a model
    k: int = 4

    def warm_up(self) -> None:
        """Load the scorer's model now (a missing model fails here, with a one-line error)."""
        warm = getattr(self.scorer, "warm_up", None)
        if callable(warm):
            warm()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = self.base.invoke(query, config=RunnableConfig(callbacks=run_manager.get_child()))
        if not docs:
            return []
        scores = [float(x) for x in self.scorer.predict([(query, d.page_content) for d in docs])]
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[: self.k]
        return [
            Document(
                id=docs[i].id,
                page_content=docs[i].page_content,
                metadata={
                    **docs[i].metadata,
                    "score": scores[i],
                    "fused_score": docs[i].metadata["score"],
                },
            )
            for i in order
        ]


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


def _mostly_covered(doc: Document, better: Document) -> bool:
    """True when over half of doc's span lies inside a better-ranked chunk of its source."""
    a, b = doc.metadata, better.metadata
    if a.get("source") != b.get("source"):
        return False
    start, end = int(a["char_start"]), int(a["char_end"])
    overlap = min(end, int(b["char_end"])) - max(start, int(b["char_start"]))
    return overlap > 0.5 * max(end - start, 1)


def build_retriever(
    index: KnowledgeIndex,
    embeddings: Embeddings,
    k: int,
    fusion: str = "rrf",
    dense_weight: float = 0.3,
    scorer: Any | None = None,
    rerank_candidates: int = 12,
) -> BaseRetriever:
    """The hybrid retriever (candidate lists a few times deeper than k), optionally reranked."""
    final = max(k, rerank_candidates) if scorer is not None else k
    depth = max(3 * final, 12)
    hybrid = HybridRetriever(
        dense=DenseRetriever(index=index, embeddings=embeddings, k=depth),
        lexical=LexicalRetriever(index=index, k=depth),
        k=final,
        fusion=fusion,
        dense_weight=dense_weight,
    )
    if scorer is not None:
        return RerankingRetriever(base=hybrid, scorer=scorer, k=k)
    return hybrid
