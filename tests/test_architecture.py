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
    "PersistentClient": {"ingest/store/client.py"},
    "HttpClient": {"ingest/store/client.py"},
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


# The rooms of assistant/ and what each may import of assistant (besides ingest): answering
# knows nothing of models' servers or the web; the generative path builds on answering; the
# web on both. Top-level modules are shared (schema, errors, ...), except the composition root
# and the CLI, the only ones that reach into every room.
SHARED = {"schema", "errors", "timing", "settings", "profile", "admin", "briefing", "embeddings"}
ROOMS = {
    "answering": {"answering", "schema", "errors", "timing"},
    "llm": {"llm", "answering", "schema", "errors", "timing"},
    "web": {"web", "answering", "llm", "app"} | SHARED,
}
ROOTS = {"assistant/app.py", "assistant/cli.py", "assistant/__main__.py"}


def assistant_imports(path: Path) -> set[str]:
    """The parts of assistant a module imports: a room, or a top-level module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("assistant.")
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "assistant":
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize(
    "path", sorted((ROOT / "assistant").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_rooms_of_assistant_import_one_way(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    parts = rel.split("/")
    imported = assistant_imports(path)
    if len(parts) > 2:  # inside a room
        assert imported <= ROOMS[parts[1]], f"{rel} imports {imported - ROOMS[parts[1]]}"
    elif rel not in ROOTS:
        assert imported <= SHARED | {"answering"}, f"{rel} imports {imported}"
