"""The Chroma client the store talks to, typed by what the store uses of it, and how one is
opened (a server's, or an embedded folder's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ingest.errors import ChromaUnavailableError

# Chroma's own types (chromadb.api.ClientAPI, Collection) are classes of one backend each and
# their results are TypedDicts of optional lists; these protocols name the calls the store
# makes, so that a fake or another backend can stand in and mypy checks the store's use.
Where = Mapping[str, Any]


class Collection(Protocol):
    """A Chroma collection, as the store uses it."""

    name: str
    metadata: Mapping[str, Any] | None

    def count(self) -> int:
        """How many rows it holds."""

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        limit: int | None = None,
        offset: int | None = None,
        include: Sequence[str] = ...,
    ) -> Any:
        """Rows by id or filter: {'ids': [...], 'metadatas': [...], ...}."""

    def query(self, query_embeddings: Any, n_results: int = 10) -> Any:
        """The rows nearest to each vector."""

    def upsert(self, ids: Sequence[str], **rows: Any) -> None:
        """Write rows (embeddings, documents, metadatas) by id."""

    def update(self, ids: Sequence[str], **rows: Any) -> None:
        """Change rows' metadata by id."""

    def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        """Delete rows by id or filter."""

    def modify(self, name: str | None = None) -> None:
        """Rename the collection."""


class ChromaClient(Protocol):
    """A Chroma client (embedded or a server's), as the store uses it."""

    def get_collection(self, name: str) -> Collection:
        """The named collection (raises when there is none)."""

    def get_or_create_collection(self, name: str, **options: Any) -> Collection:
        """The named collection, created with these options when missing."""

    def delete_collection(self, name: str) -> None:
        """Delete the named collection and its rows."""

    def list_collections(self) -> Sequence[Any]:
        """Every collection of the client."""

    def get_max_batch_size(self) -> int:
        """The most rows one write may carry."""


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def open_server(host: str, port: int) -> ChromaClient:
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
    return client  # type: ignore[return-value]  # chromadb's ClientAPI has these calls


def open_embedded(path: Path) -> ChromaClient:
    """A client of the embedded Chroma store in this folder (created if missing)."""
    import chromadb

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())  # type: ignore[return-value]


def find(client: ChromaClient, name: str) -> Collection | None:
    """The named collection, or None when there is none."""
    try:
        return client.get_collection(name)
    except Exception:  # chromadb raises NotFoundError/ValueError depending on the backend
        return None


DOCUMENTS = "__documents"
SENTENCES = "__sentences"
STATE = "__state"


class Collections:
    """The collections of one store, by suffix of its name: the chunks (''), the document list,
    the sentence vectors and the state record."""

    ROWS = ("", DOCUMENTS, SENTENCES)  # the ones holding generation rows
    ALL = (*ROWS, STATE)

    def __init__(self, client: ChromaClient, name: str) -> None:
        self.client = client
        self.name = name

    def find(self, suffix: str = "") -> Collection | None:
        """The collection of this suffix, or None when there is none."""
        return find(self.client, self.name + suffix)

    def create(self, suffix: str, **options: Any) -> Collection:
        """The collection, created with these options when missing (no embedding function:
        the store gives every vector itself)."""
        return self.client.get_or_create_collection(
            self.name + suffix, embedding_function=None, **options
        )

    def with_rows(self) -> list[Collection]:
        """The existing collections that hold generation rows."""
        return [c for c in (self.find(s) for s in self.ROWS) if c is not None]

    def rename(self, name: str) -> None:
        """Give every collection of the store another name (a rebuilt store takes the old
        one's)."""
        for suffix in self.ALL:
            col = self.find(suffix)
            if col is not None:
                col.modify(name=name + suffix)
        self.name = name

    def delete(self) -> None:
        """Delete every collection of the store."""
        for suffix in self.ALL:
            if self.find(suffix) is not None:
                self.client.delete_collection(self.name + suffix)
