"""What keeps prompts and replies honest: planted instructions cut from passages, fake delimiters
removed, echoed rules and refusals recognised, implausible rewrites rejected."""

from __future__ import annotations

import re

from assistant.schema import REFUSAL
from ingest.text.markers import normalize_markers, strip_markers
from ingest.text.sentences import split_sentences

# Instructions planted in a document are not passed on to the model as if they were content.
INSTRUCTION = re.compile(
    r"(忽略|无视|忘记|忘掉|不要理会)(以上|上述|之前|前面|所有|全部|一切|的)*(规则|指令|指示|要求|提示)"
    r"|(系统|system)\s*(提示词|提示|prompt)"
    r"|\b(ignore|disregard|forget)\b.{0,30}\b(instructions?|rules|prompt)\b",
    re.IGNORECASE,
)
_TAG = re.compile(r"</?\s*(passage|question)\b[^>]*>", re.IGNORECASE)
_ECHO_SHARE = 0.5
_LABEL = re.compile(r"^(改写后的问题|问题|standalone question|translation)\s*[:：]\s*", re.I)


def looks_like_instruction(text: str) -> bool:
    """The text tries to instruct the system (ignore the rules, reveal the prompt…)."""
    return INSTRUCTION.search(text) is not None


def without_tags(text: str) -> str:
    """The text with <passage>/<question> delimiters replaced by spaces."""
    return _TAG.sub(" ", text)


def reply_without_tags(reply: str) -> str:
    """A reply with delimiters it wrote turned into line breaks (each starts a new claim)."""
    return _TAG.sub("\n", reply)


def passage_text(text: str) -> str:
    """A passage as the model sees it: planted instructions cut out, no fake delimiters."""
    for start, end in reversed(split_sentences(text)):
        if looks_like_instruction(text[start:end]):
            text = text[:start] + text[end:]
    return without_tags(text.strip())


def _core(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def is_refusal(reply: str, lang: str) -> bool:
    """The reply is the refusal sentence (in either language), perhaps with stray punctuation."""
    text = _core(strip_markers(normalize_markers(reply)))
    refusals = [_core(r) for r in (REFUSAL[lang], *REFUSAL.values())]
    return any(r in text and len(text) <= 2 * len(r) for r in refusals if r)


def echoes_prompt(claim: str, prompt: str) -> bool:
    """The claim repeats the rules of the prompt (a leak), judged by shared character trigrams."""
    text, source = _core(claim), _core(prompt)
    grams = {text[i : i + 3] for i in range(len(text) - 2)}
    if not grams:
        return False
    return sum(g in source for g in grams) / len(grams) >= _ECHO_SHARE


def one_question(reply: str, fallback: str) -> str:
    """The first non-empty line of a rewrite or translation, if it is a plausible question."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line)
    if not line or len(line) > 3 * len(fallback) + 40 or looks_like_instruction(line):
        return fallback
    return line
