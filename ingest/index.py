"""The knowledge index: the Chroma store (chunks and manifest) and the lexical index built from it.

Two ways to keep it, one interface:
- embedded (the default): writes go to a master store that only the writer opens, and readers
  answer from published copies (ingest/generations.py), so an ingest in another process never
  breaks a running server and every question sees one finished state;
- a Chroma server (CHROMA_HOST): every process reads and writes the server's collections in
  place; each write session is a generation that becomes visible at once when its state record
  is written, and a question admits only the rows of the generation it started with.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ingest.errors import ChromaUnavailableError, NoIndexError, StoreDamagedError
from ingest.generations import Generation, Generations, writer_lock
from ingest.lexical import LexicalIndex, LexicalStore
from ingest.store import BuildRecord, ChromaClient, ChunkStore

logger = logging.getLogger(__name__)

Opener = Callable[[Path], Any]
REBUILD_SUFFIX = "-rebuild"  # a server rebuild's collections until they replace the live ones


class KnowledgeIndex:
    """One collection's store and the BM25 index that matches its committed documents."""

    # How often an embedded writer commits the documents it has written to its master (which
    # no reader opens: questions still see only what is published at the end). A killed first
    # ingest of a large folder kept nothing and re-embedded every file; now it loses at most
    # this much work, for one small commit per interval.
    checkpoint_s: float = 10.0

    def __init__(
        self,
        name: str,
        build: BuildRecord,
        lexical_dir: Path,
        *,
        client: ChromaClient | None = None,
        generations: Generations | None = None,
    ) -> None:
        if (client is None) == (generations is None):
            raise ValueError("give either a Chroma server client or the published generations")
        self.name = name
        self.build = build
        self.lexical_store = LexicalStore(lexical_dir)
        self.generations = generations
        # On a server, questions may still be pinned to the state before a session: its
        # superseded rows are kept one session longer.
        self._server = ChunkStore(client, name, build, gc_delay=1) if client is not None else None
        self._pinned: ContextVar[ChunkStore | None] = ContextVar(f"store-{id(self)}", default=None)
        if generations is not None:
            generations.warmer = self._warm

    # --- reading -------------------------------------------------------------------------------

    @property
    def store(self) -> ChunkStore:
        """The store of the question under way, else the latest published one."""
        pinned = self._pinned.get()
        if pinned is not None:
            return pinned
        with self._session() as store:
            return store

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One committed state for everything inside (one question), even if an ingest
        publishes meanwhile."""
        if self._pinned.get() is not None:
            yield
            return
        with self._reachable(), self._session() as store, store.pinned():
            token = self._pinned.set(store)
            try:
                yield
            finally:
                self._pinned.reset(token)

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A Chroma server that stops answering is one line, not a traceback; the next
        question reaches it again once it is back."""
        try:
            yield
        except Exception as exc:
            if self._server is None or not type(exc).__module__.startswith(("httpx", "httpcore")):
                raise
            raise ChromaUnavailableError(
                f"cannot reach the Chroma server ({type(exc).__name__}); check that it runs "
                "(chroma run ...) and try again"
            ) from None

    @contextmanager
    def _session(self) -> Iterator[ChunkStore]:
        if self._server is not None:
            with self._reachable():
                yield self._server
            return
        assert self.generations is not None
        if self.generations.current_name() is None:
            self._publish_existing_master()
        with ExitStack() as stack:
            try:
                gen = stack.enter_context(self.generations.session())
            except StoreDamagedError:
                if not self._republish():
                    raise
                gen = stack.enter_context(self.generations.session())
            if gen is None:
                raise NoIndexError("no index yet; run: zone-assistant ingest")
            yield self._published_store(gen)

    def _published_store(self, gen: Generation) -> ChunkStore:
        store = gen.cache.get("store")
        if store is None:
            store = gen.cache["store"] = ChunkStore(
                gen.client, self.name, self.build, published=True
            )
        return store

    def _warm(self, client: Any) -> None:
        """Load a new generation's indexes before questions are answered from it."""
        ChunkStore(client, self.name, self.build, published=True).warm_up()

    def _publish_existing_master(self) -> None:
        """A master written before generations existed (or by a killed writer) is published."""
        assert self.generations is not None
        if not (self.generations.master / "chroma.sqlite3").is_file():
            return
        with self.generations.writer_lock():
            if self.generations.current_name() is None:
                self.generations.adopt(self.generations.publish())

    def _republish(self) -> bool:
        """A published copy that is damaged or missing is published again from the master
        when the master opens (only a copy was lost: no re-embedding); False when it does not."""
        gens = self.generations
        assert gens is not None
        damaged = gens.current_name()
        try:
            with gens.writer_lock():
                if gens.current_name() != damaged:
                    return True  # another process has published meanwhile
                try:
                    client = gens.opener(gens.master)
                except Exception:
                    return False
                try:
                    committed = str(ChunkStore(client, self.name, self.build).state().gen)
                finally:
                    client.close()
                logger.warning("the published index %s is damaged; publishing it again", damaged)
                gens.adopt(gens.publish(tag=committed))
        except OSError:  # a reader that may not write the data folder
            return False
        return True

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the committed documents: in memory, loaded, or rebuilt from Chroma."""
        store = self.store
        return self.lexical_store.get(store.fingerprint(), store.committed_rows)

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def writing(self, fresh: bool = False) -> Iterator[ChunkStore]:
        """The store to write (one writer at a time), published when the block ends.

        `fresh` starts from an empty store (ingest --rebuild) written beside the old master,
        which is not even opened (a damaged one can be replaced) and stays until the new one
        is committed.
        """
        if self._server is not None:
            # Two sessions on one server would pick the same next generation: one writer at a
            # time among the processes sharing this data folder (one machine; see the README).
            lock = self.lexical_store.folder.parent / "server-writer.lock"
            with writer_lock(lock), self._reachable():
                if not fresh:
                    yield self._server
                    self._server.commit()
                    return
                # A rebuild writes collections of their own beside the live ones, which serve
                # questions meanwhile and stay if it fails; once it has committed, the old ones
                # are deleted and the new ones take their name (questions in that instant find
                # no collection and look again: ingest/store/chunks.py `similar`).
                staging = ChunkStore(self._server.client, self.name + REBUILD_SUFFIX,
                                     self.build)  # fmt: skip
                staging.reset()  # what a failed rebuild left
                yield staging
                staging.commit()
                self._server.reset()
                staging.rename(self.name)
            return
        gens = self.generations
        assert gens is not None
        with gens.writer_lock():
            gens.recover_master()
            # A rebuild writes a new master beside the old one and replaces it only once it is
            # committed: a rebuild that fails or is killed leaves the old index as it was.
            target = gens.rebuild_path if fresh else gens.master
            if fresh:
                shutil.rmtree(target, ignore_errors=True)
            client = _open_master(gens, target)
            store = ChunkStore(client, self.name, self.build, checkpoint_s=self.checkpoint_s)
            done = False
            try:
                yield store
                store.commit()  # not reached when the block fails: the session is discarded
                if not store.changed:
                    # A session's first write tidies what a killed writer left (Versions.session);
                    # one that wrote nothing may still publish the master, so it tidies here.
                    store.tidy()
                committed = str(store.state().gen)
                done = True
            finally:
                client.close()
                if fresh and not done:
                    shutil.rmtree(target, ignore_errors=True)
            if fresh:
                gens.replace_master(target)
                self.lexical_store.reset()
            # Also when this session changed nothing but the master holds a state that was never
            # published (a writer killed between its commit and its publish).
            if store.changed or gens.published_tag() != committed:
                gens.adopt(gens.publish(tag=committed))

    def close(self) -> None:
        """Close the open generations (tests, shutdown)."""
        if self.generations is not None:
            self.generations.close()


def _open_master(gens: Generations, path: Path) -> Any:
    try:
        return gens.opener(path)
    except NoIndexError:
        raise
    except Exception as exc:
        raise StoreDamagedError(
            f"the index in {path} cannot be opened ({type(exc).__name__}); "
            "rebuild it with: zone-assistant ingest --rebuild"
        ) from None
