"""The scale benchmark's table (Markdown) and plot (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.errors import EvalError

_COLUMNS = (
    ("chunks", "chunks"), ("mode", "mode"), ("ingest_s", "ingest s"),
    ("ingest_peak_rss_mb", "ingest MB"), ("index_mb", "index MB"), ("start_s", "start s"),
    ("app_peak_rss_mb", "app MB"), ("ask_p50_ms", "ask p50"), ("ask_p95_ms", "ask p95"),
    ("bare_search_p50_ms", "bare p50"),
)  # fmt: skip
_STAGES = ("embed query", "dense search", "lexical search", "sentence vectors", "answer")


def table(result: dict[str, Any]) -> str:
    """The figures of every size and mode, the per-stage p50s, and the growth exponents."""
    rows = result["rows"]
    out = [f"Embedding model: {result['model']}; {result['repeat']} x 88 warm questions.", ""]
    out += ["| " + " | ".join(label for _, label in _COLUMNS) + " | ratio p50 | canary |"]
    out += ["|" + "---|" * (len(_COLUMNS) + 2)]
    for r in rows:
        ratio = r["ask_p50_ms"] / r["bare_search_p50_ms"] if r["bare_search_p50_ms"] else 0
        canary = "refused" if r.get("canary_refused") else "answered"
        out.append(
            "| " + " | ".join(str(r[k]) for k, _ in _COLUMNS) + f" | {ratio:.2f} | {canary} |"
        )
    out += ["", "Per stage, p50 / p95 ms (dense search includes embedding the query):", ""]
    out += ["| chunks | mode | " + " | ".join(_STAGES) + " |", "|" + "---|" * (len(_STAGES) + 2)]
    for r in rows:
        p50, p95 = r["stages_p50_ms"], r["stages_p95_ms"]
        cells = [f"{p50.get(s, 0):.1f} / {p95.get(s, 0):.1f}" for s in _STAGES]
        out.append(f"| {r['chunks']} | {r['mode']} | " + " | ".join(cells) + " |")
    out += ["", "Growth exponent b (figure ~ chunks^b) between consecutive sizes:", ""]
    out += ["| mode | from | to | figure | b |", "|---|---|---|---|---|"]
    for g in result["growth"]:
        out.append(f"| {g['mode']} | {g['from']} | {g['to']} | {g['figure']} | {g['exponent']} |")
    return "\n".join(out) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency (p50, p95) and peak memory against corpus size, log-log, one line per mode."""
    try:
        import matplotlib
    except ImportError:
        raise EvalError("the plot needs matplotlib: pip install 'zone-assistant[bench]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode in sorted({r["mode"] for r in rows}):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["chunks"])
        sizes = [r["chunks"] for r in mine]
        lat.plot(sizes, [r["ask_p50_ms"] for r in mine], "o-", label=f"ask p50 ({mode})")
        lat.plot(sizes, [r["ask_p95_ms"] for r in mine], "s--", label=f"ask p95 ({mode})")
        bare = [r["bare_search_p50_ms"] for r in mine]
        lat.plot(sizes, bare, "x:", label=f"bare search p50 ({mode})")
        mem.plot(sizes, [r["app_peak_rss_mb"] for r in mine], "o-", label=f"app ({mode})")
        mem.plot(sizes, [r["ingest_peak_rss_mb"] for r in mine], "s--", label=f"ingest ({mode})")
    for ax, title, unit in ((lat, "Warm answer latency", "ms"), (mem, "Peak memory", "MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks in the corpus")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Scale ({result['model']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
