"""The document list: one row per ingested version of a source, versioned like the chunks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ingest.store.build import BuildRecord
from ingest.store.client import DOCUMENTS, Collections
from ingest.store.versions import LIVE, live_at


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


def fingerprint(documents: dict[str, DocumentRecord], build: BuildRecord) -> str:
    """Changes whenever a document is added, changed or removed, or the build changes."""
    state = sorted((d.source, d.doc_hash) for d in documents.values())
    blob = json.dumps([state, sorted(build.metadata().items())], ensure_ascii=False)
    return hashlib.sha1(blob.encode()).hexdigest()


class DocumentList:
    """The documents of each committed generation (the latest one read is kept)."""

    def __init__(self, collections: Collections) -> None:
        self.collections = collections
        self._read: dict[int, dict[str, DocumentRecord]] = {}

    def at(self, gen: int) -> dict[str, DocumentRecord]:
        """The documents of committed generation `gen`, by source."""
        if gen not in self._read:
            self._read = {gen: self.read(gen)}
        return dict(self._read[gen])

    def read(self, gen: int) -> dict[str, DocumentRecord]:
        """The documents of generation `gen`, read from the store (also an uncommitted one)."""
        docs = self.collections.find(DOCUMENTS)
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

    def write(self, record: DocumentRecord, gen: int) -> None:
        """Add a document's version to generation `gen`."""
        self.collections.create(DOCUMENTS).upsert(
            ids=[f"{record.source}\x00{record.doc_hash}"],
            documents=[record.title],
            embeddings=[[1.0]],
            metadatas=[{**asdict(record), "gen": gen, "gone": LIVE}],
        )
