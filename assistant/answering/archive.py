"""The knowledge base as a dated archive, at answer time: each passage's date, reposts counted as
one source, "as of" questions, and what an article's relative dates mean.

The documents' dates and signatures are read at ingest (ingest/text/dates.py, ingest/reposts.py)
and kept in the document list; this module decides with them. Which figure leads when articles
disagree is the chain's (assistant/answering/pipeline.py, `reconcile`), with the rules here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from assistant.schema import Context, Draft
from ingest.reposts import flat, reposts_of
from ingest.store import DocumentRecord
from ingest.text.dates import Relative, english_iso, relative_dates, year_of
from ingest.text.quantities import figures
from ingest.text.tokens import tokenize
from ingest.text.width import fold


# "截至2021年底", "截止到2022年3月", "到2020年底", "截至去年"; "as of 2020", "by the end of 2021".
def _zh_time(n: int) -> str:
    year_month = rf"(?P<y{n}>\d{{4}})\s*年(?:\s*(?P<m{n}>\d{{1,2}})\s*月(?:份)?)?"
    return rf"{year_month}|(?P<rel{n}>今年|去年|前年)"


_ZH_AS_OF = re.compile(
    rf"(?:截至|截止|截止到|截至到)\s*(?:{_zh_time(1)})|到\s*(?:{_zh_time(2)})\s*(?:底|末|为止)"
)
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()
_EN_AS_OF = re.compile(
    r"\b(?:as of|as at|by the end of|by end of|at the end of|up to|until)\s+(?:the end of\s+)?"
    rf"(?:(?P<mn>{'|'.join(_MONTH_NAMES)})\s+)?(?:(?P<y>\d{{4}})|(?P<rel>this year|last year))\b",
    re.IGNORECASE,
)
_YEARS_BACK = {"今年": 0, "this year": 0, "去年": 1, "last year": 1, "前年": 2}


@dataclass(frozen=True)
class AsOf:
    """The time a question asks about: up to `end` (ISO, inclusive), said as `label`."""

    year: int
    month: int | None
    label: str

    @property
    def end(self) -> str:
        """The last ISO date of the time (ISO texts compare by time)."""
        return f"{self.year:04d}-{self.month:02d}-31" if self.month else f"{self.year:04d}-12-31"


def as_of(question: str, today: date) -> AsOf | None:
    """The 'as of' time of a question, None when it asks about no time. A bare 今年/去年 (no
    截至) is left alone: people copy it from the article, where it means the article's year."""
    zh = _ZH_AS_OF.search(question)
    en = _EN_AS_OF.search(question) if zh is None else None
    found = zh or en
    if found is None:
        return None
    groups = {k: v for k, v in found.groupdict().items() if v}
    rel = next((v for k, v in groups.items() if k.startswith("rel")), None)
    year_text = next((v for k, v in groups.items() if k.startswith("y")), None)
    year = today.year - _YEARS_BACK[rel.lower()] if rel else int(year_text or 0)
    month_text = next((v for k, v in groups.items() if k.startswith("m") and k != "mn"), None)
    month = int(month_text) if month_text else None
    if en is not None and en["mn"]:
        month = _MONTH_NAMES.index(en["mn"].lower()) + 1
    if month is not None and not 1 <= month <= 12:
        month = None
    label = f"{year}年{month}月" if month else f"{year}年"
    return AsOf(year, month, label)


