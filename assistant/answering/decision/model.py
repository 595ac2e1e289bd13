"""The learned answer decision: which sentences hold the answer, whether to answer, whether the
short answer can be shown. Its parameters are data (`params.json`, written by
`zone-assistant train`); inference is a few dot products.

Three small models over the features of assistant/answering/decision/features.py:
- the sentence model: a softmax over one question's candidate sentences (a conditional logit),
  so each sentence gets the probability that it is the one holding the answer;
- the answer model: a logistic regression giving the probability that the quoted sentences
  answer the question; below `answer_threshold` the assistant refuses;
- the short-answer model: the probability that the short answer cut from the best sentence is
  the asked fact; below `short_threshold` none is shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering.decision import features as f
from assistant.errors import SettingsError

DEFAULT_PARAMS = Path(__file__).with_name("params.json")


@dataclass(frozen=True)
class Linear:
    """Standardise, then a dot product (and a bias): the form of all three models."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float = 0.0

    def score(self, rows: np.ndarray) -> np.ndarray:
        """The linear score (a logit) of each row."""
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        """The parameters as JSON (rounded: a re-train that changes nothing leaves no diff)."""
        return {
            "features": list(self.names),
            "mean": [round(float(x), 8) for x in self.mean],
            "scale": [round(float(x), 8) for x in self.scale],
            "coef": [round(float(x), 8) for x in self.coef],
            "intercept": round(float(self.intercept), 8),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str], path: Path) -> Linear:
        """Read one model, refusing parameters trained on other features."""
        names = tuple(data["features"])
        if names != tuple(expected):
            raise SettingsError(
                f"decision parameters {path} were trained on other features; "
                "retrain them with: zone-assistant train"
            )
        mean, scale, coef = (
            np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")
        )
        if any(a.shape != (len(names),) for a in (mean, scale, coef)):
            raise SettingsError(
                f"decision parameters {path} are damaged; run: zone-assistant train"
            )
        return cls(names, mean, scale, coef, float(data.get("intercept", 0.0)))


def sigmoid(x: np.ndarray | float) -> Any:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x)))


@dataclass(frozen=True)
class DecisionModel:
    """The three models and their thresholds, as trained."""

    sentence: Linear
    answer: Linear
    short: Linear
    answer_threshold: float
    short_threshold: float
    # Sentences are quoted best first until they hold this much of the sentence model's
    # probability, at most `max_quotes` of them.
    quote_mass: float
    max_quotes: int
    meta: dict[str, Any]

    def sentence_probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The softmax of the sentence model over one question's candidates."""
        if not len(rows):
            return np.zeros(0)
        logits = self.sentence.score(rows)
        e = np.exp(logits - logits.max())
        return e / e.sum()  # type: ignore[no-any-return]

    def quoted(self, probabilities: np.ndarray) -> list[int]:
        """The candidates to quote: best first until they hold `quote_mass`."""
        out: list[int] = []
        mass = 0.0
        for i in np.argsort(-probabilities, kind="stable")[: self.max_quotes]:
            out.append(int(i))
            mass += float(probabilities[i])
            if mass >= self.quote_mass:
                break
        return out

    def answer_probability(self, row: np.ndarray) -> float:
        """The probability that the quoted sentences answer the question."""
        return float(sigmoid(self.answer.score(row[None])[0]))

    def short_probability(self, row: np.ndarray) -> float:
        """The probability that the short answer is the asked fact."""
        return float(sigmoid(self.short.score(row[None])[0]))

    def to_json(self) -> dict[str, Any]:
        """The parameters file's content."""
        return {
            **self.meta,
            "sentence": self.sentence.to_json(),
            "answer": self.answer.to_json(),
            "short": self.short.to_json(),
            "answer_threshold": round(self.answer_threshold, 6),
            "short_threshold": round(self.short_threshold, 6),
            "quote_mass": self.quote_mass,
            "max_quotes": self.max_quotes,
        }


@cache
def load_decision(path: Path = DEFAULT_PARAMS) -> DecisionModel:
    """The decision parameters in `path` (cached per path); SettingsError when unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DecisionModel(
            sentence=Linear.from_json(data["sentence"], f.SENTENCE, path),
            answer=Linear.from_json(data["answer"], f.ANSWER, path),
            short=Linear.from_json(data["short"], f.SHORT, path),
            answer_threshold=float(data["answer_threshold"]),
            short_threshold=float(data["short_threshold"]),
            quote_mass=float(data["quote_mass"]),
            max_quotes=int(data["max_quotes"]),
            meta={k: v for k, v in data.items() if k in META_KEYS},
        )
    except FileNotFoundError:
        raise SettingsError(
            f"decision parameters {path} do not exist; set ASSISTANT_DECISION_PARAMS to a "
            "file written by: zone-assistant train"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(
            f"decision parameters {path} cannot be read ({type(exc).__name__}); "
            "run: zone-assistant train"
        ) from None


# What the parameters file records beside the models (for people, and the eval report).
META_KEYS = (
    "embedding_model", "data", "data_sha256", "vetoes", "calibration", "measured",
)  # fmt: skip
