"""Names, places and ranks in Chinese text: what a 谁 / 哪里 / 第几 question wants a sentence
to hold.

Names and places come from jieba's part-of-speech tags (nr person, nt organisation, nz other
proper noun, ns place), looked up without the HMM (dictionary words only: about 10x faster, and a
guessed word is rarely a name); a rank is an ordinal or a rank word (第二, 首位, 前列, 冠军).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ingest.text.tokens import tagged_words

_PERSON_ORG = frozenset({"nr", "nrt", "nrfg", "nt", "nz"})
_PLACE = frozenset({"ns", "nsf"})
# Organisation and place heads jieba does not tag as names (赛轮集团 is two words to it).
_ORG_HEAD = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{1,10}(集团|公司|大学|学院|银行|协会|委员会|研究院|研究所|部|局|厅)"
)
_PLACE_HEAD = re.compile(
    r"[\u4e00-\u9fff]{1,8}(省|市|县|区|镇|乡|村|街道|岛|山|河|湖|港|湾|州|国|洲)"
)
# A rank as a short answer states it: "全省首位", "第二名", "全国前列".
RANK_SPAN = re.compile(
    r"(?:全国|全省|全市|全球|世界|亚洲|全区|国内|省内|同类)?"
    r"(?:第[一二两三四五六七八九十百\d]+[位名届次个大]?|首位|首个|首家|榜首|前列|冠军|亚军|季军|之首)"
)
_RANK = re.compile(rf"{RANK_SPAN.pattern}|排名|排行|位居|名列|位列|最大的|最高的|最早的")


@lru_cache(maxsize=4096)
def _flags(text: str) -> frozenset[str]:
    return frozenset(flag for _, flag in tagged_words(text))


def has_name(text: str) -> bool:
    """The text names a person or an organisation (赛轮集团, 商务部, 王勇)."""
    return bool(_flags(text) & _PERSON_ORG) or _ORG_HEAD.search(text) is not None


def has_place(text: str) -> bool:
    """The text names a place (北京, 朝阳区, 望京街道)."""
    return bool(_flags(text) & _PLACE) or _PLACE_HEAD.search(text) is not None


def has_rank(text: str) -> bool:
    """The text states a rank or an ordinal (第二位, 全省首位, 位居全国前列)."""
    return _RANK.search(text) is not None
