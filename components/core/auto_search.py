"""The accuracy-aware search of mode 'auto' (pure: the evaluation is passed in).

Candidates are tried in the configured order (most compressed / fastest first);
the first that meets the tolerance and the budgets is selected. When full-integer
int8 misses the tolerance, 'int8_selective' keeps int8's worst layers (ranked by
the QuantizationDebugger's error) in float, 1, 2, 4, ... at a time, up to
max_float_layers, like NNCF's accuracy control. Trials stop at max_trials or
time_budget_s. With no passing candidate the best one found is reported.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, TypeGuard

from tfx_edge.schemas import _strict, records
from tfx_edge.schemas.modes import AEQ_PREFIX, MODES, SELECTIVE, Technique, candidate_mode, refined_mode
from tfx_edge.schemas.quantization import AeqConfig, AutoConfig, QuantizationConfig


@dataclasses.dataclass
class Trial:
    """One candidate, measured on the validation subset."""

    name: str
    config: dict
    passed: bool = False
    reasons: list = dataclasses.field(default_factory=list)
    size_bytes: int | None = None
    latency_p50_us: float | None = None
    metric: float | None = None
    reference: float | None = None
    absolute_drop: float | None = None
    relative_drop: float | None = None
    seconds: float = 0.0
    cached: bool = False
    error: str | None = None


@dataclasses.dataclass
class Outcome:
    selected: Trial | None
    best: Trial | None
    trials: list[Trial]
    stopped: str | None      # why the search ended before trying every candidate, if it did

    @property
    def chosen(self) -> Trial | None:
        return self.selected or self.best


def candidate_config(name: str, base: QuantizationConfig, float_nodes: tuple[str, ...] = ()) -> QuantizationConfig:
    """The concrete QuantizationConfig of a candidate (what the TFLiteExporter will apply):
    its mode from the registry (schemas/modes.py); a refinement such as 'int8_selective' is
    the mode it refines with `float_nodes` kept in float."""
    mode = candidate_mode(name)
    extra: dict = dict(calibration=base.calibration, input_mapping=dict(base.input_mapping),
                       signature_key=base.signature_key, layer_report=False)
    technique = MODES[mode].technique
    if technique == Technique.AEQ:
        extra["aeq"] = AeqConfig(recipe=name[len(AEQ_PREFIX):])
    elif technique == Technique.QAT:
        extra["qat"] = base.qat
    if refined_mode(name) is not None:
        extra["keep_float_nodes"] = float_nodes
    return QuantizationConfig(mode=mode, **extra)


def judge(trial: Trial, auto: AutoConfig) -> Trial:
    """Sets passed/reasons from the tolerance and the budgets; unmeasured fails."""
    reasons = [trial.error] if trial.error else []
    if not trial.error:
        reasons += _tolerance_reasons(trial, auto) + _budget_reasons(trial, auto)
    trial.reasons, trial.passed = reasons, not reasons
    return trial


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _tolerance_reasons(t: Trial, auto: AutoConfig) -> list[str]:
    out = []
    for kind, value, limit in (("absolute", t.absolute_drop, auto.max_absolute_drop),
                               ("relative", t.relative_drop, auto.max_relative_drop)):
        if limit is None:
            continue
        if not _finite(value):
            out.append(f"{auto.metric} {kind} drop not measured ({value!r})")
        elif value > limit:
            out.append(f"{auto.metric} {kind} drop {value:.4g} > {limit:.4g}")
    return out


def _budget_reasons(t: Trial, auto: AutoConfig) -> list[str]:
    out = []
    for what, value, limit in (("size", t.size_bytes, auto.max_model_bytes),
                               ("p50 latency (us)", t.latency_p50_us, auto.max_latency_p50_us)):
        if limit is not None and (not _finite(value) or value > limit):
            out.append(f"{what} {value} > {limit}")
    return out


def selective_steps(max_layers: int, available: int) -> list[int]:
    """1, 2, 4, ... float layers, ending at min(max_layers, available)."""
    top = min(max_layers, available)
    steps, k = [], 1
    while k < top:
        steps.append(k)
        k *= 2
    return steps + [top] if top >= 1 else []


class Search:
    """Runs the candidates of `base.auto` through `evaluate(name, config) -> Trial`."""

    def __init__(self, base: QuantizationConfig, evaluate: Callable[[str, QuantizationConfig], Trial],
                 rank_layers: Callable[[], list[str]], clock: Callable[[], float] = time.monotonic):
        self._base, self._auto = base, _strict.need(base.auto, "auto")
        self._evaluate, self._rank_layers, self._clock = evaluate, rank_layers, clock
        self.trials: list[Trial] = []
        self._start = clock()

    def run(self) -> Outcome:
        for name in self._auto.candidates:
            if name == SELECTIVE:
                found = self._selective()
            else:
                found = self._try(name, candidate_config(name, self._base))
            if found is not None or self._stop_reason():
                break
        selected = next((t for t in self.trials if t.passed), None)
        return Outcome(selected, None if selected else best_of(self.trials), self.trials, self._stop_reason())

    def _stop_reason(self) -> str | None:
        if len(self.trials) >= self._auto.max_trials:
            return f"max_trials={self._auto.max_trials} reached"
        if self._clock() - self._start >= self._auto.time_budget_s:
            return f"time_budget_s={self._auto.time_budget_s:g} spent"
        return None

    def _try(self, name: str, config: QuantizationConfig) -> Trial | None:
        if self._stop_reason():
            return None
        trial = judge(self._evaluate(name, config), self._auto)
        self.trials.append(trial)
        return trial if trial.passed else None

    def _selective(self) -> Trial | None:
        refined = _strict.need(refined_mode(SELECTIVE), "the registry's refined mode").value   # int8
        int8 = next((t for t in self.trials if t.name == refined), None)
        if int8 is None or int8.error or not _tolerance_reasons(int8, self._auto):
            return None   # only refines an int8 that converted but lost too much accuracy
        layers = self._rank_layers()
        for k in selective_steps(self._auto.max_float_layers, len(layers)):
            found = self._try(f"{SELECTIVE}({k})", candidate_config(SELECTIVE, self._base, tuple(layers[:k])))
            if found is not None or self._stop_reason():
                return found
        return None


def best_of(trials: list[Trial]) -> Trial | None:
    """The measured trial with the smallest drop (earliest, i.e. most compressed, on ties)."""
    measured = [t for t in trials if not t.error and _finite(t.absolute_drop)]
    return min(measured, key=lambda t: float(t.absolute_drop or 0.0)) if measured else None


def explain(summary: records.AutoSearch) -> str:
    """A readable account of the search: one line per trial, then the decision."""
    tolerance = dataclasses.asdict(summary.tolerance)
    n = summary.validation.examples
    lines = [f"auto search on {n} validation examples of split {summary.validation.split!r} ({summary.metric}, "
             f"tolerance {tolerance}; one example is {1 / max(n, 1):.3g} of an accuracy, so smaller drops are "
             f"within noise):"]
    for t in summary.trials:
        verdict = "PASS" if t.passed else "fail: " + "; ".join(t.reasons)
        size = f"{t.size_bytes / 1024:.0f} KiB" if t.size_bytes else "-"
        lines.append(f"  {t.name:<22} {size:>9}  {summary.metric} {_num(t.metric)} vs "
                     f"{_num(t.reference)}  drop {_num(t.absolute_drop)}  "
                     f"{'(cached) ' if t.cached else ''}{verdict}")
    if summary.met:
        lines.append(f"selected: {summary.selected}")
    else:
        lines.append(f"NO candidate met the tolerance{' (' + summary.stopped + ')' if summary.stopped else ''}; "
                     f"best found: {summary.best}, planned so it can be inspected, but the "
                     f"EdgeEvaluator will not bless it")
    return "\n".join(lines)


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
