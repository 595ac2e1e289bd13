"""Overview questions ("总结一下改革的主要做法", "What changed in the reform?"): answered by the
sentences that carry an article's structure, quoted in the article's order, each cited.

An overview is not one fact near the question's words; it is what the whole article keeps
coming back to. The sentences are chosen with SumBasic (Nenkova & Vanderwende, 2005), written
here because it is a dozen lines and parameter-free: a sentence is worth the average frequency,
in the article, of the content words it holds; after each pick the words it covered count the
square of their frequency, so the next pick says something else. On the zone article it picks
the sentence that names the reform's three mechanisms (管委会 with the subdistrict, the platform
companies and the parks) and sentences on them. An overview of one part of an article
("开发区与街道的协同") reads first the sentences on that part.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

from assistant.answering.selection import Scored
from assistant.schema import Context
from ingest.text.sentences import split_sentences
from ingest.text.tokens import question_terms

# The words that only ask for an overview: they say nothing about its topic.
OVERVIEW_WORDS = re.compile(
    r"总结|概括|概述|归纳|综述|主要|做法|举措|内容|经验|成效|变化|介绍|简介|一下|这篇|文章|讲|说"
    r"|summar\w*|overview|sum up|changed?|main|key|points?|measures?|steps?|achievements?|article",
    re.I,
)
MOST = 4  # sentences in an overview: about one a part of a newspaper article
SHORTEST = 8  # characters: a shorter "sentence" is a heading or a fragment, not a statement


def content_words(text: str) -> list[str]:
    """The nouns and verbs of 2+ characters that a sentence is about (jieba)."""
    return [w for w, kind in question_terms(text, len(text)) if kind and len(w) > 1]


def overview_sentences(
    contexts: Sequence[Context], topic: Sequence[Sequence[str]] = (), most: int = MOST
) -> list[Scored]:
    """The sentences of the contexts (one article's chunks) that carry its structure, in the
    article's order. `topic`: what the question asks the overview to be about, each item the
    words that say it (one word in Chinese; an English word's translations)."""
    sentences: list[Scored] = []
    seen: set[tuple[str, int]] = set()  # neighbouring chunks share a sentence
    for rank, ctx in enumerate(contexts):
        for start, end in split_sentences(ctx.text):
            text = ctx.text[start:end]
            where = (ctx.source, ctx.char_start + start)
            if len(text.strip()) >= SHORTEST and where not in seen:
                seen.add(where)
                sentences.append(Scored(0.0, 0.0, rank, start, end, text))
    words = [set(content_words(s.text)) for s in sentences]
    candidates = [i for i, s in enumerate(sentences) if words[i]]
    # An overview of one part ("开发区与街道的协同") reads the sentences on that part: each of the
    # topic's words counts by its rarity in the article (协同 more than 开发区, which many
    # sentences hold; a word over half of them hold says nothing of which part is asked about).
    on_topic = [0.0] * len(sentences)
    for group in topic:
        holds = [any(w in s.text for w in group) for s in sentences]
        if 0 < sum(holds) <= len(sentences) / 2:
            rarity = math.log(len(sentences) / sum(holds))
            on_topic = [t + rarity * h for t, h in zip(on_topic, holds, strict=True)]
    counts = Counter(w for ws in words for w in ws)
    total = sum(counts.values()) or 1
    p = {w: c / total for w, c in counts.items()}
    chosen: list[int] = []
    for _ in range(min(most, len(candidates))):
        # Most on the topic first; then the frequency its words still carry, per square root
        # of its length (a long sentence says more, but not in proportion: SumBasic's plain
        # average favoured slogans of two words).
        best = max(
            (i for i in candidates if i not in chosen),
            key=lambda i: (
                on_topic[i],
                sum(p[w] for w in words[i]) / math.sqrt(len(sentences[i].text)),
            ),
        )
        chosen.append(best)
        for w in words[best]:
            p[w] = p[w] ** 2
    return sorted(
        (sentences[i] for i in chosen),
        key=lambda s: contexts[s.context_rank].char_start + s.start,
    )


def topic_words(question: str, is_known: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """(the words the overview is about, the ones no article holds): the question's content
    words less the overview's own ("总结一下火星殖民计划" is about 火星, 殖民 and 计划), neighbours
    joined where the articles write them joined (jieba cuts 平台公司 into 平台 and 公司, and 平台
    alone is also 平台共搭共用)."""
    topic: list[str] = []
    end = -1
    for word, kind in question_terms(question):
        at = question.find(word, max(end, 0))
        if kind and not OVERVIEW_WORDS.search(word):
            if topic and at == end and is_known(topic[-1] + word):
                topic[-1] += word
            else:
                topic.append(word)
        end = at + len(word) if at >= 0 else end
    return topic, [w for w in topic if not is_known(w)]
