"""`zone-assistant train`: learn the answer decision (assistant/answering/decision/) from the
development data, and write its parameters with the hash of the data they came from.

The data: the CMRC 2018 trial passages with their Chinese questions and the same passages'
questions rewritten in English and as paraphrases (../shared/datasets), asked open-book over a
pool of 150 passages (the eval's pool; 60 more left out, whose questions must be refused). Only
the tuning half of the passages (even sha256 of the passage id, as everywhere in this project)
is learned from; the other half is reported. Besides the questions as asked, each answerable
tuning question is also asked with the sentences that answer it taken away ("ablated"): an
on-topic question the article cannot answer, the kind a real archive meets most.

Three models (see assistant/answering/decision/model.py):
- the sentence model, a softmax over one question's candidate sentences, fitted by maximum
  likelihood with an L2 penalty (scipy's L-BFGS; no library ships this conditional logit);
- the answer model, scikit-learn's LogisticRegression on each question's quoted sentences,
  labelled by whether they hold a gold answer; its threshold is the highest at which the
  tuning half's answerable questions are refused at most MAX_FALSE_REFUSALS of the time;
- the short-answer model, a LogisticRegression on the short answer cut from the best sentence,
  labelled by whether it states the gold answer; its threshold is the lowest at which the
  short answers shown on the tuning half are right at least SHORT_PRECISION of the time.
The hand vetoes (assistant/answering/decision/rules.py) are measured on the tuning half and the
zone set, and kept when the wrong answers they refuse outweigh the right ones they cost (same
worth).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from assistant.answering.decision import features as f
from assistant.answering.decision.learned import choose
from assistant.answering.decision.model import DecisionModel, Linear, sigmoid
from assistant.answering.decision.rules import GUARDS, veto
from assistant.answering.pipeline import Request
from assistant.answering.selection import Scored
from assistant.answering.short_answer import cut_short
from assistant.schema import Context
from eval import open_book
from eval.dataset import load_dataset
from eval.errors import EvalError
from eval.judge import short_states
from eval.matching import match_fact, normalize
from eval.open_book import HELD_OUT, TUNING

if TYPE_CHECKING:
    from assistant.answering.answer import ExtractiveAnswerer
    from assistant.app import App
    from assistant.settings import Settings

DATASETS = ("cmrc2018_trial.jsonl", "cmrc2018_trial_en.jsonl", "cmrc2018_trial_paraphrase.jsonl")
POOL, LEFT_OUT = 150, 60
ABLATED_WEIGHT = 0.3  # ablated questions are many; they must not drown the questions as asked
SENTENCE_L2 = 1.0
MAX_FALSE_REFUSALS = 0.08  # the issue's bound on false refusals
# What an answer is worth: a right one 1, a refusal 0, a wrong one -WRONG_COST (an investor who
# copies a wrong figure loses more than one who is told to look elsewhere): a hand veto is kept
# when it adds worth on the tuning half and the zone set.
WRONG_COST = 2.0
SHORT_PRECISION = 0.95
QUOTE_MASS, MAX_QUOTES = 0.7, 3
# Measured and kept or dropped by each run; GUARDS always apply.
VETOES = ("unknown name", "other unit", "no number", "no date", "no frequency")


@dataclass
class Example:
    """One question with its candidates, as the decision sees it, and what is right."""

    set: str
    half: str
    asked: f.Asked
    scored: list[Scored]
    contexts: list[Context]
    labels: np.ndarray  # per candidate: it holds a gold answer
    facts: list[list[str]]
    variant: str = "asked"  # or "ablated"

    @property
    def answerable(self) -> bool:
        """Whether some candidate answers it."""
        return bool(self.facts) and self.variant == "asked"

    def rows(self) -> np.ndarray:
        """The SENTENCE rows of its candidates."""
        return f.candidate_rows(self.asked, self.scored, self.contexts)


def holds(sentence: str, facts: Sequence[Sequence[str]], evidence: str | None) -> bool:
    """A candidate holds the answer: a gold span (CMRC), or the zone set's evidence or facts."""
    if not facts:
        return False
    text = normalize(sentence)
    if evidence and (normalize(evidence) in text or text in normalize(evidence)):
        return True
    if evidence is None:  # CMRC: one fact, its alternative spans
        return any(normalize(alt) in text for alt in facts[0])
    return all(match_fact(sentence, fact) == "match" for fact in facts)


