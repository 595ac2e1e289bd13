"""The learned answer decision: its parameters, its parts, and the command that trains it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.answering.decision import features as f
from assistant.answering.decision.model import DEFAULT_PARAMS, Linear, load_decision
from assistant.errors import SettingsError
from eval import train as t
from eval.judge import short_states
from tests.conftest import ROOT

DATASETS = ROOT.parent / "shared" / "datasets"


def test_shipped_parameters_load_and_match_the_features() -> None:
    model = load_decision(DEFAULT_PARAMS)
    assert model.sentence.names == f.SENTENCE and model.answer.names == f.ANSWER
    assert model.short.names == f.SHORT
    assert 0 < model.answer_threshold < 1 and 0 < model.short_threshold <= 1
    assert model.meta["embedding_model"] == "multilingual-e5-small"
    assert len(model.meta["data_sha256"]) == 64 and model.meta["calibration"]
    assert set(model.meta["vetoes"]) <= set(t.VETOES)


def test_shipped_parameters_came_from_the_shipped_data() -> None:
    """The hash in params.json is the development data's: retrain after changing it."""
    paths = [DATASETS / name for name in t.DATASETS]
    if not all(p.is_file() for p in paths):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the development data in {DATASETS}")
        pytest.skip(f"no development data in {DATASETS}")
    assert load_decision(DEFAULT_PARAMS).meta["data_sha256"] == t.data_hash(paths)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["sentence"].update(features=["x"]), "were trained on other features"),
        (lambda d: d["answer"].update(coef=[1.0]), "are damaged"),
        (lambda d: d.pop("answer_threshold"), r"cannot be read \(KeyError\)"),
    ],
)
def test_unusable_parameters_are_one_line(tmp_path: Path, edit, message: str) -> None:
    data = json.loads(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_decision(path)
    with pytest.raises(SettingsError, match="do not exist; set ASSISTANT_DECISION_PARAMS"):
        load_decision(tmp_path / "none.json")


def test_sentence_probabilities_and_quotes() -> None:
    model = load_decision(DEFAULT_PARAMS)
    shell = type(model)(
        Linear(("a",), np.zeros(1), np.ones(1), np.array([1.0])),
        model.answer, model.short, 0.5, 0.5, quote_mass=0.7, max_quotes=2, meta={},
    )  # fmt: skip
    p = shell.sentence_probabilities(np.array([[2.0], [1.0], [0.0]]))
    assert p.sum() == pytest.approx(1.0) and list(np.argsort(-p)) == [0, 1, 2]
    assert shell.quoted(p) == [0, 1]  # 0.665 < 0.7: the next one too, at most two
    assert shell.quoted(np.array([0.1, 0.8, 0.1])) == [1]


def test_thresholds_are_chosen_as_documented() -> None:
    def judged(p: float, answerable: bool) -> t.Judged:
        example = t.Example("s", t.TUNING, f.Asked("q", "fact", "zh", ()), [], [],
                            np.zeros(0, bool), [["x"]] if answerable else [])  # fmt: skip
        return t.Judged(example, np.zeros(0), [0], answerable, 1.0, p)

    rows = [judged(p, True) for p in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
    # at most 10% (one of ten) refused: the threshold is the second lowest
    assert t.highest_threshold(rows + [judged(0.05, False)], 0.1) == 0.2
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    right = np.array([True, True, False, True])
    assert t.lowest_threshold(scores, right, 0.95) == 0.8  # the top two are right
    assert t.lowest_threshold(scores, right, 0.75) == 0.6  # 3 of 4
    assert t.lowest_threshold(scores, ~right, 0.95) == 1.0  # never reached: none shown


def test_a_short_answer_states_a_clause_long_gold_span_by_its_core() -> None:
    assert short_states("55米", [["树高可达55米"]])
    assert short_states("1985 (1985年)", [["这个词首次出现于1985年"]])  # English, original beside
    assert short_states("more than 1,900 (1900余家)", [["1900"]])
    assert not short_states("王蕴", [["晋陵郡太守王蕴之女"]])  # too little of it
    assert not short_states("三个", [["约只有8公斤重"]])
    assert not short_states("600余家", [["1900"]])
    # The gold clause's figures the question states itself need not be in the short answer.
    gold = [["根据2002年人口普查的数据，居民总数为31459人。"]]
    assert short_states("31459人", gold, "2002年，莫扎伊斯克的居民总数大约是多少人？")
    assert not short_states("31459人", gold, "莫扎伊斯克的居民总数大约是多少人？")
    assert not short_states("2002年", gold, "2002年，莫扎伊斯克的居民总数大约是多少人？")


@pytest.mark.integration
def test_train_writes_parameters_with_their_data_hash_and_calibration(
    tmp_path: Path, article_settings
) -> None:
    """The whole command on a small pool of the development data: deterministic parameters
    that the assistant loads, with the data's hash and the calibration table."""
    paths = [DATASETS / name for name in t.DATASETS]
    if not all(p.is_file() for p in paths):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the development data in {DATASETS}")
        pytest.skip(f"no development data in {DATASETS}")
    out = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in out:
        assert t.run_train(article_settings, DATASETS, path, tmp_path / "work", (12, 4)) == 0
    first = json.loads(out[0].read_text(encoding="utf-8"))
    assert first == json.loads(out[1].read_text(encoding="utf-8"))  # the same data, the same model
    assert first["data_sha256"] == t.data_hash(paths, 12, 4)
    assert first["calibration"] and all({"bin", "n", "predicted", "observed"} <= set(b)
                                        for b in first["calibration"])  # fmt: skip
    model = load_decision(out[0])
    assert model.meta["embedding_model"] == article_settings.embedding_model
