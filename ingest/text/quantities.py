"""Figures and dates in Chinese text: 万/亿 scales, 余/多/近/超 approximations, whole-number
matching, and how a figure reads in English.

The eval's fact matching (eval/matching.py) keeps its own parser on purpose: it is the independent
judge of these rules, and tests check that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A figure: digits, or a Chinese numeral with a measure word (a lone 一 before a measure word is
# usually idiom, not a figure: 一年来, 一个电话).
_HAS_NUMBER = re.compile(r"\d|[两二三四五六七八九十百千万亿]+[个家项条本年月亿万]|一[十百千万亿]")
_HAS_DATE = re.compile(r"\d{4}年|\d{1,2}月|今年|去年|明年|\d{1,2}日")
_HAS_FREQUENCY = re.compile(
    r"每[天日周月季年]|每个?(星期|季度|工作日)|\d+次|[一两二三四五六七八九十]次|daily|weekly|monthly"
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SCALES = {
    "万": 10**4, "亿": 10**8, "万亿": 10**12, "thousand": 10**3, "million": 10**6,
    "billion": 10**9, "trillion": 10**12,
}  # fmt: skip
SCALED = re.compile(
    r"(\d+(?:[.,]\d+)*)\s*(万亿|亿|万|thousand|million|billion|trillion)", re.IGNORECASE
)
_DATE = re.compile(r"(\d{4})年(?:(\d{1,2})月(?:份)?)?")
_QUANTITY = re.compile(
    r"(?P<pre>近|超过|超|约|逾)?(?P<num>\d+(?:\.\d+)?)(?P<approx>余|多)?(?P<mult>万|亿)?"
    r"(?P<unit>元|家|个|项|条|本|公里|棵|%)?"
)
_MONTHS = "January February March April May June July August September October November December"
_EN_UNITS = {"元": " yuan", "公里": " km", "%": "%"}
_EN_LEADS = {"近": "nearly ", "超": "over ", "超过": "over ", "约": "about ", "逾": "over "}


def has_number(text: str) -> bool:
    """The text states a figure."""
    return _HAS_NUMBER.search(text) is not None


def has_date(text: str) -> bool:
    """The text states a date (a year, month or day, or 今年/去年/明年)."""
    return _HAS_DATE.search(text) is not None


def has_frequency(text: str) -> bool:
    """The text states how often (每月, 3次, weekly; 定期 is no frequency)."""
    return _HAS_FREQUENCY.search(text) is not None


def has_figure_in(text: str, unit: str) -> bool:
    """The text states a figure in this unit: '350余亿元' is a figure in 亿元 and in 元."""
    pattern = rf"(\d|[两二三四五六七八九十百千万亿])[余多]?[十百千万亿]?{re.escape(unit)}"
    return re.search(pattern, text) is not None


def contains_number(text: str, number: str) -> bool:
    """The number occurs in the text as a whole number: '600' is not found in '1600'."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?!\d|\.\d)", text) is not None


def scaled_amounts(text: str) -> set[int]:
    """Every scaled amount of the text as a plain value: '700亿' and '70 billion' → 70000000000."""
    return {
        round(float(m.group(1).replace(",", "")) * _SCALES[m.group(2).lower()])
        for m in SCALED.finditer(text)
    }


@dataclass(frozen=True)
class Figure:
    """A figure with its unit, as written: '350余亿元' is 3.5e10, approximate ('余'), unit 元."""

    text: str
    start: int
    value: float
    prefix: str
    approx: bool
    unit: str


def figures(text: str) -> list[Figure]:
    """The figures with a unit, scale or approximation word ('600余家', '350亿元', '近40%')."""
    out = []
    for m in _QUANTITY.finditer(text):
        if not (m["unit"] or m["mult"] or m["approx"]):
            continue
        value = float(m["num"]) * {"万": 1e4, "亿": 1e8, None: 1.0}[m["mult"]]
        out.append(
            Figure(m[0], m.start(), value, m["pre"] or "", bool(m["approx"]), m["unit"] or "")
        )
    return out


def dates(text: str) -> list[tuple[str, int, int, int | None]]:
    """(as written, start, year, month or None) of each '2020年' / '2020年11月' date."""
    return [
        (m[0], m.start(), int(m[1]), int(m[2]) if m[2] and 1 <= int(m[2]) <= 12 else None)
        for m in _DATE.finditer(text)
    ]


def english_figure(figure: Figure) -> str:
    """'350余亿元' → 'more than 35 billion yuan'; '近40%' → 'nearly 40%'."""
    value = figure.value
    if value >= 1e9:
        amount = f"{value / 1e9:g} billion"
    elif value >= 1e6:
        amount = f"{value / 1e6:g} million"
    else:
        amount = f"{value:,.0f}" if value == int(value) else f"{value:g}"
    lead = "more than " if figure.approx else _EN_LEADS.get(figure.prefix, "")
    return f"{lead}{amount}{_EN_UNITS.get(figure.unit, '')}"


def english_date(year: int, month: int | None) -> str:
    """'November 2020' or '2020'."""
    return f"{_MONTHS.split()[month - 1]} {year}" if month else str(year)
