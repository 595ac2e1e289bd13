"""Chinese-aware matching of expected facts against free-text answers."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cn2an

Verdict = Literal["match", "missing", "contradicted"]

# An ASCII comma between digit groups of three is a thousands separator ("1,900").
# Applied before NFKC so that the full-width clause comma "，" is never taken for one.
_THOUSANDS = re.compile(r"(?<![0-9０-９.,])[0-9０-９]{1,3}(?:,[0-9０-９]{3})+(?![0-9０-９])")
_WHITESPACE = re.compile(r"\s+")

_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_UNITS = "十百千万亿"
_MULTIPLIERS = {"百": 100.0, "千": 1e3, "万": 1e4, "亿": 1e8}
_EN_MULTIPLIERS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}

_NUMBER = re.compile(
    r"(?P<digits>\d+(?:\.\d+)?)(?P<dapprox>余|多)?(?P<dmult>[百千万亿]*)"
    rf"|(?P<cn>[{_CN_DIGITS}{_CN_UNITS}]+)(?P<capprox>余|多)?(?P<cmult>[万亿]*)"
)
_EN_MULTIPLIER = re.compile(r" ?(thousand|million|billion|trillion)\b")

# Longest first, so that "美元" wins over "元" and "平方米" over "米".
_CN_UNIT_WORDS = (
    "平方公里", "平方米", "公里", "美元", "元", "家", "个", "年", "月", "日", "号", "条",
    "本", "项", "名", "人", "位", "次", "座", "栋", "亩", "米", "倍", "户", "所", "套",
    "台", "件", "批", "天", "周", "届", "类", "种", "份", "场", "层", "%",
)  # fmt: skip
_EN_UNITS = {
    "percent": "%", "per cent": "%", "yuan": "元", "rmb": "元", "cny": "元",
    "usd": "美元", "dollars": "美元", "years": "年", "year": "年", "months": "月", "month": "月",
    "km": "公里", "kilometres": "公里", "kilometers": "公里",
}  # fmt: skip
# Metric units written glued to their number in Chinese text ("侦测距离10km", "40mm/L70").
_GLUED_UNIT = re.compile(r"(?:km|cm|mm|kg|m)(?![a-z0-9])")
_EN_UNIT = re.compile(r" ?(" + "|".join(re.escape(u) for u in _EN_UNITS) + r")\b")
_CN_APPROX_PREFIXES = ("超过", "将近", "接近", "大约", "近", "约", "超", "逾")
_EN_APPROX = re.compile(
    r"\b(?:over|more than|nearly|almost|about|around|approximately|roughly|some) ?$"
)


@dataclass(frozen=True)
class Quantity:
    """A number found in text: absolute value, normalised unit and whether it is approximate."""

    value: float
    unit: str | None
    approx: bool


@dataclass(frozen=True)
class _Found:
    quantity: Quantity
    start: int
    end: int


def _drop_thousands_separators(text: str) -> str:
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)


def normalize(text: str) -> str:
    """Return text in matching form: NFKC, lowercase, no whitespace, no thousands separators."""
    text = unicodedata.normalize("NFKC", _drop_thousands_separators(text)).lower()
    return _WHITESPACE.sub("", text)


def _is_ascii(char: str) -> bool:
    return char < "\x80"


def _prepare(text: str) -> str:
    """Normalise for number scanning, keeping spaces that separate ASCII words and numbers.

    Whitespace next to a non-ASCII character is a line break of the Chinese layout and is
    removed ("2020年11\\n月" is one date); between ASCII characters it separates words and
    numbers ("in 2020 600 firms" keeps 2020 and 600 apart) and becomes one space.
    """
    text = unicodedata.normalize("NFKC", _drop_thousands_separators(text)).lower()

    def squeeze(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() > 0 else " "
        after = text[match.end()] if match.end() < len(text) else " "
        return " " if _is_ascii(before) and _is_ascii(after) else ""

    return _WHITESPACE.sub(squeeze, text).strip()


def _chinese_value(run: str, year_follows: bool) -> float | None:
    """Value of a run of Chinese numeral characters, or None when it is not taken as a number.

    Single characters are never numbers ("一年来", "一个电话", "统一", "十分"): only runs of two
    or more characters containing one of 十百千万亿 count ("一千九百", "十八", "千万"), plus
    digit-by-digit years followed by 年 ("二〇二〇年"). A run starting with 十百千 gets an
    implicit 一 ("千万" is 10,000,000); one starting with 万 or 亿 is a word ("万一"), not a number.
    """
    has_unit = any(c in _CN_UNITS for c in run)
    if len(run) < 2:
        return None
    if not has_unit:
        if len(run) != 4 or not year_follows:
            return None
    elif run[0] in "万亿":
        return None
    elif run[0] in "百千":
        run = "一" + run
    try:
        return float(cn2an.cn2an(run, "normal"))
    except (ValueError, KeyError, IndexError):
        return None


def _multiplier(chars: str) -> float:
    result = 1.0
    for char in chars:
        result *= _MULTIPLIERS[char]
    return result


def _unit_at(text: str, pos: int) -> tuple[str | None, int]:
    """Return the normalised unit starting at pos and the position after it."""
    for word in _CN_UNIT_WORDS:
        if text.startswith(word, pos):
            return word, pos + len(word)
    match = _EN_UNIT.match(text, pos)
    if match:
        return _EN_UNITS[match.group(1)], match.end()
    return None, pos


def _approx_before(text: str, start: int) -> tuple[bool, int]:
    """Whether an approximation word precedes start, and where the number's span begins."""
    for word in _CN_APPROX_PREFIXES:
        if text.startswith(word, start - len(word)):
            return True, start - len(word)
    return bool(_EN_APPROX.search(text[max(0, start - 20) : start])), start


