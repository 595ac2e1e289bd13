"""The store: chunk vectors, sentence vectors and a document manifest in Chroma.

Every write session is a generation: its rows carry `gen` (the session that wrote them) and
`gone` (the session that superseded or removed them; LIVE until then), and one state record
names the committed generation G and its fingerprint. A question reads that one record and
admits the rows with gen <= G < gone: a constant-size filter, whatever the number of
documents, and one committed state for the whole question, old or new, never a mix. A killed
session never commits: the next one deletes its rows and un-supersedes what it marked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingest.chunk import Chunk, Sentence
from ingest.errors import (
    ChromaUnavailableError,
    IndexMismatchError,
    NoIndexError,
    StoreDamagedError,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
LIVE = 2**62  # `gone` of a row that no committed generation has superseded
_DOCS_SUFFIX = "__documents"
_SENTENCES_SUFFIX = "__sentences"
_STATE_SUFFIX = "__state"
_STATE_ID = "state"
_BATCH = 5000


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest knows about one ingested source."""

    source: str
    doc_hash: str
    content_hash: str
    title: str
    chunks: int
    ingested_at: float
    # As an archive (see ingest/text/dates.py, ingest/reposts.py): the publication date as ISO
    # text ('' unknown) and where it was read, the outlet, the text's MinHash signature.
    published: str = ""
    dated_by: str = ""
    outlet: str = ""
    signature: str = ""
    described: str = ""  # a key of what the profile says of it ('' nothing)


@dataclass(frozen=True)
class State:
    """A committed generation and the fingerprint of its documents (0: nothing committed)."""

    gen: int
    fingerprint: str


