"""`zone-assistant bench scale`: a tiny real run, the report's table and growth, bad options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.scale import growth
from eval.scale_report import table
from tests.conftest import ROOT

EXE = Path(sys.executable).with_name("zone-assistant")


def row(chunks: int, p50: float, refused: bool = False) -> dict:
    stages = {"answer": p50 / 2}
    return {"chunks": chunks, "mode": "embedded", "ingest_s": 1.0, "ingest_peak_rss_mb": 100,
            "index_mb": 10, "start_s": 1.0, "app_peak_rss_mb": 200, "ask_p50_ms": p50,
            "ask_p95_ms": 2 * p50, "bare_search_p50_ms": 1.0, "stages_p50_ms": stages,
            "stages_p95_ms": stages, "canary_refused": refused}  # fmt: skip


def test_growth_exponent_and_table():
    rows = [row(1000, 10.0), row(100000, 100.0, refused=True)]
    exponents = growth(rows, "ask_p50_ms")
    assert exponents == [{"mode": "embedded", "from": 1000, "to": 100000,
                          "figure": "ask_p50_ms", "exponent": 0.5}]  # fmt: skip
    text = table({"model": "hashing-384", "repeat": 1, "rows": rows, "growth": exponents})
    assert "| 100000 | embedded | 1.0 | 100 | 10 | 1.0 | 200 | 100.0 | 200.0 | 1.0 | 100.00 |" \
        " refused |" in text  # fmt: skip
    assert "| 1000 | embedded | 0.0 / 0.0 | 0.0 / 0.0 | 0.0 / 0.0 | 0.0 / 0.0 | 5.0 / 5.0 |" in text


@pytest.mark.integration
@pytest.mark.long
def test_bench_scale_runs_end_to_end(tmp_path: Path):
    out = tmp_path / "scale"
    result = subprocess.run(
        [str(EXE), "bench", "scale", "--sizes", "200", "--modes", "embedded", "--repeat", "1",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (measured,) = json.loads((out / "scale.json").read_text(encoding="utf-8"))["rows"]
    assert measured["chunks"] == 200 and measured["canary_refused"] is False
    assert measured["stages_p50_ms"]["sentence vectors"] > 0  # the e5 path's cost is measured
    assert (out / "scale.png").stat().st_size > 10_000
    assert "| 200 | embedded |" in result.stdout


def test_bench_scale_rejects_unknown_modes_in_one_line():
    result = subprocess.run(
        [str(EXE), "bench", "scale", "--modes", "cloud"], cwd=ROOT, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "Error: --modes takes embedded and/or server, got 'cloud'\n"
