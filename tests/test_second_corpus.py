"""The same code serves another knowledge base: six Chinese Wikipedia passages with their own
profile (tests/fixtures/cmrc), served, briefed and evaluated like the zone article."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, evaluate_corpus, make_app

CORPUS = FIXTURES / "cmrc"


@pytest.fixture(scope="module")
def wiki_app(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("wiki")
    knowledge = root / "knowledge"
    shutil.copytree(CORPUS / "knowledge", knowledge)
    app = make_app(root / "data", knowledge)
    summary = app.ingest()
    assert summary.exit_code == 0, summary.lines()  # the profile is not taken for an article
    assert summary.count("added") == 6
    return app


def test_the_profile_names_the_knowledge_base(wiki_app):
    profile = wiki_app.profile
    assert profile.heading == "维基百科选段问答 · Wikipedia sample assistant"
    assert profile.example_questions[0] == "冷湖市是何时设立的？"
    assert "CC BY-SA 4.0" in profile.licence


@pytest.mark.integration
def test_served_with_its_own_title_examples_and_glossary(wiki_app):
    from assistant.web.ui import create_app

    demo = create_app(wiki_app).demo
    assert demo.title == "维基百科选段问答 · Wikipedia sample assistant"
    html = " ".join(str(getattr(b, "value", "")) for b in demo.blocks.values())
    assert "维基百科选段问答" in html and "青岛" not in html
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "question")
    assert box.placeholder == "冷湖市是何时设立的？"
    answer = wiki_app.assistant.ask("冷湖市是何时设立的？")
    assert "1959年" in answer.answer and answer.citations[0].source == "TRIAL_160.txt"
    english = wiki_app.assistant.ask("Where is the Lhasa river?")
    assert english.contexts[0].source == "TRIAL_929.txt"  # the glossary maps the name


@pytest.mark.integration
def test_briefed_under_its_own_title(wiki_app, tmp_path: Path):
    from assistant.cli import main

    questions = tmp_path / "q.txt"
    questions.write_text("潘仕成的祖籍在哪里？\n> 他的先祖是怎样起家的？\n", encoding="utf-8")
    out = tmp_path / "brief.md"
    env = {
        "ASSISTANT_DATA_DIR": str(wiki_app.settings.data_dir),
        "ASSISTANT_KNOWLEDGE_DIR": str(wiki_app.settings.knowledge_dir),
    }
    result = CliRunner().invoke(main, ["brief", str(questions), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 维基百科选段问答 · 简报 Briefing\n")
    assert "祖籍福建" in text and "(TRIAL\\_150.txt, 第2段 (para 2)): “" in text
    assert "### 1.1 追问 · Follow-up: 他的先祖是怎样起家的？" in text


@pytest.mark.integration
def test_evaluated_against_its_own_floors(wiki_app, tmp_path: Path):
    code, report = evaluate_corpus(wiki_app, CORPUS, tmp_path / "eval")
    assert set(report["summary"]["assistant"]) == {"negative", "open-book", "overall"}
    assert report["summary"]["assistant"]["overall"]["n"] == 27
    assert code == 0, [t for t in report["gate"]["thresholds"] if not t["passed"]]


def test_every_fact_and_evidence_is_in_its_passage():
    texts = {p.name: p.read_text(encoding="utf-8") for p in (CORPUS / "knowledge").glob("*.txt")}
    for line in (CORPUS / "dataset.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["type"] == "negative":
            assert row["source"] == "" and row["facts"] == []
            continue
        assert row["evidence"] in texts[row["source"]]
        assert all(alt in texts[row["source"]] for fact in row["facts"] for alt in fact)
