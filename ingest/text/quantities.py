"""Figures and dates in Chinese text: 万/亿 scales, 余/多/近/超 approximations, whole-number
matching, and how a figure reads in English.

The eval's fact matching (eval/matching.py) keeps its own parser on purpose: it is the independent
judge of these rules, and tests check that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

# A figure: digits, a Chinese numeral with a measure word (a lone 一 before a measure word is
# usually idiom, not a figure: 一年来, 一个电话), or an ordinal (第二位).
_HAS_NUMBER = re.compile(
    r"\d|[两二三四五六七八九十百千万亿]+[个家项条本年月亿万]|一[十百千万亿]|第[一二两三四五六七八九十百千]+"
)
# A date: years of any length (公元前25年, 577年), era years (承光元年, 二〇二〇年), months, days,
# centuries and decades. Widened from 4-digit years after Wikipedia passages (CMRC): answerable
# questions refused for a missing date went from 6 to 2, the zone set unchanged.
_HAS_DATE = re.compile(
    # 一年 is a span ("一年来"): the first year of an era is 元年, the eleventh 十一年.
    r"\d{1,4}年|\d{1,2}月|今年|去年|明年|\d{1,2}日|(?<![元一二三四五六七八九十〇])(?!一年)"
    r"[元一二三四五六七八九十〇]+年|世纪|年代"
)
_HAS_FREQUENCY = re.compile(
    r"每[天日周月季年]|每个?(星期|季度|工作日)|\d+次|[一两二三四五六七八九十]次|daily|weekly|monthly"
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_DATE = re.compile(
    r"(?P<year>\d{4})年(?:(?P<month>\d{1,2})月(?:份)?(?:(?P<day>\d{1,2})日)?)?"
    r"|(?<![\d年])(?P<m>\d{1,2})月(?P<d>\d{1,2})日"  # a day of a month the text names no year of
)
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


def contains_number(text: str, number: str, before: str = "", after: str = "") -> bool:
    """The number occurs in the text as a whole number: '600' is not found in '1600', nor '4'
    in '4V4' or '92' in 'T-92': Latin letters glued to it make it part of a name, unless they
    are the claim's own word on that side (`before`/`after`: '40 mm' is in '40mm/L70')."""
    pattern = (
        rf"(?<![A-Za-z])(?:([A-Za-z]+)-?)?(?<![\d.]){re.escape(number)}(?!\d|\.\d)(?=([A-Za-z]*))"
    )
    return any(
        (m[1] or "").lower() in ("", before.lower()) and m[2].lower() in ("", after.lower())
        for m in re.finditer(pattern, text)
    )


_WORD_BEFORE = re.compile(r"([A-Za-z]*)-?\s?$")
_WORD_AFTER = re.compile(r"\s?([A-Za-z]*)")


def number_words(text: str, start: int, end: int) -> tuple[str, str]:
    """The Latin words right before and after text[start:end], glued or one space apart
    ('the T-92 40 mm gun', 40 → ('', 'mm'); '4V4' → ('', 'V'))."""
    before = _WORD_BEFORE.search(text[max(0, start - 40) : start])
    after = _WORD_AFTER.match(text, end)
    return (before[1] if before else ""), (after[1] if after else "")


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


class WrittenDate(NamedTuple):
    """A date as a text writes it ('2020年11月', '8月16日'), and what it names."""

    written: str
    start: int
    year: int | None
    month: int | None
    day: int | None


def dates(text: str) -> list[WrittenDate]:
    """Each '2020年' / '2020年11月' / '1991年12月21日' / '8月16日' date of the text."""
    out = []
    for m in _DATE.finditer(text):
        month = int(m["month"] or m["m"] or 0)
        day = int(m["day"] or m["d"] or 0)
        if not 1 <= month <= 12:
            month = day = 0
        if not 1 <= day <= 31:
            day = 0
        if m["year"] is None and not day:
            continue  # "13月45日" names no date
        year = int(m["year"]) if m["year"] else None
        out.append(WrittenDate(m[0], m.start(), year, month or None, day or None))
    return out


# An amount as either language writes it: a qualifier, the number, a scale, a unit.
_MORE = "超过|超|逾|多于|高于|more than|over|above|exceeding|in excess of"
_LESS = "将近|接近|近|不到|不足|nearly|almost|close to|under|less than|just under"
_ABOUT = "约|大约|左右|about|approximately|around|roughly|some"
_MONEY = r"元|人民币|美元|美金|欧元|港元|yuan|rmb|cny|renminbi|dollars?|usd|euros?"
AMOUNT = re.compile(
    rf"(?:(?P<pre>{_MORE}|{_LESS}|{_ABOUT})\s*)?(?:(?P<cur>rmb|cny|us\$|\$|¥|￥)\s*)?"
    r"(?P<num>\d+(?:[.,]\d+)*)\s*(?P<approx>余|多|\+)?\s*"
    r"(?P<scale>万亿|亿|万|千|thousand|million|billion|trillion|bn|mn)?\s*(?P<approx2>余|多)?"
    rf"\s*(?P<unit>{_MONEY})?",
    re.IGNORECASE,
)
_SCALE_VALUES = {
    "万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "thousand": 1e3, "million": 1e6,
    "mn": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12,
}  # fmt: skip


@dataclass(frozen=True)
class Amount:
    """A number as stated, with what it is worth: '近700亿元' is 7e10, 'less' than it, money."""

    text: str
    start: int
    end: int
    value: float
    direction: str  # 'more' (余, over), 'less' (近, nearly), '' (exact or about)
    money: bool
    scaled: bool

    @property
    def strict(self) -> bool:
        """Its size is the claim (a scale or money): the value must match, not the digits."""
        return self.scaled or self.money


