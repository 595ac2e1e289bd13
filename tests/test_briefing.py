"""The briefing writer: questions file, follow-up histories, one Markdown document with endnotes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.briefing import (
    BriefQuestion,
    build_briefing,
    histories,
    read_questions,
    render_docx,
    render_markdown,
)
from assistant.errors import AssistantError
from assistant.schema import Answer, Citation, Context

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


def context(chunk: str, paragraph: int, text: str = "段落。") -> Context:
    return Context(chunk, "a.txt", text, 0.5, title="标题*一*", paragraph=paragraph)


def sample() -> list[Answer]:
    same = cite(1, "c1", "项目42个。")
    return [
        Answer("项目多少个？", "项目42个。[1]", False, [same], [context("c1", 2)],
               short_answer="42个", signals={"confidence": 0.93}),
        Answer("那超亿元的呢？", "项目42个。[1]另有[2]", False,
               [same, cite(2, "c2", "另有3个。")], [context("c1", 2), context("c2", 4)],
               standalone_question="超亿元的项目多少个？", signals={"confidence": 0.55}),
        Answer("没有的？", "知识库中没有找到相关信息。", True, [],
               [context("c3", 0, "最接近的一段话。")]),
        Answer("坏问题", "Error: the question is empty", True),
    ]  # fmt: skip


def test_the_markdown_briefing_reads_as_a_document():
    """Overview, follow-ups under their question with what they were understood as, weak
    answers marked, refusals with the closest passages, references with title, paragraph and
    quote (one passage cited twice is one reference), the generator in the footer."""
    briefing = build_briefing(sample(), "answerer: extractive", WHEN, "海港_问答",
                              followups=[False, True, False, False])  # fmt: skip
    assert render_markdown(briefing) == (
        "# 海港\\_问答 · 简报 Briefing\n\n2026-01-02\n\n"
        "4 个问题，2 个有资料依据的回答；资料中未找到答案：第 2、3 题；1 个回答标为待核实。 "
        "4 questions, 2 answered from the sources; not found in the sources: 2, 3; "
        "1 marked for checking.\n\n"
        "## 1. 项目多少个？\n\n**42个**\n\n项目42个。[1]\n\n"
        "### 1.1 追问 · Follow-up: 那超亿元的呢？\n\n"
        "*（接第 1 题 · follows: 项目多少个？; 理解为 · understood as: 超亿元的项目多少个？）*\n\n"
        "> ⚠ 待核实 · Check this answer: the assistant is less sure of it.\n\n"
        "项目42个。[1]另有[2]\n\n"
        "## 2. 没有的？\n\n"
        "> **资料中未找到答案 · Not found in the sources.** 知识库中没有找到相关信息。\n\n"
        "> 最接近的段落（不是答案）· Closest passages (not an answer):\n>\n"
        "> - 标题\\*一\\* (a.txt, 第1段 (para 1)): 最接近的一段话。\n\n"
        "## 3. 坏问题\n\n> Error: the question is empty\n\n"
        "## 参考资料 · References\n\n"
        "1. **标题\\*一\\*** (a.txt, 第3段 (para 3)): “项目42个。”\n"
        "2. **标题\\*一\\*** (a.txt, 第5段 (para 5)): “另有3个。”\n\n"
        "---\n\n生成 · Generated 2026-01-02 03:04 UTC; answerer: extractive\n"
    )


def test_follow_ups_are_found_from_the_rewritten_question_and_the_last_answer_keeps_them():
    answers = sample()[:2]
    whole = build_briefing(answers, "d", WHEN)  # no flags: the rewritten question tells
    assert [e.number for e in whole.entries] == ["1", "1.1"]
    last = render_markdown(build_briefing(answers, "d", WHEN, last_only=True))
    assert "### 1.1 追问 · Follow-up: 那超亿元的呢？" in last
    assert "follows: 项目多少个？" in last and "## 1. " not in last
    assert last.count("\n1. **") == 1 and "“项目42个。”" in last  # its own references only


def test_without_title_or_answers():
    assert render_markdown(build_briefing([], "d", WHEN)) == (
        "# 简报 Briefing\n\n2026-01-02\n\n0 个问题，0 个有资料依据的回答。 "
        "0 questions, 0 answered from the sources.\n\n"
        "## 参考资料 · References\n\n（无 · none）\n\n---\n\n"
        "生成 · Generated 2026-01-02 03:04 UTC; d\n"
    )


def test_the_word_briefing_has_the_same_structure(tmp_path: Path):
    """Opened with python-docx: real headings, superscript markers, a Chinese font, the
    reference list and the generator in the footer."""
    from docx import Document
    from docx.oxml.ns import qn

    path = tmp_path / "b.docx"
    render_docx(build_briefing(sample(), "answerer: extractive", WHEN, "海港问答",
                               followups=[False, True, False, False]), path)  # fmt: skip
    doc = Document(str(path))
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings == [
        ("Title", "海港问答 · 简报 Briefing"),
        ("Heading 1", "1. 项目多少个？"),
        ("Heading 2", "1.1 追问 · Follow-up: 那超亿元的呢？"),
        ("Heading 1", "2. 没有的？"),
        ("Heading 1", "3. 坏问题"),
        ("Heading 1", "参考资料 · References"),
    ]
    texts = [p.text for p in doc.paragraphs]
    assert texts[2].startswith("4 个问题，2 个有资料依据的回答")
    answer = next(p for p in doc.paragraphs if p.text == "项目42个。[1]另有[2]")
    assert [r.text for r in answer.runs if r.font.superscript] == ["[1]", "[2]"]
    assert "⚠ 待核实 · Check this answer: the assistant is less sure of it." in texts
    refs = [p.text for p in doc.paragraphs if p.style.name == "List Number"]
    assert refs == ["[1] 标题*一* (a.txt, 第3段 (para 3)): “项目42个。”",
                    "[2] 标题*一* (a.txt, 第5段 (para 5)): “另有3个。”"]  # fmt: skip
    normal = doc.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "Microsoft YaHei"
    footer = doc.sections[0].footer.paragraphs[0].text
    assert footer == "生成 · Generated 2026-01-02 03:04 UTC; answerer: extractive"
    assert doc.core_properties.title == "海港问答"
