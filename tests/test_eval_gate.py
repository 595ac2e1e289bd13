"""The CI gate: the full eval on the real article meets every [thresholds] floor.

The [targets] of eval/thresholds.toml (the issue's goals) are printed to the CI log as met or not
yet met; a target not yet met never fails this test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.dataset import DEFAULT_DATASET
from eval.gate import load_limits
from eval.render import render_targets
from eval.runner import DEFAULT_THRESHOLDS, OpenBook, run_cli, run_open_book
from tests.conftest import ROOT


@pytest.mark.integration
def test_eval_meets_every_threshold(
    article_app, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval-out"
    limits = load_limits(DEFAULT_THRESHOLDS)
    with capsys.disabled():  # the table goes straight to the CI log
        print(f"\n=== eval on the real article ({DEFAULT_DATASET.name}); report in {out} ===")
        code = run_cli(article_app, None, out, None)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))

    # The targets: reported in the CI log, never asserted.
    targets = report["targets"]["targets"]
    assert [t["metric"] for t in targets] == [t.metric for t in limits.targets]
    with capsys.disabled():
        print("\n=== targets of the issue (reported, not gated) ===")
        print(render_targets(report))

    results = {t["metric"]: t for t in report["gate"]["thresholds"]}
    # Every floor of the gate is checked, and each applies to the shipped dataset.
    assert set(results) == {t.metric for t in limits.gate}
    missed = [
        f"{m} {'>=' if t['bound'] == 'min' else '<='} {t['target']}: {t['value']}"
        for m, t in results.items()
        if t["passed"] is not True
    ]
    assert not missed, (
        "missed gate thresholds: " + "; ".join(missed) + f" (see {out / 'report.md'})"
    )
    assert code == 0


DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ingested pool for the three open-book files (they share their passages)."""
    return tmp_path_factory.mktemp("open-book-pools")


@pytest.mark.integration
@pytest.mark.first
@pytest.mark.parametrize(
    "name", ["cmrc2018_trial.jsonl", "cmrc2018_trial_en.jsonl", "cmrc2018_trial_paraphrase.jsonl"]
)
def test_open_book_subset_meets_every_threshold(
    article_app, pools: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The CI gate on passages nobody here wrote: the first 50 CMRC passages, the next 25 out;
    their questions as written, in English and paraphrased, each with its own limits."""
    dataset = DATASETS / name
    if not dataset.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the open-book dataset at {dataset} (../shared beside the clone)")
        pytest.skip(f"no open-book dataset at {dataset}")
    out = tmp_path / "eval-out"
    with capsys.disabled():
        print(f"\n=== open-book eval ({name}, pool 50, 25 left out); report in {out} ===")
        # No textbook baseline: the gate is the assistant's, and the baseline's embedding of the
        # pool was a third of this test (the zone gate above prints the comparison).
        spec = OpenBook(dataset, pool=50, negatives=25)
        passed = run_open_book(article_app, spec, out, pools, textbook=False)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"]["pool"] == 50 and report["dataset"]["left_out"] == 25
    missed = [t for t in report["gate"]["thresholds"] if t["passed"] is not True]
    assert not missed and passed, f"missed: {missed} (see {out / 'report.md'})"
    assert report["refusal_curve"] and report["reliability"], "the report shows both curves"
    groups = set(report["summary"]["assistant"])
    assert {"open-book tuning", "open-book held-out"} <= groups, "both halves are reported"
