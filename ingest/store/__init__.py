"""The store in Chroma, by job: the client (`client`), what an index was built with (`build`),
which rows a question sees and how a session commits (`versions`), the document list
(`documents`), sentence vectors (`sentences`) and the chunks that hold them together
(`chunks`). What the rest of the code uses is named here."""

from ingest.store.build import SCHEMA_VERSION, BuildRecord
from ingest.store.chunks import ChunkStore, retrieval_text
from ingest.store.client import ChromaClient, open_embedded, open_server
from ingest.store.documents import DocumentRecord
from ingest.store.sentences import sentence_text
from ingest.store.versions import LIVE, State, live_at, row_id

__all__ = [
    "LIVE",
    "SCHEMA_VERSION",
    "BuildRecord",
    "ChromaClient",
    "ChunkStore",
    "DocumentRecord",
    "State",
    "live_at",
    "open_embedded",
    "open_server",
    "retrieval_text",
    "row_id",
    "sentence_text",
]
