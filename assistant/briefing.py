"""Staff briefings: many questions answered into one document a manager can read, as Markdown
or as a Word file with the same structure.

The document is built once (`build_briefing`) and rendered twice: a title, the date and an
overview (how many questions were answered, which were not), each question with its follow-ups
under it, refusals with the closest passages, weak answers marked, one numbered reference list
(article title, paragraph, quote) and the generator in a footer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import AssistantError
from assistant.schema import Answer, Citation, Context
from ingest.text.markers import marker, split_at_markers
from ingest.text.width import collapse, visible

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
# An answer the decision was less sure of is marked for checking. Its calibration (the
# probabilities in assistant/answering/decision/params.json against held-out outcomes) puts
# about one in three answers below this value wrong, and nine in ten above 0.9 right.
WEAK_BELOW = 0.7
CLOSEST_LISTED = 3
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class BriefQuestion:
    """A line of the questions file; a follow-up ('> …') leans on the question before it."""

    text: str
    followup: bool = False


def read_questions(path: Path) -> list[BriefQuestion]:
    """One question per line; blank lines and '# comments' are skipped; '> ' marks a follow-up."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise AssistantError(f"questions file {path} does not exist") from None
    except UnicodeDecodeError:
        raise AssistantError(f"questions file {path} is not UTF-8 text") from None
    out: list[BriefQuestion] = []
    for line in lines:
        text = collapse(visible(line))  # a line of only invisible characters is blank
        if not text or text.startswith("#"):
            continue
        followup = text.startswith(">")
        out.append(BriefQuestion(text.lstrip("> ").strip(), followup and bool(out)))
    if not out:
        raise AssistantError(f"questions file {path} has no questions (one per line)")
    return out


def histories(questions: Sequence[BriefQuestion]) -> Iterable[list[str]]:
    """The conversation history each question is asked with."""
    previous: list[str] = []
    for item in questions:
        previous = previous if item.followup else []
        yield list(previous)
        previous = previous + [item.text]


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One numbered reference: where a quote is, and the quote."""

    n: int
    title: str
    source: str
    paragraph: int  # 1-based; 0 when not known
    quote: str
    published: str = ""  # the article's date, '' when unknown


@dataclass(frozen=True)
class Entry:
    """One question of the briefing and its answer, numbered "3" or, as a follow-up, "3.1"."""

    number: str
    answer: Answer
    parent: str = ""  # the question a follow-up follows
    markers: dict[int, int] = field(default_factory=dict)  # the answer's [n] -> reference n

    @property
    def is_error(self) -> bool:
        """The question could not be asked (the answer text is the error)."""
        return self.answer.refused and self.answer.answer.startswith("Error:")

    @property
    def weak(self) -> bool:
        """Answered, with a confidence under WEAK_BELOW (answerers without one: never)."""
        confidence = self.answer.signals.get("confidence")
        return not self.answer.refused and confidence is not None and confidence < WEAK_BELOW

    def closest(self) -> list[Context]:
        """A refusal's closest passages (not an answer)."""
        return list(self.answer.contexts[:CLOSEST_LISTED]) if self.answer.refused else []


@dataclass(frozen=True)
class Briefing:
    """A briefing ready to render."""

    title: str
    generated: datetime
    generator: str
    entries: list[Entry]
    references: list[Reference]

    @property
    def overview(self) -> str:
        """One paragraph: how many questions, how many answered, which not, how many weak."""
        total = len(self.entries)
        unanswered = [e for e in self.entries if e.answer.refused]
        weak = [e for e in self.entries if e.weak]
        answered = total - len(unanswered)
        text = f"{total} 个问题，{answered} 个有资料依据的回答"
        en = f"{total} questions, {answered} answered from the sources"
        if unanswered:
            which = "、".join(e.number for e in unanswered)
            text += f"；资料中未找到答案：第 {which} 题"
            en += f"; not found in the sources: {', '.join(e.number for e in unanswered)}"
        if weak:
            text += f"；{len(weak)} 个回答标为待核实"
            en += f"; {len(weak)} marked for checking"
        return f"{text}。 {en}."


