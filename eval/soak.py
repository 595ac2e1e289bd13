"""`zone-assistant bench soak`: many clients asking at once for a while, against a real server.

Starts `zone-assistant serve` on a free 127.0.0.1 port (with the current settings and index),
runs N client threads that ask the eval questions through the public `ask` API back to back for
T seconds, and samples the server's memory every second. Reports requests, errors, latency
p50/p95/p99, throughput, and memory at start, after warm-up and at the end, with the growth after
warm-up and over the last half (whether it levels off). Each client sends its own
X-Forwarded-For address and the server trusts it, so the per-client request budget applies per
simulated client; the budget is raised for the run, because a soak measures capacity, not the
budget (tests/test_gate.py tests that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.dataset import DEFAULT_DATASET, load_dataset
from eval.metrics import percentile
from eval.processes import free_port, stop, wait_until_up

WARM_UP_SHARE = 0.2  # the first fifth of the run is warm-up


@dataclass
class Tally:
    """What the clients saw: latencies of answers and the errors, thread-safe."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float | None, error: str | None = None) -> None:
        """Count an answer that took `ms`, or an error."""
        with self.lock:
            if error is None and ms is not None:
                self.latencies_ms.append(ms)
            else:
                self.errors.append(error or "unknown")


def rss_mb(pid: int) -> float:
    """Resident memory of a process (and its children), in MB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids] + [g for k in kids for g in _children(int(k))]


def ask_once(client: Any, url: str, question: str) -> dict[str, Any]:
    """One question through the public API (POST, then its event stream); the answer object."""
    posted = client.post(url + "gradio_api/call/ask", json={"data": [question]})
    posted.raise_for_status()
    stream = client.get(url + f"gradio_api/call/ask/{posted.json()['event_id']}")
    stream.raise_for_status()
    lines = stream.text.splitlines()
    if any(line.startswith("event: error") for line in lines):
        raise RuntimeError("the server answered with an error event")
    data = [line[5:] for line in lines if line.startswith("data:")]
    return dict(json.loads(data[-1])[0])


def _client(n: int, url: str, questions: list[str], until: float, tally: Tally) -> None:
    import httpx

    headers = {"x-forwarded-for": f"10.{n // 250}.{n % 250}.1"}
    with httpx.Client(timeout=120, headers=headers) as client:
        i = n
        while time.monotonic() < until:
            question = questions[i % len(questions)]
            i += 1
            started = time.perf_counter()
            try:
                ask_once(client, url, question)
                tally.add((time.perf_counter() - started) * 1000)
            except Exception as exc:  # every failure is counted, none stops the soak
                tally.add(None, f"{type(exc).__name__}: {str(exc)[:120]}")


def soak(clients: int, seconds: float, out: Path, dataset: Path = DEFAULT_DATASET) -> dict:
    """Run the soak; write soak.json and soak.md into out; return the result."""
    questions = [row["question"] for row in load_dataset(dataset)]
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "ASSISTANT_TRUST_FORWARDED_FOR": "true",
           "ASSISTANT_RATE_PER_MINUTE": "1000000", "ASSISTANT_RATE_BURST": "100000"}  # fmt: skip
    exe = str(Path(sys.executable).with_name("zone-assistant"))
    with (out / "serve.log").open("wb") as log:
        server = subprocess.Popen([exe, "serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=log)  # fmt: skip
        try:
            wait_until_up(url, server)
            result = _run(server.pid, url, questions, clients, seconds)
        finally:
            stop(server)
    (out / "soak.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "soak.md").write_text(table(result), encoding="utf-8")
    return result


def _run(pid: int, url: str, questions: list[str], clients: int, seconds: float) -> dict:
    tally = Tally()
    start_mb = rss_mb(pid)
    samples: list[tuple[float, float]] = []
    began = time.monotonic()
    until = began + seconds
    threads = [threading.Thread(target=_client, args=(n, url, questions, until, tally))
               for n in range(clients)]  # fmt: skip
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        samples.append((time.monotonic() - began, rss_mb(pid)))
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    memory = [mb for _, mb in samples] or [start_mb]
    warm = [mb for t, mb in samples if t >= WARM_UP_SHARE * seconds] or memory
    half = [mb for t, mb in samples if t >= seconds / 2] or warm
    lat = tally.latencies_ms
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(lat) + len(tally.errors),
        "answers": len(lat),
        "errors": len(tally.errors),
        "error_kinds": sorted(set(tally.errors))[:10],
        "throughput_rps": round(len(lat) / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(lat, 50), 1) if lat else 0.0,
        "p95_ms": round(percentile(lat, 95), 1) if lat else 0.0,
        "p99_ms": round(percentile(lat, 99), 1) if lat else 0.0,
        "rss_start_mb": round(start_mb),
        "rss_warm_mb": round(warm[0]),
        "rss_end_mb": round(memory[-1]),
        "rss_peak_mb": round(max(memory)),
        "growth_after_warm_up": round((memory[-1] - warm[0]) / warm[0], 4),
        "growth_last_half": round((half[-1] - half[0]) / half[0], 4),
    }


def table(result: dict[str, Any]) -> str:
    """The soak's figures as a Markdown table."""
    rows = [
        ("clients × seconds", f"{result['clients']} × {result['seconds']:g}"),
        ("requests", result["requests"]),
        ("errors", result["errors"]),
        ("throughput", f"{result['throughput_rps']} answers/s"),
        (
            "latency p50 / p95 / p99",
            f"{result['p50_ms']} / {result['p95_ms']} / {result['p99_ms']} ms",
        ),  # fmt: skip
        (
            "memory start / after warm-up / end",
            f"{result['rss_start_mb']} / {result['rss_warm_mb']} / {result['rss_end_mb']} MB",
        ),  # fmt: skip
        ("growth after warm-up", f"{result['growth_after_warm_up']:+.1%}"),
        ("growth over the last half", f"{result['growth_last_half']:+.1%}"),
    ]
    lines = ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"
