"""What an index was built with: recorded on its chunk collection, compared at every open."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ingest.text.sentences import SEGMENTATION

SCHEMA_VERSION = 3  # the store's row layout (ingest/store/versions.py)


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    """The settings that make vectors and chunks incomparable when they change."""

    embedding_model: str
    embedding_backend: str = ""
    sentence_vectors: bool = True
    chunk_size: int
    chunk_overlap: int
    segmentation: int = SEGMENTATION
    schema_version: int = SCHEMA_VERSION

    def metadata(self) -> dict[str, Any]:
        """As Chroma stores it on the chunk collection."""
        return asdict(self)

    def differences(self, recorded: Mapping[str, Any]) -> list[str]:
        """ "key='recorded' (now 'this')" for every setting the recorded build had otherwise."""
        return [
            f"{key}={recorded.get(key)!r} (now {value!r})"
            for key, value in self.metadata().items()
            if recorded.get(key) != value
        ]
