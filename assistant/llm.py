"""The generative answerer: any OpenAI-compatible chat endpoint, prompted to cite [n] markers.

Its replies become drafts like any answerer's; the chain's citation check (assistant.citations)
then keeps only what the cited passages support.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace

from assistant import prompts
from assistant.citations import Claim, addresses, check_claim, split_claims
from assistant.guard import (
    echoes_prompt,
    is_refusal,
    looks_like_instruction,
    one_question,
    passage_text,
    reply_without_tags,
)
from assistant.llm_client import ChatClient
from assistant.schema import Context, Draft
from ingest.text.markers import marker
from ingest.text.width import language

logger = logging.getLogger(__name__)

ANSWER_TOKENS = 400
# A rewritten or translated question is one line.
QUESTION_TOKENS = 80


class LLMAnswerer:
    """Answers from the retrieved passages with an OpenAI-compatible chat model."""

    name = "llm"

    def __init__(self, client: ChatClient, max_tokens: int = ANSWER_TOKENS) -> None:
        self.client = client
        self.max_tokens = max_tokens

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Ask the model and turn its reply into a draft whose markers name the contexts."""
        lang = lang or language(question)
        reply = "".join(self.stream(question, contexts, lang))
        return self.draft(reply, question, contexts, lang)

    def stream(
        self, question: str, contexts: Sequence[Context], lang: str | None = None
    ) -> Iterator[str]:
        """The model's raw reply as it is generated (not yet checked; for a live UI)."""
        lang = lang or language(question)
        if not contexts:
            return
        if looks_like_instruction(question):
            logger.warning("the question tries to instruct the system; answering from passages")
        messages = prompts.answer_messages(question, contexts, lang)
        yield from self.client.complete(messages, self.max_tokens, stop=[prompts.STOP])

    def draft(self, reply: str, question: str, contexts: Sequence[Context], lang: str) -> Draft:
        """A finished reply as a draft (see `to_draft`)."""
        logger.info("LLM reply: %s", reply[:200].replace("\n", " "))
        return to_draft(reply, contexts, lang)

    @staticmethod
    def accepts(claims: list[Claim], question: str) -> bool:
        """Small models copy whichever passage comes first: supported sentences that never
        touch the question's words do not answer it."""
        return addresses(claims, question)

    def rewrite(self, question: str, history: Sequence[str]) -> str:
        """The follow-up as a standalone question, written by the model from earlier questions.

        Falls back to the question as asked when the reply is empty or implausible.
        """
        messages = prompts.rewrite_messages(question, history, language(question))
        return one_question(self._ask(messages), fallback=question)

    def translate(self, question: str) -> str:
        """The question in Chinese, for searching Chinese articles (the question if it fails)."""
        return one_question(self._ask(prompts.translate_messages(question)), fallback=question)

    def _ask(self, messages: prompts.Messages) -> str:
        return "".join(self.client.complete(messages, min(self.max_tokens, QUESTION_TOKENS)))


def to_draft(reply: str, contexts: Sequence[Context], lang: str) -> Draft:
    """The reply as a draft: markers normalised, echoes of the prompt removed.

    Marker n names contexts[n - 1]; a marker without such a context stays in the text, so the
    citation check drops its sentence. The quotes are chosen after that check.
    """
    reply = reply_without_tags(reply)
    if not contexts or not reply.strip() or is_refusal(reply, lang):
        return Draft.refusal(lang)
    claims = without_leaks(split_claims(reply), contexts, lang)
    text = "\n".join(c.text + "".join(marker(m) for m in c.markers) for c in claims)
    cited = {m: contexts[m - 1] for c in claims for m in c.markers if 1 <= m <= len(contexts)}
    return Draft(text, refused=False, cited=cited)


def without_leaks(claims: list[Claim], contexts: Sequence[Context], lang: str) -> list[Claim]:
    """Drop sentences that repeat the prompt's rules or rest on instructions cut from a passage."""
    rules = prompts.rules_text(lang)
    shown = {n: replace(c, text=passage_text(c.text)) for n, c in enumerate(contexts, start=1)}
    full = dict(enumerate(contexts, start=1))
    out = []
    for claim in claims:
        if echoes_prompt(claim.text, rules):
            logger.warning("removed a sentence that repeats the prompt's rules")
        elif check_claim(claim, shown) and not check_claim(claim, full):
            logger.warning("removed a sentence that rests on an instruction planted in a passage")
        else:
            out.append(claim)
    return out
