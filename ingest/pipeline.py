"""Ingest files into the index incrementally: skip unchanged, replace changed, drop removed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest.chunk import Chunk, Sentence, chunk_document, chunk_sentences
from ingest.index import KnowledgeIndex
from ingest.load import PROFILE_FILE, LoadedFile, LoadError, ParseLimits, load_file
from ingest.normalize import normalize
from ingest.reposts import reposts_of, signature
from ingest.store import ChunkStore, DocumentRecord, retrieval_text, sentence_text
from ingest.text.dates import publication_date

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
    kept: str = ""  # why a rebuild left the old index as it was ('' when it did not)
    reposts: list[tuple[str, str]] = field(default_factory=list)  # (repost, its source)
    undated: list[str] = field(default_factory=list)  # written now, in a partly dated archive

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        """0 when everything ingested, 1 when some files failed, 2 when nothing could be done."""
        failed = self.count("failed")
        if self.kept:
            return 2
        if not failed:
            return 0
        return 2 if failed == len(self.outcomes) else 1

    def lines(self) -> list[str]:
        """The closing summary: one line per failure, then the totals."""
        out = [
            f"failed: {printable(o.source)}: {o.reason}"
            for o in self.outcomes
            if o.status == "failed"
        ]
        out += [
            f"repost: {printable(copy)} repeats {printable(first)}; "
            "answers count them as one source"
            for copy, first in self.reposts
        ]
        if self.undated:
            names = ", ".join(printable(s) for s in self.undated[:5])
            more = f" and {len(self.undated) - 5} more" if len(self.undated) > 5 else ""
            out.append(
                f"no date found for: {names}{more}; give `published` in its front matter or "
                "under [documents] in profile.toml"
            )
        counts = ", ".join(f"{self.count(s)} {s}" for s in STATUSES)
        out.append(f"files: {counts}; chunks written: {self.chunks_written}; {self.seconds:.1f}s")
        if self.kept:
            out.append(f"Error: nothing was rebuilt: {self.kept}")
        return out


def printable(name: str) -> str:
    """A file name as one line: control characters (a newline could fake a "failed:" line)
    shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in name)


@dataclass(frozen=True)
class IngestOptions:
    """How files become chunks: the knowledge folder, chunking, size limit, files to skip."""

    knowledge_dir: Path
    chunk_size: int
    chunk_overlap: int
    max_bytes: int
    exclude: tuple[Path, ...] = ()
    window: int = 512  # texts per embedding call
    sentence_vectors: bool = True  # also embed each sentence (for answer selection)
    limits: ParseLimits = ParseLimits()
    # What the knowledge folder's profile says of each file (published, outlet, title), by source.
    documents: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass
class _Pending:
    record: DocumentRecord
    chunks: list[Chunk]
    status: str
    sentences: list[Sentence]

    @cached_property
    def texts(self) -> list[str]:
        """What is embedded for this document: its chunks, then its sentences."""
        return embedded_texts(self.record.title, self.chunks, self.sentences)


def embedded_texts(title: str, chunks: Sequence[Chunk], sentences: Sequence[Sentence]) -> list[str]:
    """What ingest embeds for a document: each chunk under the title, then each sentence."""
    return [retrieval_text(title, c.text) for c in chunks] + [
        sentence_text(title, s.text) for s in sentences
    ]


def source_name(path: Path, knowledge_dir: Path) -> str:
    """A file's source id: its path under the knowledge folder, a link under its own name (so
    that deleting the link removes its document); a path outside the folder stays absolute."""
    where = Path(os.path.abspath(path))
    for folder in (Path(os.path.abspath(knowledge_dir)), _resolved(knowledge_dir)):
        if where.is_relative_to(folder):
            return where.relative_to(folder).as_posix()
    return _resolved(path).as_posix()


def outside_reason(path: Path, knowledge_dir: Path) -> str:
    """Why a file may not be indexed because of where it is ('' when it may): only files that
    lie inside the knowledge folder once links are resolved are read, so a link or a path
    argument cannot publish /etc/passwd or another folder's files in the public chat."""
    folder = _resolved(knowledge_dir)
    if _resolved(path).is_relative_to(folder):
        return ""
    if Path(source_name(path, knowledge_dir)).is_absolute():
        return f"outside the knowledge folder {knowledge_dir}; copy the file there to index it"
    return "a link that leads outside the knowledge folder; not indexed"


@dataclass
class Discovery:
    """What a scan of the given paths found: the files, the paths that failed, and the folders
    listed in full (only under those may a document be taken for deleted)."""

    files: list[Path] = field(default_factory=list)
    failures: list[FileOutcome] = field(default_factory=list)
    complete: list[Path] = field(default_factory=list)