def build_briefing(
    answers: Sequence[Answer],
    generator: str,
    when: datetime | None = None,
    title: str = "",
    followups: Sequence[bool] | None = None,
    last_only: bool = False,
) -> Briefing:
    """The briefing of these answers, in order. A follow-up (given, or else an answer whose
    question was rewritten from the conversation) goes under the question it follows, with
    what it was understood as. `last_only`: only the last answer, with that context."""
    flags = list(followups) if followups is not None else [_is_followup(a) for a in answers]
    entries: list[Entry] = []
    top = sub = 0
    parent = ""
    for answer, followup in zip(answers, flags, strict=True):
        if followup and top:
            sub += 1
            entries.append(Entry(f"{top}.{sub}", answer, parent))
        else:
            top, sub, parent = top + 1, 0, answer.question
            entries.append(Entry(str(top), answer))
    if last_only:
        entries = entries[-1:]
    numbered: dict[tuple[str, str], Reference] = {}
    for entry in entries:
        for cite in entry.answer.citations:
            key = (cite.chunk_id, cite.quote)
            if key not in numbered:
                numbered[key] = _reference(len(numbered) + 1, cite, entry.answer.contexts)
            entry.markers[cite.n] = numbered[key].n
    return Briefing(
        title=title,
        generated=when or datetime.now(UTC),
        generator=generator,
        entries=entries,
        references=list(numbered.values()),
    )


def _is_followup(answer: Answer) -> bool:
    standalone = answer.standalone_question
    return bool(standalone) and standalone != answer.question


def _reference(n: int, cite: Citation, contexts: Sequence[Context]) -> Reference:
    context = next((c for c in contexts if c.chunk_id == cite.chunk_id), None)
    title = cite.title or (context.title if context else "") or cite.source
    paragraph = context.paragraph + 1 if context is not None else 0
    return Reference(n, title, cite.source, paragraph, cite.quote, cite.published)


def _where(source: str, paragraph: int, published: str = "") -> str:
    parts = [source, *([published] if published else [])]
    if paragraph:
        parts.append(f"第{paragraph}段 (para {paragraph})")
    return ", ".join(parts)


def _excerpt(text: str) -> str:
    text = collapse(text)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


NOT_FOUND = "资料中未找到答案 · Not found in the sources"
CLOSEST = "最接近的段落（不是答案）· Closest passages (not an answer):"
WEAK = "待核实 · Check this answer: the assistant is less sure of it"
FOLLOWUP = "追问 · Follow-up"


def _followup_note(entry: Entry) -> str:
    """Under a follow-up: the question it follows, and what it was understood as."""
    note = f"接第 {entry.number.split('.')[0]} 题 · follows: {entry.parent}"
    standalone = entry.answer.standalone_question
    if standalone and standalone != entry.answer.question:
        note += f"; 理解为 · understood as: {standalone}"
    return f"（{note}）"


# --- Markdown ----------------------------------------------------------------------------------


