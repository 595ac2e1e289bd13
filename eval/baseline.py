"""The textbook LangChain pipeline the report compares with: split, embed, dense top-k, top chunk.

Built as the tutorials build it, so the comparison is fair: RecursiveCharacterTextSplitter with
its default separators over each file's text (front matter stripped by ingest.load), the same
embedding model as the assistant, an in-memory Chroma through langchain-chroma, dense top-k only
(k = settings.k), and the top chunk's text as the answer. It never refuses, and a follow-up is
searched as asked (the tutorial version has no question rewriting). Its one citation is the top
chunk, so its records go through the same metrics as the assistant's.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from assistant.schema import Answer, Citation, Context
from assistant.settings import Settings
from eval.errors import EvalError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
DESCRIPTION = (
    f"RecursiveCharacterTextSplitter({CHUNK_SIZE}/{CHUNK_OVERLAP}) + dense Chroma top-k, "
    "top chunk as answer"
)


class TextbookPipeline:
    """Dense top-k over RecursiveCharacterTextSplitter chunks; answers with the top chunk."""

    def __init__(self, store: Any, k: int, chunks: int, kept: bool = False) -> None:
        self.store = store
        self.k = k
        self.chunks = chunks
        self.kept = kept  # a collection kept for the next run over the same passages

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """The top chunk as the answer (history is ignored, as in the tutorial)."""
        started = time.perf_counter()
        docs = self.store.similarity_search(question, k=self.k)
        contexts = [
            Context(
                chunk_id=str(d.id),
                source=str(d.metadata.get("source", "")),
                text=d.page_content,
                score=0.0,
            )
            for d in docs
        ]
        top = contexts[0] if contexts else None
        citations = (
            [Citation(n=1, chunk_id=top.chunk_id, source=top.source, quote=top.text)] if top else []
        )
        return Answer(
            question=question,
            answer=top.text if top else "",
            refused=False,
            citations=citations,
            contexts=contexts,
            latency_ms=(time.perf_counter() - started) * 1000,
            standalone_question=question,
        )

    def close(self) -> None:
        """Drop the collection, unless it is kept for the next run."""
        if not self.kept:
            self.store.delete_collection()


def split_documents(documents: Sequence[Document]) -> list[Document]:
    """The tutorial's splitter with its default separators."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return splitter.split_documents(list(documents))


def load_documents(settings: Settings) -> list[Document]:
    """Each readable file of the knowledge folder as a LangChain document, front matter stripped."""
    from ingest.load import LoadError, load_file
    from ingest.pipeline import discover, source_name

    folder = settings.knowledge_dir
    files = discover([folder], folder, [settings.profile_path]).files
    documents = []
    for path in files:
        try:
            loaded = load_file(path, settings.max_file_bytes)
        except LoadError as exc:
            logger.info("textbook baseline skips %s: %s", path, exc)
            continue
        source = source_name(path, settings.knowledge_dir)
        documents.append(Document(page_content=loaded.text, metadata={"source": source}))
    return documents


def build_textbook(
    settings: Settings, client: Any, embeddings: Embeddings, keep: bool = False
) -> TextbookPipeline:
    """Split and embed the knowledge folder into a collection of `client`: a fresh one, or with
    `keep` one named by the chunks and the model, re-used when a run over the same passages
    already embedded them (the open-book sets share their passages; embedding them is most of
    the baseline's time)."""
    from langchain_chroma import Chroma

    documents = load_documents(settings)
    if not documents:
        raise EvalError(
            f"no readable files in {settings.knowledge_dir} for the textbook baseline; "
            "set ASSISTANT_KNOWLEDGE_DIR"
        )
    chunks = split_documents(documents)
    # Deterministic ids (Chroma would make random ones) keep two reports identical.
    ids = [f"textbook-{i:03d}" for i in range(len(chunks))]
    if keep:
        digest = hashlib.sha256(settings.embedding_model.encode())
        for chunk in chunks:
            digest.update(b"\0" + chunk.metadata["source"].encode() + b"\0")
            digest.update(chunk.page_content.encode())
        name = f"textbook-{digest.hexdigest()[:16]}"
    else:
        name = f"textbook-{uuid.uuid4().hex[:12]}"
    store = Chroma(collection_name=name, embedding_function=embeddings, client=client)
    if sorted(store.get(include=[])["ids"]) != ids:
        store.reset_collection()  # none yet, or one a killed run left half written
        store.add_documents(chunks, ids=ids)
    return TextbookPipeline(store, settings.k, len(chunks), kept=keep)