def discover(paths: Sequence[Path], knowledge_dir: Path, exclude: Sequence[Path] = ()) -> Discovery:
    """Expand folders into files; hidden files, each folder's profile and `exclude` are left out,
    and a file outside the knowledge folder (a link out, a path argument) is a failure.

    A folder that cannot be listed in full, or that holds no file at all, is a failure and is
    not listed as complete: a read error or an emptied mount never reads as "every article was
    deleted".
    """
    skipped = {_resolved(p) for p in exclude}
    found = Discovery()
    for path in paths:
        if path.is_dir():
            skipped.add(_resolved(path / PROFILE_FILE))
            files, error = _walk(path, skipped)
            found.files.extend(files)
            if error:
                found.failures.append(FileOutcome(str(path), "failed", reason=error))
            elif not files:
                reason = "folder holds no articles; nothing was removed from the index"
                found.failures.append(FileOutcome(str(path), "failed", reason=reason))
            else:
                found.complete.append(path)
        elif path.exists():
            found.files.append(path)
        else:
            found.failures.append(FileOutcome(str(path), "failed", reason="no such file or folder"))
    inside = []
    for path in found.files:
        if reason := outside_reason(path, knowledge_dir):
            source = source_name(path, knowledge_dir)
            found.failures.append(FileOutcome(source, "failed", reason=reason))
        else:
            inside.append(path)
    found.files = inside
    return found


