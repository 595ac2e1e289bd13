"""The learned decision: the trained models of model.py over the features of features.py, plus
the hand vetoes the training run measured as still earning their keep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.answering.decision import Decision
from assistant.answering.decision.features import Asked, answer_row, candidate_rows, short_row
from assistant.answering.decision.model import DecisionModel
from assistant.answering.decision.rules import GUARDS, ONE_FACT, add_parts, one_short, veto
from assistant.answering.selection import Scored
from assistant.answering.short_answer import Short
from assistant.schema import Context

# A sentence added for a part of the question covers at least this share of its weight (the
# rules' EXTRA_MIN_COVERAGE of their default threshold).
PART_MIN_COVERAGE = 0.3


def choose(
    asked: Asked, scored: Sequence[Scored], quoted: Sequence[int], most: int
) -> list[Scored]:
    """The sentences to quote: the likeliest (`quoted`, best first) that lie in the best one's
    passage (one from another passage was the main cause of citations that do not hold the
    answer: eval/decisions.md), and for a question of several parts a sentence for each
    further part."""
    best = scored[quoted[0]]
    chosen = [scored[i] for i in quoted if scored[i].context_rank == best.context_rank]
    if asked.kind not in ONE_FACT:
        chosen = add_parts(asked, scored, chosen, most, PART_MIN_COVERAGE)
    return chosen


class LearnedDecider:
    """Quotes the sentences the sentence model finds likeliest; answers when the answer model
    is confident enough and no kept veto refuses; shows the short answer when its model is."""

    name = "learned"
    by_meaning = True

    def __init__(self, model: DecisionModel) -> None:
        self.model = model
        self.vetoes = (*GUARDS, *model.meta.get("vetoes", ()))

    def decide(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> Decision:
        """Which sentences answer the question, with the probability that they do."""
        if not scored:
            return Decision([], "nothing retrieved", 0.0, {"confidence": 0.0})
        rows = candidate_rows(asked, scored, contexts)
        logits = self.model.sentence.score(rows)
        probabilities = self.model.sentence_probabilities(rows)
        quoted = self.model.quoted(probabilities)
        confidence = self.model.answer_probability(
            answer_row(asked, rows, logits, probabilities, quoted)
        )
        chosen = choose(asked, scored, quoted, self.model.max_quotes)
        vetoed = veto(asked, chosen[0].text, self.vetoes)
        signals = {
            "confidence": round(confidence, 4),
            "p_best": round(float(probabilities[quoted[0]]), 4),
            "veto": vetoed,
        }
        reason = vetoed or ("not confident" if confidence < self.model.answer_threshold else "")
        return Decision([] if reason else chosen, reason, confidence, signals)

    def rank(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> list[Scored]:
        """The candidates by the sentence model's score, best first."""
        if not scored:
            return []
        logits = self.model.sentence.score(candidate_rows(asked, scored, contexts))
        return [scored[int(i)] for i in np.argsort(-logits, kind="stable")]

    def show_short(self, asked: Asked, decision: Decision, short: Short) -> bool:
        """Shown when the short-answer model is confident (precision-tuned threshold)."""
        if not decision.chosen or decision.confidence is None or not one_short(asked):
            return False
        best = decision.chosen[0].text
        p_best = float(decision.signals.get("p_best", 0.0))
        row = short_row(asked, decision.confidence, p_best, short, best)
        p = self.model.short_probability(row)
        decision.signals["short_confidence"] = round(p, 4)
        return p >= self.model.short_threshold
