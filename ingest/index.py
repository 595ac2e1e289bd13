"""The knowledge index: the Chroma store (chunks and manifest) and the lexical index built from it.

A document becomes visible only when its manifest record is written, after all of its chunks:
queries filter chunks by the committed document hashes, so they never see half a document, and
chunks left behind by a killed ingest are invisible until the next run collects them.
"""

from __future__ import annotations

from pathlib import Path

from ingest.lexical import LexicalIndex, LexicalStore
from ingest.store import ChunkStore


class KnowledgeIndex:
    """One collection's store and the BM25 index that matches its committed documents."""

    def __init__(self, store: ChunkStore, lexical_dir: Path) -> None:
        self.store = store
        self.lexical_store = LexicalStore(lexical_dir)

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the committed documents: in memory, loaded, or rebuilt from Chroma."""
        return self.lexical_store.get(self.store.fingerprint(), self.store.committed_rows)

    def reset(self) -> None:
        """Delete everything (for --rebuild)."""
        self.store.reset()
        self.lexical_store.reset()
