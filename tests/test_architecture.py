"""The shape of the code, as tests: dependencies point one way, one composition root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("ingest", "assistant", "eval")
# What each layer may import of ours: ingest <- assistant <- eval, and the CLI on top.
ALLOWED = {
    "ingest": {"ingest"},
    "assistant": {"ingest", "assistant"},
    "eval": {"ingest", "assistant", "eval"},
}
TOP = "assistant/cli.py"  # the one module that may import every layer


def modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def our_imports(path: Path) -> set[str]:
    """The top-level packages of ours that a module imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in LAYERS}
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dependencies_point_one_way(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    layer = rel.split("/")[0]
    if rel == TOP:
        return
    assert our_imports(path) <= ALLOWED[layer], f"{rel} imports {our_imports(path)}"


def calls_of(path: Path, names: set[str]) -> list[str]:
    """Calls in a module of functions or classes with one of these names."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in names:
                out.append(name)
    return out


# Who may construct the heavy parts: the composition root, and the loaders it calls.
CONSTRUCTORS = {
    "PersistentClient": {"ingest/store.py"},
    "HttpClient": {"ingest/store.py"},
    "EphemeralClient": {"assistant/app.py"},
    "open_server": {"assistant/app.py"},
    "Generations": {"assistant/app.py"},
    "SentenceTransformer": {"assistant/embeddings.py"},
    "CrossEncoder": {"assistant/embeddings.py"},
    "SentenceTransformerEmbeddings": {"assistant/embeddings.py"},
    "E5Embeddings": {"assistant/embeddings.py"},
    "CrossEncoderScorer": {"assistant/app.py"},
    "ExtractiveAnswerer": {"assistant/app.py"},
    "LLMAnswerer": {"assistant/app.py"},
    "ChatClient": {"assistant/app.py"},
    "KnowledgeIndex": {"assistant/app.py"},
    "Assistant": {"assistant/app.py"},
    "KnowledgeAdmin": {"assistant/app.py"},
}


def test_one_composition_root_constructs_models_clients_and_answerers() -> None:
    found: dict[str, set[str]] = {}
    for path in modules():
        rel = path.relative_to(ROOT).as_posix()
        for name in calls_of(path, set(CONSTRUCTORS)):
            found.setdefault(name, set()).add(rel)
    for name, places in found.items():
        assert places <= CONSTRUCTORS[name], f"{name} is constructed in {sorted(places)}"


def test_no_corpus_names_in_the_code() -> None:
    """The knowledge base describes itself (knowledge/profile.toml); the code names no corpus."""
    words = ("Qingdao", "青岛", "中电光谷", "开投集团", "辛安")
    for path in modules():
        text = path.read_text(encoding="utf-8")
        assert not [w for w in words if w in text], path.relative_to(ROOT)
