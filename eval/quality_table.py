"""The README's "now" figures, written from the reports of a real run so that they cannot drift:
`make quality` runs `make eval`, then this module rewrites the block between the markers.

    python -m eval.quality_table [--out eval/out] [--readme README.md]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import click

from eval.errors import EvalError, parse_json, read_input

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
OPEN_BOOKS = (
    ("Chinese (trial)", "cmrc2018_trial"),
    ("English", "cmrc2018_trial_en"),
    ("paraphrase", "cmrc2018_trial_paraphrase"),
)


def _summary(path: Path) -> Mapping[str, Any]:
    report = parse_json(read_input(path, "report"))
    return dict(report["summary"]["assistant"])


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _count(group: Mapping[str, Any] | None) -> str:
    if not group or group.get("fact_accuracy") is None:
        return "-"
    return f"{round(group['fact_accuracy'] * group['n'])}/{group['n']}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def zone_line(summary: Mapping[str, Any]) -> str:
    """The zone set's figures in one sentence."""
    m = summary["overall"]
    return (
        f"Zone set ({m['n']} questions): fact {_f(m['fact_accuracy'])}, grounded "
        f"{_f(m['grounded_accuracy'])}, citation support {_f(m['citation_support'])}, negatives "
        f"refused {_f(m['negative_rejection'])}, false refusals {_f(m['false_refusal'])}, hit@3 "
        f"{_f(m['hit@3'])}, English {_count(summary.get('english'))}, paraphrase "
        f"{_count(summary.get('paraphrase'))}; short answer shown for {_share(m['short_shown'])} "
        f"of questions, right when shown {_f(m['short_precision'])}; figure faithfulness "
        f"{_f(m.get('figure_faithfulness'))}."
    )


def open_book_table(out: Path) -> list[str]:
    """One row per open-book set found under out/open-book: held-out and tuning halves."""
    rows = [
        "| set | right, held-out | right, tuning | false refusals, held-out "
        "| negatives refused (all) | short precision / shown, held-out |",
        "|---|---|---|---|---|---|",
    ]
    for label, name in OPEN_BOOKS:
        path = out / "open-book" / name / "report.json"
        if not path.is_file():
            continue
        s = _summary(path)
        held, tuning = s["open-book held-out"], s["open-book tuning"]
        rows.append(
            f"| {label} | {_f(held['grounded_accuracy'])} | {_f(tuning['grounded_accuracy'])} "
            f"| {_f(held['false_refusal'])} | {_f(s['overall']['negative_rejection'])} "
            f"| {_f(held['short_precision'])} / {_share(held['short_shown'])} |"
        )
    return rows


def block(out: Path, when: date | None = None) -> str:
    """The README block: the zone line and the open-book table, dated."""
    zone = _summary(out / "report.json")
    lines = [
        BEGIN,
        f"Measured {(when or date.today()).isoformat()} by `make quality` (written from "
        f"{out}/report.json and {out}/open-book/*/report.json; edit the run, not this text).",
        "",
        zone_line(zone),
        "",
        "Open book (right = holds a gold span and cites a passage with it):",
        "",
        *open_book_table(out),
        END,
    ]
    return "\n".join(lines)


def rewrite(readme: Path, text: str) -> None:
    """Replace the README's block between the markers with `text`."""
    content = read_input(readme, "README")
    start, end = content.find(BEGIN), content.find(END)
    if start < 0 or end < start:
        raise EvalError(f"{readme} has no {BEGIN} … {END} block to rewrite")
    readme.write_text(content[:start] + text + content[end + len(END) :], encoding="utf-8")


@click.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("eval/out"))
@click.option(
    "--readme", type=click.Path(path_type=Path, dir_okay=False), default=Path("README.md")
)
def main(out: Path, readme: Path) -> None:
    """Rewrite the README's quality block from the reports of the last `make eval`."""
    try:
        rewrite(readme, block(out))
    except (EvalError, KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"rewrote the quality block of {readme} from {out}")


if __name__ == "__main__":
    main()
