"""Generations of rows: which rows a question may see, and how a write session commits.

Every write session is a generation: its rows carry `gen` (the session that wrote them) and
`gone` (the session that superseded or removed them; LIVE until then), and one state record
names the committed generation G and its fingerprint. A question reads that one record and
admits the rows with gen <= G < gone: a constant-size filter, whatever the number of
documents, and one committed state for the whole question, old or new, never a mix. A killed
session never commits: the next one deletes its rows and un-supersedes what it marked.

Why this and published copies (ingest/generations.py) both: on a Chroma server, readers and the
writer share one set of rows, so versions must live in the rows; an embedded store is a SQLite
folder that another process must not read while it is written, so readers open finished copies,
each holding one committed generation (no filter needed, `published`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ingest.store.client import STATE, Collection, Collections

LIVE = 2**62  # `gone` of a row that no committed generation has superseded
BATCH = 5000  # rows per get/update call
_STATE_ID = "state"


@dataclass(frozen=True)
class State:
    """A committed generation and the fingerprint of its documents (0: nothing committed)."""

    gen: int
    fingerprint: str


def live_at(gen: int) -> dict[str, Any]:
    """The `where` filter of the rows visible in generation `gen`."""
    return {"$and": [{"gen": {"$lte": gen}}, {"gone": {"$gt": gen}}]}


def visible(meta: Any, gen: int) -> bool:
    """Whether a row is in generation `gen` (the Python side of `live_at`)."""
    return int(meta.get("gen", 0)) <= gen < int(meta.get("gone", LIVE))


def row_id(chunk_id: str, doc_hash: str) -> str:
    """A chunk's row: its content id and its document's version (a new version with an
    identical chunk must not overwrite the row that questions of the old state still read)."""
    return f"{chunk_id}-{doc_hash[:10]}"


class Versions:
    """The committed state of a store's collections, and the generation a session writes.

    A `published` store is a finished copy no one writes: its state is read once. `gc_delay`
    keeps superseded rows for that many more sessions, for questions still pinned to the state
    before (a Chroma server: readers and the writer share the rows).
    """

    def __init__(
        self, collections: Collections, published: bool, gc_delay: int, empty: str
    ) -> None:
        self.collections = collections
        self.empty = empty  # the fingerprint of a store with nothing committed
        self.published = published
        self.gc_delay = gc_delay
        self.writing: int | None = None  # the generation being written
        self._state: State | None = None  # a published store's (it never changes)
        self._pinned: ContextVar[State | None] = ContextVar(f"pinned-{id(self)}", default=None)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One committed state for everything inside (one question), even if a session
        commits meanwhile; a Chroma server's is read here, once."""
        if self._pinned.get() is not None:
            yield
            return
        token = self._pinned.set(self.read())
        try:
            yield
        finally:
            self._pinned.reset(token)

    def state(self) -> State:
        """The committed state (the pinned one inside `pinned()`)."""
        return self._pinned.get() or self.read()

    def read(self) -> State:
        """The committed state as the store holds it now."""
        if self.published and self._state is not None:
            return self._state
        col = self.collections.find(STATE)
        got = col.get(ids=[_STATE_ID], include=["metadatas"]) if col is not None else None
        meta = (got["metadatas"] or [None])[0] if got and got["ids"] else None
        state = State(int(meta["gen"]), str(meta["fingerprint"])) if meta else State(0, self.empty)
        if self.published:
            self._state = state
        return state

    def session(self) -> int:
        """The generation this session writes; the first write starts it by tidying what a
        killed session left."""
        if self.writing is None:
            self.writing = self.tidy() + 1
        return self.writing

    def tidy(self) -> int:
        """Remove what a killed session left and return the committed generation: its rows,
        its marks on the rows it superseded, and the rows its commit had recorded as gone but
        not yet deleted (killed between the two steps of `commit`: a copy of the store taken
        then would show them to every question)."""
        committed = self.read().gen
        for col in self.collections.with_rows():
            col.delete(where={"gen": {"$gt": committed}})
            marked = col.get(
                where={"$and": [{"gone": {"$gt": committed}}, {"gone": {"$lt": LIVE}}]},
                include=[],
            )["ids"]
            for i in range(0, len(marked), BATCH):
                part = marked[i : i + BATCH]
                col.update(ids=part, metadatas=[{"gone": LIVE}] * len(part))
            self._collect(col, committed)
        return committed

    def supersede(self, where: dict[str, Any], gen: int) -> None:
        """Mark the live rows that match as gone from generation `gen` on."""
        for col in self.collections.with_rows():
            ids = col.get(where={"$and": [where, {"gone": LIVE}]}, include=[])["ids"]
            for i in range(0, len(ids), BATCH):
                part = ids[i : i + BATCH]
                col.update(ids=part, metadatas=[{"gone": gen}] * len(part))

    def commit(self, gen: int, fingerprint: str) -> None:
        """Record `gen` as committed (one record), then delete the rows that no state a
        question may still use can see."""
        self.writing = None
        state = {"gen": gen, "fingerprint": fingerprint}
        self.collections.create(STATE).upsert(
            ids=[_STATE_ID], embeddings=[[1.0]], metadatas=[state]
        )
        for col in self.collections.with_rows():
            self._collect(col, gen)

    def _collect(self, col: Collection, committed: int) -> None:
        """Delete the rows that no state a question may still use can see."""
        col.delete(where={"gone": {"$lte": committed - self.gc_delay}})
