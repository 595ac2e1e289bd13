"""The gate and the targets: limits on the overall metrics, read from a thresholds file.

The gate ([thresholds]) holds floors that catch regressions: a missed one fails the run. The
targets ([targets]) are the goals the assistant must reach: reported as met or not yet met, never
failing the run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from eval.errors import EvalError, read_input
from eval.metrics import QUALITY_METRICS

FLOAT_DIGITS = 4


@dataclass(frozen=True)
class Threshold:
    """One limit (gate or target): metric >= target (bound "min") or <= target (bound "max")."""

    metric: str
    bound: Literal["min", "max"]
    target: float


@dataclass(frozen=True)
class ThresholdResult:
    """A limit against the measured value; passed is None when the metric does not apply."""

    threshold: Threshold
    value: float | None
    passed: bool | None

    def to_json(self, verdict: str = "passed") -> dict[str, Any]:
        """The report's form of this result; the verdict key is "passed" (gate) or "met"."""
        t = self.threshold
        return {
            "metric": t.metric, "bound": t.bound, "target": t.target,
            "value": self.value, verdict: self.passed,
        }  # fmt: skip


def check_thresholds(
    overall: Mapping[str, Any], thresholds: Sequence[Threshold]
) -> list[ThresholdResult]:
    """Judge each threshold against the overall metrics (a metric that is None is not applicable).

    Values are compared after rounding to the report's precision, so a value shown as 0.9500
    never fails a 0.95 target.
    """
    results = []
    for t in thresholds:
        if t.metric not in overall:
            raise ValueError(f"unknown metric {t.metric!r}; known: {', '.join(sorted(overall))}")
        value = overall[t.metric]
        if value is None:
            results.append(ThresholdResult(t, None, None))
            continue
        value = round(float(value), FLOAT_DIGITS)
        passed = value >= t.target if t.bound == "min" else value <= t.target
        results.append(ThresholdResult(t, value, passed))
    return results


def gate_passed(results: Sequence[ThresholdResult]) -> bool:
    """True unless some applicable threshold is missed."""
    return all(r.passed is not False for r in results)


class Limits(NamedTuple):
    """A thresholds file: the gate (a miss fails the run) and the targets (reported only)."""

    gate: list[Threshold]
    targets: list[Threshold]


def _limits_table(path: Path, name: str, table: Any) -> list[Threshold]:
    """The limits of one table: metric = { min = x } or { max = x }, x between 0 and 1."""
    out = []
    for metric, spec in table.items():
        if metric not in QUALITY_METRICS:
            raise EvalError(
                f"thresholds file {path}: [{name}] unknown metric {metric!r}; "
                f"known: {', '.join(QUALITY_METRICS)}"
            )
        bounds = [b for b in ("min", "max") if isinstance(spec, dict) and b in spec]
        value = spec.get(bounds[0]) if len(bounds) == 1 and len(spec) == 1 else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise EvalError(
                f"thresholds file {path}: [{name}] {metric} needs exactly one of "
                "{ min = x } or { max = x } with x between 0 and 1"
            )
        out.append(Threshold(metric, bounds[0], float(value)))  # type: ignore[arg-type]
    return out


def load_limits(path: Path) -> Limits:
    """Read a thresholds file: the [thresholds] gate (required) and the [targets] (optional).

    Both tables hold metric = { min = x } or { max = x }; a file without [targets] has none.
    """
    try:
        data = tomllib.loads(read_input(path, "thresholds file"))
    except tomllib.TOMLDecodeError as exc:
        raise EvalError(f"thresholds file {path}: invalid TOML ({exc})") from None
    gate = data.get("thresholds")
    if not isinstance(gate, dict) or not gate:
        raise EvalError(f"thresholds file {path}: needs a non-empty [thresholds] table")
    unknown = sorted(set(data) - {"thresholds", "targets"})
    if unknown:
        raise EvalError(
            f"thresholds file {path}: unknown key {unknown[0]!r}; "
            "only [thresholds] and [targets] tables are allowed"
        )
    targets = data.get("targets", {})
    if "targets" in data and (not isinstance(targets, dict) or not targets):
        raise EvalError(
            f"thresholds file {path}: [targets] must be a non-empty table (or be left out)"
        )
    return Limits(_limits_table(path, "thresholds", gate), _limits_table(path, "targets", targets))


def load_thresholds(path: Path) -> list[Threshold]:
    """The CI gate of a thresholds file: its [thresholds] (the whole file is validated)."""
    return load_limits(path).gate


def load_targets(path: Path) -> list[Threshold]:
    """The goals of a thresholds file: its [targets], empty when it has none (reported only)."""
    return load_limits(path).targets
