"""Pure rendering for the web chat: answers as escaped HTML with source cards, Markdown briefings.

Every piece of text from a document, a question or an answer goes through `html.escape` before it
is placed in markup, and the markup never contains a newline: Gradio's Markdown renderer then
treats each message as one raw HTML block and leaves the (already escaped) text alone.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from assistant.briefing import Briefing, build_briefing
from assistant.schema import Answer, Citation, Context
from ingest.text.markers import MARKER

# A streaming piece: text up to a clause end, with the [n] markers that follow it.
_PIECE = re.compile(rf"[^，。；！？,;!?\n]*(?:[，。；！？,;!?\n]+|$)(?:{MARKER.pattern})*")

REFUSAL_BADGE = "未找到依据 · No supported answer"
SOURCES_LABEL = "来源 · Sources"
CLOSEST_LABEL = "最接近的段落（不是答案）· Closest passages (not an answer)"
CLOSEST_SHOWN = 3  # a refusal's closest passages shown as folded cards


@dataclass(frozen=True)
class Turn:
    """One question of the conversation and what came back: an answer, or an error message."""

    question: str
    answer: Answer | None = None
    error: str = ""
    rating: str | None = None
    turn_id: str = ""
    closer: bool = False  # the reader's answer to the question asked before ("read closer")

    @staticmethod
    def new(
        question: str, answer: Answer | None = None, error: str = "", closer: bool = False
    ) -> Turn:
        """A turn with a fresh id (used to make the card anchors of each answer unique)."""
        return Turn(question, answer, error, None, uuid.uuid4().hex[:8], closer)

    @property
    def shown_question(self) -> str:
        """The question as the chat and the briefing show it."""
        return f"{CLOSER_LABEL}: {self.question}" if self.closer else self.question


CLOSER_LABEL = "细读 · Read closer"


# --- HTML ------------------------------------------------------------------------------------


def text_html(text: str) -> str:
    """Text as inert HTML: escaped, line breaks as <br>, and no raw newline left."""
    return html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def card_id(turn_id: str, n: int) -> str:
    """The element id of source card n of a turn."""
    return f"src-{turn_id}-{n}"


def link_markers(escaped: str, turn_id: str, cited: set[int]) -> str:
    """Turn the [n] markers of escaped answer text into links to the cards below the answer."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in cited:
            return match.group(0)
        return f'<a class="cite" href="#{card_id(turn_id, n)}">[{n}]</a>'

    return MARKER.sub(link, escaped)


def quote_span(passage: str, quote: str, offset: int) -> tuple[int, int] | None:
    """Where the quote lies in the passage: at `offset` when it matches there, else searched."""
    if quote and 0 <= offset and passage[offset : offset + len(quote)] == quote:
        return offset, offset + len(quote)
    found = passage.find(quote) if quote else -1
    return (found, found + len(quote)) if found >= 0 else None


def highlighted_passage(passage: str, quote: str, offset: int) -> str:
    """The passage as escaped HTML with the quoted span inside <mark>."""
    span = quote_span(passage, quote, offset)
    if span is None:
        return text_html(passage) + "<br><mark>" + text_html(quote) + "</mark>"
    start, end = span
    return (
        text_html(passage[:start])
        + "<mark>"
        + text_html(passage[start:end])
        + "</mark>"
        + text_html(passage[end:])
    )


def dated(published: str, also_in: Sequence[str]) -> list[str]:
    """An article's date and its reposts, as a card names them ('' parts left out)."""
    parts = [f"发表于 published {published}"] if published else []
    if also_in:
        parts.append("另见转载 also in: " + ", ".join(also_in))
    return parts


def position_label(citation: Citation, context: Context | None) -> str:
    """Where the quote sits in the article, e.g. 'harbor.txt · 第3段 · 字符 19–49'."""
    parts = [citation.source, *dated(citation.published, citation.also_in)]
    if context is not None:
        parts.append(f"第{context.paragraph + 1}段 (para {context.paragraph + 1})")
    if citation.char_end > citation.char_start:
        parts.append(f"字符 chars {citation.char_start}–{citation.char_end}")
    return " · ".join(parts)


def source_card(citation: Citation, context: Context | None, turn_id: str) -> str:
    """One source card: number, title, position in the article, passage with the quote marked."""
    title = citation.title or (context.title if context else "") or citation.source
    if context is not None:
        passage = highlighted_passage(
            context.text, citation.quote, citation.char_start - context.char_start
        )
    else:
        passage = "<mark>" + text_html(citation.quote) + "</mark>"
    return (
        f'<div class="src-card" id="{card_id(turn_id, citation.n)}">'
        f'<div class="src-head"><span class="src-n">[{citation.n}]</span> '
        f'<b class="src-title">{text_html(title)}</b></div>'
        f'<div class="src-pos">{text_html(position_label(citation, context))}</div>'
        f'<div class="src-text">{passage}</div></div>'
    )


