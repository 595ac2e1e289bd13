"""Shared fixtures: settings isolated from the developer's environment, real small indexes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The settings that point at the run's shared folder (pytest_configure), and the variable
# that holds the folder; those settings survive a second import of this file, as
# `tests.conftest` from a test module: that import removed them from every later test.
_SHARED_FOLDER = "ZONE_TEST_SHARED_CACHE"
_SHARED_SETTINGS = ("ASSISTANT_DICTIONARY_CACHE", "ASSISTANT_EMBEDDING_CACHE")
_kept = _SHARED_SETTINGS if _SHARED_FOLDER in os.environ else ()
for _name in list(os.environ):
    if (_name.startswith("ASSISTANT_") and _name not in _kept) or _name in (
        "CHROMA_HOST",
        "CHROMA_PORT",
    ):
        del os.environ[_name]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTICLE = KNOWLEDGE / "000_a43dbe5c9c0e2b82.txt"
# The `ask --json` / API contract, key order included (README "API").
ASK_JSON_KEYS = ["question", "short_answer", "answer", "refused", "citations", "contexts",
                 "latency_ms"]  # fmt: skip


# The long forms (kill loops, soak, scale, load) run in CI and with ZONE_TEST_LONG=1; a
# developer's `make test` skips them (issue 21: a five-minute loop).
LONG = os.environ.get("CI") == "true" or os.environ.get("ZONE_TEST_LONG") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """One folder shared by every test and worker for the tables derived from the packaged
    dictionaries (ASSISTANT_DICTIONARY_CACHE) and the passage vectors (ASSISTANT_EMBEDDING_CACHE):
    with each test's own data folder every test derived the tables again, about 45 s of a run's
    CPU, and embedded the same passages again, about 64 s (measured).

    The folder is kept between runs in pytest's cache (.pytest_cache/d/zone-shared): a
    developer's next run embeds only passages it has not seen (a run took 187 s instead of
    222 s, measured); a fresh clone, like CI's, starts it empty. Without pytest's cache
    (-p no:cacheprovider) it is a temp folder for the run. The first process makes it (xdist's
    workers inherit the variable)."""
    shared = os.environ.get(_SHARED_FOLDER)
    if shared is None:
        cache = getattr(config, "cache", None)
        if cache is not None:
            shared = str(cache.mkdir("zone-shared"))
        else:
            shared = tempfile.mkdtemp(prefix="zone-test-cache-")
            config.add_cleanup(lambda: shutil.rmtree(shared, ignore_errors=True))
        os.environ[_SHARED_FOLDER] = shared
    for name in _SHARED_SETTINGS:
        os.environ[name] = shared


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked `first` first (in parallel runs the worker that starts one of them
    gives the others away meanwhile: the run ends when the slowest worker does); those marked
    `long` skipped unless LONG."""
    items.sort(key=lambda item: "first" not in item.keywords)  # stable: otherwise in order
    if LONG:
        return
    skip = pytest.mark.skip(reason="long form: runs in CI, or with ZONE_TEST_LONG=1")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture()
def mini_corpus(tmp_path: Path) -> Path:
    """A copy of the two tiny fixture articles in a temp folder the test may change."""
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURES / "mini", target)
    return target


def make_settings(data_dir: Path, knowledge_dir: Path, **overrides: object):
    """Settings for a test: its own data folder and knowledge folder."""
    from assistant.settings import load_settings

    return load_settings(data_dir=data_dir, knowledge_dir=knowledge_dir, **overrides)


def make_app(data_dir: Path, knowledge_dir: Path, **overrides: object):
    """The real application for a test's own data and knowledge folders."""
    from assistant.app import build_app

    return build_app(make_settings(data_dir, knowledge_dir, **overrides))


def evaluate_corpus(app, corpus: Path, out: Path) -> tuple[int, dict]:
    """Run a fixture corpus's eval (its dataset.jsonl against its thresholds.toml): the exit
    code and the report."""
    import json

    from eval.runner import run_cli

    code = run_cli(app, corpus / "dataset.jsonl", out, None, thresholds=corpus / "thresholds.toml")
    return code, json.loads((out / "report.json").read_text(encoding="utf-8"))


def claims_text(answer) -> str:
    """An answer's text without its own notes (what a quoted 今年 means; that a sentence with a
    wrong figure was removed): they are not claims that need a citation."""
    from assistant.answering.archive import relative_note
    from assistant.answering.citations import FIGURE_REMOVED
    from ingest.text.width import language

    lang = language(answer.question)
    note = relative_note([(c.quote, c.published) for c in answer.citations], lang)
    text = answer.answer.removesuffix("\n" + note) if note else answer.answer
    return text.removesuffix("\n" + FIGURE_REMOVED[lang])


@pytest.fixture(scope="session")
def article_app(tmp_path_factory: pytest.TempPathFactory):
    """The application over the real article (real model, real Chroma in a temp folder),
    ingested once per session."""
    app = make_app(tmp_path_factory.mktemp("article-data"), KNOWLEDGE)
    summary = app.ingest()
    assert summary.exit_code == 0, summary.lines()
    return app


@pytest.fixture(scope="session")
def article_settings(article_app):
    """Settings whose index holds the real article."""
    return article_app.settings


@pytest.fixture(scope="session")
def article_assistant(article_app):
    """The real assistant over the real article, warmed up."""
    assistant = article_app.assistant
    assistant.warm_up()
    return assistant
