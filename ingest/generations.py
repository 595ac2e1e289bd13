"""Published generations of the embedded Chroma store: one writer, any number of reading processes.

Embedded Chroma is not safe to share between a writing process and a reading one: a reader keeps
a vector index in memory that another process's writes make stale (every filtered query then fails
with "Error finding id" until it restarts), and reopening while a write is under way can crash
the reader and damage the store (measured). So:

    data/chroma/                 the master store: only the writer ever opens it
    data/published/CURRENT       the name of the published generation, replaced with os.replace
    data/published/writer.lock   flock: one writer at a time (any process)
    data/published/locks/G.lock  readers hold a shared flock while they have generation G open
    data/published/gens/G/       a copy of the master taken after a finished write; never written
                                 by a writer again (readers write bookkeeping rows on open)

A writer locks, writes to the master, closes it, copies it to a new generation (the master is
quiescent: nobody else opens it), makes it durable and publishes it. A reader checks CURRENT per
question (a stat) and answers each question from one generation; it opens a new generation when
one is published, warming it in the background when it already has one to answer from, and
closes the old one once no question uses it. A killed writer never publishes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ingest.errors import StoreDamagedError, UserError

logger = logging.getLogger(__name__)

_GEN = re.compile(r"^gen-(\d{6})$")
_TAG = "published-state"  # in a generation: the master's committed state it was copied from
# A retired generation is closed once no question uses it and it has been retired this long, so
# that a caller that read the store outside a question is not left with a closed client.
RETIRE_GRACE_S = 30.0
KEEP = 2  # generations kept on disk besides those readers still hold

Opener = Callable[[Path], Any]
Warmer = Callable[[Any], None]


def _fsync(path: Path | str) -> None:
    """Make a file's (or a folder's entries') content durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _lock_file(path: Path) -> Any:
    """A generation's lock file, opened for flock: created if need be, else opened read-only
    (flock needs no write access, so a reader without write access to the data folder reads)."""
    try:
        return path.open("a+", encoding="utf-8")
    except PermissionError:
        return path.open("r", encoding="utf-8")


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created with its folder), waiting for the holder if any:
    one writer at a time among the processes of this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("another ingest is writing the index; waiting for it to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            _fsync(os.path.join(folder, name))


def _pointer_key(root: Path) -> tuple[int, int] | None:
    """Changes with every publish (os.replace gives CURRENT a new inode)."""
    try:
        stat = os.stat(root / "CURRENT")
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


@dataclass
class Generation:
    """An open published generation: its client and the shared lock that keeps it on disk."""

    name: str
    client: Any
    lock: IO[str]
    inflight: int = 0
    retired_at: float | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # objects made for this generation


@dataclass
class _Pointer:
    key: tuple[int, int] | None = None
    current: Generation | None = None
    warming: str | None = None
    retired: list[Generation] = field(default_factory=list)


class Generations:
    """The published generations under `root`, built from the master store at `master`."""

    def __init__(self, root: Path, master: Path, opener: Opener, warmer: Warmer | None = None):
        self.root = root
        self.master = master
        self.opener = opener
        self.warmer = warmer
        self._mu = threading.Lock()
        self._state = _Pointer()

    # --- reading -------------------------------------------------------------------------------

    def current_name(self) -> str | None:
        """The published generation's name, or None before the first publish. A damaged
        pointer (not a generation's name) falls back to the newest complete generation, which
        is what it pointed at unless the damage came in the middle of a publish."""
        try:
            name = (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            name = ""
        if _GEN.fullmatch(name):
            return name
        gens = self.root / "gens"
        names = (
            sorted(p.name for p in gens.iterdir() if _GEN.fullmatch(p.name))
            if gens.is_dir()
            else []
        )
        logger.warning(
            "%s is damaged; answering from %s", self.root / "CURRENT", names[-1:] or "nothing"
        )
        return names[-1] if names else None

    @contextmanager
    def session(self) -> Iterator[Generation | None]:
        """One generation for everything inside (one question); None when nothing is published."""
        with self._mu:
            gen = self._refresh()
            if gen is not None:
                gen.inflight += 1
        try:
            yield gen
        finally:
            if gen is not None:
                with self._mu:
                    gen.inflight -= 1
                    self._close_retired()

    def _refresh(self) -> Generation | None:
        """The generation to answer from; called with the lock held."""
        state = self._state
        key = _pointer_key(self.root)
        if key == state.key and state.current is not None:
            return state.current
        name = self.current_name()
        if name is None:
            return None
        if state.current is not None and name == state.current.name:
            state.key = key
            return state.current
        if state.current is None or self.warmer is None:
            self._swap(self._open_current(name), key)  # nothing to answer from meanwhile
        elif state.warming != name:
            state.warming = name
            threading.Thread(target=self._warm, args=(name, key), daemon=True).start()
        return state.current

    def _warm(self, name: str, key: tuple[int, int] | None) -> None:
        """Open and warm a new generation, then answer from it (the old one serves meanwhile)."""
        try:
            gen = self._open(name)
            if self.warmer is not None:
                self.warmer(gen.client)
        except Exception:
            logger.exception("cannot open the published generation %s; still using the old", name)
            with self._mu:
                self._state.warming = None
            return
        with self._mu:
            if self._state.warming == name:
                self._swap(gen, key)
                self._state.warming = None
            else:
                self._close(gen)

    def adopt(self, name: str) -> None:
        """Answer from `name` at once (this process just published it), warmed first."""
        gen = self._open_current(name)
        if self.warmer is not None:
            self.warmer(gen.client)
        with self._mu:
            key = _pointer_key(self.root)
            if self._state.current is not None and self._state.current.name == name:
                self._close(gen)
                return
            self._swap(gen, key)
            self._state.warming = None

    def _swap(self, gen: Generation, key: tuple[int, int] | None) -> None:
        state = self._state
        if state.current is not None:
            state.current.retired_at = time.monotonic()
            state.retired.append(state.current)
        state.current, state.key = gen, key
        logger.info("answering from published generation %s", gen.name)

    def _open_current(self, name: str) -> Generation:
        """Open the published generation; re-read CURRENT if a writer replaced it meanwhile."""
        for _ in range(3):
            try:
                return self._open(name)
            except StoreDamagedError:
                if (self.current_name() or name) == name:
                    raise
                name = self.current_name() or name
        return self._open(name)

    def _open(self, name: str) -> Generation:
        lock = _lock_file(self.root / "locks" / f"{name}.lock")
        fcntl.flock(lock, fcntl.LOCK_SH)  # the writer's clean-up leaves it alone from now on
        path = self.root / "gens" / name
        if not path.is_dir():
            lock.close()
            raise StoreDamagedError(
                f"the published index {path} is missing; rebuild it with: "
                "zone-assistant ingest --rebuild"
            )
        try:
            return Generation(name, self.opener(path), lock)
        except Exception as exc:
            lock.close()
            if not _writable(path):  # Chroma opens its files for writing, even to read
                raise UserError(
                    f"cannot open the index in {path}: this user cannot write there; "
                    "check the permissions of ASSISTANT_DATA_DIR"
                ) from None
            raise StoreDamagedError(
                f"the published index {path} cannot be opened ({type(exc).__name__}); "
                "rebuild it with: zone-assistant ingest --rebuild"
            ) from None

    def _close_retired(self) -> None:
        now = time.monotonic()
        for gen in list(self._state.retired):
            if gen.inflight == 0 and now - (gen.retired_at or now) >= RETIRE_GRACE_S:
                self._state.retired.remove(gen)
                self._close(gen)

    def _close(self, gen: Generation) -> None:
        try:
            gen.client.close()
        except Exception:  # closing is best effort; the lock release below matters more
            logger.warning("closing generation %s failed", gen.name, exc_info=True)
        gen.lock.close()

    def close(self) -> None:
        """Close every open generation (tests, shutdown)."""
        with self._mu:
            state = self._state
            for gen in [*state.retired, *([state.current] if state.current else [])]:
                self._close(gen)
            self._state = _Pointer()

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time, across processes (waits for a running one)."""
        with writer_lock(self.root / "writer.lock"):
            yield

    def published_tag(self) -> str | None:
        """The tag the published generation was published with (None: none, or untagged)."""
        name = self.current_name()
        try:
            return (self.root / "gens" / name / _TAG).read_text(encoding="utf-8") if name else None
        except (OSError, UnicodeDecodeError):
            return None

    def publish(self, tag: str = "") -> str:
        """Copy the (closed) master to a new generation and publish it, tagged (the master's
        committed state); call under the lock."""
        gens, locks = self.root / "gens", self.root / "locks"
        gens.mkdir(parents=True, exist_ok=True)
        locks.mkdir(exist_ok=True)
        numbers = [int(m.group(1)) for p in gens.iterdir() if (m := _GEN.match(p.name))]
        name = f"gen-{max(numbers, default=0) + 1:06d}"
        tmp = gens / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.perf_counter()
        shutil.copytree(self.master, tmp)
        (tmp / _TAG).write_text(tag, encoding="utf-8")
        _fsync_tree(tmp)
        os.rename(tmp, gens / name)
        _fsync(gens)
        pointer = self.root / "CURRENT.tmp"
        with pointer.open("w", encoding="utf-8") as out:
            out.write(name + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(pointer, self.root / "CURRENT")
        _fsync(self.root)
        logger.info("published %s in %.2fs", name, time.perf_counter() - started)
        self.collect(name)
        return name

    def collect(self, current: str) -> int:
        """Delete generations no reader holds, keeping the newest KEEP; return how many went."""
        gens = self.root / "gens"
        for leftover in gens.glob("*.tmp"):  # a killed writer's copy
            shutil.rmtree(leftover, ignore_errors=True)
        names = sorted(p.name for p in gens.iterdir() if _GEN.match(p.name))
        removed = 0
        for name in names[:-KEEP]:
            if name != current and self._remove_unused(name):
                removed += 1
        return removed

    def _remove_unused(self, name: str) -> bool:
        path = self.root / "locks" / f"{name}.lock"
        with path.open("a+", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a reader still answers from it; a later writer retries
            shutil.rmtree(self.root / "gens" / name, ignore_errors=True)
            path.unlink(missing_ok=True)
        return True

    @property
    def rebuild_path(self) -> Path:
        """Where a rebuild writes its new master, beside the old one."""
        return self.master.with_name(self.master.name + ".rebuild")

    @property
    def _old_path(self) -> Path:
        return self.master.with_name(self.master.name + ".old")

    def replace_master(self, new: Path) -> None:
        """Make the (closed, committed) store at `new` the master; call under the lock.
        Two renames: a writer killed between them leaves the old master at `.old`, which
        recover_master puts back."""
        old = self._old_path
        shutil.rmtree(old, ignore_errors=True)
        if self.master.exists():
            os.rename(self.master, old)
        os.rename(new, self.master)
        _fsync(self.master.parent)
        shutil.rmtree(old, ignore_errors=True)

    def recover_master(self) -> None:
        """Put back a master that a killed replace_master left aside; call under the lock."""
        if not self.master.exists() and self._old_path.exists():
            logger.warning("restoring the index a rebuild was replacing: %s", self.master)
            os.rename(self._old_path, self.master)
