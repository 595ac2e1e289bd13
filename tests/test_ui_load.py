"""A bounded load test: 20 concurrent gradio_client sessions x 5 questions on the `ask` API."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from eval.metrics import percentile
from tests.ui_support import MINI_QUESTIONS, build_mini, running_app, variant

SESSIONS = 20
TIMEOUT_S = 300  # for the whole run; a stuck queue fails the test instead of hanging CI

pytestmark = [pytest.mark.server, pytest.mark.integration]


def session(url: str, offset: int) -> list[tuple[str, str, float]]:
    """One user: a client of its own, from an address of its own (the server trusts the proxy's
    X-Forwarded-For here), asking every question once (starting at `offset`)."""
    from gradio_client import Client

    client = Client(url, verbose=False, headers={"X-Forwarded-For": f"10.1.0.{offset + 1}"})
    results = []
    for i in range(len(MINI_QUESTIONS)):
        question, expected = MINI_QUESTIONS[(offset + i) % len(MINI_QUESTIONS)]
        started = time.perf_counter()
        got = client.submit(question, api_name="/ask").result(timeout=TIMEOUT_S)
        elapsed = (time.perf_counter() - started) * 1000
        results.append((expected, got["answer"] if not got["refused"] else "", elapsed))
    client.close()
    return results


@pytest.mark.long
def test_twenty_users_all_get_correct_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import sentence_transformers

    app = variant(build_mini(tmp_path), trust_forwarded_for=True)
    loads: list[str] = []
    original_init = sentence_transformers.SentenceTransformer.__init__

    def counting_init(self, *args, **kwargs):
        loads.append(str(args[:1]))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(sentence_transformers.SentenceTransformer, "__init__", counting_init)
    with running_app(app) as url:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
            futures = [pool.submit(session, url, i) for i in range(SESSIONS)]
            done, pending = wait(futures, timeout=TIMEOUT_S)
            for f in pending:
                f.cancel()
        wall = time.perf_counter() - started
    assert not pending, f"{len(pending)} sessions still waiting after {TIMEOUT_S}s"
    results = [r for f in done for r in f.result()]
    assert len(results) == SESSIONS * len(MINI_QUESTIONS)
    wrong = [(expected, answer) for expected, answer, _ in results if expected not in answer]
    assert wrong == []
    assert loads == []  # the model was loaded once, before serving, not per request
    latencies = [ms for _, _, ms in results]
    report = {
        "sessions": SESSIONS,
        "questions_per_session": len(MINI_QUESTIONS),
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2),
    }
    (tmp_path / "load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nload test: {json.dumps(report)} (written to {tmp_path / 'load.json'})")
