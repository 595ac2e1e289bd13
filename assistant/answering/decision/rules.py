"""The hand rules: the whole decision without sentence vectors, and the few vetoes the learned
decision keeps because they still earn their keep (measured by `zone-assistant train`).
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answering.decision import Decision
from assistant.answering.decision.features import Asked, unit_evidence, wants
from assistant.answering.question import asks_several
from assistant.answering.selection import Scored, Term, covered
from assistant.answering.short_answer import Short
from assistant.schema import Context

# A further sentence joins the answer when it covers at least this share of the question's
# weight that the sentences before it did not, and this fraction of the refusal threshold
# (less cost citation support: eval/decisions.md).
EXTRA_MIN_GAIN = 0.2
EXTRA_MIN_COVERAGE = 0.6
# By meaning, a further sentence must also lie within this similarity of the best one (fewer
# extra sentences, as many right answers); from another chunk within this: a citation of a
# second passage that lacks the answer was the main cause of unsupported citations on CMRC.
EXTRA_MAX_SIMILARITY_GAP = 0.05
EXTRA_MAX_SIMILARITY_GAP_ELSEWHERE = 0.03
# Always applied, whatever the data says: no development question is garbage, so no measurement
# can speak for these (tests/test_hostile_inputs.py does).
GUARDS = ("nothing asked",)
# A figure, a date or a frequency is one fact, carried by one sentence.
ONE_FACT = ("number", "date", "frequency")


def one_short(asked: Asked) -> bool:
    """A short answer is one fact: a question asking two ("有多少个国家、多少名选手参加？") gets
    none (on the zone and paraphrase sets the only two shown for such questions were half of
    the answer: eval/decisions.md)."""
    return not asks_several(asked.text)


def veto(asked: Asked, best: str, rules: Sequence[str]) -> str:
    """The first of `rules` that refuses whatever the scores say ('' when none does):

    - "nothing asked": no word of the question is in any article ("🚀💰🎉？", "%s%s", an
      English question none of whose words translates into the articles' words);
    - "unknown name": a figure, a date or a frequency is asked of a thing no article names
      (注册资本, 占地面积); for other questions an unknown word is as often the asker's own
      wording (研究成果, 出版商: 14 right answers of the tuning half cost, no wrong one saved);
    - "other unit": a figure is asked in a unit the sentence does not state (多少美元);
    - "no number" / "no date" / "no frequency": a figure, a date or how often is asked and
      the best sentence states none.
    """
    for rule in rules:
        if (
            (rule == "nothing asked" and not any(t.known for t in asked.terms))
            or (rule == "unknown name" and asked.unknown_name and asked.kind in ONE_FACT)
            or (rule == "other unit" and unit_evidence(asked.text, asked.kind, best) < 0)
            or (
                rule == f"no {asked.kind}"
                and asked.kind in ONE_FACT
                and wants(asked.kind, best) < 0
            )
        ):
            return rule
    return ""


class RuleDecider:
    """Lexical: the best sentence must cover `threshold` of the question's weight, and name what
    the question names, and hold a figure, date or frequency where one is asked for; a further
    sentence joins when it adds a part of the question."""

    name = "rules"
    RULES = ("unknown name", "no number", "no date", "no frequency", "figure about something else",
             "other unit")  # fmt: skip

    def __init__(
        self, threshold: float = 0.5, max_sentences: int = 2, by_meaning: bool = False
    ) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        # True only while training the learned decision, which learns from sentences chosen
        # by meaning: the coverage threshold was tuned for lexical ranking.
        self.by_meaning = by_meaning

    def decide(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> Decision:
        """The best sentences by coverage, or the rule that refuses them."""
        if not scored:
            return Decision([], "nothing retrieved")
        best = scored[0]
        reason = self._refusal(asked, best)
        signals = {"coverage": round(best.coverage, 4), "rule": reason}
        if reason:
            return Decision([], reason, signals=signals)
        return Decision(self._choose(asked, scored), signals=signals)

    def rank(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> list[Scored]:
        """The candidates as scored (coverage, or meaning while training), best first."""
        return list(scored)

    def _refusal(self, asked: Asked, best: Scored) -> str:
        if best.coverage < self.threshold:
            return "low coverage"
        if asked.unknown_name:
            return "unknown name"
        if asked.kind in ONE_FACT and wants(asked.kind, best.text) < 0:
            return f"no {asked.kind}"
        if asked.kind in ONE_FACT and lacks_focus(asked.terms, best.text):
            return "figure about something else"
        return veto(asked, best.text, ("other unit",))

    def _choose(self, asked: Asked, scored: Sequence[Scored]) -> list[Scored]:
        """The best sentence, and a second (a third for lists) when it adds a part of the
        question."""
        limit = 1 if asked.kind in ONE_FACT else self.max_sentences + (asked.kind == "list")
        return add_parts(asked, scored, [scored[0]], limit, EXTRA_MIN_COVERAGE * self.threshold)

    def show_short(self, asked: Asked, decision: Decision, short: Short) -> bool:
        """Only a span of the kind asked for: a figure, a date or a list of names."""
        of_kind = (short.how == "figure" and asked.kind in (*ONE_FACT, "rank")) or (
            short.how == "list" and asked.kind == "list"
        )
        return of_kind and one_short(asked)


def add_parts(
    asked: Asked, scored: Sequence[Scored], chosen: list[Scored], limit: int, min_coverage: float
) -> list[Scored]:
    """`chosen`, and further candidates (best first) while each adds EXTRA_MIN_GAIN of the
    question's weight that the chosen ones do not cover, up to `limit` sentences: the parts of
    a question that asks two things ("…哪些重点项目？…从什么时候开始的？")."""
    chosen = list(chosen)
    total = sum(t.weight for t in asked.terms) or 1.0
    have = set().union(*(covered(asked.terms, c.text) for c in chosen))
    for cand in scored:
        if len(chosen) >= limit:
            break
        if cand in chosen or too_far(chosen[0], cand):
            continue
        new = covered(asked.terms, cand.text) - have
        if sum(t.weight for t in new) / total >= EXTRA_MIN_GAIN and cand.coverage >= min_coverage:
            chosen.append(cand)
            have |= new
    return chosen


def too_far(best: Scored, cand: Scored) -> bool:
    """By meaning, the candidate is too much less similar to the question than the best."""
    if best.similarity is None or cand.similarity is None:
        return False
    elsewhere = cand.context_rank != best.context_rank
    most = EXTRA_MAX_SIMILARITY_GAP_ELSEWHERE if elsewhere else EXTRA_MAX_SIMILARITY_GAP
    return best.similarity - cand.similarity > most


def lacks_focus(terms: Sequence[Term], text: str) -> bool:
    """The question's rarest noun is not in the sentence, so its figure is about something else."""
    nouns = [t for t in terms if t.known and t.noun]
    focus = max(nouns, key=lambda t: t.weight) if len(nouns) >= 2 else None
    return focus is not None and focus not in covered([focus], text)