def collect(app: App, rows: Sequence[dict[str, Any]], name: str) -> list[Example]:
    """Ask every row's question (its first part) and keep its candidates."""
    assistant = app.assistant
    answerer: ExtractiveAnswerer = assistant.answerer  # type: ignore[assignment]
    out = []
    with click.progressbar(rows, label=f"  {name}", file=None) as bar:
        for row in bar:
            history = tuple(h["question"] for h in row.get("history", []))
            query = assistant.prepare(Request(row["question"], history))
            part = query.parts[0]
            contexts = assistant.search.search(part)
            asked, scored = answerer.candidates(part.text, contexts, query.lang)
            evidence = row.get("evidence") if name == "zone" else None
            labels = np.array([holds(s.text, row["facts"], evidence) for s in scored], dtype=bool)
            out.append(
                Example(name, row.get("half", "zone"), asked, scored, list(contexts), labels,
                        row["facts"])
            )  # fmt: skip
    return out


def ablated(example: Example) -> Example | None:
    """The question with the sentences that answer it taken away (None when none does)."""
    keep = [i for i, held in enumerate(example.labels) if not held]
    if len(keep) == len(example.labels) or not keep:
        return None
    return replace(
        example,
        scored=[example.scored[i] for i in keep],
        labels=np.zeros(len(keep), dtype=bool),
        facts=[],
        variant="ablated",
    )


# --- fitting -------------------------------------------------------------------------------


