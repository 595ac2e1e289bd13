"""Dates of an archive: a document's publication date as written anywhere (ISO, 2021年9月28日,
2021/9/28), a dateline in its text, and the relative dates of its sentences (今年3月, 去年9月份)
resolved against it.

A date is kept as ISO text with the precision it was given: "2021", "2021-09" or "2021-09-28";
ISO text of one precision sorts by time, so the newest of several is their max().
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ingest.text.quantities import english_date

_NUMERIC = re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")
_WRITTEN = re.compile(r"(\d{4})\s*年(?:\s*(\d{1,2})\s*月(?:份)?(?:\s*(\d{1,2})\s*[日号])?)?")
# A dateline states a whole date: "2021年9月28日", "2021-09-28", "2021/9/28 08:00".
_FULL = re.compile(
    r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]|[-/.](\d{1,2})[-/.](\d{1,2}))"
)
_RELATIVE = re.compile(
    r"(今年|去年|前年|上年)(?:\s*(\d{1,2}|[一二三四五六七八九十]{1,2})\s*月(?:份)?)?"
)
_YEARS_BACK = {"今年": 0, "去年": 1, "上年": 1, "前年": 2}
_CN_MONTHS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_CN_MONTHS |= {"十一": 11, "十二": 12}
# A dateline is a short line of its own near the top or the foot of the article (a body paragraph
# that names a day is an event, not the publication).
DATELINE_MAX_CHARS = 60
_HEAD_LINES, _FOOT_LINES = 6, 3


def parse_date(text: str) -> str:
    """A date as written by staff or a page ("2021-09-28", "2021年9月", "2021") as ISO text of
    its own precision; '' when it is not a date (month 13, year 0021, free text)."""
    text = str(text).strip()
    found = [m for m in (_NUMERIC.match(text), _WRITTEN.match(text)) if m]
    match = max(found, key=lambda m: m.end(), default=None)
    # A time may follow a whole date ("2021-09-28T08:00:00+08:00", "2021-09-28 08:00").
    if match is None or (text[match.end() :] and not (match[3] and text[match.end()] in "T ")):
        return ""
    return _iso(match[1], match[2], match[3])


def _iso(year: str, month: str | None, day: str | None) -> str:
    y = int(year)
    if not 1900 <= y <= 2100:
        return ""
    if not month:
        return f"{y:04d}"
    m = int(month)
    if not 1 <= m <= 12:
        return ""
    if not day:
        return f"{y:04d}-{m:02d}"
    d = int(day)
    return f"{y:04d}-{m:02d}-{d:02d}" if 1 <= d <= 31 else ""


def dateline(text: str) -> str:
    """The publication date a text states of itself: a whole date on a short line among its
    first or last lines ("（2022年3月15日）", "2021-10-08 来源：…"); '' when there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in [*lines[:_HEAD_LINES], *lines[-_FOOT_LINES:]]:
        if len(line) > DATELINE_MAX_CHARS:
            continue
        match = _FULL.search(line)
        if match:
            iso = _iso(match[1], match[2] or match[4], match[3] or match[5])
            if iso:
                return iso
    return ""


# Where a document's date may be given, most trusted first: staff's own word in the profile, the
# file's front matter or page metadata, a dateline in the text.
DATE_KEYS = ("published", "date", "发布日期", "日期")


def publication_date(
    described: Mapping[str, str], metadata: Mapping[str, str], text: str
) -> tuple[str, str]:
    """(ISO date, where it was read: 'profile', 'metadata' or 'text') of a document; ('', '')
    when nothing states it: a file's time is when it was copied, not when it was published."""
    for origin, fields in (("profile", described), ("metadata", metadata)):
        for key in DATE_KEYS:
            if key in fields and (iso := parse_date(fields[key])):
                return iso, origin
    found = dateline(text)
    return (found, "text") if found else ("", "")


def year_of(iso: str) -> int | None:
    """The year of an ISO date, None when unknown."""
    return int(iso[:4]) if iso[:4].isdigit() else None


def english_iso(iso: str) -> str:
    """'2021-09' → 'September 2021'; a day is kept as written ('2021-09-28')."""
    if len(iso) == 7:
        return english_date(int(iso[:4]), int(iso[5:7]))
    return iso


@dataclass(frozen=True)
class Relative:
    """A relative date of a sentence and what it means in its article: 今年3月 → 2021年3月."""

    text: str
    start: int
    year: int
    month: int | None

    @property
    def chinese(self) -> str:
        """As a Chinese date: '2021年3月', '2021年'."""
        return f"{self.year}年{self.month}月" if self.month else f"{self.year}年"

    @property
    def english(self) -> str:
        """'March 2021', '2021'."""
        return english_date(self.year, self.month)


def relative_dates(text: str, published: str) -> list[Relative]:
    """The 今年/去年/前年 (with a month, or alone as in 今年以来) of a text, resolved against its
    article's date; none when the article's date is unknown."""
    year = year_of(published)
    if year is None:
        return []
    out = []
    for m in _RELATIVE.finditer(text):
        month = m[2]
        number = int(month) if month and month.isdigit() else _CN_MONTHS.get(month or "")
        valid = number if number and 1 <= number <= 12 else None
        out.append(Relative(m[0], m.start(), year - _YEARS_BACK[m[1]], valid))
    return out
