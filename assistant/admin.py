"""Knowledge-base administration behind the admin tab: list, upload, delete and re-index articles.

No Gradio here: the tab in `assistant/web/admin_tab.py` checks the password and calls these methods.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.settings import Settings
from ingest.index import KnowledgeIndex
from ingest.load import SUPPORTED_EXTENSIONS, LoadError, load_file
from ingest.pipeline import IngestSummary, Progress, source_name
from ingest.reposts import reposts_of

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^\w\-]+")  # \w is Unicode-aware: Chinese names stay readable
TABLE_HEADERS = ["source", "title", "published", "repost of", "chunks", "last ingest"]

# App.ingest: (paths or None for the knowledge folder, progress=...) -> IngestSummary
Ingest = Callable[..., IngestSummary]


class UploadRejectedError(ValueError):
    """An uploaded file cannot be accepted; the message says why."""


def safe_filename(name: str) -> str:
    """A safe file name for an upload: base name only, allowed characters, a supported extension.

    '../../etc/passwd.txt' → 'passwd.txt'; '.hidden.md' → 'hidden.md'; 'a b?.TXT' → 'a_b.txt'.
    """
    base = PurePosixPath(unicodedata.normalize("NFC", name).replace("\\", "/")).name
    stem, dot, ext = base.rpartition(".")
    suffix = f".{ext.lower()}" if dot else ""
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UploadRejectedError(
            f"unsupported file type {suffix or '(none)'}; "
            f"allowed: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    clean = _UNSAFE.sub("_", stem).strip("._-")[:MAX_NAME_CHARS] or "upload"
    return clean + suffix


@dataclass(frozen=True)
class Staged:
    """An accepted upload copied into the knowledge folder, with what it replaced (if anything)."""

    target: Path
    previous: bytes | None


class UploadJournal:
    """The uploads being copied and ingested, kept on disk until they are settled: a server
    stopped in between left files in the folder unindexed, and nobody was told.

    `folder/journal.jsonl` holds one line per upload; `folder/N.previous` the version an
    upload replaced, so that a failed one can be put back after a restart too.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lines = folder / "journal.jsonl"

    def add(self, target: Path, previous: bytes | None) -> None:
        """Record an upload about to be copied to `target` over `previous` (None: a new file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self._entries())
        backup = ""
        if previous is not None:
            backup = f"{number}.previous"
            (self.folder / backup).write_bytes(previous)
        with self.lines.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"target": str(target), "previous": backup}) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def pending(self) -> list[Staged]:
        """The uploads that were copied into the folder and never settled."""
        staged = []
        for entry in self._entries():
            target = Path(entry["target"])
            backup = self.folder / entry["previous"] if entry["previous"] else None
            previous = backup.read_bytes() if backup is not None and backup.is_file() else None
            if target.is_file():  # a stop before the copy left nothing to finish
                staged.append(Staged(target, previous))
        return staged

    def clear(self) -> None:
        """Forget every upload (all settled)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _entries(self) -> list[dict[str, str]]:
        try:
            text = self.lines.read_text(encoding="utf-8")
        except OSError:
            return []
        entries = []
        for line in text.splitlines():
            try:  # a stop in the middle of a line leaves a partial last one
                entry = json.loads(line)
                entries.append({"target": str(entry["target"]), "previous": str(entry["previous"])})
            except (ValueError, KeyError, TypeError):
                continue
        return entries