def standardiser(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each column (a constant column keeps scale 1)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_sentence_model(examples: Sequence[Example], l2: float = SENTENCE_L2) -> Linear:
    """The conditional logit: softmax over each question's candidates, the answer's likely."""
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise EvalError("training needs scipy: pip install 'zone-assistant[train]'") from None

    data = [(e.rows(), e.labels) for e in examples if e.answerable and e.labels.any()]
    if not data:
        raise EvalError("no tuning question has a candidate that holds its answer")
    mean, scale = standardiser(np.vstack([x for x, _ in data]))
    data = [((x - mean) / scale, y) for x, y in data]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            held = p[y].sum()
            total -= float(np.log(held + 1e-12))
            grad -= (np.where(y, p / (held + 1e-12), 0.0) - p) @ x
        return total + l2 * float(w @ w), grad + 2 * l2 * w

    width = len(f.SENTENCE)
    found = minimize(loss, np.zeros(width), jac=True, method="L-BFGS-B")
    return Linear(f.SENTENCE, mean, scale, found.x)


def fit_logistic(
    names: Sequence[str], rows: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> Linear:
    """scikit-learn's L2 logistic regression on standardised rows, as a Linear model."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise EvalError(
            "training needs scikit-learn: pip install 'zone-assistant[train]'"
        ) from None

    mean, scale = standardiser(rows)
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit((rows - mean) / scale, labels, sample_weight=weights)
    return Linear(tuple(names), mean, scale, model.coef_[0], float(model.intercept_[0]))


@dataclass
class Judged:
    """An example as the sentence model quotes it: the answer row, and whether it is right."""

    example: Example
    row: np.ndarray
    quoted: list[int]
    right: bool
    p_best: float
    p: float = 0.0  # the answer model's probability


def judge(examples: Sequence[Example], sentence: Linear) -> list[Judged]:
    """Quote each example's likeliest sentences; right when one of them holds the answer."""
    shell = DecisionModel(sentence, sentence, sentence, 0.0, 0.0, QUOTE_MASS, MAX_QUOTES, {})
    out = []
    for e in examples:
        if not e.scored:
            continue
        rows = e.rows()
        logits = sentence.score(rows)
        probabilities = shell.sentence_probabilities(rows)
        quoted = shell.quoted(probabilities)
        row = f.answer_row(e.asked, rows, logits, probabilities, quoted)
        chosen = {id(c) for c in choose(e.asked, e.scored, quoted, MAX_QUOTES)}
        right = e.answerable and any(
            held for c, held in zip(e.scored, e.labels, strict=True) if id(c) in chosen
        )
        out.append(Judged(e, row, quoted, right, float(probabilities[quoted[0]])))
    return out


def weight(j: Judged) -> float:
    """How much a question counts: an ablated one ABLATED_WEIGHT, any other 1."""
    return ABLATED_WEIGHT if j.example.variant == "ablated" else 1.0


def worth(j: Judged) -> float:
    """What answering this question is worth (weighted): 1 if right, else -WRONG_COST."""
    return weight(j) * (1.0 if j.right else -WRONG_COST)


def highest_threshold(judged: Sequence[Judged], most_false_refusals: float) -> float:
    """The highest answer threshold refusing at most that share of answerable questions."""
    answerable = sorted(j.p for j in judged if j.example.answerable)
    if not answerable:
        raise EvalError("no answerable tuning question")
    index = int(np.floor(most_false_refusals * len(answerable)))
    return float(answerable[min(index, len(answerable) - 1)])


def short_examples(judged: Sequence[Judged], threshold: float) -> list[tuple[np.ndarray, bool]]:
    """(SHORT row, right) for each answered question's short answer."""
    out = []
    for j in judged:
        if j.p < threshold:
            continue
        e = j.example
        best = e.scored[j.quoted[0]].text
        short = cut_short(e.asked.text, best, e.asked.kind, e.asked.terms, e.asked.lang)
        row = f.short_row(e.asked, j.p, j.p_best, short, best)
        right = e.answerable and short_states(short.text, e.facts, e.asked.text)
        out.append((row, right))
    return out


def lowest_threshold(scores: np.ndarray, right: np.ndarray, precision: float) -> float:
    """The lowest threshold at which the shown ones are right at least `precision` of the time
    (1.0, showing none, when no threshold reaches it)."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(right[order])
    shown = np.arange(1, len(order) + 1)
    ok = np.where(hits / shown >= precision)[0]
    return float(scores[order][ok[-1]]) if len(ok) else 1.0


def calibration(judged: Sequence[Judged], bins: int = 10) -> list[dict[str, Any]]:
    """Predicted against observed: per bin of the answer model's probability, the mean
    prediction and the share of questions whose quoted sentences answer them."""
    out = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [j for j in judged if low <= j.p < high or (b == bins - 1 and j.p == 1.0)]
        if inside:
            out.append({
                "bin": f"{low:.1f}-{high:.1f}", "n": len(inside),
                "predicted": round(float(np.mean([j.p for j in inside])), 4),
                "observed": round(float(np.mean([j.right for j in inside])), 4),
            })  # fmt: skip
    return out


# --- the command ---------------------------------------------------------------------------


def data_hash(paths: Sequence[Path], pool: int = POOL, left_out: int = LEFT_OUT) -> str:
    """The sha256 of the training data: each file's name and bytes, and the pool's shape."""
    digest = hashlib.sha256(f"pool={pool};left_out={left_out}".encode())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def pool_examples(
    settings: Settings,
    folder: Path,
    work: Path,
    echo: Callable[[str], None],
    shape: tuple[int, int] = (POOL, LEFT_OUT),
) -> list[Example]:
    """Ingest the pool into `work` (kept: a re-run re-uses it) and collect every question."""
    sets = {name: open_book.load_passages(folder / name) for name in DATASETS}
    pool, left_out = open_book.split(sets[DATASETS[0]], *shape)
    knowledge = work / "knowledge"
    open_book.write_articles(knowledge, pool)
    pool_app = learning_app(
        settings.model_copy(
            update={"knowledge_dir": knowledge, "data_dir": work / "data", "profile": None}
        )
    )
    try:
        echo(f"ingesting the pool of {len(pool)} passages into {work} (kept for later runs)")
        summary = pool_app.ingest()
        if summary.exit_code != 0:
            raise EvalError("the training pool did not ingest: " + "; ".join(summary.lines()))
        out: list[Example] = []
        for name, passages in sets.items():
            pooled, left = open_book.split(passages, *shape)
            rows = open_book.rows(pooled, left)
            out += collect(pool_app, rows, name.removesuffix(".jsonl"))
        return out
    finally:
        pool_app.close()


def train(examples: Sequence[Example], meta: dict[str, Any]) -> tuple[DecisionModel, dict]:
    """Fit the three models on the tuning half; measure them on every half; keep the vetoes
    that earn their keep."""
    tune = [e for e in examples if e.half == TUNING]
    hard = [a for e in tune if e.answerable and (a := ablated(e)) is not None]
    sentence = fit_sentence_model(tune)
    judged_tune = judge([*tune, *hard], sentence)
    weights = np.array([ABLATED_WEIGHT if j.example.variant == "ablated" else 1.0
                        for j in judged_tune])  # fmt: skip
    answer = fit_logistic(
        f.ANSWER,
        np.vstack([j.row for j in judged_tune]),
        np.array([j.right for j in judged_tune]),
        weights,
    )
    judged_all = judge(examples, sentence) + judge(
        [a for e in examples if e.half != TUNING and e.answerable
         and (a := ablated(e)) is not None], sentence,
    ) + [j for j in judged_tune if j.example.variant == "ablated"]  # fmt: skip
    for j in judged_all:
        j.p = float(sigmoid(answer.score(j.row[None])[0]))
    threshold = highest_threshold(
        [j for j in judged_all if j.example.half == TUNING], MAX_FALSE_REFUSALS
    )
    shorts = short_examples([j for j in judged_all if j.example.half == TUNING], threshold)
    short_rows = np.vstack([r for r, _ in shorts])
    short_right = np.array([ok for _, ok in shorts])
    short = fit_logistic(f.SHORT, short_rows, short_right, np.ones(len(shorts)))
    short_threshold = lowest_threshold(
        np.asarray(sigmoid(short.score(short_rows))), short_right, SHORT_PRECISION
    )
    vetoes, earned = kept_vetoes(judged_all, threshold)
    model = DecisionModel(
        sentence, answer, short, threshold, short_threshold, QUOTE_MASS, MAX_QUOTES,
        {**meta, "vetoes": list(vetoes)},
    )  # fmt: skip
    measured = {
        # As users meet questions: the held-out half's questions as asked (no ablated ones).
        "calibration": calibration(
            [j for j in judged_all if j.example.half == HELD_OUT and j.example.variant == "asked"]
        ),
        "vetoes": earned,
        "halves": measure(judged_all, model),
    }
    model.meta.update({"calibration": measured["calibration"], "measured": measured["halves"]})
    return model, measured


def kept_vetoes(judged: Sequence[Judged], threshold: float) -> tuple[list[str], dict]:
    """Each veto's effect on the answered questions of the tuning half and the zone set: the
    wrong answers it refuses against the right answers it costs; kept when what it saves
    (WRONG_COST each, weighted) outweighs what it costs."""
    kept, earned = [], {}
    for rule in VETOES:
        caught = lost = gain = 0.0
        for j in judged:
            if j.example.half == HELD_OUT or j.p < threshold:
                continue
            if veto(j.example.asked, j.example.scored[j.quoted[0]].text, (rule,)):
                caught += not j.right
                lost += j.right
                gain -= worth(j)
        earned[rule] = {"refuses_wrong": int(caught), "costs_right": int(lost),
                        "gain": round(gain, 2)}  # fmt: skip
        if gain > 0:
            kept.append(rule)
    return kept, earned


def measure(judged: Sequence[Judged], model: DecisionModel) -> dict[str, Any]:
    """Per set and half: right, false refusals, negatives and ablated questions refused."""
    vetoes = (*GUARDS, *model.meta.get("vetoes", ()))
    groups: dict[str, dict[str, list[bool]]] = {}
    for j in judged:
        e = j.example
        refused = j.p < model.answer_threshold or bool(
            veto(e.asked, e.scored[j.quoted[0]].text, vetoes)
        )
        g = groups.setdefault(f"{e.set}/{e.half}", {"right": [], "refused": [], "neg": [],
                                                    "ablated": []})  # fmt: skip
        if e.variant == "ablated":
            g["ablated"].append(refused)
        elif e.answerable:
            g["right"].append(j.right and not refused)
            g["refused"].append(refused)
        else:
            g["neg"].append(refused)
    return {
        name: {
            "right": _share(g["right"]),
            "false_refusals": _share(g["refused"]),
            "negatives_refused": _share(g["neg"]),
            "ablated_refused": _share(g["ablated"]),
            "answerable": len(g["right"]),
        }  # fmt: skip
        for name, g in sorted(groups.items())
    }


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def learning_app(settings: Settings) -> App:
    """An app whose answerer ranks sentences by meaning with no learned decision yet."""
    from assistant.answering.decision.rules import RuleDecider
    from assistant.app import build_app

    return build_app(settings, decider=RuleDecider(by_meaning=True))


def run_train(
    settings: Settings, data: Path, out: Path, work: Path, shape: tuple[int, int] = (POOL, LEFT_OUT)
) -> int:
    """`zone-assistant train`: collect, fit, report, write `out`; the exit code. `shape`: the
    pool's passages and those left out (the eval's 150 and 60; smaller in the tests)."""
    paths = [data / name for name in DATASETS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise EvalError(f"training data missing: {', '.join(missing)}; pass --data FOLDER")
    started = time.perf_counter()
    if not settings.sentence_vectors:
        raise EvalError("the learned decision needs sentence vectors: ASSISTANT_SENTENCE_VECTORS")
    examples = pool_examples(settings, data, work, click.echo, shape)
    zone = learning_app(settings)
    try:
        examples += collect(zone, load_dataset_rows(settings), "zone")
    finally:
        zone.close()
    meta = {
        "embedding_model": settings.embedding_model,
        "data": [p.name for p in paths] + ["eval/dataset.jsonl (vetoes only)"],
        "data_sha256": data_hash(paths, *shape),
    }
    model, measured = train(examples, meta)
    out.write_text(json.dumps(model.to_json(), ensure_ascii=False, indent=1) + "\n")
    click.echo(render_training(model, measured))
    click.echo(f"{len(examples)} questions in {time.perf_counter() - started:.0f}s; wrote {out}")
    return 0


def load_dataset_rows(settings: Settings) -> list[dict[str, Any]]:
    """The zone set's rows (for measuring, and for the vetoes); not its overviews, which no
    sentence answers alone (assistant/answering/overview.py answers them)."""
    from eval.dataset import DEFAULT_DATASET

    rows = load_dataset(DEFAULT_DATASET, settings.max_question_chars)
    return [r for r in rows if "min_facts" not in r]


def render_training(model: DecisionModel, measured: dict[str, Any]) -> str:
    """What a training run prints: thresholds, vetoes, the measured halves, calibration."""
    lines = [
        f"answer threshold {model.answer_threshold:.4f} (tuning false refusals <= "
        f"{MAX_FALSE_REFUSALS}); short-answer threshold {model.short_threshold:.4f} (tuning "
        f"precision >= {SHORT_PRECISION})",
        f"vetoes kept when they add worth (right answer 1, wrong answer -{WRONG_COST:g}):",
        "  "
        + "; ".join(
            f"{rule}: refuses {v['refuses_wrong']} wrong, costs {v['costs_right']} right"
            + (" (kept)" if rule in model.meta["vetoes"] else " (dropped)")
            for rule, v in measured["vetoes"].items()
        ),
        "",
        f"{'set/half':28s} {'right':>6s} {'f.ref':>6s} {'neg.ref':>7s} {'abl.ref':>7s} {'n':>5s}",
    ]
    for name, m in measured["halves"].items():
        cells = [m[k] for k in ("right", "false_refusals", "negatives_refused", "ablated_refused")]
        shown = [f"{c:.3f}" if c is not None else "-" for c in cells]
        lines.append(f"{name:28s} {shown[0]:>6s} {shown[1]:>6s} {shown[2]:>7s} {shown[3]:>7s} "
                     f"{m['answerable']:>5d}")  # fmt: skip
    lines += ["", "calibration on the held-out half's questions (predicted / observed, n):"]
    lines += [f"  {c['bin']}: {c['predicted']:.3f} / {c['observed']:.3f} ({c['n']})"
              for c in measured["calibration"]]  # fmt: skip
    return "\n".join(lines)
