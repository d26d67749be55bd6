"""The accuracy-aware search of mode 'auto' (pure: the conversion and the evaluation are passed in).

rank='size' (the default): converting is cheap next to evaluating, so every candidate
is first converted to learn its size in bytes; they are then evaluated smallest first
(ties in the configured order) and the first that meets the tolerance and the budgets,
the smallest passing one, is selected. A candidate that fails to convert is a failed
trial and is not evaluated. 'qat' is not converted up front (its conversion needs a
fine-tune): it is ranked by the size of full-integer 'int8', which has the same ops and
weights, or after every sized candidate when int8 was not sized; its own size is
measured when it is evaluated. A candidate no smaller than the float32 model is thus
selected only when nothing smaller passes, and explain() says that it saves nothing.
rank='order': candidates are evaluated in the configured order and the first that
passes is selected.

When full-integer int8 converts but misses the tolerance, 'int8_selective' keeps int8's
worst layers (ranked by the QuantizationDebugger's error) in float, 1, 2, 4, ... at a
time, up to max_float_layers, like NNCF's accuracy control; under rank='size' each is
converted then and joins the queue by its size (each is at least int8's size, so the
evaluation order stays ascending). Evaluations stop at max_trials or time_budget_s
(converting to learn sizes counts against the time only). With no passing candidate
the best one found is reported.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from typing import Callable, TypeGuard

from tfx_edge.schemas import _strict, records
from tfx_edge.schemas.modes import AEQ_PREFIX, MODES, SELECTIVE, Mode, Technique, candidate_mode, refined_mode
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


@dataclasses.dataclass(frozen=True, order=True)
class Queued:
    """A candidate waiting to be evaluated under rank='size', ordered by `key`:
    (0 if its size is known else 1, size in bytes, position in auto.candidates, refinement step)."""

    key: tuple[int, int, int, int]
    name: str = dataclasses.field(compare=False)
    config: QuantizationConfig = dataclasses.field(compare=False)


Evaluate = Callable[[str, QuantizationConfig], Trial]
Size = Callable[[str, QuantizationConfig], int | Trial]   # bytes, or a Trial with the conversion's error


def is_qat(name: str) -> bool:
    return MODES[candidate_mode(name)].technique == Technique.QAT


def qat_key(int8_bytes: int | None, position: int) -> tuple[int, int, int, int]:
    """QAT's rank: full-integer int8's size (same ops and weights; converting QAT needs its
    fine-tune), or after every sized candidate when int8 was not sized."""
    return (1, 0, position, 0) if int8_bytes is None else (0, int8_bytes, position, 0)


class Search:
    """Runs the candidates of `base.auto` through `evaluate(name, config) -> Trial`; under
    rank='size' smallest first, by `size(name, config)` (bytes, or a Trial with the error)."""

    def __init__(self, base: QuantizationConfig, evaluate: Evaluate, rank_layers: Callable[[], list[str]],
                 size: Size, clock: Callable[[], float] = time.monotonic):
        self._base, self._auto = base, _strict.need(base.auto, "auto")
        self._evaluate, self._rank_layers, self._size, self._clock = evaluate, rank_layers, size, clock
        self.trials: list[Trial] = []
        self._evaluated = 0
        self._start = clock()

    def run(self) -> Outcome:
        if self._auto.rank == "order":
            self._in_order()
        else:
            self._by_size()
        selected = next((t for t in self.trials if t.passed), None)
        return Outcome(selected, None if selected else best_of(self.trials), self.trials, self._stop_reason())

    def _stop_reason(self) -> str | None:
        if self._evaluated >= self._auto.max_trials:
            return f"max_trials={self._auto.max_trials} reached"
        if self._clock() - self._start >= self._auto.time_budget_s:
            return f"time_budget_s={self._auto.time_budget_s:g} spent"
        return None

    def _try(self, name: str, config: QuantizationConfig) -> Trial:
        trial = judge(self._evaluate(name, config), self._auto)
        self.trials.append(trial)
        self._evaluated += 1
        return trial

    # ---- rank='size' ----

    def _by_size(self) -> None:
        queue = self._sized_queue()
        while queue and not self._stop_reason():
            item = heapq.heappop(queue)
            trial = self._try(item.name, item.config)
            if trial.passed:
                return
            if trial.name == _refined() and _refinable(trial, self._auto):
                for refinement in self._sized_refinements():
                    heapq.heappush(queue, refinement)

    def _sized_queue(self) -> list[Queued]:
        """Every candidate but the refinements, converted to learn its size; QAT by int8's."""
        queue: list[Queued] = []
        for position, name in enumerate(self._auto.candidates):
            if self._stop_reason():
                break
            if name == SELECTIVE or is_qat(name):
                continue
            config = candidate_config(name, self._base)
            size = self._sized(name, config)
            if size is not None:
                queue.append(Queued((0, size, position, 0), name, config))
        int8 = next((q.key[1] for q in queue if q.name == Mode.INT8.value), None)
        queue += [Queued(qat_key(int8, position), name, candidate_config(name, self._base))
                  for position, name in enumerate(self._auto.candidates) if is_qat(name)]
        heapq.heapify(queue)
        return queue

    def _sized_refinements(self) -> list[Queued]:
        """int8_selective(k) for k = 1, 2, 4, ... of int8's worst layers, each converted to learn its size
        (none when int8_selective is not a candidate)."""
        if SELECTIVE not in self._auto.candidates or self._stop_reason():
            return []
        position, layers, out = self._auto.candidates.index(SELECTIVE), self._rank_layers(), []
        for k in selective_steps(self._auto.max_float_layers, len(layers)):
            if self._stop_reason():
                break
            name, config = f"{SELECTIVE}({k})", candidate_config(SELECTIVE, self._base, tuple(layers[:k]))
            size = self._sized(name, config)
            if size is not None:
                out.append(Queued((0, size, position, k), name, config))
        return out

    def _sized(self, name: str, config: QuantizationConfig) -> int | None:
        """Its size in bytes; a candidate that fails to convert is a recorded failed trial (None)."""
        size = self._size(name, config)
        if isinstance(size, Trial):
            self.trials.append(judge(size, self._auto))
            return None
        return size

    # ---- rank='order' ----

    def _in_order(self) -> None:
        for name in self._auto.candidates:
            if self._stop_reason():
                return
            if name == SELECTIVE:
                found = self._selective_in_order()
            else:
                found = self._try(name, candidate_config(name, self._base)).passed
            if found:
                return

    def _selective_in_order(self) -> bool:
        int8 = next((t for t in self.trials if t.name == _refined()), None)
        if int8 is None or not _refinable(int8, self._auto):
            return False
        layers = self._rank_layers()
        for k in selective_steps(self._auto.max_float_layers, len(layers)):
            if self._stop_reason():
                return False
            if self._try(f"{SELECTIVE}({k})", candidate_config(SELECTIVE, self._base, tuple(layers[:k]))).passed:
                return True
        return False


