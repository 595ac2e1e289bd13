"""The store: chunk vectors and a document manifest in Chroma, the source of truth of the index.

A document becomes visible only when its manifest record is written, after all of its chunks:
queries filter chunks by the committed document hashes, so they never see half a document, and
chunks left behind by a killed ingest are invisible until the next run collects them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunk import Chunk, Sentence
from ingest.errors import ChromaUnavailableError, IndexMismatchError, NoIndexError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_DOCS_SUFFIX = "__documents"
_SENTENCES_SUFFIX = "__sentences"


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest knows about one ingested source."""

    source: str
    doc_hash: str
    content_hash: str
    title: str
    chunks: int
    ingested_at: float


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def open_server(host: str, port: int) -> Any:
    """A client of the Chroma server at host:port (ChromaUnavailableError when it is down)."""
    import chromadb

    try:
        client = chromadb.HttpClient(host=host, port=port, settings=_chroma_settings())
        client.heartbeat()
    except Exception as exc:  # chromadb raises several transport error types
        raise ChromaUnavailableError(
            f"cannot reach the Chroma server at {host}:{port} ({type(exc).__name__}); "
            "start it with: chroma run --path ./data/chroma-server, or unset CHROMA_HOST"
        ) from None
    return client


def open_embedded(path: Path) -> Any:
    """A client of the embedded Chroma store in this folder (created if missing)."""
    import chromadb

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def retrieval_text(title: str, text: str) -> str:
    """What is embedded and segmented for a chunk: the article title helps retrieval only."""
    return f"{title}\n{text}" if title else text


def sentence_text(title: str, sentence: str) -> str:
    """What is embedded for a sentence: the title supplies the subject a sentence leaves out
    (其, 该, 本鱼), which made e5 pick the right sentence far more often (measured)."""
    return f"{title}：{sentence}" if title else sentence


