"""The briefing writer: questions file, follow-up histories, one Markdown document with endnotes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.briefing import BriefQuestion, briefing_markdown, histories, read_questions
from assistant.errors import AssistantError
from assistant.schema import Answer, Citation

WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_questions_file_comments_blank_lines_and_followups(tmp_path: Path):
    path = tmp_path / "q.txt"
    path.write_text("\ufeff# staff list\n\n问题一？\n> 那呢？\n问题二？\n", encoding="utf-8")
    questions = read_questions(path)
    assert questions == [
        BriefQuestion("问题一？"),
        BriefQuestion("那呢？", followup=True),
        BriefQuestion("问题二？"),
    ]
    assert list(histories(questions)) == [[], ["问题一？"], []]
    first = tmp_path / "f.txt"
    first.write_text("> 开头就是追问？\n", encoding="utf-8")
    assert read_questions(first) == [BriefQuestion("开头就是追问？")]  # nothing to follow


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"\xff\xfe\x00\xd8", "is not UTF-8 text"),
        (b"# only a comment\n\n", "has no questions (one per line)"),
    ],
)
def test_bad_questions_file_is_one_line(tmp_path: Path, content: bytes | None, message: str):
    path = tmp_path / "q.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AssistantError) as err:
        read_questions(path)
    assert str(err.value) == f"questions file {path} {message}"


def cite(n: int, chunk: str, quote: str) -> Citation:
    return Citation(n, chunk, "a.txt", quote, title="标题*一*", char_start=10, char_end=20)


def test_one_passage_cited_twice_gets_one_endnote_and_refusals_are_quoted():
    same = cite(1, "c1", "项目42个。")
    answers = [
        Answer("项目多少个？", "项目42个。[1]", False, [same]),
        Answer("还是项目？", "项目42个。[1]另有[2]", False, [same, cite(2, "c2", "另有3个。")]),
        Answer("没有的？", "知识库中没有找到相关信息。", True),
    ]
    md = briefing_markdown(answers, "answerer: extractive", WHEN, title="海港_问答")
    assert md == (
        "# 海港\\_问答 · Briefing\n\n- 2026-01-02 03:04 UTC\n- answerer: extractive\n\n"
        "## 1. 项目多少个？\n\n项目42个。[1]\n\n"
        "## 2. 还是项目？\n\n项目42个。[1]另有[2]\n\n"
        "## 3. 没有的？\n\n> 知识库中没有找到相关信息。\n\n"
        "## References\n\n"
        "1. **标题\\*一\\*** (a.txt, characters 10–20): “项目42个。”\n"
        "2. **标题\\*一\\*** (a.txt, characters 10–20): “另有3个。”\n"
    )


def test_without_title_or_answers():
    assert briefing_markdown([], "d", WHEN) == (
        "# Briefing\n\n- 2026-01-02 03:04 UTC\n- d\n\n## References\n\n(none)\n"
    )