class Archive:
    """The committed documents as an archive: dates, reposts, the time a question may see."""

    def __init__(self, records: Mapping[str, DocumentRecord]) -> None:
        self.records = dict(records)
        self.reposts = reposts_of(self.records)  # repost → the source it is counted as
        self.dated = any(r.published for r in self.records.values())

    def published(self, source: str) -> str:
        """The document's date (ISO), '' when unknown."""
        record = self.records.get(source)
        return record.published if record else ""

    def names(self, source: str) -> tuple[str, ...]:
        """Every document that carries this one's article, itself first."""
        first = self.reposts.get(source, source)
        group = [first, *sorted(s for s, f in self.reposts.items() if f == first)]
        return (source, *[s for s in group if s != source])

    def fold(self, contexts: Sequence[Context], k: int) -> list[Context]:
        """The contexts with their dates, a repost's passage folded into the same passage of the
        article it repeats (both names kept, the better ranked shown), cut to k."""
        kept: list[Context] = []
        for ctx in contexts:
            names = self.names(ctx.source)
            dated = replace(ctx, published=self.published(ctx.source), also_in=names[1:])
            twin = next(
                (i for i, other in enumerate(kept) if other.source in names and _same(ctx, other)),
                None,
            )
            if twin is None:
                kept.append(dated)
            elif self.reposts.get(kept[twin].source) == ctx.source:
                kept[twin] = replace(dated, score=kept[twin].score)  # the original is cited
        return kept[:k]

    def within(self, contexts: Sequence[Context], when: AsOf) -> list[Context]:
        """The contexts of documents published by the time asked about (undated ones cannot be
        shown to be of it)."""
        return [c for c in contexts if c.published and c.published <= when.end]

    def uncovered(self, when: AsOf, lang: str) -> str:
        """Why no article can answer for that time ('' when one can): none published by then,
        or the latest one published by then is of an earlier year."""
        dated = sorted(r.published for r in self.records.values() if r.published)
        if not dated:
            return ""
        before = [d for d in dated if d <= when.end]
        if not before:
            return NONE_BY[lang].format(when=_said(when, lang), first=_date(dated[0], lang))
        if (year_of(before[-1]) or 0) < when.year:
            return NONE_OF[lang].format(when=_said(when, lang), last=_date(before[-1], lang))
        return ""


class ArchiveOf:
    """The archive of the pinned state, rebuilt only when the document list changes (finding
    reposts costs 0.1 s at 256 documents; a question, nothing)."""

    def __init__(self, documents: Callable[[], Mapping[str, DocumentRecord]]) -> None:
        self.documents = documents
        self._built: tuple[frozenset[tuple[str, str]], Archive] | None = None

    def __call__(self) -> Archive:
        """The archive of the documents as they are now."""
        records = self.documents()
        key = frozenset((s, r.doc_hash) for s, r in records.items())
        built = self._built  # one read: another thread may replace it (with an equal archive)
        if built is None or built[0] != key:
            built = self._built = (key, Archive(records))
        return built[1]


NONE_BY = {
    "zh": "知识库中没有{when}及以前的文章：最早的一篇发表于{first}。",
    "en": "No article in the sources is from {when} or earlier: the earliest is from {first}.",
}
NONE_OF = {
    "zh": "知识库中没有截至{when}的资料：在此之前最近的一篇文章发表于{last}。",
    "en": "The sources hold nothing as of {when}: the latest article by then is from {last}.",
}


def _said(when: AsOf, lang: str) -> str:
    if lang == "zh":
        return when.label
    return english_iso(f"{when.year:04d}-{when.month:02d}") if when.month else str(when.year)


def _date(iso: str, lang: str) -> str:
    return english_iso(iso) if lang == "en" else iso


def _same(a: Context, b: Context) -> bool:
    """Two passages say the same: most of the shorter's characters run in the longer (a
    repost's line breaks and paragraphs may cut the text elsewhere)."""
    short, long = sorted((flat(a.text), flat(b.text)), key=len)
    grams = {short[i : i + 4] for i in range(max(1, len(short) - 3))}
    return bool(grams) and sum(g in long for g in grams) / len(grams) >= SAME_PASSAGE


# A passage and its repost's share nearly all 4-grams; two passages of one article, or of two
# articles on one subject, share few (the fixture archive's updated review: under 0.3).
SAME_PASSAGE = 0.8


# --- relative dates -------------------------------------------------------------------------


