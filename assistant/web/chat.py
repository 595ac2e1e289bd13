"""The chat's handlers, free of Gradio: stream an answer, retry, clear, rate, export, `ask` API."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.answering.pipeline import Assistant
from assistant.briefing import render_docx, render_markdown
from assistant.errors import LLMError
from assistant.schema import Answer
from assistant.web.feedback import FeedbackStore
from assistant.web.render import (
    Turn,
    answer_record,
    chat_messages,
    render_partial,
    render_question,
    stream_prefixes,
    turn_briefing,
)
from ingest.errors import UserError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exports:
    """The chat's downloads: the conversation (Markdown, Word) and the last answer."""

    conversation: Path | None = None
    word: Path | None = None
    last: Path | None = None


STREAM_DELAY_S = 0.03
# While the reader writes: its answer is shown only once the citation and figure checks are done.
READING = "细读中，核对引文后显示 · Reading closer; shown once its citations are checked"
UNEXPECTED = "Error: something went wrong while answering; please try again."
UNAVAILABLE = (
    "回答服务暂不可用，请稍后再试 · The answering service is unavailable; please try again later."
)


def public_message(exc: UserError) -> str:
    """What a web user is told: the error itself, except that the LLM endpoint's failures
    (which name the internal endpoint and its upstream error) are logged and not shown."""
    if isinstance(exc, LLMError):
        logger.warning("LLM endpoint failed: %s", exc)
        return UNAVAILABLE
    return str(exc)


StreamItem = str | Answer
ChatUpdate = tuple[str, list[dict[str, str]], list[Turn]]


def answer_stream(
    assistant: Assistant, question: str, history: Sequence[str]
) -> Iterator[StreamItem]:
    """The answer as it forms: text deltas (str, any number), then the final, checked Answer.

    A generative answer is shown while the model writes it; an extractive one, complete at
    once, is revealed clause by clause. The final Answer replaces the streamed text (the
    citation check may have changed it).
    """
    streamed = False
    for item in assistant.stream(question, history=list(history)):
        if isinstance(item, str):
            streamed = True
            yield item
            continue
        if not streamed and not item.refused:
            shown = ""
            for prefix in stream_prefixes(item.answer):
                yield prefix[len(shown) :]
                shown = prefix
        yield item


class ChatController:
    """The chat's event handlers as plain methods (Gradio-free, so tests call them directly)."""

    def __init__(
        self,
        assistant: Assistant,
        feedback: FeedbackStore,
        export_dir: Path,
        stream_delay: float = STREAM_DELAY_S,
        title: str = "",
    ) -> None:
        self.assistant = assistant
        self.title = title
        self.feedback = feedback
        self.export_dir = export_dir
        self.stream_delay = stream_delay

    def respond(self, message: str | None, turns: list[Turn]) -> Iterator[ChatUpdate]:
        """Answer a message, yielding (textbox value, chat messages, turns) as it streams."""
        question = (message or "").strip()
        if not question:
            yield "", chat_messages(turns), turns
            return
        shown = chat_messages(turns) + [{"role": "user", "content": render_question(question)}]
        yield "", [*shown, {"role": "assistant", "content": render_partial("")}], turns
        history = [t.question for t in turns if t.answer is not None]
        turn = Turn.new(question, error=UNEXPECTED)
        text = ""
        try:
            for item in answer_stream(self.assistant, question, history):
                if isinstance(item, Answer):
                    turn = Turn.new(question, answer=item)
                    break
                text += item
                yield "", [*shown, {"role": "assistant", "content": render_partial(text)}], turns
                if self.stream_delay:
                    time.sleep(self.stream_delay)
            else:
                logger.error("the answer stream ended without a final answer")
        except UserError as exc:
            turn = Turn.new(question, error=f"Error: {public_message(exc)}")
        except Exception:
            logger.exception("answering failed: %s", question[:80])
        new_turns = [*turns, turn]
        yield "", chat_messages(new_turns), new_turns

    def read_closer(self, turns: list[Turn]) -> Iterator[ChatUpdate]:
        """The reader's answer to the last question, as a turn of its own: a line that says
        it is reading while it reads, then its answer once checked (never the unchecked text)."""
        asked = [t for t in turns if not t.closer]
        if not asked or self.assistant.reader is None:
            yield "", chat_messages(turns), turns
            return
        question = asked[-1].question
        history = [t.question for t in asked[:-1] if t.answer is not None]
        turn = Turn.new(question, error=UNEXPECTED, closer=True)
        shown = [*chat_messages(turns), {"role": "user", "content": render_question(
            turn.shown_question)}]  # fmt: skip
        read = 0
        try:
            for item in self.assistant.read_closer(question, history):
                if isinstance(item, Answer):
                    turn = Turn.new(question, answer=item, closer=True)
                    break
                read += len(item)
                reading = {"role": "assistant", "content": render_partial(f"{READING} ({read})")}
                yield "", [*shown, reading], turns
        except UserError as exc:
            turn = Turn.new(question, error=f"Error: {public_message(exc)}", closer=True)
        except Exception:
            logger.exception("reading closer failed: %s", question[:80])
        new_turns = [*turns, turn]
        yield "", chat_messages(new_turns), new_turns

    def retry(self, turns: list[Turn], message_index: int | None = None) -> Iterator[ChatUpdate]:
        """Re-ask the question of chat message `message_index` (default: last); drop later turns."""
        if not turns:
            yield "", [], []
            return
        last = len(turns) - 1
        at = last if message_index is None else min(int(message_index) // 2, last)
        yield from self.respond(turns[at].question, turns[:at])

    @staticmethod
    def clear() -> ChatUpdate:
        """Start a new conversation."""
        return "", [], []

    def rate(self, turns: list[Turn], message_index: int, liked: bool | str | None) -> list[Turn]:
        """Store a thumbs up/down on the answer at chat message `message_index`; return turns."""
        at = int(message_index) // 2
        if liked is True or liked == "Like":
            rating = "up"
        elif liked is False or liked == "Dislike":
            rating = "down"
        else:
            return turns
        if not 0 <= at < len(turns):
            return turns
        turn = turns[at]
        self.feedback.record(answer_record(turn), rating, model=self.assistant.description)
        updated = replace(turn, rating=rating)
        return [*turns[:at], updated, *turns[at + 1 :]]

    def export(self, turns: Sequence[Turn], session: str) -> Exports:
        """Write the conversation as a Markdown and a Word briefing, and its last answer (with
        the question it follows) as Markdown; all None when there is nothing to export."""
        if not turns:
            return Exports()
        folder = self.export_dir / ("".join(ch for ch in session if ch.isalnum())[:64] or "local")
        folder.mkdir(parents=True, exist_ok=True)
        description = self.assistant.description
        whole = turn_briefing(turns, description, title=self.title)
        last = turn_briefing(turns, description, title=self.title, last_only=True)
        conversation, word = folder / "zone-briefing.md", folder / "zone-briefing.docx"
        one = folder / "zone-answer.md"
        conversation.write_text(render_markdown(whole), encoding="utf-8")
        render_docx(whole, word)
        one.write_text(render_markdown(last), encoding="utf-8")
        return Exports(conversation, word, one)

    def ask_json(self, question: str) -> dict[str, Any]:
        """The `ask` API: the same JSON object as `zone-assistant ask --json`."""
        return self.assistant.ask(question).to_json()
