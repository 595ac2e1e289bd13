"""The short answer: the asked fact, taken verbatim from the chosen sentence ("1900余家").

No model: the question's kind (a figure with its unit for 多少/几, a date for 什么时候, the
、-separated names for 哪些), the question's words around its wh-word (in "生命数耗完即算为什么？"
the words before 什么 end where the answer starts in "…生命数耗完即算为踢爆。"), and the question's
rarest words (the span nearest them wins). A span the question itself states is never the answer.
The eval reports how often it states the expected fact ("short" and "s.len" columns; the
figures when it was written: eval/decisions.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.answering.question import WH_WORD
from ingest.text.entities import RANK_SPAN, has_name, has_place
from ingest.text.quantities import (
    DATE_SPAN,
    FIGURE_RANGE,
    FIGURE_SPAN,
    FREQUENCY_SPAN,
    SPAN_OF_FIGURES,
)
from ingest.text.sentences import enumerations
from ingest.text.tokens import tagged

Span = tuple[int, int]
_TRAILING = re.compile(r"[呢吗嘛啊呀]?[?？。.!！\s]*$")
_DELIMITERS = "，,。；;！!？?：:\n"
_EDGE = "是为由于在的了：:，,、 和与及而则即"
_EMPTY_BRACKETS = re.compile(r"\s*[（(]\s*[)）]")
_EMPTY_BRACKETS_AT_END = re.compile(r"\s*[（(]\s*[)）]$")
# The character after 多少/几 ("几处", "多少毫米"): a figure counted in it is preferred, when the
# sentence has one (a fixed list of measure words missed 处, 毫米, 公斤… on Wikipedia passages).
_ASKED_MEASURE = re.compile(r"(?:多少|几)([\u4e00-\u9fff])")
# A lone Chinese numeral (一 of 一样, 之一) is a figure only when the sentence has no other.
_LONE_NUMERAL = re.compile(r"[一二两三四五六七八九十]")
# An aside of a Wikipedia-style lead, skipped where the answer starts: "潘嘉丽（英文名：…），是…".
_ASIDE_OPEN = {"（": "）", "(": ")", "-{": "}-"}
_YEAR_ONLY = re.compile(r"\d{4}年")
_SPANS = {"date": DATE_SPAN, "frequency": FREQUENCY_SPAN, "rank": RANK_SPAN}
_NAME_FLAGS = ("nr", "ns", "nt", "nz", "nrt", "nrfg", "eng", "j")
# 谁 wants a person or an organisation, 哪里 a place; a template span must hold one.
_KIND_FLAGS = {"who": ("nr", "nt", "nz", "nrt", "nrfg", "eng", "j"), "where": ("ns", "nsf")}
_NAMED = {"who": has_name, "where": has_place}
_ORG_SUFFIX = re.compile(r"集团|公司|大学|学院|银行|协会|研究院|研究所")
_WORDY = re.compile(r"[\w\u4e00-\u9fff]")
_EN_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_MAX_TEMPLATE = 40


class _Term(Protocol):
    @property
    def words(self) -> frozenset[str]: ...

    @property
    def weight(self) -> float: ...


HOW = ("figure", "list", "template", "name", "clause")


@dataclass(frozen=True)
class Short:
    """A short answer and how it was cut (one of HOW): the decision weighs them differently."""

    text: str
    how: str
    rivals: int = 0  # other spans of the kind asked for in the sentence (figures only)


def short_answer(
    question: str, sentence: str, kind: str, terms: Sequence[_Term], lang: str = "zh"
) -> str:
    """The asked fact: a verbatim substring of `sentence` (its best clause at worst)."""
    return cut_short(question, sentence, kind, terms, lang).text


def cut_short(
    question: str, sentence: str, kind: str, terms: Sequence[_Term], lang: str = "zh"
) -> Short:
    """The asked fact cut from `sentence`, and how (see `short_answer`)."""
    s = sentence.rstrip("。！？!?；; \n")
    anchors = _anchors(s, _focus_words(terms, s))
    template = template_span(question, s) if lang == "zh" else None
    if template and template[1] - template[0] > _MAX_TEMPLATE:
        template = None
    wants_figure = kind in ("number", "date", "frequency", "rank")
    if wants_figure or (kind == "fact" and re.search(r"多少|几", question)):
        figure = _figure(question, s, kind, template, anchors, lang)
        if figure:
            return Short(figure[0], "figure", figure[1])
    if kind == "list":
        names = _nearest(enumerations(s), template, anchors)
        if names:
            start = names[0]
            if template and names[0] < template[0] < s.find("、", names[0]):
                start = template[0]  # the list starts where the question's words end
            a, b = _trim(s, start, names[1])
            return Short(s[a:b], "list")
    named = _NAMED.get(kind)
    if template:
        a, b = _trim(s, *template)
        if _WORDY.search(s[a:b]) and (named is None or named(s[a:b])):
            return Short(s[a:b], "template")
    if lang == "en" or named is not None:
        name = _name(s, [w for t in terms for w in t.words], anchors, kind)
        if name:
            return Short(name, "name")
    a, b = _trim(s, *_clause(s, anchors))
    return Short(s[a:b] if b > a else s, "clause")


def template_span(question: str, sentence: str) -> Span | None:
    """Align the question around its wh-word with the sentence: the words before it end where
    the answer starts, the words after it begin where the answer ends."""
    q = _TRAILING.sub("", question.strip())
    wh = WH_WORD.search(q)
    if not wh:
        return None
    left, right = q[: wh.start()], q[wh.end() :]
    before = _find_piece(sentence, left, from_end=True, limit=5) if len(left) >= 2 else None
    after = None
    if len(right) >= 2:
        offset = before[1] if before else 0
        found = _find_piece(sentence[offset:], right, from_end=False)
        after = (found[0] + offset, found[1] + offset) if found else None
    if before and after and after[0] > before[1]:
        return before[1], after[0]
    if before and not after:
        return _clause_after(sentence, before[1])
    if after and not before:
        return _clause_before(sentence, after[0])
    return None


def _clause_after(s: str, begin: int) -> Span | None:
    begin = _past_asides(s, begin)
    end = begin
    while end < len(s) and s[end] not in _DELIMITERS:
        end += 1
    return (begin, end) if end > begin else None


def _past_asides(s: str, at: int) -> int:
    """Past delimiters and whole bracketed asides ("（英文名：…）", "-{zh-hant:…}-") from `at`."""
    while at < len(s):
        if s[at] in _DELIMITERS or s[at].isspace():
            at += 1
            continue
        opener = next((o for o in _ASIDE_OPEN if s.startswith(o, at)), None)
        if opener is None:
            return at
        close = s.find(_ASIDE_OPEN[opener], at + len(opener))
        if close == -1:
            return at
        at = close + len(_ASIDE_OPEN[opener])
    return at


def _clause_before(s: str, stop: int) -> Span | None:
    while stop > 0 and s[stop - 1] in _DELIMITERS:
        stop -= 1
    start = stop
    while start > 0 and s[start - 1] not in _DELIMITERS:
        start -= 1
    return (start, stop) if stop > start else None


def _find_piece(s: str, text: str, from_end: bool, limit: int = 3) -> Span | None:
    """The longest piece of text (2+ characters) found in s that ends (from_end) or starts
    within `limit` characters of text's edge; its span in s."""
    n = len(text)
    for length in range(n, 1, -1):
        for off in range(0, min(limit, n - length) + 1):
            piece = text[n - length - off : n - off] if from_end else text[off : off + length]
            at = s.find(piece) if piece.strip() else -1
            if at != -1:
                return at, at + len(piece)
    return None