def resolve_short(short: str, published: str, lang: str) -> str:
    """A short answer with its relative date resolved, the original beside it: '今年3月' of an
    article of 2021-09 → '2021年3月（今年3月）', in English 'March 2021 (今年3月)'."""
    found = relative_dates(short, published)
    if not found:
        return short
    rel = found[0]
    if lang == "en":
        return f"{rel.english} ({short})"
    return short.replace(rel.text, f"{rel.chinese}（{rel.text}）", 1)


def relative_note(citations: Sequence[tuple[str, str]], lang: str) -> str:
    """One line saying what the quoted relative dates mean ('' when none is quoted), from
    (quote, article date) pairs: "（文中“今年3月”即2021年3月；文章发表于2021-09。）"."""
    meant: dict[str, Relative] = {}
    dates: set[str] = set()
    for quote, published in citations:
        for rel in relative_dates(quote, published):
            meant.setdefault(rel.text, rel)
            dates.add(published)
    if not meant:
        return ""
    if lang == "en":
        said = ", ".join(f"{w} is {r.english}" for w, r in meant.items())
        dated = ", ".join(english_iso(p) for p in sorted(dates))
        return f"(In the article, {said}: it is dated {dated}.)"
    said = "，".join(f"“{w}”即{r.chinese}" for w, r in meant.items())
    return f"（文中{said}；文章发表于{'、'.join(sorted(dates))}。）"


# --- articles that disagree -----------------------------------------------------------------


def by_document(contexts: Sequence[Context]) -> list[list[Context]]:
    """The dated contexts by article (a repost with the article it repeats), newest first."""
    groups: dict[frozenset[str], list[Context]] = {}
    for ctx in contexts:
        if ctx.published:
            groups.setdefault(frozenset((ctx.source, *ctx.also_in)), []).append(ctx)
    return sorted(groups.values(), key=lambda g: min(c.published for c in g), reverse=True)


def stated_figures(draft: Draft) -> set[tuple[float, str]]:
    """The figures (value, unit) a draft gives for the asked fact: its short answer's, else
    those of its first quote."""
    text = draft.short_answer or next(iter(draft.quotes.values()), "")
    return {(f.value, f.unit) for f in figures(text)}


def same_measure(draft: Draft, lead: Draft, question: str) -> bool:
    """An article's answer is about what the lead answer is about: a figure of the same unit,
    and its quote holds at least half of the question's words that the lead's quote holds
    (a figure of another subject, "总投资180亿元" beside "资产总额520亿元", does not)."""
    units = {u for _, u in stated_figures(lead)}
    if not units & {u for _, u in stated_figures(draft)}:
        return False
    first = next(iter(lead.quotes.values()), "")
    other = next(iter(draft.quotes.values()), "")
    words = {w for w in tokenize(question) if len(w) >= 2 and fold(w) in fold(first)}
    return not words or 2 * sum(fold(w) in fold(other) for w in words) >= len(words)


def reconcile(
    question: str,
    lead: Draft,
    contexts: Sequence[Context],
    answer: Callable[[str, Sequence[Context]], Draft],
) -> list[tuple[str, Draft]]:
    """When dated articles answer the question with different figures of what the lead answer
    states: each article's answer, newest first, with its date ([] when fewer than two dated
    articles answer so, or when they agree)."""
    groups = by_document(contexts)
    if len(groups) < 2 or not stated_figures(lead):
        return []
    versions = []
    for group in groups:
        draft = answer(question, group)
        if not draft.refused and same_measure(draft, lead, question):
            versions.append((min(c.published for c in group), draft))
    values = {frozenset(stated_figures(d)) for _, d in versions}
    return versions if len(versions) >= 2 and len(values) > 1 else []


LEAD = {"zh": "据最新的文章（{date}）：", "en": "The latest article ({date}):"}
EARLIER = {"zh": "较早的文章（{date}）：", "en": "An earlier article ({date}):"}


def label(position: int, published: str, lang: str) -> str:
    """The line that opens one article's answer in a conflict: the newest first."""
    said = english_iso(published) if lang == "en" else published
    return (LEAD if position == 0 else EARLIER)[lang].format(date=said)