def md(text: str) -> str:
    """Text shown literally in Markdown (its syntax characters escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _renumber(answer: str, mapping: dict[int, int]) -> str:
    """Answer text escaped for Markdown, its [n] markers as briefing-wide [m] references."""
    return "".join(
        md(piece) if n is None else marker(mapping.get(n, n))
        for piece, n in split_at_markers(answer)
    )


def render_markdown(briefing: Briefing) -> str:
    """The briefing as Markdown."""
    heading = f"# {md(briefing.title)} · 简报 Briefing" if briefing.title else "# 简报 Briefing"
    lines = [heading, "", briefing.generated.strftime("%Y-%m-%d"), "", md(briefing.overview), ""]
    for entry in briefing.entries:
        lines += _md_entry(entry)
    lines += ["## 参考资料 · References", ""]
    lines += [
        f"{r.n}. **{md(r.title)}** ({md(_where(r.source, r.paragraph, r.published))}): "
        f"“{md(r.quote)}”"
        for r in briefing.references
    ] or ["（无 · none）"]
    stamp = briefing.generated.strftime("%Y-%m-%d %H:%M UTC")
    lines += ["", "---", "", f"生成 · Generated {stamp}; {md(briefing.generator)}"]
    return "\n".join(lines) + "\n"


def _md_entry(entry: Entry) -> list[str]:
    answer = entry.answer
    if entry.parent:
        lines = [f"### {entry.number} {FOLLOWUP}: {md(answer.question)}", ""]
        lines += [f"*{md(_followup_note(entry))}*", ""]
    else:
        lines = [f"## {entry.number}. {md(answer.question)}", ""]
    if entry.is_error:
        return lines + [f"> {md(answer.answer)}", ""]
    if answer.refused:
        lines += [f"> **{NOT_FOUND}.** {md(answer.answer)}", ""]
        closest = entry.closest()
        if closest:
            lines += [f"> {md(CLOSEST)}", ">"]
            lines += [
                f"> - {md(c.title or c.source)} "
                f"({md(_where(c.source, c.paragraph + 1, c.published))}): {md(_excerpt(c.text))}"
                for c in closest
            ]
            lines.append("")
        return lines
    if entry.weak:
        lines += [f"> ⚠ {md(WEAK)}.", ""]
    if answer.short_answer:
        lines += [f"**{md(answer.short_answer)}**", ""]
    return lines + [_renumber(answer.answer, entry.markers), ""]


# --- Word --------------------------------------------------------------------------------------

CJK_FONT = "Microsoft YaHei"  # Word's usual Chinese UI font; LibreOffice substitutes its own
LATIN_FONT = "Calibri"
_STYLES = ("Normal", "Title", "Heading 1", "Heading 2", "List Number", "List Bullet", "Quote")


def render_docx(briefing: Briefing, path: Path) -> None:
    """The briefing as a Word file: real headings, [n] markers as superscripts, the reference
    list at the end, the generator in the page footer, a Chinese font for Chinese text."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    for name in _STYLES:
        _fonts(doc.styles[name])
    doc.styles["Normal"].font.size = Pt(11)
    doc.core_properties.title = briefing.title or "Briefing"
    doc.add_heading(f"{briefing.title} · 简报 Briefing" if briefing.title else "简报 Briefing", 0)
    doc.add_paragraph(briefing.generated.strftime("%Y-%m-%d"))
    doc.add_paragraph(briefing.overview)
    for entry in briefing.entries:
        _docx_entry(doc, entry)
    doc.add_heading("参考资料 · References", 1)
    for r in briefing.references:
        item = doc.add_paragraph(style="List Number")
        item.add_run(f"[{r.n}] ")
        item.add_run(r.title).bold = True
        item.add_run(f" ({_where(r.source, r.paragraph, r.published)}): “{r.quote}”")
    if not briefing.references:
        doc.add_paragraph("（无 · none）")
    stamp = briefing.generated.strftime("%Y-%m-%d %H:%M UTC")
    doc.sections[0].footer.paragraphs[0].text = f"生成 · Generated {stamp}; {briefing.generator}"
    try:
        doc.save(str(path))
    except OSError as exc:
        raise AssistantError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fonts(style: object) -> None:
    from docx.oxml.ns import qn

    font = style.font  # type: ignore[attr-defined]
    font.name = LATIN_FONT
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()  # type: ignore[attr-defined]
    fonts.set(qn("w:eastAsia"), CJK_FONT)


def _docx_entry(doc: object, entry: Entry) -> None:
    answer = entry.answer
    add_heading, add_paragraph = doc.add_heading, doc.add_paragraph  # type: ignore[attr-defined]
    if entry.parent:
        add_heading(f"{entry.number} {FOLLOWUP}: {answer.question}", 2)
        add_paragraph().add_run(_followup_note(entry)).italic = True
    else:
        add_heading(f"{entry.number}. {answer.question}", 1)
    if entry.is_error:
        add_paragraph(answer.answer, style="Quote")
        return
    if answer.refused:
        block = add_paragraph(style="Quote")
        block.add_run(f"{NOT_FOUND}. ").bold = True
        block.add_run(answer.answer)
        closest = entry.closest()
        if closest:
            add_paragraph(CLOSEST)
            for c in closest:
                where = _where(c.source, c.paragraph + 1, c.published)
                add_paragraph(f"{c.title or c.source} ({where}): {_excerpt(c.text)}",
                              style="List Bullet")  # fmt: skip
        return
    if entry.weak:
        add_paragraph(style="Quote").add_run(f"⚠ {WEAK}.").bold = True
    if answer.short_answer:
        add_paragraph().add_run(answer.short_answer).bold = True
    body = add_paragraph()
    for piece, n in split_at_markers(answer.answer):
        if n is None:
            body.add_run(piece)
        else:
            body.add_run(f"[{entry.markers.get(n, n)}]").font.superscript = True