def _scan(prepared: str) -> list[_Found]:
    found: list[_Found] = []
    for match in _NUMBER.finditer(prepared):
        start, end = match.span()
        if match.group("digits") is not None:
            before = prepared[start - 1] if start else ""
            after = prepared[match.end("digits")] if match.end("digits") < len(prepared) else ""
            # Digits glued to Latin letters are part of a word ("5g", "h7n9", "4v4"), not a
            # number, unless the letters are a metric unit that ends there ("10km，", "40mm/").
            glued_unit = _GLUED_UNIT.match(prepared, match.end("digits"))
            if (before.isascii() and before.isalpha()) or (
                after.isascii() and after.isalpha() and not glued_unit
            ):
                continue
            value = float(match.group("digits")) * _multiplier(match.group("dmult"))
            approx_suffix = match.group("dapprox") is not None
            if not match.group("dmult"):
                english = _EN_MULTIPLIER.match(prepared, end)
                if english:
                    value *= _EN_MULTIPLIERS[english.group(1)]
                    end = english.end()
        else:
            cn_value = _chinese_value(match.group("cn"), prepared.startswith("年", match.end("cn")))
            if cn_value is None:
                continue
            value = cn_value * _multiplier(match.group("cmult"))
            approx_suffix = match.group("capprox") is not None
        unit, end = _unit_at(prepared, end)
        if prepared.startswith(("余", "多"), end) or prepared.startswith("+", end):
            approx_suffix, end = True, end + 1
        approx_prefix, start = _approx_before(prepared, start)
        found.append(_Found(Quantity(value, unit, approx_prefix or approx_suffix), start, end))
    return found


def extract_numbers(text: str) -> list[Quantity]:
    """Return the quantities in text, in order of appearance.

    Arabic numbers (also full-width, with thousands separators or decimals) take a following
    multiplier 百/千/万/亿 or thousand/million/billion ("350余亿元" is 3.5e10, "5000万元" is 5e7,
    "35 billion" is 3.5e10). Chinese numerals are read with cn2an under the rule of
    `_chinese_value`. The unit is the measure word right after the number ("家", "个", "年",
    "元", "%"; "亿元" gives unit "元", "月份" gives "月"), else None. approx is True for
    余/多/+ after the number or 近/约/超/逾 ("over", "nearly", ...) before it.
    """
    return [found.quantity for found in _scan(_prepare(text))]


def as_quantity(alternative: str) -> Quantity | None:
    """Return the quantity when the whole alternative is one number ("350亿", "49个"), else None."""
    prepared = _prepare(alternative)
    found = _scan(prepared)
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(prepared):
        return found[0].quantity
    return None


def units_compatible(a: str | None, b: str | None) -> bool:
    """Units are compatible when equal or when either is unknown."""
    return a is None or b is None or a == b


def same_quantity(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities have the same value and compatible units; approx is ignored."""
    return math.isclose(a.value, b.value, rel_tol=1e-9) and units_compatible(a.unit, b.unit)


def _contains(haystack: str, needle: str) -> bool:
    """Substring test that does not let "7条" match inside "17条" or "600" inside "1600"."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        left_ok = not needle[0].isdigit() or start == 0 or not haystack[start - 1].isdigit()
        right_ok = not needle[-1].isdigit() or end == len(haystack) or not haystack[end].isdigit()
        if left_ok and right_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


def match_fact(answer: str, alternatives: Sequence[str]) -> Verdict:
    """Judge one expected fact, given as alternatives, against an answer.

    "match": an alternative's normalised text occurs in the normalised answer (not inside a
    longer number), or a numeric alternative has the value of a quantity in the answer with a
    compatible unit. "contradicted": not matched, some alternative is numeric, and the answer
    states a number with a compatible unit (hence a different value). Otherwise "missing".
    """
    if not alternatives:
        raise ValueError("a fact needs at least one alternative")
    needles = [normalize(alt) for alt in alternatives]
    if not all(needles):
        raise ValueError(f"empty alternative in {list(alternatives)!r}")
    haystack = normalize(answer)
    if any(_contains(haystack, needle) for needle in needles):
        return "match"
    expected = [q for alt in alternatives if (q := as_quantity(alt)) is not None]
    stated = extract_numbers(answer)
    if any(same_quantity(e, s) for e in expected for s in stated):
        return "match"
    if any(units_compatible(e.unit, s.unit) for e in expected for s in stated):
        return "contradicted"
    return "missing"


def facts_correct(answer: str, facts: Sequence[Sequence[str]]) -> bool:
    """Whether every fact matches the answer (a matched fact is never contradicted).

    Raises ValueError for an empty fact list: unanswerable questions are judged by refusal.
    """
    if not facts:
        raise ValueError("facts must not be empty")
    return all(match_fact(answer, alternatives) == "match" for alternatives in facts)
