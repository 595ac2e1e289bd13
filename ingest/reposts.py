"""Reposts: documents that carry the same article in another layout or under another byline.

Each document gets a MinHash signature of its character shingles at ingest (datasketch; the
layout and punctuation taken out first, so narrow columns and a repost's line breaks do not
count); documents whose estimated Jaccard similarity reaches REPOST_SIMILARITY are one group,
found with datasketch's LSH, and count as one source.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping

import numpy as np

from ingest.store import DocumentRecord

NUM_PERM = 64
SCHEME = "affine32"  # datasketch 2's default; its 32-bit values are what the record stores
SHINGLE = 5
# Measured: the fixture archive's repost (another layout, a byline, a dateline) scores 0.86 on
# the raw files, 1.0 for the zone article reflowed; the 256 CMRC passages and the zone article
# pairwise stay at or under 0.16, the fixture's articles on the same zone and topic under 0.4.
REPOST_SIMILARITY = 0.8
_KEPT = re.compile(r"[\w]+")  # letters, digits and CJK: what the article says, not its layout


def flat(text: str) -> str:
    """The text without its layout: line breaks, spaces and punctuation taken out."""
    return "".join(_KEPT.findall(text))


def _shingles(text: str) -> set[bytes]:
    kept = flat(text.lower())
    if len(kept) <= SHINGLE:
        return {kept.encode()} if kept else set()
    return {kept[i : i + SHINGLE].encode() for i in range(len(kept) - SHINGLE + 1)}


def signature(text: str) -> str:
    """The MinHash signature of a text, as a short string for the document record."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    minhash.update_batch(list(_shingles(text)))
    return base64.b64encode(minhash.hashvalues.astype("<u4").tobytes()).decode("ascii")


def _minhash(sig: str) -> object | None:
    from datasketch import MinHash

    try:
        values = np.frombuffer(base64.b64decode(sig, validate=True), dtype="<u4")
    except (ValueError, TypeError):
        return None
    if values.shape != (NUM_PERM,):
        return None
    return MinHash(num_perm=NUM_PERM, seed=1, hashvalues=values.astype(np.uint32), scheme=SCHEME)


def similarity(a: str, b: str) -> float:
    """The estimated Jaccard similarity of two signatures (0 when either is unreadable)."""
    ma, mb = _minhash(a), _minhash(b)
    if ma is None or mb is None:
        return 0.0
    return float(ma.jaccard(mb))  # type: ignore[attr-defined]


def repost_groups(
    signatures: Mapping[str, str], order: Iterable[str] | None = None
) -> dict[str, str]:
    """Each document that reposts another → the one counted as the source (the first in
    `order`, e.g. the earliest published); documents of no group are left out."""
    if len(signatures) < 2:  # nothing to group; spares a one-article base datasketch's import
        return {}  # (with scipy, 0.3 s of every cold `ask`)
    from datasketch import MinHashLSH

    ranked = list(order) if order is not None else sorted(signatures)
    ranked += [s for s in sorted(signatures) if s not in set(ranked)]
    lsh = MinHashLSH(threshold=REPOST_SIMILARITY, num_perm=NUM_PERM)
    hashes = {}
    for source in ranked:
        if source in signatures and (m := _minhash(signatures[source])) is not None:
            hashes[source] = m
            lsh.insert(source, m)
    position = {s: i for i, s in enumerate(ranked)}
    canonical: dict[str, str] = {}
    for source in ranked:
        if source not in hashes or source in canonical:
            continue
        # LSH proposes candidates; the estimate decides (LSH alone lets some lower pairs in).
        near = [
            s
            for s in lsh.query(hashes[source])
            if s != source and hashes[source].jaccard(hashes[s]) >= REPOST_SIMILARITY  # type: ignore[attr-defined]
        ]
        for other in sorted(near, key=position.__getitem__):
            if other not in canonical and position[other] > position[source]:
                canonical[other] = source
    return canonical


def reposts_of(records: Mapping[str, DocumentRecord]) -> dict[str, str]:
    """Each repost among the documents → its source: the earliest published (undated last),
    then the first by name."""
    order = sorted(records, key=lambda s: (not records[s].published, records[s].published, s))
    signatures = {s: r.signature for s, r in records.items() if r.signature}
    return repost_groups(signatures, order)
