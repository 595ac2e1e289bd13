"""Understand a question: clean it, the kind of answer it wants, its parts, follow-ups."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.errors import InvalidQuestionError
from ingest.text.width import collapse, language, visible

KIND_PATTERNS: dict[str, re.Pattern[str]] = {
    # What an article says as a whole (answering/overview.py), before any kind of one fact.
    "overview": re.compile(
        r"总结|概括|概述|归纳|综述|主要做法|主要举措|主要内容|主要经验|讲了什么|说了什么|讲的是什么"
        r"|介绍一下|有哪些(做法|举措|经验|成效|变化)|(改革|变化)(有|带来了?)哪些"
        r"|\bsummar(y|i[sz]e)\b|\boverview\b|\bsum up\b|\bwhat (has |have )?changed\b"
        r"|\bwhat (are|were) the main\b|\b(main|key) (points|measures|reforms|changes|steps)\b",
        re.I,
    ),
    "frequency": re.compile(r"多久[^？?]*一次|多长时间[^？?]*一次|频率|多频繁|how often", re.I),
    "date": re.compile(
        r"什么时候|何时|哪年|哪一年|几月|哪个月|哪月|哪天|什么时间|时间是|起始"
        r"|\bwhen\b|what year|which year|what month|\bdate\b",
        re.I,
    ),
    "list": re.compile(
        # "what are" lists unless a figure is asked ("What are the total assets ...?")
        r"哪些|哪几|有哪|包括什么|包括哪|分别|\bwhich\b.*\b(are|were)\b|\blist\b"
        r"|\bwhat (are|were)\b(?!.*\b(total|how (many|much)|number of|amount)\b)",
        re.I,
    ),
    "rank": re.compile(
        r"第几|排第|排名|名次|哪一名|什么名次|\bwhat (rank|place|position)\b|\branked?\b", re.I
    ),
    "number": re.compile(
        r"多少|几个|几家|几本|几条|几项|几大|几年|多大|多高|数量|总额|规模"
        r"|\bhow (many|much|old)\b|number of|\btotal\b|amount",
        re.I,
    ),
    "who": re.compile(
        r"谁|哪位|哪家|哪个(公司|企业|机构|单位|部门|集团|组织|人)|什么(人|机构|公司|企业|单位|部门)"
        r"|\bwho(m|se)?\b|\bwhich (company|firm|organi[sz]ation|group|agency|department|person)\b",
        re.I,
    ),
    "where": re.compile(
        r"哪里|哪儿|什么地方|何处|何地|在哪|位于|哪个(国家|城市|省|地区|街道|区)"
        r"|\bwhere\b|\bwhich (city|country|province|district|place|region)\b",
        re.I,
    ),
}
# The word a question asks with: where its answer goes ("…即算为什么" → "…即算为踢爆").
WH_WORD = re.compile(
    r"为什么|为何|什么时候|什么时间|什么地方|什么样的?|什么|哪一年|哪年|哪一[个位家种所]?|哪些|哪个"
    r"|哪几[个种家项条]?|哪里|哪儿|哪位|哪家|哪种|哪所|哪国|哪|谁|多少|多大|多高|多长时间|多长|多久"
    r"|多远|多重|几[个家项条本名位次年月天岁种大]?|何时|何地|何处|何种|如何|怎样|怎么样|怎么"
)
_LEADING = re.compile(
    r"^(那么|那|还有|另外|再问一下|这项|这个|这些|该项|其中|其|它"
    r"|and\s+|what about\s+|how about\s+)",
    re.I,
)
# A name in quotes: a follow-up that is only a quoted name swaps the previous question's one.
_QUOTED = re.compile(r"[“「《\"][^”」》\"]{1,40}[”」》\"]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# A follow-up in Chinese of an English question asks the previous kind with these words.
_ASK_ZH = {"number": "有多少", "date": "是什么时候", "who": "是谁", "where": "在哪里",
           "rank": "排第几", "list": "有哪些", "frequency": "多久一次"}  # fmt: skip
_TRAILING = re.compile(r"(呢|吗|嘛)?[?？。.!！\s]*$")
_QUESTION_WORDS = re.compile(r"(了|是|有|多少|几|什么|哪|如何|怎么|是否|为什么)")
# A follow-up that is just a name ending in one of these heads (the usual endings of Chinese
# organisation and place names, not this corpus's) swaps the entity of the previous question.
_ENTITY = re.compile(
    r"^[\u4e00-\u9fffA-Za-z0-9]{1,12}"
    r"(集团|公司|企业|中心|街道|园区|园|区|大学|学院|银行|医院|协会|委员会|项目)"
)


class CleanQuestion(str):
    """A question that went through `clean_question` (it is not cleaned twice)."""

    __slots__ = ()


def clean_question(text: str, max_chars: int) -> CleanQuestion:
    """Remove control characters and extra whitespace; reject empty or over-long questions."""
    if not isinstance(text, str):
        raise InvalidQuestionError("the question must be text")
    text = collapse(visible(text))
    if not text:
        raise InvalidQuestionError("the question is empty; ask something about the articles")
    if len(text) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(text)} characters long; the limit is {max_chars}; shorten it"
        )
    return CleanQuestion(text)


_EN_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.I)
# A later wh-word joined by "and"/"or" asks too ("When and where was it founded?").
_EN_CLAUSE_WH = re.compile(r"(?<!and )(?<!or )\b(?:when|where|who|whom|whose)\b", re.I)


def main_clause(question: str) -> str:
    """The question with the 'when', 'where' and 'who' after its first wh-word masked: an
    English question asks with its first one, and a later one opens a clause ("What did he do
    when he was 23?", "…which number is This Is Where I Came In?")."""
    first = _EN_WH.search(question)
    if first is None:
        return question
    return question[: first.end()] + _EN_CLAUSE_WH.sub("_", question[first.end() :])


def kind(question: str) -> str:
    """The kind of answer wanted: 'overview', 'frequency', 'date', 'list', 'rank', 'number',
    'who', 'where' or 'fact' (the first whose pattern the question's main clause matches)."""
    asked = main_clause(question)
    for name, pattern in KIND_PATTERNS.items():
        if pattern.search(asked):
            return name
    return "fact"


# A wh-word asking for one fact: a question with two ("有多少个国家、多少名选手参加？") asks two.
_FACT_WH = re.compile(
    r"多少|几[个家项条本名位次年月天岁种]|什么时候|何时|哪一?年|谁|哪里|哪儿"
    r"|\bhow (?:many|much)\b|\bwhen\b|\bwho\b|\bwhere\b",
    re.I,
)


def asks_several(question: str) -> bool:
    """The question asks two facts or more (no one short answer states them)."""
    return len(_FACT_WH.findall(main_clause(question))) >= 2


def split_questions(text: str) -> list[str]:
    """Split '下设几个子公司？资产总额是多少？' into its questions; one question stays whole."""
    parts = [p.strip() for p in re.split(r"(?<=[？?])", text) if p.strip()]
    if len(parts) < 2 or any(len(p) < 6 for p in parts):
        return [text]
    # "这项协同是从什么时候开始的？" leans on the part before it.
    return [parts[0]] + [
        rewrite_followup(p, [prev]) for prev, p in zip(parts, parts[1:], strict=False)
    ]


def is_elliptical(question: str) -> bool:
    """A follow-up that leans on the previous turn: '那投资超千万元的呢？', 'what about 2021?'."""
    core = _TRAILING.sub("", question)
    starts = bool(_LEADING.match(question))
    ends = question.rstrip("?？ ").endswith("呢")
    short = len(core) <= (16 if language(question) == "zh" else 40)
    return short and (starts or ends)


def rewrite_followup(question: str, history: Sequence[str]) -> str:
    """Make an elliptical follow-up standalone by carrying the previous question's topic.

    Offline rule (no LLM): the topic is the previous question up to its first question word
    ('海港新区新引进' of '海港新区新引进了多少个项目？'); when the follow-up asks no kind
    of its own, the previous question's kind word is carried too. Past turns are not
    concatenated into the query.
    """
    if not history or not is_elliptical(question):
        return question
    previous = history[-1]
    core = _TRAILING.sub("", _LEADING.sub("", question)).strip()
    prev_core = _TRAILING.sub("", _LEADING.sub("", previous)).strip()
    match = _QUESTION_WORDS.search(prev_core)
    topic = prev_core[: match.start()] if match and match.start() > 1 else prev_core
    if core and core in prev_core:
        return previous
    named = _QUOTED.fullmatch(core)
    named_before = _QUOTED.search(previous)
    if named and named_before:  # "那“17条工作意见”呢？" after a question about “7条意见”
        return previous[: named_before.start()] + core + previous[named_before.end() :]
    entity = _ENTITY.match(core)
    if entity and entity.end() == len(core):
        prev_entity = _ENTITY.match(prev_core)
        if prev_entity:
            return (
                f"{core}{prev_core[prev_entity.end() :]}？"
                if language(question) == "zh"
                else question
            )
    if language(question) == "zh" and language(previous) == "en":
        # "那投资超千万元的呢？" after an English question: its Chinese names are the topic
        # ("… (华为) make?" gives 华为), its kind is asked in Chinese.
        names = "".join(_CJK_RUN.findall(previous)) or prev_core
        asked_zh = _ASK_ZH.get(kind(previous), "") if kind(question) == "fact" else ""
        return f"{names}{core}{asked_zh}？"
    ask = ""
    if kind(question) == "fact" and kind(previous) != "fact":
        asked = next(
            (m.group(0) for p in KIND_PATTERNS.values() for m in [p.search(previous)] if m), ""
        )
        if asked in topic:
            asked = ""
        ask = (
            f"有{asked}"
            if language(previous) == "zh" and asked and not asked.startswith("有")
            else asked
        )
    if language(question) == "zh":
        return f"{topic}{core}{ask}？"
    return f"{core} ({topic}) {ask}".strip() + "?"
