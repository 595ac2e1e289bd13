"""Chinese words as pinyin, and the Chinese names an English question spells in pinyin.

An English question names Chinese people, places and firms the way English speakers write them:
"Li Rihua", "Huangdao", "Tan Wangsong". No dictionary translates a name, but its spelling is
its reading, so a word of the articles whose reading is that spelling (李日华: li ri hua) is the
name asked about. Readings come from pypinyin (its dictionary ships in the wheel; nothing is
downloaded).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# A capitalised word of an English question, hyphens and apostrophes kept ("Li-yin", "Xi'an").
_CAPITALISED = re.compile(r"[A-Z][a-zA-Z]*(?:['’\-][a-zA-Z]+)*")
_LONGEST_SYLLABLE = 6  # zhuang, shuang


@functools.lru_cache(maxsize=1)
def _readings() -> dict[int, str]:
    """pypinyin's readings of each character (its `pinyin_dict`), loaded from its module file:
    importing the package also loads its phrase dictionary, which nothing here uses (0.27 s of
    every cold English question). Imported the usual way if pypinyin is laid out otherwise."""
    try:
        found = importlib.util.find_spec("pypinyin")
        path = Path(found.origin or "").with_name("pinyin_dict.py") if found else None
        spec = importlib.util.spec_from_file_location("_pypinyin_readings", path or "")
        if spec is None or spec.loader is None:
            raise ImportError("no pinyin_dict.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return dict(module.pinyin_dict)
    except (ImportError, OSError, AttributeError):
        from pypinyin.pinyin_dict import pinyin_dict

        return dict(pinyin_dict)


@functools.lru_cache(maxsize=1)
def _toneless() -> dict[str, str]:
    """Each reading pypinyin has without its tone: its 42k characters share about 1,500
    readings, so each is stripped once (67 ms of a cold English question when done for every
    character)."""
    readings = {r for line in _readings().values() for r in line.split(",")}
    return {r: _plain(r) for r in readings}


@functools.lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows (about 410), ü written v."""
    return frozenset(s for s in _toneless().values() if s.isalpha())


def _plain(reading: str) -> str:
    """A tone-marked reading without its tone mark; ü as v."""
    decomposed = unicodedata.normalize("NFD", reading.replace("ü", "v"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def spelling(text: str) -> str:
    """A romanised word as a key: lower case, no hyphens, apostrophes or tone marks, ü as v
    ("Li-yin" → liyin, "Lü" → lv)."""
    return re.sub(r"[^a-z]", "", _plain(text))


def split_syllables(key: str) -> list[str] | None:
    """The pinyin syllables a key spells, fewest first ("rihua" → [ri, hua]); None when it is
    not pinyin ("fighter")."""
    known = syllables()
    best: list[list[str] | None] = [[]] + [None] * len(key)
    for end in range(1, len(key) + 1):
        for start in range(max(0, end - _LONGEST_SYLLABLE), end):
            before = best[start]
            if before is not None and key[start:end] in known:
                if best[end] is None or len(before) + 1 < len(best[end] or ()):
                    best[end] = [*before, key[start:end]]
    return best[len(key)]


@functools.lru_cache(maxsize=1)
def _characters() -> dict[str, str]:
    out: dict[str, list[str]] = {}
    toneless = _toneless()
    for code, readings in _readings().items():
        if 0x4E00 <= code <= 0x9FFF:  # the common block: names are written in it
            for reading in dict.fromkeys(toneless[r] for r in readings.split(",")):
                out.setdefault(reading, []).append(chr(code))
    return {syllable: "".join(chars) for syllable, chars in out.items()}


def characters(syllable: str) -> str:
    """The characters that read as a syllable, whatever their tone (li: 李里理力…); lu and nu
    also as lü and nü, which English spells without the dots."""
    table = _characters()
    found = table.get(syllable, "")
    if syllable in ("lu", "nu", "lue", "nue"):
        found += table.get(syllable.replace("u", "v"), "")
    return found


@dataclass(frozen=True)
class Spelled:
    """A run of capitalised pinyin words of an English question and the keys it may be a name
    by: the whole run, then each word of two or more syllables that is no English word (a
    given name: "Rihua")."""

    text: str
    keys: tuple[str, ...]
    # Surely a name: two or more words, one of them a given name ("Tan Wangsong"); not "Hong
    # Kong", nor a single word that may be a western name ("Maria" reads ma-ri-a).
    is_name: bool


def spelled_names(english: str, english_words: frozenset[str] | set[str]) -> Iterator[Spelled]:
    """The runs of capitalised words of an English question that spell pinyin and may name a
    Chinese person, place or firm. `english_words`: words that are English, whatever they
    read as ("Women" reads wo-men, 我们)."""
    run: list[str] = []
    last_end = -1
    for m in [*_CAPITALISED.finditer(english), None]:
        word = m.group() if m else ""
        pinyin = bool(m) and split_syllables(spelling(word)) is not None
        joined = m is not None and run and english[last_end : m.start()].strip() == ""
        if run and not (pinyin and joined):
            yield from _spelled(run, english_words)
            run = []
        if pinyin:
            run.append(word)
        last_end = m.end() if m else last_end


def _spelled(run: list[str], english_words: frozenset[str] | set[str]) -> Iterator[Spelled]:
    keys = [spelling(w) for w in run]
    given = [k for k in keys if len(split_syllables(k) or ()) >= 2 and k not in english_words]
    candidates = (["".join(keys)] if len(run) > 1 else []) + given
    if candidates:
        yield Spelled(" ".join(run), tuple(dict.fromkeys(candidates)), len(run) > 1 and bool(given))
