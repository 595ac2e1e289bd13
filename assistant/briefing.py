"""Staff briefings: many questions answered into one Markdown document with endnote references."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import AssistantError
from assistant.schema import Answer
from ingest.text.markers import marker, split_at_markers
from ingest.text.width import collapse, visible

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


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


def md(text: str) -> str:
    """Text shown literally in Markdown (its syntax characters escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _renumber(answer: str, mapping: dict[int, int]) -> str:
    """Answer text escaped for Markdown, its [n] markers as briefing-wide [m] references."""
    return "".join(
        md(piece) if n is None else marker(mapping.get(n, n))
        for piece, n in split_at_markers(answer)
    )


def briefing_markdown(
    answers: Sequence[Answer], description: str, when: datetime | None = None, title: str = ""
) -> str:
    """The document: each question and answer, markers renumbered across the whole briefing,
    and one numbered reference list (source, title, passage position, quote) at the end."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"# {md(title)} · Briefing" if title else "# Briefing"
    lines = [heading, "", f"- {stamp}", f"- {md(description)}", ""]
    refs: dict[tuple[str, str], int] = {}
    notes: list[str] = []
    for i, answer in enumerate(answers, start=1):
        lines += [f"## {i}. {md(answer.question)}", ""]
        mapping: dict[int, int] = {}
        for cite in answer.citations:
            key = (cite.chunk_id, cite.quote)
            if key not in refs:
                refs[key] = len(refs) + 1
                where = f"{cite.source}, characters {cite.char_start}–{cite.char_end}"
                title = md(cite.title or cite.source)
                notes.append(f"{refs[key]}. **{title}** ({md(where)}): “{md(cite.quote)}”")
            mapping[cite.n] = refs[key]
        body = _renumber(answer.answer, mapping)
        if answer.short_answer and not answer.refused:
            lines += [f"**{md(answer.short_answer)}**", ""]
        lines += [f"> {body}" if answer.refused else body, ""]
    lines += ["## References", ""] + (notes or ["(none)"])
    return "\n".join(lines) + "\n"
