"""Ingest files into the index incrementally: skip unchanged, replace changed, drop removed."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest.chunk import Chunk, chunk_document
from ingest.index import DocumentRecord, KnowledgeIndex, retrieval_text
from ingest.load import LoadError, load_file
from ingest.normalize import normalize

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
STATUSES = ("added", "updated", "unchanged", "removed", "failed")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    source: str
    status: str
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestSummary:
    """Counts per status, chunks written and time taken; exit_code follows the CLI contract."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        """0 when everything ingested, 1 when some files failed, 2 when nothing could be done."""
        failed = self.count("failed")
        if not failed:
            return 0
        return 2 if failed == len(self.outcomes) else 1

    def lines(self) -> list[str]:
        """The closing summary: one line per failure, then the totals."""
        out = [f"failed: {o.source}: {o.reason}" for o in self.outcomes if o.status == "failed"]
        counts = ", ".join(f"{self.count(s)} {s}" for s in STATUSES)
        out.append(f"files: {counts}; chunks written: {self.chunks_written}; {self.seconds:.1f}s")
        return out


@dataclass(frozen=True)
class _Pending:
    record: DocumentRecord
    chunks: list[Chunk]
    status: str


def source_name(path: Path, knowledge_dir: Path) -> str:
    """A file's source id: its path under the knowledge folder, else its absolute path."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(knowledge_dir.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[FileOutcome], list[Path]]:
    """Expand folders into files; return (files, failures for missing paths, scanned folders)."""
    files: list[Path] = []
    failures: list[FileOutcome] = []
    folders: list[Path] = []
    for path in paths:
        if path.is_dir():
            folders.append(path)
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.exists():
            files.append(path)
        else:
            failures.append(FileOutcome(str(path), "failed", reason="no such file or folder"))
    return files, failures, folders


def ingest_paths(
    index: KnowledgeIndex,
    embeddings: Embeddings,
    paths: Sequence[Path],
    knowledge_dir: Path,
    chunk_size: int,
    chunk_overlap: int,
    max_bytes: int,
    rebuild: bool = False,
    window: int = 512,
    progress: Progress | None = None,
) -> IngestSummary:
    """Bring the index in line with the given files and folders; see the module docstring."""
    started = time.perf_counter()
    summary = IngestSummary()
    if rebuild:
        index.reset()
    elif index.recorded_build() is not None:
        index.check_compatible(require_documents=False)
    files, failures, folders = discover(paths)
    summary.outcomes.extend(failures)
    manifest = index.documents()
    seen_content: dict[str, str] = {}
    pending: list[_Pending] = []
    present: set[str] = set()
    for path in files:
        source = source_name(path, knowledge_dir)
        present.add(source)
        try:
            loaded = load_file(path, max_bytes)
        except LoadError as exc:
            summary.outcomes.append(FileOutcome(source, "failed", reason=str(exc)))
            continue
        twin = seen_content.get(loaded.raw_hash)
        if twin is not None:
            summary.outcomes.append(FileOutcome(source, "failed", reason=f"same content as {twin}"))
            continue
        seen_content[loaded.raw_hash] = source
        known = manifest.get(source)
        if known is not None and known.content_hash == loaded.raw_hash:
            summary.outcomes.append(FileOutcome(source, "unchanged", chunks=known.chunks))
            continue
        doc = normalize(loaded.text, loaded.metadata.get("title"), loaded.metadata.get("subtitle"))
        chunks = chunk_document(doc, source, chunk_size, chunk_overlap)
        if not chunks:
            summary.outcomes.append(FileOutcome(source, "failed", reason="no sentences found"))
            continue
        record = DocumentRecord(
            source=source,
            doc_hash=hashlib.sha1(f"{source}\x00{loaded.raw_hash}".encode()).hexdigest()[:20],
            content_hash=loaded.raw_hash,
            title=doc.title or path.stem,
            chunks=len(chunks),
            ingested_at=time.time(),
        )
        pending.append(_Pending(record, chunks, "updated" if known else "added"))

    summary.chunks_written = _embed_and_write(index, embeddings, pending, window, progress)
    summary.outcomes.extend(FileOutcome(p.record.source, p.status, len(p.chunks)) for p in pending)

    for source in sorted(manifest):
        if source not in present and _under(source, knowledge_dir, folders):
            index.remove_document(source)
            summary.outcomes.append(FileOutcome(source, "removed"))
    removed_orphans = index.collect_garbage()
    if removed_orphans:
        logger.info("deleted %d chunks left by an interrupted ingest", removed_orphans)
    if index.recorded_build() is not None:
        index.lexical()
    summary.seconds = time.perf_counter() - started
    return summary


def _under(source: str, knowledge_dir: Path, folders: Iterable[Path]) -> bool:
    path = (knowledge_dir / source).resolve()
    return any(path.is_relative_to(f.resolve()) for f in folders)


def _embed_and_write(
    index: KnowledgeIndex,
    embeddings: Embeddings,
    pending: list[_Pending],
    window: int,
    progress: Progress | None,
) -> int:
    """Embed chunks in windows that span documents; commit each document once all are in."""
    from tqdm import tqdm

    total = sum(len(p.chunks) for p in pending)
    if not total:
        return 0
    texts = [retrieval_text(p.record.title, c.text) for p in pending for c in p.chunks]
    buffer: list[list[float]] = []  # vectors of documents not yet written
    embedded = written = 0
    docs = iter(pending)
    current = next(docs, None)
    with tqdm(total=total, desc="embedding", unit="chunk", disable=None) as bar:
        # A window of a few hundred texts per call lets sentence-transformers sort them by length
        # (little padding, close to raw encode speed) while progress and commits stay frequent.
        for start in range(0, total, window):
            batch = embeddings.embed_documents(texts[start : start + window])
            buffer.extend(batch)
            embedded += len(batch)
            bar.update(len(batch))
            if progress is not None:
                progress(embedded, total, "embedding")
            while current is not None and len(current.chunks) <= len(buffer):
                n = len(current.chunks)
                index.write_document(current.record, current.chunks, buffer[:n])
                del buffer[:n]
                written += n
                current = next(docs, None)
    return written