def _refined() -> str:
    """The candidate int8_selective refines (int8), from the registry."""
    return _strict.need(refined_mode(SELECTIVE), "the registry's refined mode").value


def _refinable(int8: Trial, auto: AutoConfig) -> bool:
    """Only an int8 that converted but lost too much accuracy is refined by int8_selective."""
    return not int8.error and bool(_tolerance_reasons(int8, auto))


def best_of(trials: list[Trial]) -> Trial | None:
    """The measured trial with the smallest drop (earliest on ties: the smallest under rank='size',
    the first configured under rank='order')."""
    measured = [t for t in trials if not t.error and _finite(t.absolute_drop)]
    return min(measured, key=lambda t: float(t.absolute_drop or 0.0)) if measured else None


def explain(summary: records.AutoSearch) -> str:
    """A readable account of the search: one line per trial, then the decision."""
    tolerance = dataclasses.asdict(summary.tolerance)
    n = summary.validation.examples
    lines = [f"auto search on {n} validation examples of split {summary.validation.split!r} ({summary.metric}, "
             f"tolerance {tolerance}; one example is {1 / max(n, 1):.3g} of an accuracy, so smaller drops are "
             f"within noise; float32 model {summary.float_bytes:,} bytes):"]
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
    return "\n".join(lines + _saves_nothing(summary))


def _saves_nothing(summary: records.AutoSearch) -> list[str]:
    """A line when the planned candidate is no smaller than the float32 model."""
    planned = next((t for t in summary.trials if t.name == summary.planned and t.size_bytes is not None), None)
    if planned is None or planned.size_bytes is None or planned.size_bytes < summary.float_bytes:
        return []
    return [f"{planned.name} saves nothing: it is {planned.size_bytes:,} bytes, the float32 model "
            f"{summary.float_bytes:,} bytes; no smaller candidate passed (loosen the tolerance or the "
            f"budgets for a smaller one)"]


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
