"""`zone-assistant bench soak`, short: a real server, several clients, no errors, a report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

EXE = Path(sys.executable).with_name("zone-assistant")

pytestmark = [pytest.mark.server, pytest.mark.integration]


@pytest.mark.long
def test_short_soak_has_no_errors_and_reports_memory(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "knowledge")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
           "ASSISTANT_KNOWLEDGE_DIR": str(tmp_path / "knowledge")}  # fmt: skip
    assert subprocess.run([str(EXE), "ingest"], env=env, capture_output=True).returncode == 0
    out = tmp_path / "soak"
    done = subprocess.run(
        [str(EXE), "bench", "soak", "--clients", "4", "--seconds", "6", "--out", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "soak.json").read_text())
    assert result["errors"] == 0, result["error_kinds"]
    assert result["answers"] >= 8 and result["requests"] == result["answers"]
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["rss_start_mb"] > 50 and result["rss_end_mb"] > 50
    assert "| errors | 0 |" in done.stdout


def test_soak_without_an_index_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
           "ASSISTANT_KNOWLEDGE_DIR": str(tmp_path)}  # fmt: skip
    done = subprocess.run([str(EXE), "bench", "soak", "--seconds", "2"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: no index yet; run: zone-assistant ingest"
