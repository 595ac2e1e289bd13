"""The chunk store: chunk vectors with their document list and sentence vectors, in one
committed state (ingest/store/versions.py) of one collection of one client."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ingest.chunk import Chunk, Sentence
from ingest.errors import IndexMismatchError, NoIndexError, StoreDamagedError
from ingest.store.build import BuildRecord
from ingest.store.client import ChromaClient, Collection, Collections
from ingest.store.documents import DocumentList, DocumentRecord, fingerprint
from ingest.store.sentences import SentenceVectors
from ingest.store.versions import BATCH, LIVE, State, Versions, live_at, row_id, visible


def retrieval_text(title: str, text: str) -> str:
    """What is embedded and segmented for a chunk: the article title helps retrieval only."""
    return f"{title}\n{text}" if title else text


class ChunkStore:
    """The chunks, sentence vectors and document list of one collection of one client.

    A `published` store is a finished copy no one writes (ingest/generations.py): it holds only
    the rows of its committed generation, so queries need no filter and its state is read once.
    `gc_delay` keeps superseded rows for that many more sessions (see `Versions`).
    """

    def __init__(
        self,
        client: ChromaClient,
        name: str,
        build: BuildRecord,
        published: bool = False,
        gc_delay: int = 0,
        checkpoint_s: float | None = None,
    ) -> None:
        self.client = client
        self.build = build
        self.published = published
        self.collections = Collections(client, name)
        self.versions = Versions(self.collections, published, gc_delay, fingerprint({}, build))
        self.document_list = DocumentList(self.collections)
        self.sentences = SentenceVectors(self.collections)
        # A writer whose readers see only published copies commits whole documents this often,
        # so that a killed ingest keeps what it had embedded (None: one commit per session).
        self.checkpoint_s = checkpoint_s
        self._committed_at = time.monotonic()
        self.changed = False  # the writer publishes only when a session changed something
        self._vectorstores: dict[int, Any] = {}

    @property
    def name(self) -> str:
        """The name of its chunk collection (the others add a suffix)."""
        return self.collections.name

    def vectorstore(self, embeddings: Any) -> Any:
        """The langchain-chroma store over the chunks, made once per embeddings object
        (building one parses settings, ~13 ms)."""
        key = id(embeddings)
        if key not in self._vectorstores:
            from langchain_chroma import Chroma

            self._vectorstores[key] = Chroma(
                client=self.client,  # type: ignore[arg-type]  # a chromadb client in practice
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

    @property
    def chunk_collection(self) -> Collection | None:
        """The chunk collection, or None before the first ingest."""
        return self.collections.find()

    def recorded_build(self) -> dict[str, Any] | None:
        """The build settings stored with the collection, or None if there is no collection."""
        col = self.chunk_collection
        return dict(col.metadata or {}) if col is not None else None

    def check_compatible(self, require_documents: bool = True) -> None:
        """Raise when there is no index, or it was built with another model or chunking."""
        recorded = self.recorded_build()
        if recorded is None or (require_documents and not self.documents()):
            raise NoIndexError("no index yet; run: zone-assistant ingest")
        diffs = self.build.differences(recorded)
        if diffs:
            raise IndexMismatchError(
                "the index was built with "
                + ", ".join(diffs)
                + "; re-ingest with: zone-assistant ingest --rebuild"
            )

    # --- the committed state -----------------------------------------------------------------

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One committed state for everything inside (one question)."""
        with self.versions.pinned():
            yield

    def state(self) -> State:
        """The committed state (the pinned one inside `pinned()`)."""
        return self.versions.state()

    def documents(self) -> dict[str, DocumentRecord]:
        """The committed documents by source (of the pinned state inside `pinned()`)."""
        return self.document_list.at(self.state().gen)

    def fingerprint(self) -> str:
        """Changes whenever a document is added, changed or removed, or the build changes."""
        return self.state().fingerprint

    def similar(self, embeddings: Any, query: str, k: int) -> list[tuple[Any, float]]:
        """The k committed chunks nearest to the query, as (LangChain Document, distance).

        A `where` filter costs a scan of every row's metadata (97 ms at 10k chunks on a Chroma
        server, against 5 ms without: measured), so the rows are fetched unfiltered with a
        margin and the committed ones kept; only while a session has rows in the store that
        crowd them out (an ingest under way) does the filtered query run.
        """
        if self.published:
            return self.vectorstore(embeddings).similarity_search_with_score(query, k=k)
        try:
            return self._similar(self.vectorstore(embeddings), query, k)
        except Exception as exc:
            # `ingest --rebuild` in another process recreated the server's collections: the
            # cached store points at a deleted one. Look it up again, once.
            if type(exc).__name__ != "NotFoundError":
                raise
            self._vectorstores.clear()
            return self._similar(self.vectorstore(embeddings), query, k)

    def _similar(self, store: Any, query: str, k: int) -> list[tuple[Any, float]]:
        gen = self.state().gen
        fetch = 2 * k + 8
        found = store.similarity_search_with_score(query, k=fetch)
        shown = [(d, s) for d, s in found if visible(d.metadata, gen)]
        if len(shown) >= k or len(found) < fetch:
            return shown[:k]
        return store.similarity_search_with_score(query, k=k, filter=live_at(gen))

    # --- writing (one session) ---------------------------------------------------------------

    def _session(self) -> int:
        self.changed = True
        return self.versions.session()

    def write_document(
        self,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        sentences: Sequence[Sentence] = (),
        sentence_vectors: Sequence[Sequence[float]] = (),
        batch_size: int = 512,
    ) -> None:
        """Write a document's new version in this session's generation; its previous version
        is superseded from that generation on."""
        gen = self._session()
        self.versions.supersede({"source": record.source}, gen)
        limit = max(1, min(batch_size, self.client.get_max_batch_size()))
        col = self.collections.create(
            "", metadata=self.build.metadata(), configuration={"hnsw": {"space": "cosine"}}
        )
        for i in range(0, len(chunks), limit):
            part = chunks[i : i + limit]
            col.upsert(
                ids=[row_id(c.id, record.doc_hash) for c in part],
                documents=[c.text for c in part],
                embeddings=[list(v) for v in vectors[i : i + limit]],
                metadatas=[_chunk_metadata(c, record, gen) for c in part],
            )
        self.sentences.write(
            record.source, record.doc_hash, sentences, sentence_vectors, limit, gen
        )
        self.document_list.write(record, gen)
        every = self.checkpoint_s
        if every is not None and time.monotonic() - self._committed_at >= every:
            self.commit()

    def tidy(self) -> None:
        """Remove what a killed writer left in this store (see Versions.tidy)."""
        self.versions.tidy()

    def remove_document(self, source: str) -> None:
        """Remove a document from this session's generation on."""
        self.versions.supersede({"source": source}, self._session())

    def commit(self) -> bool:
        """Commit this session's generation; False when the session wrote nothing."""
        gen = self.versions.writing
        if gen is None:
            return False
        self._committed_at = time.monotonic()
        self.versions.commit(gen, fingerprint(self.document_list.read(gen), self.build))
        return True

    def rename(self, name: str) -> None:
        """Give this store's collections another name (a rebuilt store takes the old one's)."""
        self.collections.rename(name)
        self._vectorstores.clear()

    def reset(self) -> None:
        """Delete everything (for --rebuild)."""
        self.changed = True
        self.versions.writing = None
        self.collections.delete()

    # --- reading -----------------------------------------------------------------------------

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

    def document_chunks(self, source: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of every committed chunk of one document, in its order: what an
        overview of the document reads."""
        col = self.chunk_collection
        gen = self.state().gen
        if col is None or gen == 0:
            return []
        got = col.get(where={"source": source}, include=["documents", "metadatas"])
        rows = [
            (i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if visible(m, gen)
        ]
        return sorted(rows, key=lambda r: int(r[2]["ordinal"]))

    def sentence_vectors(self, chunks: Mapping[str, int]) -> dict[str, list[tuple[int, int, Any]]]:
        """(start, end, vector) of the sentences of these chunks (see SentenceVectors.of)."""
        return self.sentences.of(chunks)

    def committed_rows(self) -> tuple[list[str], list[str]]:
        """Ids and retrieval texts of every committed chunk, in document order."""
        col = self.chunk_collection
        gen = self.state().gen
        if col is None or gen == 0:
            return [], []
        expected = sum(d.chunks for d in self.documents().values())
        for _ in range(3):  # a Chroma server's writer may delete rows between our pages
            rows = _all_rows(col, gen)
            if len(rows) == expected:
                break
        else:
            raise StoreDamagedError(
                f"the index lists {expected} chunks but holds {len(rows)}; "
                "re-ingest with: zone-assistant ingest --rebuild"
            )
        rows.sort(key=lambda r: (str(r[2]["source"]), int(r[2]["ordinal"])))
        texts = [retrieval_text(str(r[2].get("title", "")), r[1]) for r in rows]
        return [r[0] for r in rows], texts


def _all_rows(col: Collection, gen: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every row of generation `gen`, a page at a time: one `get` of 100k rows fails in
    Chroma ("too many SQL variables"), and a `where` filter scans every row per page."""
    rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
    offset = 0
    while True:
        got = col.get(limit=BATCH, offset=offset, include=["documents", "metadatas"])
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            if visible(m, gen):
                rows[i] = (i, d, m)
        if len(got["ids"]) < BATCH:
            return list(rows.values())
        offset += BATCH


def _chunk_metadata(chunk: Chunk, record: DocumentRecord, gen: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": chunk.source,
        "doc_hash": record.doc_hash,
        "gen": gen,
        "gone": LIVE,
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
