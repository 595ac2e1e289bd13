"""The answering chain: clean, rewrite a follow-up, retrieve, answer, verify citations."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from assistant import question as q
from assistant.answer import REFUSAL, Draft
from assistant.citations import renumber, verify
from assistant.schema import Answer, Citation, Context
from assistant.translate import QueryTranslator

logger = logging.getLogger(__name__)


class Answerer(Protocol):
    """Turns a question and its retrieved contexts into a draft answer with [n] markers."""

    name: str

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Answer from the contexts only."""
        ...


def to_context(doc: Document) -> Context:
    """A retrieved LangChain document as the answer's context record."""
    m = doc.metadata
    return Context(
        chunk_id=str(doc.id or m.get("chunk_id")),
        source=str(m.get("source", "")),
        text=doc.page_content,
        score=float(m.get("score", 0.0)),
        title=str(m.get("title", "")),
        char_start=int(m.get("char_start", 0)),
        char_end=int(m.get("char_end", 0)),
        paragraph=int(m.get("paragraph", 0)),
    )


class Assistant:
    """Answers questions from the index with verified citations; built by app.build_assistant."""

    def __init__(
        self,
        retriever: BaseRetriever,
        answerer: Answerer,
        max_question_chars: int = 1000,
        warmers: Sequence[Any] = (),
        description: str = "",
        translator: QueryTranslator | None = None,
        snapshot: Callable[[], AbstractContextManager[None]] = nullcontext,
        rewriter: Callable[[str, list[str]], str] | None = None,
        query_translator: Callable[[str], str] | None = None,
    ) -> None:
        self.translator = translator
        self.snapshot = snapshot
        # With an LLM configured: it rewrites follow-ups and translates English questions.
        self.rewriter = rewriter
        self.query_translator = query_translator
        self.retriever = retriever
        self.answerer = answerer
        self.max_question_chars = max_question_chars
        self.description = description
        self._warmers = list(warmers)
        self.chain = (
            RunnableLambda(self._prepare)
            | RunnableLambda(self._retrieve)
            | RunnableLambda(self._answer)
        )

    def warm_up(self) -> None:
        """Load models and indexes now, so the first question is not slow."""
        for warm in self._warmers:
            warm()

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Answer:
        """Answer one question; `history` holds the previous questions of the conversation."""
        started = time.perf_counter()
        with self.snapshot():
            result: Answer = self.chain.invoke(
                {"question": question, "history": list(history), "k": k}
            )
        return Answer(
            question=result.question,
            answer=result.answer,
            refused=result.refused,
            citations=result.citations,
            contexts=result.contexts,
            latency_ms=(time.perf_counter() - started) * 1000,
            standalone_question=result.standalone_question,
        )

    # --- chain steps -------------------------------------------------------------------------

    def _prepare(self, state: dict[str, Any]) -> dict[str, Any]:
        text = q.clean_question(state["question"], self.max_question_chars)
        history = [h for h in state["history"] if isinstance(h, str) and h.strip()]
        if history and self.rewriter is not None:
            standalone = self.rewriter(text, history)
        else:
            standalone = q.rewrite_followup(text, history)
        lang = q.language(text)
        # "几个子公司？资产总额是多少？" is two questions: each is retrieved and answered alone.
        parts = q.split_questions(standalone)
        queries = [self._query(part, lang) for part in parts]
        return {
            **state,
            "question": text,
            "standalone": standalone,
            "parts": parts,
            "queries": queries,
            "lang": lang,
        }

    def _query(self, text: str, lang: str) -> str:
        if self.translator is None:
            return text
        if lang == "en":
            # BM25 over Chinese articles needs Chinese words; keep the English for the dense side.
            chinese = self.translator.to_chinese(text)
            if self.query_translator is not None:
                chinese = f"{self.query_translator(text)} {chinese}"
            return f"{chinese} {text}"
        return f"{text} {self.translator.expand_chinese(text)}".strip()

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        retriever = self.retriever
        if state.get("k"):
            retriever = retriever.model_copy(update={"k": int(state["k"])})
        per_part = [[to_context(d) for d in retriever.invoke(query)] for query in state["queries"]]
        merged: dict[str, Context] = {}
        for found in per_part:
            for ctx in found:
                merged.setdefault(ctx.chunk_id, ctx)
        return {**state, "per_part": per_part, "contexts": list(merged.values())}

    def _draft(self, state: dict[str, Any]) -> Draft:
        """One draft for all parts of the question, markers numbered across the parts."""
        merged = Draft("", refused=True)
        texts = []
        for part, contexts in zip(state["parts"], state["per_part"], strict=True):
            draft = self.answerer.answer(part, contexts, lang=state["lang"])
            if draft.refused:
                continue
            offset = len(merged.cited)
            text = draft.text
            for n in sorted(draft.cited, reverse=True):
                text = text.replace(f"[{n}]", f"[{n + offset}]")
                merged.cited[n + offset] = draft.cited[n]
                if n in draft.quotes:
                    merged.quotes[n + offset] = draft.quotes[n]
            texts.append(text)
            merged.refused = False
        merged.text = " ".join(texts) if merged.refused is False else REFUSAL[state["lang"]]
        return merged

    def _answer(self, state: dict[str, Any]) -> Answer:
        contexts: list[Context] = state["contexts"]
        lang = state["lang"]
        draft = self._draft(state)
        refused = draft.refused
        text, citations = draft.text, list[Citation]()
        if not refused:
            kept, dropped = verify(draft.text, draft.cited)
            for claim in dropped:
                logger.debug("dropped unsupported claim: %s", claim.text[:80])
            if kept:
                text, citations = renumber(kept, draft.cited, draft.quotes)
            else:
                refused, text = True, REFUSAL[lang]
        return Answer(
            question=state["question"],
            answer=text,
            refused=refused,
            citations=citations,
            contexts=contexts,
            standalone_question=state["standalone"],
        )