def closest_card(context: Context) -> str:
    """A passage the retriever found closest to a refused question, folded, marked as not an
    answer: the user may open it and judge for themselves."""
    title = context.title or context.source
    where = " · ".join(
        [
            context.source,
            *dated(context.published, context.also_in),
            f"第{context.paragraph + 1}段 (para {context.paragraph + 1})",
        ]
    )
    return (
        '<details class="src-card closest"><summary class="src-head">'
        f'<b class="src-title">{text_html(title)}</b> '
        f'<span class="src-pos">{text_html(where)}</span></summary>'
        f'<div class="src-text">{text_html(context.text)}</div></details>'
    )


def render_answer(answer: Answer, turn_id: str) -> str:
    """An answer as one HTML block: text with linked markers, then a card per cited source; a
    refusal with the closest passages, folded and marked as not an answer."""
    if answer.refused:
        closest = "".join(closest_card(c) for c in answer.contexts[:CLOSEST_SHOWN])
        cards = (
            f'<div class="src-cards closest"><div class="src-label">{CLOSEST_LABEL}</div>'
            f"{closest}</div>"
            if closest
            else ""
        )
        return (
            '<div class="zone-answer refused">'
            f'<div class="refusal-badge">{text_html(REFUSAL_BADGE)}</div>'
            f'<div class="ans-text">{text_html(answer.answer)}</div>{cards}</div>'
        )
    by_id = {c.chunk_id: c for c in answer.contexts}
    cited = {c.n for c in answer.citations}
    body = link_markers(text_html(answer.answer), turn_id, cited)
    short = (
        f'<div class="short-answer">{text_html(answer.short_answer)}</div>'
        if answer.short_answer
        else ""
    )
    cards = "".join(source_card(c, by_id.get(c.chunk_id), turn_id) for c in answer.citations)
    sources = (
        f'<div class="src-cards"><div class="src-label">{SOURCES_LABEL}</div>{cards}</div>'
        if cards
        else ""
    )
    return f'<div class="zone-answer">{short}<div class="ans-text">{body}</div>{sources}</div>'


def render_question(question: str) -> str:
    """A user message as inert HTML."""
    return f'<div class="zone-question">{text_html(question)}</div>'


def render_partial(text: str) -> str:
    """An answer still streaming in: escaped text with a typing cursor."""
    body = text_html(text) + "▍"
    return f'<div class="zone-answer streaming"><div class="ans-text">{body}</div></div>'


def render_error(message: str) -> str:
    """A problem with the question (too long, no index...), shown as text."""
    return f'<div class="zone-answer error"><div class="ans-text">{text_html(message)}</div></div>'


def render_turn(turn: Turn) -> str:
    """The assistant message of a finished turn."""
    if turn.answer is not None:
        return render_answer(turn.answer, turn.turn_id)
    return render_error(turn.error)


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The Chatbot value for a conversation: a user and an assistant message per turn."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        messages.append({"role": "user", "content": render_question(turn.shown_question)})
        messages.append({"role": "assistant", "content": render_turn(turn)})
    return messages


def stream_prefixes(text: str) -> list[str]:
    """Growing prefixes of an answer, clause by clause, ending with the whole text."""
    prefixes: list[str] = []
    end = 0
    for match in _PIECE.finditer(text):
        if match.end() > end:
            end = match.end()
            prefixes.append(text[:end])
    if not prefixes or prefixes[-1] != text:
        prefixes.append(text)
    return prefixes


# --- Markdown briefing -----------------------------------------------------------------------


def turn_briefing(
    turns: Sequence[Turn],
    description: str,
    exported_at: datetime | None = None,
    title: str = "",
    last_only: bool = False,
) -> Briefing:
    """The briefing of a conversation (or of its last answer, with the question it follows),
    the same document as `zone-assistant brief` writes."""
    answers = [
        (replace(t.answer, question=t.shown_question) if t.closer else t.answer)
        if t.answer is not None
        else Answer(question=t.shown_question, answer=f"Error: {t.error}", refused=True)
        for t in turns
    ]
    when = exported_at or datetime.now(UTC)
    return build_briefing(answers, description, when, title, last_only=last_only)


def answer_record(turn: Turn) -> dict[str, Any]:
    """The answer of a turn as the `ask --json` contract object (error turns: answer is None)."""
    if turn.answer is None:
        return {"question": turn.question, "answer": None, "error": turn.error}
    return turn.answer.to_json()