def live_at(gen: int) -> dict[str, Any]:
    """The `where` filter of the rows visible in generation `gen`."""
    return {"$and": [{"gen": {"$lte": gen}}, {"gone": {"$gt": gen}}]}


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
    """The chunks, sentence vectors and document manifest of one collection of one client.

    A `published` store is a finished copy no one writes (ingest/generations.py): it holds only
    the rows of its committed generation, so queries need no filter and its state is read once.
    `gc_delay` keeps superseded rows for that many more sessions, for questions still pinned to
    the state before (a Chroma server: readers and the writer share the rows).
    """

    def __init__(
        self,
        client: Any,
        name: str,
        build_info: dict[str, Any],
        published: bool = False,
        gc_delay: int = 0,
        checkpoint_s: float | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.build_info = dict(build_info, schema_version=SCHEMA_VERSION)
        self.published = published
        self.gc_delay = gc_delay
        # A writer whose readers see only published copies commits whole documents this often,
        # so that a killed ingest keeps what it had embedded (None: one commit per session).
        self.checkpoint_s = checkpoint_s
        self._committed_at = time.monotonic()
        self.changed = False  # the writer publishes only when a session changed something
        self._writing: int | None = None  # the generation being written
        self._state: State | None = None  # a published store's (it never changes)
        self._documents: dict[int, dict[str, DocumentRecord]] = {}
        self._vectorstores: dict[int, Any] = {}
        self._pinned: ContextVar[State | None] = ContextVar(f"pinned-{id(self)}", default=None)

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

    def _collection(self, suffix: str) -> Any:
        """A collection of this store, created with the build settings when missing."""
        options: dict[str, Any] = {"embedding_function": None}
        if suffix == "":
            options["metadata"] = dict(self.build_info)
        if suffix in ("", _SENTENCES_SUFFIX):
            options["configuration"] = {"hnsw": {"space": "cosine"}}
        return self.client.get_or_create_collection(self.name + suffix, **options)

    def _existing(self) -> list[Any]:
        """The collections that hold generation rows."""
        found = [self._get(self.name + s) for s in ("", _DOCS_SUFFIX, _SENTENCES_SUFFIX)]
        return [c for c in found if c is not None]

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

    # --- the committed state -----------------------------------------------------------------

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One committed state for everything inside (one question), even if a session
        commits meanwhile; a Chroma server's is read here, once."""
        if self._pinned.get() is not None:
            yield
            return
        token = self._pinned.set(self._read_state())
        try:
            yield
        finally:
            self._pinned.reset(token)

    def state(self) -> State:
        """The committed state (the pinned one inside `pinned()`)."""
        return self._pinned.get() or self._read_state()

    def _read_state(self) -> State:
        if self.published and self._state is not None:
            return self._state
        col = self._get(self.name + _STATE_SUFFIX)
        got = col.get(ids=[_STATE_ID], include=["metadatas"]) if col is not None else None
        meta = (got["metadatas"] or [None])[0] if got and got["ids"] else None
        state = (
            State(int(meta["gen"]), str(meta["fingerprint"]))
            if meta
            else State(0, self._fingerprint({}))
        )
        if self.published:
            self._state = state
        return state

    def documents(self) -> dict[str, DocumentRecord]:
        """The committed documents by source (of the pinned state inside `pinned()`)."""
        gen = self.state().gen
        if gen not in self._documents:
            self._documents = {gen: self._read_manifest(gen)}  # keep only the latest
        return dict(self._documents[gen])

    def _read_manifest(self, gen: int) -> dict[str, DocumentRecord]:
        docs = self._get(self.name + _DOCS_SUFFIX)
        if docs is None or gen == 0:
            return {}
        out = {}
        for meta in docs.get(where=live_at(gen), include=["metadatas"])["metadatas"] or []:
            rec = DocumentRecord(
                source=str(meta["source"]),
                doc_hash=str(meta["doc_hash"]),
                content_hash=str(meta["content_hash"]),
                title=str(meta.get("title", "")),
                chunks=int(meta.get("chunks", 0)),
                ingested_at=float(meta.get("ingested_at", 0.0)),
                published=str(meta.get("published", "")),
                dated_by=str(meta.get("dated_by", "")),
                outlet=str(meta.get("outlet", "")),
                signature=str(meta.get("signature", "")),
                described=str(meta.get("described", "")),
            )
            out[rec.source] = rec
        return out

    def fingerprint(self) -> str:
        """Changes whenever a document is added, changed or removed, or the build changes."""
        return self.state().fingerprint

    def _fingerprint(self, documents: dict[str, DocumentRecord]) -> str:
        state = sorted((d.source, d.doc_hash) for d in documents.values())
        blob = json.dumps([state, sorted(self.build_info.items())], ensure_ascii=False)
        return hashlib.sha1(blob.encode()).hexdigest()

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
        visible = [(d, s) for d, s in found if _visible(d.metadata, gen)]
        if len(visible) >= k or len(found) < fetch:
            return visible[:k]
        return store.similarity_search_with_score(query, k=k, filter=live_at(gen))

    # --- writing (one session) ---------------------------------------------------------------

    def _session(self) -> int:
        """The generation this session writes; the first write starts it by removing what a
        killed session left (its rows, and its marks on the rows it superseded)."""
        if self._writing is None:
            committed = self._read_state().gen
            for col in self._existing():
                col.delete(where={"gen": {"$gt": committed}})
                marked = col.get(
                    where={"$and": [{"gone": {"$gt": committed}}, {"gone": {"$lt": LIVE}}]},
                    include=[],
                )["ids"]
                for i in range(0, len(marked), _BATCH):
                    part = marked[i : i + _BATCH]
                    col.update(ids=part, metadatas=[{"gone": LIVE}] * len(part))
            self._writing = committed + 1
        self.changed = True
        return self._writing

    def _supersede(self, where: dict[str, Any], gen: int) -> None:
        """Mark the live rows that match as gone from generation `gen` on."""
        for col in self._existing():
            ids = col.get(where={"$and": [where, {"gone": LIVE}]}, include=[])["ids"]
            for i in range(0, len(ids), _BATCH):
                part = ids[i : i + _BATCH]
                col.update(ids=part, metadatas=[{"gone": gen}] * len(part))

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
        self._supersede({"source": record.source}, gen)
        limit = max(1, min(batch_size, self.client.get_max_batch_size()))
        col = self._collection("")
        for i in range(0, len(chunks), limit):
            part = chunks[i : i + limit]
            col.upsert(
                ids=[row_id(c.id, record) for c in part],
                documents=[c.text for c in part],
                embeddings=[list(v) for v in vectors[i : i + limit]],
                metadatas=[_chunk_metadata(c, record, gen) for c in part],
            )
        self._write_sentences(record, sentences, sentence_vectors, limit, gen)
        self._collection(_DOCS_SUFFIX).upsert(
            ids=[f"{record.source}\x00{record.doc_hash}"],
            documents=[record.title],
            embeddings=[[1.0]],
            metadatas=[{**asdict(record), "gen": gen, "gone": LIVE}],
        )
        every = self.checkpoint_s
        if every is not None and time.monotonic() - self._committed_at >= every:
            self.commit()

    def _write_sentences(
        self,
        record: DocumentRecord,
        sentences: Sequence[Sentence],
        vectors: Sequence[Sequence[float]],
        limit: int,
        gen: int,
    ) -> None:
        if not sentences:
            return
        col = self._collection(_SENTENCES_SUFFIX)
        for i in range(0, len(sentences), limit):
            part = sentences[i : i + limit]
            col.upsert(
                ids=[f"{row_id(s.chunk_id, record)}:{s.index}" for s in part],
                embeddings=[list(v) for v in vectors[i : i + limit]],
                metadatas=[
                    {"chunk_id": row_id(s.chunk_id, record), "source": record.source,
                     "doc_hash": record.doc_hash, "start": s.start, "end": s.end,
                     "gen": gen, "gone": LIVE}
                    for s in part
                ],
            )  # fmt: skip

    def remove_document(self, source: str) -> None:
        """Remove a document from this session's generation on."""
        self._supersede({"source": source}, self._session())

    def commit(self) -> bool:
        """Commit this session's generation (one record), then delete the rows that no state
        a question may still use can see; False when the session wrote nothing."""
        if self._writing is None:
            return False
        gen, self._writing = self._writing, None
        self._committed_at = time.monotonic()
        fingerprint = self._fingerprint(self._read_manifest(gen))
        state = {"gen": gen, "fingerprint": fingerprint}
        col = self._collection(_STATE_SUFFIX)
        col.upsert(ids=[_STATE_ID], embeddings=[[1.0]], metadatas=[state])
        for col in self._existing():
            col.delete(where={"gone": {"$lte": gen - self.gc_delay}})
        return True

    def rename(self, name: str) -> None:
        """Give this store's collections another name (a rebuilt store takes the old one's)."""
        for suffix in ("", _DOCS_SUFFIX, _SENTENCES_SUFFIX, _STATE_SUFFIX):
            col = self._get(self.name + suffix)
            if col is not None:
                col.modify(name=name + suffix)
        self.name = name
        self._vectorstores.clear()

    def reset(self) -> None:
        """Delete everything (for --rebuild)."""
        self.changed = True
        self._writing = None
        for suffix in ("", _DOCS_SUFFIX, _SENTENCES_SUFFIX, _STATE_SUFFIX):
            if self._get(self.name + suffix) is not None:
                self.client.delete_collection(self.name + suffix)

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
            if _visible(m, gen)
        ]
        return sorted(rows, key=lambda r: int(r[2]["ordinal"]))

    def sentence_vectors(self, chunks: Mapping[str, int]) -> dict[str, list[tuple[int, int, Any]]]:
        """(start, end, vector) of the sentences of each chunk (chunk id -> how many sentences it
        has) that has sentence vectors. Fetched by id: a `chunk_id` filter scans every
        sentence's metadata (41 ms a question at 100k chunks, measured)."""
        col = self._get(self.name + _SENTENCES_SUFFIX)
        if col is None or not chunks:
            return {}
        ids = [f"{chunk}:{i}" for chunk, count in chunks.items() for i in range(count)]
        got = col.get(ids=ids, include=["embeddings", "metadatas"])
        out: dict[str, list[tuple[int, int, Any]]] = {}
        for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
            out.setdefault(str(meta["chunk_id"]), []).append(
                (int(meta["start"]), int(meta["end"]), vector)
            )
        return out

    def committed_rows(self) -> tuple[list[str], list[str]]:
        """Ids and retrieval texts of every committed chunk, in document order."""
        col = self.chunk_collection
        gen = self.state().gen
        if col is None or gen == 0:
            return [], []
        expected = sum(d.chunks for d in self.documents().values())
        for _ in range(3):  # a Chroma server's writer may delete rows between our pages
            rows = self._all_rows(col, gen)
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

    @staticmethod
    def _all_rows(col: Any, gen: int) -> list[tuple[str, str, dict[str, Any]]]:
        """Every row of generation `gen`, a page at a time: one `get` of 100k rows fails in
        Chroma ("too many SQL variables"), and a `where` filter scans every row per page."""
        rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
        offset = 0
        while True:
            got = col.get(limit=_BATCH, offset=offset, include=["documents", "metadatas"])
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if _visible(m, gen):
                    rows[i] = (i, d, m)
            if len(got["ids"]) < _BATCH:
                return list(rows.values())
            offset += _BATCH


def _visible(meta: dict[str, Any], gen: int) -> bool:
    """Whether a row is in generation `gen` (the Python side of `live_at`)."""
    return int(meta.get("gen", 0)) <= gen < int(meta.get("gone", LIVE))


def row_id(chunk_id: str, record: DocumentRecord) -> str:
    """A chunk's row: its content id and its document's version (a new version with an
    identical chunk must not overwrite the row that questions of the old state still read)."""
    return f"{chunk_id}-{record.doc_hash[:10]}"


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
