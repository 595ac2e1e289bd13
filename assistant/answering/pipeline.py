"""The answering chain: clean, rewrite a follow-up, retrieve, answer, check citations once.

Plain typed calls, one path for asking and streaming (`_streamed`): LangChain stays at the
edges, where its interfaces carry weight (the retrievers and the vector store behind
answering/retrieval.py, the embeddings). A chain of RunnableLambdas that only `ask` ran, while
streaming wired the same steps by hand, added nothing but a second path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol, runtime_checkable

from assistant.answering import question as q
from assistant.answering.archive import Archive, as_of, label, reconcile, relative_note
from assistant.answering.citations import Checked, check, merge_checked
from assistant.answering.retrieval import Search
from assistant.answering.translate import QueryTranslator
from assistant.errors import AssistantError
from assistant.schema import Answer, Context, Draft, Query, QueryPart, Retrieved
from assistant.timing import stage
from ingest.text.width import language

logger = logging.getLogger(__name__)


class Answerer(Protocol):
    """Turns a question and its retrieved contexts into a draft answer with [n] markers."""

    name: str

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Answer from the contexts only."""
        ...


@runtime_checkable
class StreamingAnswerer(Protocol):
    """An answerer whose reply can be shown while it is generated (the LLM answerer)."""

    def stream(self, question: str, contexts: Sequence[Context], lang: str) -> Iterator[str]:
        """The raw reply, piece by piece."""
        ...

    def draft(self, reply: str, question: str, contexts: Sequence[Context], lang: str) -> Draft:
        """The finished reply as a draft."""
        ...


class LLMReader(Answerer, StreamingAnswerer, Protocol):
    """A generative answerer that streams: what reads closer."""


@dataclass(frozen=True)
class Request:
    """What the chain is asked: the question as typed, the earlier questions, passages wanted."""

    question: str | q.CleanQuestion
    history: tuple[str, ...] = ()
    k: int | None = None