def _figure(
    question: str, s: str, kind: str, template: Span | None, anchors: list[int], lang: str
) -> tuple[str, int] | None:
    """The figure, date or frequency asked for: not one the question states, in the unit asked;
    and how many others the sentence offers (its rivals)."""
    asked = question.replace(" ", "")
    spans = [m.span() for m in _SPANS.get(kind, FIGURE_SPAN).finditer(s) if m.group().strip()]
    stated = set(re.findall(r"\d+", asked)) | {
        str(_EN_NUMBERS.index(w)) for w in re.findall(r"[a-z]+", asked.lower()) if w in _EN_NUMBERS
    }
    spans = [
        sp
        for sp in spans
        if s[sp[0] : sp[1]] not in asked
        and not (lang == "en" and set(re.findall(r"\d+", s[sp[0] : sp[1]])) & stated)
    ]
    if kind != "date":  # a year is not the figure asked for
        spans = [sp for sp in spans if not _YEAR_ONLY.fullmatch(s[sp[0] : sp[1]])] or spans
    spans = [sp for sp in spans if not _LONE_NUMERAL.fullmatch(s[sp[0] : sp[1]])] or spans
    measure = _ASKED_MEASURE.search(asked)
    if measure:  # "几个方面" wants a figure counted in 个
        spans = [sp for sp in spans if measure[1] in s[sp[0] : sp[1]]] or spans
    best = _nearest(spans, template, anchors)
    if best and kind == "number" and len(re.findall(r"多少|几", question)) >= 2:
        # "从多少增长到了多少": a figure, 到/至, a figure
        ranges = [m.span() for m in FIGURE_RANGE.finditer(s)]
        best = _nearest(ranges, template, anchors) or best
    if best and kind != "date":  # "约15至20厘米" is one answer, not its "20厘米"
        best = next(
            (m.span() for m in SPAN_OF_FIGURES.finditer(s)
             if m.start() <= best[0] and best[1] <= m.end()),
            best,
        )  # fmt: skip
    return (s[best[0] : best[1]], len(spans) - 1) if best else None


