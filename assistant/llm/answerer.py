"""The generative answerer: any OpenAI-compatible chat endpoint, prompted to cite [n] markers.

Its replies become drafts like any answerer's; the chain's citation check
(assistant.answering.citations) then keeps only what the cited passages support.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from assistant.answering.citations import Claim, addresses, check_claim, split_claims
from assistant.llm import prompts
from assistant.llm.client import ChatClient
from assistant.llm.guard import (
    echoes_prompt,
    is_refusal,
    looks_like_instruction,
    one_question,
    passage_text,
    reply_without_tags,
)
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

    def __init__(
        self,
        client: ChatClient,
        max_tokens: int = ANSWER_TOKENS,
        words_for: Callable[[str], list[frozenset[str]]] | None = None,
        on_topic: bool = True,
    ) -> None:
        self.client = client
        self.max_tokens = max_tokens
        # Whether a reply must touch the question's words (see `accepts`): not for a reader
        # given the passages the answer decision ranked (a paraphrased question shares no words
        # with its answer; eval/decisions.md).
        self.on_topic = on_topic
        # English words to the corpus words that say them (QueryTranslator.groups): how a name
        # in an English sentence is looked for in the Chinese passage it cites.
        self.words_for = words_for

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
        return to_draft(reply, contexts, lang, question, self.words_for)

    def accepts(self, claims: list[Claim], question: str) -> bool:
        """Small models copy whichever passage comes first: supported sentences that never
        touch the question's words do not answer it."""
        return not self.on_topic or addresses(claims, question)

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


def to_draft(
    reply: str,
    contexts: Sequence[Context],
    lang: str,
    question: str = "",
    translate: Callable[[str], list[frozenset[str]]] | None = None,
) -> Draft:
    """The reply as a draft: markers normalised, echoes of the prompt removed, sentences
    attributed to the passage that supports them, English sentences naming what neither the
    question nor their passage names removed.

    Marker n names contexts[n - 1]; a marker without such a context stays in the text, so the
    citation check drops its sentence. The quotes are chosen after that check.
    """
    # The English glosses the prompt adds to figures (assistant/llm/reading.py) are no source's
    # words: a reader that copies them does not keep them.
    reply = _GLOSS.sub("", reply_without_tags(reply))
    if not contexts or not reply.strip() or is_refusal(reply, lang):
        return Draft.refusal(lang)
    claims = attributed(without_leaks(split_claims(reply), contexts, lang), contexts)
    if lang == "en" and translate is not None:
        claims = founded(claims, contexts, question, translate)
    text = "\n".join(c.text + "".join(marker(m) for m in c.markers) for c in claims)
    cited = {m: contexts[m - 1] for c in claims for m in c.markers if 1 <= m <= len(contexts)}
    return Draft(text, refused=False, cited=cited)


def attributed(claims: list[Claim], contexts: Sequence[Context]) -> list[Claim]:
    """Each sentence the model left without a marker, or marked with a passage that does not
    support it, given the first passage that does, if one does: a small reader forgets markers
    or writes them before the sentence they belong to ("[2]下设6个子公司。" reads as marking the
    next one), and every citation shown is still one the check confirmed. Sentences of markers
    alone, and repeated ones, are dropped."""
    numbered = dict(enumerate(contexts, start=1))
    out: list[Claim] = []
    for claim in claims:
        if not claim.text.strip(" \n。.，,") or any(c.text == claim.text for c in out):
            continue  # a sentence said twice is said once
        if not claim.markers or check_claim(claim, numbered):
            n = next(
                (n for n in numbered if not check_claim(replace(claim, markers=(n,)), numbered)),
                None,
            )
            claim = replace(claim, markers=(n,)) if n else claim
        out.append(claim)
    return out


_GLOSS = re.compile(r"〔[^〕]{0,80}〕")
# A name in an English sentence: capitalised words in a row ("Akira Toriyama", "DC Comics").
_NAME_RUN = re.compile(r"[A-Z][\w'’.-]*(?:\s+(?:of|de|the|and)?\s*[A-Z][\w'’.-]*)*")


def founded(
    claims: list[Claim],
    contexts: Sequence[Context],
    question: str,
    translate: Callable[[str], list[frozenset[str]]],
) -> list[Claim]:
    """The English sentences whose every name is in the question or in the passage they cite
    (as written, or in a Chinese word that translates it). The citation check compares the
    figures of an English sentence with its Chinese passage, but not its words: a 1.5B reader
    wrote "created by Akira Toriyama [1]" over a passage naming 大久保笃, and "Kreta Ayer is in
    Albania [1]"; such a sentence is removed."""
    numbered = dict(enumerate(contexts, start=1))
    asked = question.lower()
    out = []
    for claim in claims:
        passage = " ".join(numbered[m].text for m in claim.markers if m in numbered)
        missing = [
            run
            for run in _NAME_RUN.findall(claim.text)
            if not _said(run, asked, passage, translate)
        ]
        words = [w for w in re.findall(r"[a-z]{4,}", claim.text) if w not in _FUNCTION_WORDS]
        said = sum(_said(w, asked, passage, translate) for w in words)
        if words and said < MIN_WORDS_SAID * len(words):
            missing.append(f"{said} of {len(words)} words")
        if missing:
            logger.info("removed a sentence naming what its passage does not: %s", missing)
        else:
            out.append(claim)
    return out


def _said(
    run: str, asked: str, passage: str, translate: Callable[[str], list[frozenset[str]]]
) -> bool:
    """Every word of a name is in the question, or the passage, as written or translated;
    a word the dictionary has nothing for, or an English function word, says nothing."""
    lowered = passage.lower()
    for word in re.findall(r"[A-Za-z][\w'’-]*", run):
        plain = word.lower().rstrip("'’s")
        if plain in asked or plain in lowered:
            continue
        groups = translate(word)
        if not groups and word.lower() in _FUNCTION_WORDS:
            continue
        if not any(w in passage for g in groups for w in g):
            return False
    return True


# ... and at least this share of its other words (4+ letters) too: "it is a potent antifungal
# agent that can cause liver damage" over a passage on its toxicity for DNA was 1 in 9
# (eval/decisions.md).
MIN_WORDS_SAID = 0.3
_FUNCTION_WORDS = frozenset(
    "the a an in on at of to for by with from and or is are was were it its this that these "
    "those he she they his her their there as".split()
)


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
