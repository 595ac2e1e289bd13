"""The default answerer: offline and deterministic, it quotes the best source sentences verbatim."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.answering import question as q
from assistant.answering.archive import resolve_short
from assistant.answering.decision import Decider
from assistant.answering.decision.features import Asked
from assistant.answering.overview import OVERVIEW_WORDS, overview_sentences, topic_words
from assistant.answering.selection import (
    Scored,
    SentenceSimilarity,
    Term,
    rank_sentences,
    weigh_terms,
)
from assistant.answering.short_answer import Short, cut_short
from assistant.answering.translate import QueryTranslator
from assistant.schema import Context, Draft
from ingest.lexical import LexicalIndex
from ingest.text.quantities import dates, english_date, english_figure, figures
from ingest.text.tokens import GUESS_CHARS
from ingest.text.width import language


class ExtractiveAnswerer:
    """Scores the sentences of the retrieved chunks against the question and quotes the best.

    By meaning when the index holds sentence vectors (answering/selection.py), else lexically;
    which sentences to quote, whether to answer and whether to show the short answer are the
    decider's (answering/decision/).
    """

    name = "extractive"

    def __init__(
        self,
        lexical: Callable[[], LexicalIndex],
        decider: Decider,
        translator: QueryTranslator | None = None,
        similarity: SentenceSimilarity | None = None,
        guess_chars: int = GUESS_CHARS,
    ) -> None:
        self.lexical = lexical
        self.decider = decider
        self.translator = translator
        self.similarity = similarity
        self.guess_chars = guess_chars

    def answer(self, question: str, contexts: Sequence[Context], lang: str | None = None) -> Draft:
        """Compose a short answer of verbatim quotes with [n] markers, or a refusal."""
        lang = lang or language(question)
        if q.kind(question) == "overview":
            return self.overview(question, contexts, lang)
        asked, scored = self.candidates(question, contexts, lang)
        terms = list(asked.terms)
        decision = self.decider.decide(asked, scored, contexts)
        signals = {**decision.signals, "decider": self.decider.name}
        if decision.refused_by:
            return Draft.refusal(lang, {**signals, "refused_by": decision.refused_by})
        draft = self._compose(decision.chosen, contexts, lang)
        short = cut_short(question, decision.chosen[0].text, asked.kind, terms, lang)
        if self.decider.show_short(asked, decision, short):
            said = english_short(short) if lang == "en" else short.text
            published = contexts[decision.chosen[0].context_rank].published
            draft.short_answer = resolve_short(said, published, lang)
            if lang == "en":  # the asked fact in English, cited, before the Chinese quotes
                n = next(i for i, t in draft.quotes.items() if t == decision.chosen[0].text)
                draft.text = f"The source gives {draft.short_answer} [{n}]. {draft.text}"
        draft.signals = {**signals, **decision.signals}
        return draft

    def overview(self, question: str, contexts: Sequence[Context], lang: str) -> Draft:
        """The sentences that carry the article's structure (assistant/answering/overview.py), or a
        refusal when the overview is of something no article holds."""
        signals: dict[str, object] = {"decider": "overview"}
        index = self.lexical()
        if lang == "en":
            terms = self.terms(OVERVIEW_WORDS.sub(" ", question), lang)  # the topic's words
            topic = [sorted(t.words) for t in terms if t.known]
            unknown = [w for t in terms if not t.known for w in t.words]
            if self.translator is not None:
                unknown += [
                    w for w in self.translator.untranslated(question)
                    if not OVERVIEW_WORDS.fullmatch(w)
                ]  # fmt: skip
        else:
            words, unknown = topic_words(question, lambda w: index.substring_df(w) > 0)
            topic = [[w] for w in words]
        chosen = overview_sentences(contexts, topic) if contexts and not unknown else []
        if not chosen:
            reason = f"no article holds: {', '.join(unknown)}" if unknown else "nothing retrieved"
            return Draft.refusal(lang, {**signals, "refused_by": reason})
        draft = self._compose(chosen, contexts, lang)
        draft.signals = signals
        return draft

    def candidates(
        self, question: str, contexts: Sequence[Context], lang: str
    ) -> tuple[Asked, list[Scored]]:
        """What the question asks, and every sentence of the contexts scored, best first (what
        the decider decides on; `zone-assistant train` learns from the same)."""
        terms = self.terms(question, lang)
        sims = self.similarity.similarities(question, contexts) if self.similarity else None
        scored = rank_sentences(question, terms, contexts, lang, sims)
        return Asked(question, q.kind(question), lang, tuple(terms)), scored

    def ranked(self, question: str, contexts: Sequence[Context], lang: str) -> list[Scored]:
        """Every sentence of the contexts, likeliest to answer first (the decider's ranking);
        none when the question names what no article holds (no reader can answer it)."""
        asked, scored = self.candidates(question, contexts, lang)
        return [] if asked.unknown_name else self.decider.rank(asked, scored, contexts)

    def terms(self, question: str, lang: str) -> list[Term]:
        """What a sentence should contain, weighted by rarity (see selection.weigh_terms)."""
        return weigh_terms(question, lang, self.lexical(), self.translator, self.guess_chars)

    @staticmethod
    def _compose(chosen: list[Scored], contexts: Sequence[Context], lang: str) -> Draft:
        """The quotes with [n] markers, in source order (quotes from one passage read best so)."""
        chosen = sorted(
            chosen,
            key=lambda s: (
                contexts[s.context_rank].source,
                contexts[s.context_rank].char_start + s.start,
            ),
        )
        draft = Draft("", refused=False)
        parts = []
        for i, sent in enumerate(chosen, start=1):
            draft.cited[i] = contexts[sent.context_rank]
            draft.quotes[i] = sent.text
            parts.append(f"{sent.text}[{i}]")
        draft.text = "".join(parts) if lang == "zh" else english_summary(parts)
        return draft


def english_short(short: Short) -> str:
    """A short answer for an English question: a figure or a date said in English with the
    original beside it ("more than 1,900 (1900余家)"), anything else as the source writes it."""
    if short.how == "figure":
        said = english_figures(short.text)
        if len(said) == 1:
            return said[0]
        two = dates(short.text)
        if (
            len(two) == 2
            and two[0].start == 0
            and two[1].start + len(two[1].written) == len(short.text)
        ):
            joiner = short.text[len(two[0].written) : two[1].start]
            word = {"及": "and", "和": "and"}.get(joiner, "to")
            a, b = (english_date(d.year, d.month, d.day) for d in two)
            return f"{a} {word} {b} ({short.text})"
    return short.text


def english_figures(text: str) -> list[str]:
    """The dates and figures of a Chinese sentence, said in English with the original beside."""
    out: list[str] = []
    taken: list[tuple[int, int]] = []
    for d in dates(text):
        out.append(f"{english_date(d.year, d.month, d.day)} ({d.written})")
        taken.append((d.start, d.start + len(d.written)))
    for fig in figures(text):
        if not any(a <= fig.start < b for a, b in taken):
            out.append(f"{english_figure(fig)} ({fig.text})")
    return out


def english_summary(parts: Sequence[str]) -> str:
    """An English answer over Chinese evidence: the quotes (the asked fact in English leads
    when the short answer is shown, see ExtractiveAnswerer.answer)."""
    return "Quoted in Chinese: " + " ".join(parts)
