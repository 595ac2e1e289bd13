"""The answer decision, in one home: which sentences to quote, whether to answer at all, and
whether the short answer may be shown.

Two deciders behind one interface, chosen by the composition root (assistant/app.py):
- `LearnedDecider` (learned.py): small trained models over cheap features (features.py,
  model.py, parameters in params.json from `zone-assistant train`), for the embedding model they
  were trained with, when the index holds sentence vectors;
- `RuleDecider` (rules.py): lexical coverage and hand rules, for an index without sentence
  vectors or a model nobody trained parameters for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.answering.decision.features import Asked
from assistant.answering.selection import Scored
from assistant.answering.short_answer import Short
from assistant.schema import Context


@dataclass
class Decision:
    """What to quote (best first; empty when refused) and why not, with the signals behind it."""

    chosen: list[Scored]
    refused_by: str = ""
    confidence: float | None = None  # the probability that the quotes answer (learned only)
    signals: dict[str, Any] = field(default_factory=dict)


class Decider(Protocol):
    """Decides from the question and its scored candidate sentences."""

    name: str
    by_meaning: bool  # decides on sentences chosen by meaning (needs sentence vectors)

    def decide(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> Decision:
        """Which sentences answer the question, or why none does."""
        ...

    def show_short(self, asked: Asked, decision: Decision, short: Short) -> bool:
        """Whether the short answer is the asked fact, confidently enough to be shown."""
        ...

    def rank(
        self, asked: Asked, scored: Sequence[Scored], contexts: Sequence[Context]
    ) -> list[Scored]:
        """Every candidate, likeliest to answer first (what "read closer" gives a reader)."""
        ...


__all__ = ["Asked", "Decider", "Decision"]