def _resolved(path: Path) -> Path:
    """The path with links resolved; a link loop or an unreadable link stays as given
    (absolute), so that the file fails on its own when loaded instead of ending the scan."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
        return path.absolute()


def _walk(folder: Path, skipped: set[Path]) -> tuple[list[Path], str]:
    """The visible files below folder, sorted, and the first listing error ('' if none).

    Written with os.walk because Path.rglob silently skips folders it cannot read.
    """
    errors: list[OSError] = []
    files = []
    for root, dirs, names in os.walk(folder, onerror=errors.append):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = Path(root) / name
            if not name.startswith(".") and _resolved(path) not in skipped:
                files.append(path)
    if errors:
        where = errors[0].filename or folder
        cause = errors[0].strerror or type(errors[0]).__name__
        return files, f"cannot read {where} ({cause}); nothing under it was removed from the index"
    return sorted(files), ""


def ingest_paths(
    index: KnowledgeIndex,
    embeddings: Embeddings,
    paths: Sequence[Path],
    options: IngestOptions,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    """Bring the index in line with the given files and folders; see the module docstring."""
    started = time.perf_counter()
    summary = IngestSummary()
    if rebuild:
        # A rebuild reads every file before it touches the index: when none can be indexed (a
        # mistyped path, an empty or unmounted folder, every file failing) the old index stays.
        found = discover(paths, options.knowledge_dir, options.exclude)
        pending, outcomes = _plan(found.files, {}, options)
        if not pending:
            summary.outcomes.extend([*found.failures, *outcomes])
            summary.kept = "no file could be indexed; the old index is kept as it was"
            summary.seconds = time.perf_counter() - started
            return summary
    with index.writing(fresh=rebuild) as store:
        if store.recorded_build() is not None:
            store.check_compatible(require_documents=False)
        manifest = store.documents()
        if not rebuild:
            found = discover(paths, options.knowledge_dir, options.exclude)
            pending, outcomes = _plan(found.files, manifest, options)
        summary.outcomes.extend([*found.failures, *outcomes])
        summary.chunks_written = _embed_and_write(
            store, embeddings, pending, options.window, progress
        )
        summary.outcomes.extend(
            FileOutcome(p.record.source, p.status, len(p.chunks)) for p in pending
        )
        present = {source_name(path, options.knowledge_dir) for path in found.files}
        for source in sorted(manifest):
            if source not in present and _gone(source, options.knowledge_dir, found.complete):
                store.remove_document(source)
                summary.outcomes.append(FileOutcome(source, "removed"))
                manifest.pop(source)
        _note_archive(summary, manifest, [p.record for p in pending])
        has_index = store.recorded_build() is not None
    if has_index:
        index.lexical()  # saved for the published state: no process segments it again
    summary.seconds = time.perf_counter() - started
    return summary


def _note_archive(
    summary: IngestSummary, manifest: dict[str, DocumentRecord], written: list[DocumentRecord]
) -> None:
    """Which of the documents just written repost another (or are reposted), and which have no
    date in an archive where others have one."""
    records = {**manifest, **{r.source: r for r in written}}
    new = {r.source for r in written}
    summary.reposts = [
        (copy, first) for copy, first in sorted(reposts_of(records).items()) if {copy, first} & new
    ]
    if any(r.published for r in records.values()):
        summary.undated = sorted(r.source for r in written if not r.published)


def _plan(
    files: Sequence[Path], manifest: dict[str, DocumentRecord], options: IngestOptions
) -> tuple[list[_Pending], list[FileOutcome]]:
    """Load, normalise and chunk each new or changed file; the rest end as outcomes."""
    seen_content: dict[str, str] = {}
    pending: list[_Pending] = []
    outcomes: list[FileOutcome] = []
    for path in files:
        source = source_name(path, options.knowledge_dir)
        try:
            loaded = load_file(path, options.max_bytes, options.limits)
        except Exception as exc:  # any failure of one file is that file's, never the run's
            outcomes.append(FileOutcome(source, "failed", reason=failure_reason(exc)))
            continue
        twin = seen_content.setdefault(loaded.raw_hash, source)
        known = manifest.get(source)
        if twin != source:
            outcomes.append(FileOutcome(source, "failed", reason=f"same content as {twin}"))
        elif (
            known is not None
            and known.content_hash == loaded.raw_hash
            and known.described == described_key(source, options)
        ):
            outcomes.append(FileOutcome(source, "unchanged", chunks=known.chunks))
        else:
            try:
                item = _chunked(path, source, loaded, options)
            except Exception as exc:
                outcomes.append(FileOutcome(source, "failed", reason=failure_reason(exc)))
                continue
            if item is None:
                outcomes.append(FileOutcome(source, "failed", reason="no sentences found"))
            else:
                record, chunks = item
                sentences = (
                    [s for c in chunks for s in chunk_sentences(c)]
                    if options.sentence_vectors
                    else []
                )
                pending.append(_Pending(record, chunks, "updated" if known else "added", sentences))
    return pending, outcomes


def failure_reason(exc: Exception) -> str:
    """One line for a file that failed: a LoadError says why; anything else is named (and
    logged with its traceback, as it is a case the loader should learn to say plainly)."""
    if isinstance(exc, LoadError):
        return str(exc)
    logger.debug("loading failed", exc_info=exc)
    first = str(exc).strip().splitlines()
    detail = f": {first[0][:120]}" if first else ""
    return f"cannot be read ({type(exc).__name__}{detail})"


def _chunked(
    path: Path, source: str, loaded: LoadedFile, options: IngestOptions
) -> tuple[DocumentRecord, list[Chunk]] | None:
    """The document record and chunks of a loaded file, None when it has no sentences."""
    doc = normalize(loaded.text, loaded.metadata.get("title"), loaded.metadata.get("subtitle"))
    chunks = chunk_document(doc, source, options.chunk_size, options.chunk_overlap)
    if not chunks:
        return None
    described = options.documents.get(source, {})
    said = described_key(source, options)
    published, dated_by = publication_date(described, loaded.metadata, loaded.text)
    record = DocumentRecord(
        source=source,
        doc_hash=hashlib.sha1(f"{source}\x00{loaded.raw_hash}{said}".encode()).hexdigest()[:20],
        content_hash=loaded.raw_hash,
        title=described.get("title") or doc.title or path.stem,
        chunks=len(chunks),
        ingested_at=time.time(),
        published=published,
        dated_by=dated_by,
        outlet=described.get("outlet") or loaded.metadata.get("outlet", ""),
        signature=signature(doc.text),
        described=said,
    )
    return record, chunks


def described_key(source: str, options: IngestOptions) -> str:
    """What the profile says of a document, as a key ('' for nothing): a date entered later
    re-ingests the file, so that its record carries it."""
    described = options.documents.get(source)
    if not described:
        return ""
    said = json.dumps(dict(described), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(said.encode()).hexdigest()[:16]


def _gone(source: str, knowledge_dir: Path, folders: Iterable[Path]) -> bool:
    """The source's file is known to be deleted: under a folder listed in full, and absent.
    A document from outside the folder (a link retargeted, or indexed before links were
    checked) is taken for gone on any ingest: it must not stay answerable."""
    path = knowledge_dir / source
    if outside_reason(path, knowledge_dir):
        return True
    if not any(_resolved(path).is_relative_to(_resolved(f)) for f in folders):
        return False
    try:
        path.lstat()
    except FileNotFoundError:
        return True
    except OSError:  # unreadable is not gone
        return False
    return False


def _embed_and_write(
    store: ChunkStore,
    embeddings: Embeddings,
    pending: list[_Pending],
    window: int,
    progress: Progress | None,
) -> int:
    """Embed in windows that span documents; commit each document once all its texts are in."""
    from tqdm import tqdm

    texts = [t for p in pending for t in p.texts]
    if not texts:
        return 0
    buffer: list[list[float]] = []  # vectors of documents not yet written
    embedded = written = 0
    docs = iter(pending)
    current = next(docs, None)
    with tqdm(total=len(texts), desc="embedding", unit="text", disable=None) as bar:
        # A window of a few hundred texts per call lets sentence-transformers sort them by length
        # (little padding, close to raw encode speed) while progress and commits stay frequent.
        for start in range(0, len(texts), window):
            batch = embeddings.embed_documents(texts[start : start + window])
            buffer.extend(batch)
            embedded += len(batch)
            bar.update(len(batch))
            if progress is not None:
                progress(embedded, len(texts), "embedding")
            while current is not None and len(current.texts) <= len(buffer):
                n, c = len(current.texts), len(current.chunks)
                store.write_document(
                    current.record, current.chunks, buffer[:c], current.sentences, buffer[c:n]
                )
                del buffer[:n]
                written += c
                current = next(docs, None)
    return written