class ChunkStore:
    """The chunks and the document manifest of one collection of one Chroma client.

    A `published` store is a finished copy no one writes (ingest/generations.py): it holds only
    committed chunks, so queries need no filter, and its manifest is read once.
    """

    def __init__(
        self, client: Any, name: str, build_info: dict[str, Any], published: bool = False
    ) -> None:
        self.client = client
        self.name = name
        self.build_info = dict(build_info, schema_version=SCHEMA_VERSION)
        self.published = published
        self.changed = False  # set by every write: the writer publishes only when it is
        self._documents: dict[str, DocumentRecord] | None = None
        self._vectorstores: dict[int, Any] = {}
        self._pinned: ContextVar[dict[str, DocumentRecord] | None] = ContextVar(
            f"pinned-{id(self)}", default=None
        )

    def vectorstore(self, embeddings: Any) -> Any:
        """The langchain-chroma store over the chunks, made once per embeddings object
        (building one parses settings, ~13 ms)."""
        key = id(embeddings)
        if key not in self._vectorstores:
            from langchain_chroma import Chroma

            self._vectorstores[key] = Chroma(
                client=self.client,
                collection_name=self.name,
                embedding_function=embeddings,
                create_collection_if_not_exists=False,
            )
        return self._vectorstores[key]

    def warm_up(self) -> None:
        """Load the vector index and the manifest (the first query of a new store is slow)."""
        col = self.chunk_collection
        if col is not None and col.count():
            dim = len(col.get(limit=1, include=["embeddings"])["embeddings"][0])
            col.query(query_embeddings=[[0.0] * dim], n_results=1)
        self.documents()

    # --- collections -------------------------------------------------------------------------

    def _get(self, name: str) -> Any | None:
        try:
            return self.client.get_collection(name)
        except Exception:  # chromadb raises NotFoundError/ValueError depending on the backend
            return None

    @property
    def chunk_collection(self) -> Any | None:
        """The chunk collection, or None before the first ingest."""
        return self._get(self.name)

    def _writable(self) -> tuple[Any, Any]:
        meta = {k: v for k, v in self.build_info.items()}
        chunks = self.client.get_or_create_collection(
            self.name,
            metadata=meta,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        docs = self.client.get_or_create_collection(
            self.name + _DOCS_SUFFIX, metadata={"role": "manifest"}, embedding_function=None
        )
        return chunks, docs

    def _sentences(self) -> Any | None:
        return self._get(self.name + _SENTENCES_SUFFIX)

    def _writable_sentences(self) -> Any:
        return self.client.get_or_create_collection(
            self.name + _SENTENCES_SUFFIX,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    def recorded_build(self) -> dict[str, Any] | None:
        """The build settings stored with the collection, or None if there is no collection."""
        col = self.chunk_collection
        return dict(col.metadata or {}) if col is not None else None

    def check_compatible(self, require_documents: bool = True) -> None:
        """Raise when there is no index, or it was built with another model or chunking."""
        recorded = self.recorded_build()
        if recorded is None or (require_documents and not self.documents()):
            raise NoIndexError("no index yet; run: zone-assistant ingest")
        diffs = [
            f"{key}={recorded.get(key)!r} (now {value!r})"
            for key, value in self.build_info.items()
            if recorded.get(key) != value
        ]
        if diffs:
            raise IndexMismatchError(
                "the index was built with "
                + ", ".join(diffs)
                + "; re-ingest with: zone-assistant ingest --rebuild"
            )

    # --- manifest ----------------------------------------------------------------------------

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Read the manifest once for everything inside (one question): faster, and every step
        of the answer sees the same committed documents even if an ingest commits meanwhile."""
        if self._pinned.get() is not None:
            yield
            return
        token = self._pinned.set(self._read_documents())
        try:
            yield
        finally:
            self._pinned.reset(token)

    def documents(self) -> dict[str, DocumentRecord]:
        """The committed documents by source (the pinned snapshot inside `pinned()`)."""
        pinned = self._pinned.get()
        return dict(pinned) if pinned is not None else self._read_documents()

    def _read_documents(self) -> dict[str, DocumentRecord]:
        if self.published:
            if self._documents is None:
                self._documents = self._read_manifest()
            return self._documents
        return self._read_manifest()

    def _read_manifest(self) -> dict[str, DocumentRecord]:
        docs = self._get(self.name + _DOCS_SUFFIX)
        if docs is None:
            return {}
        got = docs.get(include=["metadatas"])
        out = {}
        for meta in got["metadatas"] or []:
            rec = DocumentRecord(
                source=str(meta["source"]),
                doc_hash=str(meta["doc_hash"]),
                content_hash=str(meta["content_hash"]),
                title=str(meta.get("title", "")),
                chunks=int(meta.get("chunks", 0)),
                ingested_at=float(meta.get("ingested_at", 0.0)),
            )
            out[rec.source] = rec
        return out

    def fingerprint(self, documents: dict[str, DocumentRecord] | None = None) -> str:
        """Changes whenever a document is added, changed or removed, or the build changes."""
        docs = self.documents() if documents is None else documents
        state = sorted((d.source, d.doc_hash) for d in docs.values())
        blob = json.dumps([state, sorted(self.build_info.items())], ensure_ascii=False)
        return hashlib.sha1(blob.encode()).hexdigest()

    # --- writing -----------------------------------------------------------------------------

    def write_document(
        self,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        sentences: Sequence[Sentence] = (),
        sentence_vectors: Sequence[Sequence[float]] = (),
        batch_size: int = 512,
    ) -> None:
        """Store a document's chunks (and sentence vectors), then commit it, then drop its
        previous version's."""
        self.changed = True
        chunk_col, docs = self._writable()
        limit = max(1, min(batch_size, self.client.get_max_batch_size()))
        for i in range(0, len(chunks), limit):
            part = chunks[i : i + limit]
            chunk_col.upsert(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                embeddings=[list(v) for v in vectors[i : i + limit]],
                metadatas=[_chunk_metadata(c, record) for c in part],
            )
        self._write_sentences(record, sentences, sentence_vectors, limit)
        docs.upsert(
            ids=[record.source],
            documents=[record.title],
            embeddings=[[1.0]],
            metadatas=[
                {
                    "source": record.source,
                    "doc_hash": record.doc_hash,
                    "content_hash": record.content_hash,
                    "title": record.title,
                    "chunks": record.chunks,
                    "ingested_at": record.ingested_at,
                }
            ],
        )
        older = {"$and": [{"source": record.source}, {"doc_hash": {"$ne": record.doc_hash}}]}
        chunk_col.delete(where=older)
        sentence_col = self._sentences()
        if sentence_col is not None:
            sentence_col.delete(where=older)

    def _write_sentences(
        self,
        record: DocumentRecord,
        sentences: Sequence[Sentence],
        vectors: Sequence[Sequence[float]],
        limit: int,
    ) -> None:
        if not sentences:
            return
        col = self._writable_sentences()
        for i in range(0, len(sentences), limit):
            part = sentences[i : i + limit]
            col.upsert(
                ids=[s.id for s in part],
                embeddings=[list(v) for v in vectors[i : i + limit]],
                metadatas=[
                    {"chunk_id": s.chunk_id, "source": record.source, "doc_hash": record.doc_hash,
                     "start": s.start, "end": s.end}
                    for s in part
                ],
            )  # fmt: skip

    def remove_document(self, source: str) -> None:
        """Uncommit a document (invisible at once), then delete its chunks."""
        self.changed = True
        chunk_col, docs = self._writable()
        docs.delete(ids=[source])
        chunk_col.delete(where={"source": source})
        sentence_col = self._sentences()
        if sentence_col is not None:
            sentence_col.delete(where={"source": source})

    def collect_garbage(self) -> int:
        """Delete chunks that belong to no committed document version (left by a killed run)."""
        col = self.chunk_collection
        if col is None:
            return 0
        committed = {d.doc_hash for d in self.documents().values()}
        got = col.get(include=["metadatas"])
        stale = [
            i
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)
            if m["doc_hash"] not in committed
        ]
        for i in range(0, len(stale), 5000):
            col.delete(ids=stale[i : i + 5000])
        sentence_col = self._sentences()
        if sentence_col is not None:
            sentence_col.delete(where={"doc_hash": {"$nin": sorted(committed) or ["-"]}})
        self.changed = self.changed or bool(stale)
        return len(stale)

    def reset(self) -> None:
        """Delete everything (for --rebuild)."""
        self.changed = True
        for name in (self.name, self.name + _DOCS_SUFFIX, self.name + _SENTENCES_SUFFIX):
            if self._get(name) is not None:
                self.client.delete_collection(name)

    # --- reading -----------------------------------------------------------------------------

    def committed_filter(
        self, documents: dict[str, DocumentRecord] | None = None
    ) -> dict[str, Any] | None:
        """A Chroma `where` filter that admits only chunks of committed document versions
        (None for a published store, which holds nothing else)."""
        if self.published:
            return None
        docs = self.documents() if documents is None else documents
        return {"doc_hash": {"$in": sorted(d.doc_hash for d in docs.values()) or ["-"]}}

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata of the given chunk ids."""
        col = self.chunk_collection
        if col is None or not ids:
            return {}
        got = col.get(ids=list(ids), include=["documents", "metadatas"])
        return {
            i: (d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[tuple[int, int, Any]]]:
        """(start, end, vector) of the sentences of each chunk that has sentence vectors."""
        col = self._sentences()
        if col is None or not chunk_ids:
            return {}
        where = {"chunk_id": {"$in": list(chunk_ids)}}
        got = col.get(where=where, include=["embeddings", "metadatas"])
        out: dict[str, list[tuple[int, int, Any]]] = {}
        for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
            out.setdefault(str(meta["chunk_id"]), []).append(
                (int(meta["start"]), int(meta["end"]), vector)
            )
        return out

    def committed_rows(self) -> tuple[list[str], list[str]]:
        """Ids and retrieval texts of every committed chunk, in document order."""
        documents = self.documents()
        col = self.chunk_collection
        if col is None or not documents:
            return [], []
        where = self.committed_filter(documents)
        got = col.get(where=where, include=["documents", "metadatas"])
        rows = sorted(
            zip(got["ids"], got["documents"], got["metadatas"], strict=True),
            key=lambda r: (str(r[2]["source"]), int(r[2]["ordinal"])),
        )
        texts = [retrieval_text(str(r[2].get("title", "")), r[1]) for r in rows]
        return [r[0] for r in rows], texts


def _chunk_metadata(chunk: Chunk, record: DocumentRecord) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": chunk.source,
        "doc_hash": record.doc_hash,
        "title": record.title,
        "ordinal": chunk.ordinal,
        "paragraph": chunk.paragraph,
        "section": chunk.section,
        "role": chunk.role,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "content_hash": hashlib.sha1(chunk.text.encode()).hexdigest()[:16],
    }
    if chunk.author:
        meta["author"] = chunk.author
    return meta
