"""Width and whitespace: the forms in which text is compared, and which script it is in."""

from __future__ import annotations

import re
import unicodedata

CJK_RANGES = r"\u3400-\u4dbf\u4e00-\u9fff"
CJK = re.compile(rf"[{CJK_RANGES}]")
_WHITESPACE = re.compile(r"\s+")
# Chinese text and the punctuation and symbols set inside it: layout spaces next to them go.
_CJK_TEXT = (
    r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
    r"\u2014\u2026\u201c\u201d\u2018\u2019\u25b2"
)
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK_TEXT}])\s+|\s+(?=[{_CJK_TEXT}])")
# Control characters, zero-width and bidirectional marks: invisible, never part of a question.
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)


def fold(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII) and lower case: the form words are
    looked up in, so that 'ＡＢＣ１２' matches 'abc12'."""
    return unicodedata.normalize("NFKC", text).lower()


def squash(text: str) -> str:
    """Text without any whitespace, for 'verbatim apart from line breaks' comparisons."""
    return _WHITESPACE.sub("", text)


def collapse(text: str) -> str:
    """Runs of whitespace as one space, ends stripped."""
    return _WHITESPACE.sub(" ", text).strip()


def visible(text: str) -> str:
    """NFC text with control, zero-width and direction characters replaced by spaces."""
    return _INVISIBLE.sub(" ", unicodedata.normalize("NFC", text))


def has_cjk(text: str) -> bool:
    """True when the text holds a Chinese character."""
    return CJK.search(text) is not None


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


# Words only a Chinese question asks with.
_CHINESE_ASKING = re.compile(r"什么|哪|多少|几|谁|吗|呢|怎|何|是否")


def language(text: str) -> str:
    """The language of a question: 'en' when it is written in English, even naming a Chinese
    entity ("What is 华为?": two Latin words or more, with more Latin letters than Chinese
    characters), else 'zh' when it holds Chinese ("华为P40的价格是多少？"); a Chinese question word
    makes it Chinese, whatever English it names ("MIT OpenCourseWare指什么？": 15 of the 1,500
    Chinese and paraphrased CMRC questions were taken for English, none of the 500 English)."""
    cjk = len(CJK.findall(text))
    if not cjk:
        return "en"
    words = _LATIN_WORD.findall(text)
    english = len(words) >= 2 and sum(map(len, words)) > cjk
    return "en" if english and not _CHINESE_ASKING.search(text) else "zh"


def join_lines(left: str, right: str) -> str:
    """Join two layout lines: no space between CJK characters or digits, one between Latin words."""
    if not left:
        return right
    a, b = left[-1], right[:1]
    if b and b.isascii() and b.isalpha() and a.isascii() and (a.isalnum() or a in ",.;:!?)\"'"):
        return left + " " + right
    return left + right


def clean_line(line: str) -> str:
    """Strip layout whitespace; drop spaces next to CJK text, collapse the rest to one space."""
    line = line.strip(" \t\u3000\xa0")
    line = _SPACE_NEAR_CJK.sub("", line)
    return _WHITESPACE.sub(" ", line)