def amounts(text: str) -> list[Amount]:
    """Every number of the text as an amount: '700 billion yuan', '近700亿元', '1,900余家'."""
    out = []
    for m in AMOUNT.finditer(text):
        try:
            number = float(m["num"].replace(",", ""))
        except ValueError:  # "1.2.3"
            continue
        scale = (m["scale"] or "").lower()
        pre = (m["pre"] or "").lower()
        direction = (
            "more"
            if m["approx"] or m["approx2"] or re.fullmatch(_MORE, pre)
            else "less"
            if re.fullmatch(_LESS, pre)
            else ""
        )
        start = m.start("num") if not (m["pre"] or m["cur"]) else m.start()
        out.append(
            Amount(m[0].strip(), start, m.end(), number * _SCALE_VALUES.get(scale, 1.0),
                   direction, bool(m["unit"] or m["cur"]), bool(scale))
        )  # fmt: skip
    return out


def same_amount(claimed: Amount, stated: Amount) -> bool:
    """The claim states this amount: the same value (to rounding), no opposite qualifier
    ('over 70 billion' is not '近700亿', nearly 70 billion)."""
    close = abs(claimed.value - stated.value) <= 1e-6 * max(abs(stated.value), 1.0)
    opposite = {claimed.direction, stated.direction} == {"more", "less"}
    return close and not opposite


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


def english_date(year: int | None, month: int | None, day: int | None = None) -> str:
    """'2020', 'November 2020', 'December 21, 1991' or 'August 16'."""
    if not month:
        return str(year or "")
    name = _MONTHS.split()[month - 1]
    said = f"{name} {day}" if day else name
    if year is None:
        return said
    return f"{said}, {year}" if day else f"{said} {year}"


# --- spans of figures, dates and frequencies (what a short answer quotes) ---------------------

_MEASURES = (
    "平方公里|平方千米|平方米|平方英里|公里|千米|厘米|毫米|英里|英尺|公顷|公斤|千克|毫克|美元|美金|欧元|港元"
    "|港币|英镑|日元|韩元|新台币|人民币|小时|分钟|秒钟|世纪|周年|个月|人次|公分|公厘|公尺|公升|英寸"
    "|千瓦|毫升|赫兹|吨|克|米|亩|元|个|家|项|条|本|名|人|位|次|年|岁|月|日|天|周|册|部|集|场|届|座"
    "|所|台|辆|架|艘|种|类|倍|%|％|度|级|层|页|首|张|篇|件|枚|分|只|头|尾|株|棵|块|间|户|票|卷|期"
    "|代|任|轮|局|球|盘|节|章|站|号|码|寸|尺|里|斤|两|升|伏|瓦|兆|发|门|股|支|片|颗|粒|份|套|组|对"
    "|双|口|匹"
)
FIGURE_SPAN = re.compile(
    r"(?:近|约|超过|超|逾|大约|将近|接近|第)?"
    r"(?:\d+(?:[.,]\d+)*(?:[:：]\d+)?|[一二两三四五六七八九十百千万亿零〇]{2,}|[一二两三四五六七八九十])"
    rf"(?:余|多)?[十百千万亿]*(?:余|多)?(?:{_MEASURES})?(?:余|多|以上|左右)?"
)
FIGURE_RANGE = re.compile(
    rf"(?:{FIGURE_SPAN.pattern})(?:到|至|增至|增长到|—|-|～|~)(?:{FIGURE_SPAN.pattern})"
)
# A span of two figures ("约15至20厘米", "15-20%"): one answer, not its upper bound alone. Not a
# change ("增至260亿元" is the new value, "从5000万元到260亿元" a growth).
SPAN_OF_FIGURES = re.compile(
    rf"(?:{FIGURE_SPAN.pattern})(?<![增升降])(?:至|～|~|—|-)(?:{FIGURE_SPAN.pattern})"
)
_ONE_DATE = (
    r"(?:公元前?|西元前?)?\d{1,4}年(?:\d{1,2}(?:至\d{1,2})?月份?(?:\d{1,2}日)?)?"
    r"(?:[（(][^）)]{1,12}[)）])?"
    r"|[\u4e00-\u9fff]{2}\d{1,2}年\s?[（(]\d{3,4}年[)）]"
    r"|\d{1,2}月\d{1,2}日|\d{1,2}(?:至\d{1,2})?月份?"
    r"|[\u4e00-\u9fff]{2}[元一二三四五六七八九十]{1,3}年(?:[一二三四五六七八九十正冬腊]{1,2}月)?"
    r"(?:[（(][^）)]{1,16}[)）])?"
    r"|\d{1,2}世纪(?:\d0年代)?(?:[初中末]期?)?|\d{2,4}年代|[一二两三四五六七八九十〇零]{2,4}年"
    r"|今年|去年|明年"
)
# Two dates joined are one answer: a span ("1990年至1995年") or both days ("8月15日及8月16日").
DATE_SPAN = re.compile(rf"(?:{_ONE_DATE})(?:(?:至|到|—|-|–|及|和)(?:{_ONE_DATE}))?")
FREQUENCY_SPAN = re.compile(
    r"每[天日周月季年]|每个?(?:星期|季度|工作日|月|年)|一年一度|\d+年一次|\d+次"
    r"|[一两二三四五六七八九十]次|定期"
)
