"""Tables derived from a packaged dictionary file, kept as marshal files beside the process.

Written here (not a library) because what is kept is plain dicts and lists that marshal reads
whole in a tenth of the time it takes to derive them again; the file is named after the
source's size and time, so a new dictionary release is derived anew.
"""

from __future__ import annotations

import logging
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def cached(
    cache_dir: Path | None,
    name: str,
    source: Path,
    build: Callable[[], Any],
    valid: Callable[[Any], bool],
) -> Any:
    """`build()`, kept in `cache_dir` as a marshal file named after `name` and `source`."""
    if cache_dir is None:
        return build()
    cache = kept_path(cache_dir, name, source, ".marshal")
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
    except OSError as exc:  # a read-only folder still answers
        logger.info("cannot keep %s in %s: %s", name, cache_dir, exc)
    return value


def kept_path(cache_dir: Path, name: str, source: Path, suffix: str) -> Path:
    """Where a table derived from `source` is kept: named after the source's size and time, so
    that a new release of it is derived anew."""
    stat = source.stat()
    return cache_dir / f"{name}-{stat.st_size}-{stat.st_mtime_ns}{suffix}"


def load_whole(path: Path) -> Any:
    """The value marshalled in `path`, or None when it is missing or unreadable.

    Read whole, then loaded: marshal.load on an open file reads it in small pieces (jieba's
    9 MB dictionary cache took 0.48 s that way here, 0.15 s read whole).
    """
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