class KnowledgeAdmin:
    """List, upload, delete and re-index the articles of one knowledge folder and index."""

    def __init__(self, settings: Settings, index: KnowledgeIndex, ingest: Ingest) -> None:
        self.settings = settings
        self.index = index
        self.ingest = ingest
        self._lock = threading.Lock()  # one change to the knowledge base at a time
        self._journal = UploadJournal(settings.data_dir / "uploads-pending")

    @property
    def max_bytes(self) -> int:
        """The upload size limit in bytes (settings.max_file_mb)."""
        return self.settings.max_file_bytes

    def rows(self) -> list[list[Any]]:
        """One row per committed article: source, title, date ('?' unknown), the article it
        reposts, chunks, last ingest time."""
        docs = self.index.store.documents()
        reposts = reposts_of(docs)
        return [
            [
                d.source,
                d.title,
                d.published or "?",
                reposts.get(d.source, ""),
                d.chunks,
                datetime.fromtimestamp(d.ingested_at).strftime("%Y-%m-%d %H:%M:%S"),
            ]
            for d in sorted(docs.values(), key=lambda d: d.source)
        ]

    def sources(self) -> list[str]:
        """The sources of the committed articles, sorted."""
        return sorted(self.index.store.documents())

    # --- upload ------------------------------------------------------------------------------

    def upload(self, files: Sequence[Path], progress: Progress | None = None) -> list[str]:
        """Check, copy into the knowledge folder and ingest uploaded files; one message per file.

        A rejected file changes nothing; a file that fails to ingest is removed again (or the
        version it replaced is put back), so a bad upload never costs an existing article.
        """
        if not files:
            return ["no files uploaded"]
        with self._lock:
            messages = self._finish_pending()  # an earlier upload that failed midway
            staged: list[Staged] = []
            taken: set[str] = set()
            for path in files:
                try:
                    staged.append(self._stage(Path(path), taken))
                except UploadRejectedError as exc:
                    messages.append(f"rejected: {Path(path).name}: {exc}")
            if staged:
                summary = self.ingest([s.target for s in staged], progress=progress)
                messages += self._settle(staged, summary)
            self._journal.clear()
            return messages

    def recover(self) -> list[str]:
        """Finish the uploads a stopped server had copied into the folder but not settled
        (ingested, or the failed ones taken out again); one message each, also logged."""
        with self._lock:
            return self._finish_pending()

    def _finish_pending(self) -> list[str]:
        staged = self._journal.pending()
        messages = []
        if staged:
            summary = self.ingest([s.target for s in staged])
            messages = [
                f"finished an upload interrupted by a stop: {m}"
                for m in self._settle(staged, summary)
            ]
            for message in messages:
                logger.warning("%s", message)
        self._journal.clear()
        return messages

    def _stage(self, upload: Path, taken: set[str]) -> Staged:
        name = safe_filename(upload.name)
        if name in taken:
            raise UploadRejectedError(f"another upload is also named {name}")
        if not upload.is_file():
            raise UploadRejectedError("not a file")
        size = upload.stat().st_size
        if size > self.max_bytes:
            raise UploadRejectedError(
                f"file is {size / 1e6:.1f} MB, over the {self.settings.max_file_mb:g} MB limit"
            )
        try:
            loaded = load_file(upload, self.max_bytes, self.settings.parse_limits)
        except LoadError as exc:
            raise UploadRejectedError(str(exc)) from None
        except Exception as exc:  # a parser bug must not take the other uploads down
            logger.exception("cannot read upload %s", upload.name)
            raise UploadRejectedError(f"cannot read file ({type(exc).__name__})") from None
        folder = self.settings.knowledge_dir.resolve()
        target = folder / name
        if target.parent != folder:
            raise UploadRejectedError("invalid file name")
        for doc in self.index.store.documents().values():
            if doc.content_hash == loaded.raw_hash and doc.source != name:
                raise UploadRejectedError(
                    f"same content as {doc.source}, already in the knowledge base"
                )
        previous = target.read_bytes() if target.is_file() else None
        self._journal.add(target, previous)  # before the copy: a stop after it is finished
        _atomic_copy(upload, target)
        taken.add(name)
        return Staged(target, previous)

    def _settle(self, staged: list[Staged], summary: IngestSummary) -> list[str]:
        folder = self.settings.knowledge_dir
        outcomes = {o.source: o for o in summary.outcomes}
        messages = []
        for item in staged:
            source = source_name(item.target, folder)
            outcome = outcomes.get(source)
            if outcome is not None and outcome.status != "failed":
                messages.append(f"{outcome.status}: {source} ({outcome.chunks} chunks)")
                continue
            reason = outcome.reason if outcome is not None else "not ingested"
            if item.previous is None:
                item.target.unlink(missing_ok=True)
            else:
                item.target.write_bytes(item.previous)
            messages.append(f"rejected: {source}: {reason}")
        logger.info("upload: %s", "; ".join(messages))
        return messages

    # --- delete and re-index -----------------------------------------------------------------

    def delete(self, source: str) -> str:
        """Remove an article from the index and its file from the knowledge folder."""
        with self._lock:
            if not source or source not in self.index.store.documents():
                return f"not found: {source or '(nothing selected)'}"
            with self.index.writing() as store:
                store.remove_document(source)
            # The file under its own name (a link is removed, not what it points to).
            folder = Path(os.path.abspath(self.settings.knowledge_dir))
            path = Path(os.path.abspath(folder / source))
            if path.is_relative_to(folder) and (path.is_file() or path.is_symlink()):
                path.unlink()
                note = "file deleted"
            else:
                note = "file outside the knowledge folder left in place"
            self.index.lexical()
            logger.info("deleted %s (%s)", source, note)
            return f"deleted: {source} ({note})"

    def reindex(self, progress: Progress | None = None, rebuild: bool = False) -> list[str]:
        """Bring the index in line with the knowledge folder (unchanged files are skipped), or
        with `rebuild` embed everything again (questions read the previous state meanwhile)."""
        with self._lock:
            summary = self.ingest(None, rebuild=rebuild, progress=progress)
            return summary.lines()


def _atomic_copy(source: Path, target: Path) -> None:
    """Copy via a hidden temp file in the target folder (ingest skips dot files), then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while block := src.read(1 << 20):
                out.write(block)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