class Assistant:
    """Answers questions from the index with checked citations; built by assistant.app."""

    def __init__(
        self,
        search: Search,
        answerer: Answerer,
        max_question_chars: int = 1000,
        warmers: Sequence[Callable[[], Any]] = (),
        description: str = "",
        translator: QueryTranslator | None = None,
        snapshot: Callable[[], AbstractContextManager[None]] = nullcontext,
        rewriter: Callable[[str, list[str]], str] | None = None,
        query_translator: Callable[[str], str] | None = None,
        archive: Callable[[], Archive] | None = None,
        today: Callable[[], date] = date.today,
        k: int = 4,
        article: Callable[[str], list[Context]] | None = None,
        reader: LLMReader | None = None,
        closer: Callable[[str, Sequence[Context], str], list[Context]] | None = None,
    ) -> None:
        self.search = search
        self.answerer = answerer
        self.max_question_chars = max_question_chars
        self.description = description
        self.translator = translator
        # Pins one committed state of the index for everything a question reads.
        self.snapshot = snapshot
        # With an LLM configured: it rewrites follow-ups and translates English questions.
        self.rewriter = rewriter
        self.query_translator = query_translator
        # The documents' dates and reposts, of the pinned state; `today` reads "截至去年".
        self.archive = archive
        self.today = today
        self.k = k
        # Every body chunk of one article, in its order: what an overview question reads.
        self.article = article
        # "Read closer": a generative reader, and the passages it reads (assistant/llm/reading.py).
        self.reader = reader
        self.closer = closer
        self._warmers = list(warmers)
        self._streamer = answerer if isinstance(answerer, StreamingAnswerer) else None

    def warm_up(self) -> None:
        """Load models and indexes now, so the first question is not slow."""
        for warm in self._warmers:
            warm()

    def clean(self, question: str) -> q.CleanQuestion:
        """The question cleaned and checked (InvalidQuestionError when it cannot be used)."""
        return q.clean_question(question, self.max_question_chars)

    def ask(
        self, question: str | q.CleanQuestion, history: Sequence[str] = (), k: int | None = None
    ) -> Answer:
        """Answer one question; `history` holds the previous questions of the conversation."""
        *_, answer = self._streamed(Request(question, tuple(history), k), self._streamer,
                                    self.answerer)  # fmt: skip
        assert isinstance(answer, Answer)  # the stream's last item is always the Answer
        return answer

    def stream(
        self, question: str | q.CleanQuestion, history: Sequence[str] = (), k: int | None = None
    ) -> Iterator[str | Answer]:
        """The reply as it is generated (text pieces, when the answerer streams), then the
        checked Answer, which replaces what was streamed."""
        return self._streamed(Request(question, tuple(history), k), self._streamer, self.answerer)

    def read_closer(
        self, question: str | q.CleanQuestion, history: Sequence[str] = ()
    ) -> Iterator[str | Answer]:
        """The reader's answer (ASSISTANT_LLM_ROLE=read) from the passages the answer decision
        ranks best (assistant/llm/reading.py), streamed, then checked like any answer."""
        if self.reader is None or self.closer is None:
            raise AssistantError("no reader is configured (ASSISTANT_LLM_ROLE=read)")
        return self._streamed(Request(question, tuple(history)), self.reader, self.reader, True)

    def _streamed(
        self,
        request: Request,
        streamer: StreamingAnswerer | None,
        answerer: Answerer,
        closer: bool = False,
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        # The snapshot is not held across a yield: the consumer may resume this generator in
        # another thread (and context), where the pinned state could not be released.
        with self.snapshot():
            retrieved = self.retrieve(self.prepare(request))
            if closer and self.closer is not None and not retrieved.refusal:
                lang = retrieved.query.lang
                per_part = tuple(
                    tuple(self.closer(part.text, found, lang))
                    for part, found in zip(retrieved.query.parts, retrieved.per_part, strict=True)
                )
                retrieved = replace(retrieved, per_part=per_part)
            if streamer is None or retrieved.refusal:
                whole = self.reply(retrieved, answerer)
        if streamer is None or retrieved.refusal:
            yield _timed(whole, started)
            return
        query, drafts = retrieved.query, []
        for part, contexts in zip(query.parts, retrieved.per_part, strict=True):
            reply = ""
            for piece in streamer.stream(part.text, contexts, query.lang):
                reply += piece
                yield piece
            drafts.append(streamer.draft(reply, part.text, contexts, query.lang))
        yield _timed(self._finish(retrieved, drafts, answerer), started)

    # --- chain steps -------------------------------------------------------------------------

    def prepare(self, request: Request) -> Query:
        """Clean the question, make a follow-up standalone, split it into parts to search."""
        with stage("prepare"):
            return self._prepare(request)

    def _prepare(self, request: Request) -> Query:
        text = (
            request.question
            if isinstance(request.question, q.CleanQuestion)
            else self.clean(request.question)
        )
        history = [h for h in request.history if isinstance(h, str) and h.strip()]
        if history and self.rewriter is not None:
            standalone = self.rewriter(text, history)
        else:
            standalone = q.rewrite_followup(text, history)
        lang = language(text)
        parts = tuple(
            QueryPart(part, self._search_text(part, lang)) for part in q.split_questions(standalone)
        )
        return Query(str(text), standalone, lang, parts, tuple(history), request.k)

    def _search_text(self, text: str, lang: str) -> str:
        if self.translator is None:
            return text
        if lang == "en":
            # BM25 over Chinese articles needs Chinese words; keep the English for the dense side.
            chinese = self.translator.to_chinese(text)
            if self.query_translator is not None:
                chinese = f"{self.query_translator(text)} {chinese}"
            return f"{chinese} {text}"
        return f"{text} {self.translator.expand_chinese(text)}".strip()

    def retrieve(self, query: Query) -> Retrieved:
        """The contexts of each part of the query, in rank order: with their articles' dates,
        reposts folded, only of the time asked about when the question says "as of"; for an
        overview ("总结一下…", "what changed"), the whole of the best article, in its order."""
        retrieved = self._retrieve(query)
        if self.article is None or retrieved.refusal:
            return retrieved
        per_part = tuple(
            tuple(self._whole_article(found)) if q.kind(part.text) == "overview" else found
            for part, found in zip(query.parts, retrieved.per_part, strict=True)
        )
        return replace(retrieved, per_part=per_part)

    def _whole_article(self, found: Sequence[Context]) -> list[Context]:
        """The best article's chunks, those retrieved keeping their scores and dates."""
        if not found or self.article is None:
            return list(found)
        retrieved = {c.chunk_id: c for c in found}
        best = found[0]
        whole = [
            retrieved.get(c.chunk_id) or replace(c, published=best.published, also_in=best.also_in)
            for c in self.article(best.source)
        ]
        return whole or list(found)

    def _retrieve(self, query: Query) -> Retrieved:
        archive = self.archive() if self.archive is not None else None
        if archive is None:
            with stage("retrieve"):
                per_part = tuple(tuple(self.search.search(p, query.k)) for p in query.parts)
            return Retrieved(query, per_part)
        k = query.k or self.k
        when = as_of(query.standalone, self.today()) if archive.dated else None
        # Wider when passages may be folded or left out, so that k remain.
        wide = 3 * k if when is not None or archive.reposts else k
        with stage("retrieve"):
            found = [archive.fold(self.search.search(p, wide), wide) for p in query.parts]
        if when is None:
            return Retrieved(query, tuple(tuple(f[:k]) for f in found))
        refusal = archive.uncovered(when, query.lang)
        if refusal:
            return Retrieved(query, tuple(tuple(f[:k]) for f in found), refusal=refusal)
        return Retrieved(query, tuple(tuple(archive.within(f, when)[:k]) for f in found))

    def reply(self, retrieved: Retrieved, answerer: Answerer | None = None) -> Answer:
        """Answer each part, then check the citations of the whole answer."""
        query = retrieved.query
        answerer = answerer or self.answerer
        with stage("answer"):
            drafts = [
                answerer.answer(part.text, contexts, lang=query.lang)
                for part, contexts in zip(query.parts, retrieved.per_part, strict=True)
                if not retrieved.refusal  # a time no article covers: nothing to draft
            ]
        with stage("check citations"):
            return self._finish(retrieved, drafts, answerer)

    def _finish(
        self, retrieved: Retrieved, drafts: Sequence[Draft], answerer: Answerer | None = None
    ) -> Answer:
        """Check each part's draft (once), then join the parts' answers."""
        query = retrieved.query
        if retrieved.refusal:  # the question asks about a time no article covers
            return Answer(
                question=query.question,
                answer=retrieved.refusal,
                refused=True,
                contexts=retrieved.contexts,
                standalone_question=query.standalone,
                signals={"refused_by": "as of"},
            )
        parts, shorts = [], []
        for draft, part, contexts in zip(drafts, query.parts, retrieved.per_part, strict=True):
            checked, short = self._checked(
                draft, part.text, contexts, query.lang, answerer or self.answerer
            )
            parts.append(checked)
            shorts.append(short)
        checked = merge_checked(parts, query.lang)
        text = checked.text
        if not checked.refused and self.archive is not None:
            quoted = [(c.quote, c.published) for c in checked.citations]
            if note := relative_note(quoted, query.lang):
                text += "\n" + note
        return Answer(
            question=query.question,
            answer=text,
            refused=checked.refused,
            citations=checked.citations,
            contexts=retrieved.contexts,
            standalone_question=query.standalone,
            short_answer=_joined_short(shorts, parts),
            signals=drafts[0].signals if drafts else {},
        )

    def _checked(
        self,
        draft: Draft,
        question: str,
        contexts: Sequence[Context],
        lang: str,
        answerer: Answerer,
    ) -> tuple[Checked, str]:
        """One part's draft checked, and its short answer. When dated articles give different
        figures for it, each article's answer, the newest first and each under its date."""
        accept = getattr(answerer, "accepts", None)
        checked = check(draft, question, lang, accept)
        if checked.refused or self.archive is None:
            return checked, draft.short_answer
        versions = reconcile(
            question, draft, contexts, lambda q, ctxs: answerer.answer(q, ctxs, lang=lang)
        )
        said = [(when, check(d, question, lang, accept), d) for when, d in versions]
        said = [(when, c, d) for when, c, d in said if not c.refused]
        if len(said) < 2:
            return checked, draft.short_answer
        labelled = [
            replace(c, text=f"{label(i, when, lang)}\n{c.text}")
            for i, (when, c, _) in enumerate(said)
        ]
        return merge_checked(labelled, lang, sep="\n"), said[0][2].short_answer


def _joined_short(shorts: Sequence[str], parts: Sequence[Checked]) -> str:
    """The short answers of the answered parts, when each has one: "6个" alone would read as
    the whole answer to "下设几个子公司？资产总额是多少？"."""
    said = [s for s, c in zip(shorts, parts, strict=True) if not c.refused]
    return "；".join(said) if all(said) else ""


def _timed(answer: Answer, started: float) -> Answer:
    return replace(answer, latency_ms=(time.perf_counter() - started) * 1000)
