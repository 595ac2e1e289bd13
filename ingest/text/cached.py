"""Tables derived from a packaged dictionary file, kept beside the process: as marshal files
when a process needs all of a table, as SQLite tables when it looks up a few keys.

Written here (not a library) because what is kept is plain dicts and lists that marshal reads
whole in a tenth of the time it takes to derive them again. The source is a data file of an
installed package, so the file is named after the package's release and the source's size:
every install of that release shares it, and a new release is derived anew.
"""

from __future__ import annotations

import logging
import marshal
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def cached(
    cache_dir: Path | None,
    name: str,
    source: Path,
    release: str,
    build: Callable[[], Any],
    valid: Callable[[Any], bool],
) -> Any:
    """`build()`, kept in `cache_dir` as a marshal file named after `name`, `source` and the
    `release` that ships it (kept_path)."""
    if cache_dir is None:
        return build()
    cache = kept_path(cache_dir, name, source, release, ".marshal")
    value = load_whole(cache)
    # A damaged file can still load as some other value: anything but what `build` makes is
    # rebuilt (a dictionary cache that loaded as an int took every question down).
    if valid(value):
        return value
    if cache.exists():
        logger.warning("the cache %s is damaged; rebuilding it", cache)
    value = build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(value))
        os.replace(tmp, cache)
        _drop_others(cache, name)
    except OSError as exc:  # a read-only folder still answers
        logger.info("cannot keep %s in %s: %s", name, cache_dir, exc)
    return value


def kept_path(cache_dir: Path, name: str, source: Path, release: str, suffix: str) -> Path:
    """Where a table derived from `source`, a data file of the package release `release`, is
    kept: named after both. Not after the file's time, which every install sets anew: each new
    environment (each fresh clone's) left another copy of every table behind."""
    return cache_dir / f"{name}-{release}-{source.stat().st_size}{suffix}"


def _drop_others(kept: Path, name: str) -> None:
    """Remove the copies of `name` that other releases (or the time-named files of earlier
    versions of this code) left beside `kept`."""
    for other in kept.parent.glob(f"{name}-*{kept.suffix}"):
        if other != kept:
            other.unlink(missing_ok=True)


def load_whole(path: Path) -> Any:
    """The value marshalled in `path`, or None when it is missing or unreadable.

    Read whole, then loaded: marshal.load on an open file reads it in small pieces (jieba's
    9 MB dictionary cache took 0.48 s that way here, 0.15 s read whole).
    """
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def kept_table(
    cache_dir: Path,
    name: str,
    source: Path,
    release: str,
    columns: Sequence[str],
    build: Callable[[], tuple[Iterable[tuple[Any, ...]], Mapping[str, int]]],
) -> Path | None:
    """A SQLite table `entries (word TEXT PRIMARY KEY, *columns)` derived from `source`, kept
    in `cache_dir` beside the marshal files (named like them), made when missing or damaged.

    `build()` gives the rows and a few whole-table figures (`about`, read back with
    `table_about`). None when the table cannot be written: the caller loads the whole table.
    """
    path = kept_path(cache_dir, name, source, release, ".sqlite")
    try:
        with closing(_read_only(path)) as db:
            if db.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
                return path
    except sqlite3.Error:
        if path.exists():
            logger.warning("the table %s is damaged; making it again", path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        rows, about = build()
        with closing(sqlite3.connect(tmp)) as db:
            defined = ", ".join(("word TEXT PRIMARY KEY", *columns))
            db.execute(f"CREATE TABLE entries ({defined}) WITHOUT ROWID")
            marks = ",".join("?" * (len(columns) + 1))
            db.executemany(f"INSERT INTO entries VALUES ({marks})", rows)
            db.execute("CREATE TABLE about (name TEXT PRIMARY KEY, value INTEGER)")
            db.executemany("INSERT INTO about VALUES (?, ?)", about.items())
            db.commit()
        os.replace(tmp, path)
        _drop_others(path, name)
    except (OSError, sqlite3.Error) as exc:
        logger.info("cannot keep %s as a table in %s: %s", name, cache_dir, exc)
        tmp.unlink(missing_ok=True)
        return None
    return path


def table_about(path: Path) -> dict[str, int]:
    """The whole-table figures a kept table was made with (kept_table's `about`)."""
    with closing(_read_only(path)) as db:
        return dict(db.execute("SELECT name, value FROM about"))


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


_ABSENT = object()
# A key read from a kept table took 10 µs here, loading all of jieba's 500k words 0.32 s
# (measured): past this many reads (0.2 s of them), a process loads the whole table instead.
WHOLE_AFTER = 20_000


def settled(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """The whole mapping a TableLookup has loaded, else the table itself: what its holder may
    keep from then on, at a plain dict's speed."""
    if isinstance(table, TableLookup) and table.loaded is not None:
        return table.loaded
    return table


class TableLookup(Mapping[str, Any]):
    """One column of a kept table as a mapping read a key at a time, each key once.

    Written here because a question looks up a few hundred of a dictionary's 500k words, and
    loading them all took 0.2-0.3 s of every cold question (jieba's words and their tags,
    measured). A row whose column is NULL is no key. After `whole_after` reads, or when the
    file fails, the whole mapping comes from `whole()` and answers from then on (`loaded`):
    a process that cuts whole articles reads the file no longer than loading would take.
    """

    def __init__(
        self,
        path: Path,
        column: str,
        whole: Callable[[], Mapping[str, Any]],
        whole_after: int = WHOLE_AFTER,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        self.path = path
        self._decode = decode
        self.loaded: Mapping[str, Any] | None = None
        self.reads = 0
        self._sql = f"SELECT {column} FROM entries WHERE word = ?"
        self._whole = whole
        self._whole_after = whole_after
        self._seen: dict[str, Any] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        """The key's value, or `default` (the lookup that jieba and posseg make)."""
        value = self._seen.get(key, _ABSENT)
        if value is _ABSENT:
            value = self._read(key)
        return default if value is None else value

    def _read(self, key: str) -> Any:
        if self.loaded is not None:
            return self.loaded.get(key)
        with self._lock:
            if self.loaded is None and self.reads < self._whole_after:
                try:
                    if self._db is None:
                        self._db = _read_only(self.path)
                    row = self._db.execute(self._sql, (key,)).fetchone()
                except sqlite3.Error as exc:
                    logger.warning("cannot read %s (%s); loading the whole table", self.path, exc)
                else:
                    self.reads += 1
                    value = None if row is None or row[0] is None else row[0]
                    if value is not None and self._decode is not None:
                        value = self._decode(value)
                    self._seen[key] = value
                    return value
            return self._load_whole().get(key)

    def _load_whole(self) -> Mapping[str, Any]:
        """The whole mapping, loaded once (the caller holds the lock)."""
        if self.loaded is None:
            self.loaded = self._whole()
            if self._db is not None:
                self._db.close()
        return self.loaded

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _ABSENT) is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(self._load_whole())

    def __len__(self) -> int:
        with self._lock:
            return len(self._load_whole())