def _focus_words(terms: Sequence[_Term], sentence: str) -> list[str]:
    """The words of the two rarest question terms that the sentence contains."""
    low = sentence.lower()
    present = sorted(
        (t for t in terms if any(w.lower() in low for w in t.words)), key=lambda t: -t.weight
    )
    return [w for t in present[:2] for w in sorted(t.words)]


def _anchors(sentence: str, words: list[str]) -> list[int]:
    """Where the words start and end in the sentence."""
    low, out = sentence.lower(), []
    for word in words:
        at = low.find(word.lower())
        while at != -1:
            out += [at, at + len(word)]
            at = low.find(word.lower(), at + 1)
    return out


def _nearest(spans: list[Span], target: Span | None, anchors: list[int]) -> Span | None:
    """The span inside the template's, else the one nearest the question's words."""
    if not spans:
        return None
    if target:
        inside = [sp for sp in spans if sp[0] < target[1] and sp[1] > target[0]]
        if inside:
            return max(inside, key=lambda sp: (sp[1] - sp[0], -sp[0]))
    if anchors:
        return min(
            spans, key=lambda sp: (min(min(abs(x - sp[0]), abs(x - sp[1])) for x in anchors), sp[0])
        )
    return spans[0]


def _trim(s: str, a: int, b: int) -> Span:
    """Without empty brackets and the function characters at either end."""
    while match := _EMPTY_BRACKETS.match(s[a:b]):
        a += match.end()
    while match := _EMPTY_BRACKETS_AT_END.search(s, a, b):
        b = match.start()
    while a < b and s[a] in _EDGE:
        a += 1
    while b > a and s[b - 1] in _EDGE + "等":
        b -= 1
    return a, b


def _clause(s: str, anchors: list[int]) -> Span:
    """The clause (between , ; : marks) holding most of the question's words."""
    bounds = [0] + [i + 1 for i, ch in enumerate(s) if ch in _DELIMITERS] + [len(s)]
    best, most = (0, len(s)), -1
    for a, b in zip(bounds, bounds[1:], strict=False):
        n = sum(1 for x in anchors if a <= x < b)
        if n > most and s[a:b].strip(_DELIMITERS + " "):
            best, most = (a, b), n
    return best


def _name(s: str, words: list[str], anchors: list[int], kind: str = "fact") -> str | None:
    """A rare name (jieba nr/ns/nt/nz…) near the question's words: the answer to 谁 / 哪里,
    and what English questions ask for (the Chinese name as the sources write it)."""
    from ingest.text.tokens import segmenter

    frequencies = segmenter().dt.FREQ
    flags = _KIND_FLAGS.get(kind, _NAME_FLAGS)
    at, spans = 0, []
    for word, flag in tagged(s):
        if flag in flags and len(word) >= 2 and word not in words:
            spans.append((at, at + len(word)))
        at += len(word)
    # a rare word is a name; a common one mis-tagged by jieba ("深度" as ns) is not
    rare = [sp for sp in spans if (frequencies.get(s[sp[0] : sp[1]]) or 0) < 500]
    best = _nearest(rare or spans, None, anchors)
    if not best:
        return None
    suffix = _ORG_SUFFIX.match(s, best[1])  # 赛轮 + 集团: jieba cuts the name off its head
    return s[best[0] : suffix.end() if suffix else best[1]]
