"""Consistency of eval/dataset.jsonl with the article it is about."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eval.matching import match_fact, normalize
from ingest.text.width import language

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "eval" / "dataset.jsonl"
ARTICLE = ROOT / "knowledge" / "000_a43dbe5c9c0e2b82.txt"

TYPES = {
    "fact", "number", "date", "list", "paraphrase", "multihop", "negative", "english", "followup",
    "overview",
}  # fmt: skip
KEYS = {"id", "question", "type", "lang", "facts", "evidence", "source"}
OPTIONAL = {"history", "min_facts"}  # min_facts: an overview states at least k of its points


def load_rows() -> list[dict[str, Any]]:
    with DATASET.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


ROWS = load_rows()
ANSWERABLE = [row for row in ROWS if row["type"] != "negative"]
ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def article_body(raw: str) -> str:
    """The article without its YAML front matter."""
    if raw.startswith("---"):
        return raw.split("---", 2)[2]
    return raw


@dataclass(frozen=True)
class Paragraph:
    text: str
    role: str


def local_paragraphs(raw: str) -> list[Paragraph]:
    """Fallback splitter: a paragraph starts at a line beginning with whitespace.

    Blank lines and unindented lines continue the current paragraph (the layout breaks lines,
    and even leaves blank lines, inside paragraphs). The first paragraph is the title (with the
    subtitle), one starting with "▲" is the caption, the rest is body.
    """
    blocks: list[list[str]] = []
    for line in article_body(raw).splitlines():
        if not line.strip():
            continue
        if line[0].isspace() or not blocks:
            blocks.append([])
        blocks[-1].append(line.strip())
    paragraphs = []
    for index, block in enumerate(blocks):
        text = "".join(block)
        role = "title" if index == 0 else "caption" if text.startswith("▲") else "body"
        paragraphs.append(Paragraph(text, role))
    return paragraphs


def article_paragraphs() -> tuple[str, list[Any]]:
    """Paragraphs from ingest.normalize when it exists, else from the local fallback splitter."""
    try:
        from ingest.load import split_front_matter
        from ingest.normalize import normalize as ingest_normalize
    except ImportError:
        return "local fallback splitter", local_paragraphs(ARTICLE_TEXT)
    text, metadata = split_front_matter(ARTICLE_TEXT)
    doc = ingest_normalize(text, metadata.get("title"), metadata.get("subtitle"))
    return "ingest.normalize", list(doc.paragraphs)


def test_dataset_size_and_ids() -> None:
    assert len(ROWS) >= 80
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["id"])
def test_row_schema(row: dict[str, Any]) -> None:
    assert KEYS <= set(row) <= KEYS | OPTIONAL
    assert row["type"] in TYPES
    assert row["lang"] == language(row["question"])
    assert ("min_facts" in row) == (row["type"] == "overview")
    assert isinstance(row["question"], str) and row["question"].strip()
    assert all(isinstance(alts, list) and alts for alts in row["facts"])
    assert all(isinstance(alt, str) and alt.strip() for alts in row["facts"] for alt in alts)
    if row["type"] == "followup":
        assert len(row["history"]) == 1
        turn = row["history"][0]
        assert set(turn) == {"question", "answer"} and turn["question"] and turn["answer"]
    else:
        assert "history" not in row


def test_every_type_has_at_least_five_rows() -> None:
    counts = Counter(row["type"] for row in ROWS)
    assert set(counts) == TYPES
    assert min(counts.values()) >= 5, counts


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["type"] == "negative"], ids=lambda row: row["id"]
)
def test_negatives_have_no_answer(row: dict[str, Any]) -> None:
    assert row["facts"] == []
    assert row["evidence"] is None
    assert row["source"] is None


@pytest.mark.parametrize("row", ANSWERABLE, ids=lambda row: row["id"])
def test_evidence_is_verbatim_in_article(row: dict[str, Any]) -> None:
    assert row["facts"]
    assert row["source"] == ARTICLE.name
    evidence = row["evidence"]
    assert isinstance(evidence, str)
    assert 15 <= len(squash(evidence)) <= 120
    assert squash(evidence) in squash(ARTICLE_TEXT)


@pytest.mark.parametrize("row", ANSWERABLE, ids=lambda row: row["id"])
def test_every_fact_is_grounded_in_article(row: dict[str, Any]) -> None:
    # A fact is grounded when an alternative occurs in the article or equals one of its numbers.
    for alternatives in row["facts"]:
        assert match_fact(ARTICLE_TEXT, alternatives) == "match", alternatives


@pytest.mark.parametrize(
    "row",
    [r for r in ANSWERABLE if r["type"] not in ("multihop", "overview")],
    ids=lambda row: row["id"],
)
def test_quoting_the_evidence_states_every_fact(row: dict[str, Any]) -> None:
    for alternatives in row["facts"]:
        assert match_fact(row["evidence"], alternatives) == "match", alternatives


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["type"] == "multihop"], ids=lambda row: row["id"]
)
def test_multihop_needs_more_than_its_evidence(row: dict[str, Any]) -> None:
    verdicts = [match_fact(row["evidence"], alts) == "match" for alts in row["facts"]]
    assert any(verdicts) and not all(verdicts)


def test_every_paragraph_is_the_evidence_of_a_question() -> None:
    splitter, paragraphs = article_paragraphs()
    evidences = [normalize(row["evidence"]) for row in ANSWERABLE]
    covered_roles = {"body", "caption"}
    targets = [p for p in paragraphs if p.role in covered_roles]
    assert sum(p.role == "body" for p in targets) >= 15, splitter
    uncovered = [
        p.text[:30]
        for p in targets
        if not any(evidence in normalize(p.text) for evidence in evidences)
    ]
    assert uncovered == [], f"paragraphs without a question ({splitter}): {uncovered}"
