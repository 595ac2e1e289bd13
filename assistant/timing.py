"""Per-stage timings of a question, recorded only when a benchmark asks (otherwise a no-op)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[dict[str, float] | None] = ContextVar("stage-timings", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Collect the milliseconds spent in each stage of what runs inside (stages may nest)."""
    timings: dict[str, float] = {}
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the time spent inside to `name`, when something is recording."""
    timings = _current.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + (time.perf_counter() - started) * 1000
