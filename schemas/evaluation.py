"""Typed configuration of the EdgeEvaluator and of the gate it applies.

A gate is a set of thresholds on named metrics (overall and per slice) and
budgets (size, latency, ops left in float). Metric names, their tasks, and whether
higher or lower is better, are defined once in schemas/metric_table.py.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, Mapping

from tfx_edge.schemas import _strict, metric_table
from tfx_edge.schemas._strict import fail
from tfx_edge.schemas import names
from tfx_edge.schemas.metric_table import HIGHER, LOWER, METRIC_DIRECTIONS, PAIR_METRICS, Task
# Re-exported (`X as X`): the slice and binarization types, defined in their own modules.
from tfx_edge.schemas.binarize import Average as Average, Binarize as Binarize
from tfx_edge.schemas.slices import (SliceFeature as SliceFeature, SliceValue as SliceValue, check_cross,
                                     check_value, cross_of as cross_of, values_of as values_of)


WHOLE_SPLIT_ONLY = frozenset({"auc", "auc_precision_recall"})   # binary metrics without per-slice values

class OutputKind(str, enum.Enum):
    """What a classification output holds; decides the binary threshold and the loss."""

    PROBABILITIES = "probabilities"
    LOGITS = "logits"


class Target(str, enum.Enum):
    """Where the quantized model must run; each is a gate check (components/core/targets.py).

    cpu: LiteRT on the host CPU, XNNPACK and builtin kernels (the gate's own figures).
    gpu: every op is one the LiteRT GPU delegate's model builder accepts (offline, from its op table).
    microcontroller: TFLite Micro's interpreter (the tflite-micro package, extra 'micro') allocates and
      runs the model on sample examples, its outputs equal LiteRT's, and its tensor arena is recorded
      (Budgets.max_arena_bytes gates it).
    """

    CPU = "cpu"
    GPU = "gpu"
    MICROCONTROLLER = "microcontroller"


class Kernel(str, enum.Enum):
    """LiteRT CPU kernels: XNNPACK (the default delegate) or the builtin reference kernels."""

    XNNPACK = "xnnpack"
    BUILTIN = "builtin"


def metric_direction(name: str) -> str | None:
    """HIGHER or LOWER for a known metric name, else None (from schemas/metric_table.py)."""
    return metric_table.direction(name)


@dataclasses.dataclass(frozen=True)
class MetricThreshold:
    """Limits on one metric of the quantized model. Drops are direction aware: the
    amount by which the quantized model is WORSE than the reference (accuracy falling,
    loss or RMSE rising); relative drop = drop / |reference value|. Bounds apply to
    the quantized model's own value."""

    max_absolute_drop: float | None = None
    max_relative_drop: float | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    use_confidence_bound: bool = False   # drop limits on the upper end of the drop's 95% interval

    def __post_init__(self) -> None:
        _strict.check_fields(self)

    def validate(self, path: str, metric: str) -> None:
        values = {k: v for k, v in dataclasses.asdict(self).items() if k != "use_confidence_bound"}
        if all(v is None for v in values.values()):
            fail(path, self, "set at least one of max_absolute_drop, max_relative_drop, "
                 "lower_bound, upper_bound")
        for name, value in values.items():
            if value is not None and not math.isfinite(value):
                fail(f"{path}.{name}", value, "use a finite number")
        for name in ("max_absolute_drop", "max_relative_drop"):
            if values[name] is not None and values[name] < 0:
                fail(f"{path}.{name}", values[name], "a drop limit is >= 0 (0 = no loss allowed)")
            if values[name] is not None and metric in PAIR_METRICS:
                fail(f"{path}.{name}", values[name], f"{metric!r} compares the quantized model "
                     "with its reference already; use lower_bound / upper_bound")
            if values[name] is not None and metric not in PAIR_METRICS and metric_direction(metric) is None:
                fail(f"{path}.{name}", values[name], f"{metric!r} has no better side, so a drop means "
                     "nothing; bound its value with lower_bound / upper_bound")
        self._check_range(path, metric)
        self._check_confidence(path, metric)

    def _check_confidence(self, path: str, metric: str) -> None:
        entry = metric_table.get(metric)
        if not self.use_confidence_bound:
            return
        if entry is None or not entry.interval:
            intervals = sorted(n for n, m in metric_table.METRICS.items() if m.interval)
            fail(f"{path}.use_confidence_bound", True, f"{metric!r} has no confidence interval (only the means "
                 f"over examples have: {', '.join(intervals)}); remove use_confidence_bound")
        if self.max_absolute_drop is None and self.max_relative_drop is None:
            fail(f"{path}.use_confidence_bound", True, "it applies to drop limits; set max_absolute_drop or "
                 "max_relative_drop, or remove it")

    def _check_range(self, path: str, metric: str) -> None:
        """Refuses limits that can never pass or always pass, given the metric's range [0, upper]."""
        entry = metric_table.get(metric)
        upper = entry.upper if entry else None
        lo, hi = self.lower_bound, self.upper_bound
        if lo is not None and hi is not None and lo > hi:
            fail(f"{path}.lower_bound", lo, f"it is above upper_bound={hi}: no value can pass; swap or fix them")
        if lo is not None and upper is not None and lo > upper:
            fail(f"{path}.lower_bound", lo, f"{metric!r} is at most {upper:g}: no model can pass; "
                 f"a fraction is written as e.g. 0.9, not 90")
        if lo is not None and lo <= 0:
            fail(f"{path}.lower_bound", lo, f"{metric!r} is never below 0, so this bound always passes; "
                 f"remove it or set a real floor")
        if hi is not None and hi < 0:
            fail(f"{path}.upper_bound", hi, f"{metric!r} is never below 0: no model can pass; use a positive "
                 f"limit (e.g. 0.5) or remove it")
        if hi is not None and upper is not None and hi >= upper:
            fail(f"{path}.upper_bound", hi, f"{metric!r} is at most {upper:g}, so this bound always passes; "
                 f"remove it or set a real ceiling below {upper:g}")
        drop = self.max_absolute_drop
        if drop is not None and upper is not None and drop >= upper:
            fail(f"{path}.max_absolute_drop", drop, f"{metric!r} is at most {upper:g}, so a drop of "
                 f"{drop:g} always passes; a fraction is written as e.g. 0.01 (one point)")
        relative = self.max_relative_drop
        if relative is not None and upper is not None and metric_direction(metric) == HIGHER and relative >= 1:
            fail(f"{path}.max_relative_drop", relative, f"{metric!r} lies in [0, {upper:g}], so it cannot fall "
                 f"by more than 100% of its reference and a relative drop of {relative:g} always passes; "
                 f"a fraction is written as e.g. 0.02 (2%)")


@dataclasses.dataclass(frozen=True)
class SliceThreshold:
    """Metric thresholds for the examples whose `feature` equals `value` (or, with
    value None, for every value of the feature: each slice is checked on its own).
    A slice named by value must exist with at least `min_examples` examples; with
    value None, slices smaller than min_examples are reported and not gated.

    A crossed slice: `feature` is a cross slice_features lists, e.g. ("species", "island"),
    and `value` None (every combination), or one entry per feature, a string or None
    (every value of that feature), e.g. ("Adelie", None): every island of Adelie penguins.
    A slice named by every value is gated like one named by value; any None, like value None."""

    feature: SliceFeature
    metrics: dict[str, MetricThreshold]
    value: SliceValue = None
    min_examples: int = 1

    def __post_init__(self) -> None:
        from tfx_edge.schemas import tfma_config   # a tfma.MetricThreshold proto is converted (or refused)
        object.__setattr__(self, "metrics", tfma_config.native_thresholds(self.metrics, "SliceThreshold.metrics"))
        object.__setattr__(self, "feature", _strict._coerce(SliceFeature, self.feature, "SliceThreshold.feature"))
        object.__setattr__(self, "value", _strict._coerce(SliceValue, self.value, "SliceThreshold.value"))
        _strict.check_fields(self)

    @property
    def named(self) -> bool:
        """Whether it names one slice (a value for every feature), not every value of some feature."""
        return all(v is not None for v in values_of(self.feature, self.value))


@dataclasses.dataclass(frozen=True)
class Budgets:
    """Deployment budgets for the quantized model. Latency budgets use the
    EvaluationConfig.latency kernel and threads (batch 1)."""

    max_model_bytes: int | None = None
    max_latency_p50_us: float | None = None
    max_latency_p95_us: float | None = None
    max_latency_ratio: float | None = None   # quantized p50 / float32 TFLite p50
    max_float_ops: int | None = None         # ops computing in float (float + hybrid)
    max_arena_bytes: int | None = None       # TFLite Micro's tensor arena (targets include 'microcontroller')

    def __post_init__(self) -> None:
        _strict.check_fields(self)

    def validate(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if value is not None and not (math.isfinite(value) and value >= 0):
                fail(f"thresholds.budgets.{name}", value, "use a finite number >= 0")

    @property
    def needs_latency(self) -> bool:
        return any(v is not None for v in (self.max_latency_p50_us, self.max_latency_p95_us,
                                            self.max_latency_ratio))


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When the quantized model may be pushed: every threshold must pass.

    `metrics` applies to the whole split and needs at least one entry: a gate
    without a quality threshold would bless any model. Example:
    Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.01, lower_bound=0.9)})
    """

    metrics: dict[str, MetricThreshold]
    slices: tuple[SliceThreshold, ...] = ()
    budgets: Budgets = dataclasses.field(default_factory=Budgets)

    def __post_init__(self) -> None:
        from tfx_edge.schemas import tfma_config   # a tfma.MetricThreshold proto is converted (or refused)
        object.__setattr__(self, "metrics", tfma_config.native_thresholds(self.metrics, "Thresholds.metrics"))
        object.__setattr__(self, "slices", tuple(self.slices))
        _strict.check_fields(self)
        if not self.metrics:
            fail("thresholds.metrics", self.metrics, "set at least one metric threshold, e.g. "
                 "{'accuracy': MetricThreshold(max_absolute_drop=0.01)}; a gate without one "
                 "would bless any model")
        self.budgets.validate()


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """Another output of a multi-head model, scored on the whole split with its own label and gated
    on its own metrics (EvaluationConfig.outputs); the top-level fields describe output_name's."""

    label_feature: str
    metrics: dict[str, MetricThreshold]
    task: Task = Task.CLASSIFICATION
    output_kind: OutputKind | None = None
    top_k: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", _strict._coerce_enum(Task, self.task, "task"))
        if self.output_kind is not None:
            object.__setattr__(self, "output_kind", _strict._coerce_enum(OutputKind, self.output_kind, "output_kind"))
        object.__setattr__(self, "top_k", tuple(self.top_k))
        _strict.check_fields(self, "OutputConfig")

    def validate(self, path: str) -> None:
        if not self.metrics:
            fail(f"{path}.metrics", self.metrics, "set at least one metric threshold for the output")
        kind = self.output_kind if self.task == Task.CLASSIFICATION else None
        names = metric_table.task_names(self.task, self.top_k, kind) - metric_table.BINARY_METRICS
        for name, threshold in self.metrics.items():
            if name not in names and not metric_table.per_class(self.task, name):
                fail(f"{path}.metrics[{name!r}]", name, f"not a {self.task.value} metric of an extra output; use one "
                     f"of {sorted(n for n in names if '@' not in n)} (binary metrics: gate the output as output_name)")
            threshold.validate(f"{path}.metrics[{name!r}]", name)


@dataclasses.dataclass(frozen=True)
class Guards:
    """Checks that are on by default and catch a collapsed or broken model whatever metric the
    thresholds name; each one's detail says which field switches it off.

    class_collapse: fail when the reference predicts a class for at least max(5, 1%) of the
      examples and the quantized model never predicts it.
    positive_rate_collapse: for a binary output, fail when the quantized model's positive rate is
      0 or 1 while the reference's is not.
    other_outputs: compare every model output the metrics do not read with its reference: top-1
      agreement >= min_agreement (outputs of more than one unit) and relative RMS difference
      RMS(quantized - reference) / RMS(reference) <= max_relative_difference (single-unit outputs).
    """

    class_collapse: bool = True
    positive_rate_collapse: bool = True
    other_outputs: bool = True
    min_agreement: float = 0.95
    max_relative_difference: float = 0.1

    def __post_init__(self) -> None:
        _strict.check_fields(self, "guards")
        if not 0 < self.min_agreement <= 1:
            fail("guards.min_agreement", self.min_agreement, "use a fraction in (0, 1], e.g. 0.95")
        if not (math.isfinite(self.max_relative_difference) and self.max_relative_difference > 0):
            fail("guards.max_relative_difference", self.max_relative_difference,
                 "use a positive fraction, e.g. 0.1 (10% of the reference's RMS)")


@dataclasses.dataclass(frozen=True)
class LatencyConfig:
    """Batch-1 latency measurement: warm-up invokes, then `runs` timed invokes."""

    runs: int = 200
    warmup: int = 20
    num_threads: int = 1
    budget_kernel: Kernel = Kernel.XNNPACK

    def __post_init__(self) -> None:
        _strict.check_fields(self)

    def validate(self) -> None:
        object.__setattr__(self, "budget_kernel",
                           _strict._coerce_enum(Kernel, self.budget_kernel, "latency.budget_kernel"))
        if self.runs < 0:
            fail("latency.runs", self.runs, "use 0 (skip latency) or a positive count")
        if self.warmup < 0:
            fail("latency.warmup", self.warmup, "use 0 or a positive count")
        if self.num_threads < 1:
            fail("latency.num_threads", self.num_threads, "use at least 1 thread")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig(_strict.JsonConfig):
    """What the EdgeEvaluator measures and how.

    output_kind: what a classification output holds (probabilities or logits).
      Needed for the loss and for a single-unit binary output (threshold 0.5 on a
      probability, 0 on a logit); the EdgeEvaluator refuses to guess it.
    top_k: adds top_<k>_accuracy for each k.
    slice_features: features whose values slice the metrics (one value per example); an entry that is
      a tuple of two or more features is a crossed slice: one slice per combination of their values,
      e.g. ("species", ("species", "island")). Examples without a feature are in its "<missing>" value.
    compare_saved_model: also run the float SavedModel (the EdgeEvaluator's
      `saved_model` input) and check drops against it too.
    batch_size: examples scored per LiteRT call. None (default): chosen from the bytes an example
      takes (its record and both models' inputs and outputs), 16 to 1024, about 8 MiB a batch
      (planning.auto_batch_size); the metrics do not depend on it.
    shards_per_file: work units per record file. None (default): chosen from the split's
      size (plain files: byte ranges of 1-64 MiB, about 32 per split; GZIP files: interleaved
      shards, at least 4 per split). n: exactly n byte ranges per plain file (1 reads each
      file whole, from its first byte) and n interleaved shards per GZIP file.
    """

    thresholds: Thresholds
    task: Task = Task.CLASSIFICATION
    label_feature: str = "label"
    output_name: str | None = None
    output_kind: OutputKind | None = None
    top_k: tuple[int, ...] = ()
    slice_features: tuple[SliceFeature, ...] = ()
    split: str = "eval"
    batch_size: int | None = None
    input_mapping: dict[str, str] | None = None
    num_threads: int = 1
    latency: LatencyConfig = dataclasses.field(default_factory=LatencyConfig)
    compare_saved_model: bool = False
    guards: Guards = dataclasses.field(default_factory=Guards)
    outputs: dict[str, OutputConfig] = dataclasses.field(default_factory=dict)
    binary_thresholds: tuple[float, ...] = ()
    example_weight_key: str | None = None
    shards_per_file: int | None = None
    targets: tuple[Target, ...] = (Target.CPU,)
    binarize: Binarize | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", _strict._coerce_enum(Task, self.task, "task"))
        object.__setattr__(self, "targets", _strict._coerce(tuple[Target, ...], self.targets, "targets"))
        if self.output_kind is not None:
            object.__setattr__(self, "output_kind",
                               _strict._coerce_enum(OutputKind, self.output_kind, "output_kind"))
        object.__setattr__(self, "top_k", tuple(self.top_k))
        object.__setattr__(self, "slice_features",
                           _strict._coerce(tuple[SliceFeature, ...], self.slice_features, "slice_features"))
        object.__setattr__(self, "binary_thresholds", tuple(self.binary_thresholds))
        if self.binarize is not None:
            object.__setattr__(self, "binarize", _strict._coerce(Binarize, self.binarize, "binarize"))
        _strict.check_fields(self)
        self._check_numbers()
        self._check_binarize()
        self._check_slice_features()
        self.latency.validate()
        if self.thresholds.budgets.needs_latency and self.latency.runs < 1:
            fail("latency.runs", self.latency.runs, "a latency budget needs latency.runs >= 1")
        for name, threshold in self.thresholds.metrics.items():
            self._check_metric(f"thresholds.metrics[{name!r}]", name, threshold)
        for i, st in enumerate(self.thresholds.slices):
            self._check_slice(f"thresholds.slices[{i}]", st)
        self._check_outputs()
        self._check_targets()

    def _check_targets(self) -> None:
        if not self.targets or len(set(self.targets)) != len(self.targets):
            fail("targets", [t.value for t in self.targets], "list each target once, at least one (e.g. "
                 "('cpu',) or ('cpu', 'gpu', 'microcontroller'))")
        if self.thresholds.budgets.max_arena_bytes is not None and Target.MICROCONTROLLER not in self.targets:
            fail("thresholds.budgets.max_arena_bytes", self.thresholds.budgets.max_arena_bytes,
                 "the arena is measured by the 'microcontroller' target: add it to targets")

    def _check_outputs(self) -> None:
        if self.outputs and self.output_name is None:
            fail("output_name", None, "with outputs={...} set output_name too (the output the top-level fields and "
                 "thresholds describe)")
        for name, output in self.outputs.items():
            if name == self.output_name:
                fail(f"outputs[{name!r}]", name, "it is output_name already; its thresholds go in thresholds")
            output.validate(f"outputs[{name!r}]")

    def _check_numbers(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            fail("batch_size", self.batch_size, "use a batch size >= 1, or None (chosen from the example size)")
        if self.num_threads < 1:
            fail("num_threads", self.num_threads, "use at least 1 thread")
        if self.shards_per_file is not None and self.shards_per_file < 1:
            fail("shards_per_file", self.shards_per_file,
                 "use 1 or more, or None (chosen from the split's size)")
        if not self.label_feature:
            fail("label_feature", self.label_feature, "name the Example feature holding the label")
        if any(k < 1 for k in self.top_k):
            fail("top_k", self.top_k, "use k >= 1")
        if self.task == Task.REGRESSION and (self.top_k or self.output_kind):
            fail("task", self.task.value, "top_k and output_kind are for classification")
        bad = [t for t in self.binary_thresholds if not 0.0 <= t <= 1.0 or t == 0.5]
        if bad or len(set(self.binary_thresholds)) != len(self.binary_thresholds):
            fail("binary_thresholds", self.binary_thresholds, "use distinct thresholds in [0, 1] besides 0.5 "
                 "(the plain names, e.g. 'precision', are at 0.5; 'precision@0.3' at 0.3)")
        if self.example_weight_key is not None and not self.example_weight_key:
            fail("example_weight_key", self.example_weight_key, "name the Example feature holding the weight, or None")

    def _check_binarize(self) -> None:
        if self.binarize is None:
            return
        self.binarize.validate()
        if self.task != Task.CLASSIFICATION or self.output_kind is None:
            fail("binarize", self.binarize, "one-vs-rest binarization is of a multi-class classification output: "
                 "set task 'classification' and output_kind, or remove binarize")

    def _check_metric(self, path: str, name: str, threshold: MetricThreshold) -> None:
        entry = metric_table.get(name)
        if (entry is not None and entry.needs_output_kind and self.task in entry.tasks
                and self.output_kind is None):
            fail("output_kind", None, f"a {name!r} threshold needs output_kind "
                 "('probabilities' or 'logits')")
        if entry is not None and entry.binarized and not self._metric_known(name):
            fail(path, name, f"not a binarized metric of this config: binarize={self.binarize} computes "
                 f"{sorted(self.binarize.names()) if self.binarize else []}; add the class to binarize.class_ids "
                 f"or the average to binarize.aggregate")
        if entry is None or not self._metric_known(name):
            families = " / ".join(metric_table.per_class_families(self.task))
            fail(path, name, f"not a {self.task.value} metric; use one of {sorted(self.metric_names())}"
                 + (f" or {families}" if families else ""))
        weighted = entry is not None and (entry.binary or entry.binarized or entry.pair)
        if self.example_weight_key is not None and entry is not None and not weighted:
            fail(path, name, f"{name!r} is computed unweighted, but example_weight_key="
                 f"{self.example_weight_key!r} asks for weighted metrics; gate on a weighted one (the binary "
                 f"metrics: binary_accuracy, auc, precision, ...) or remove example_weight_key")
        threshold.validate(path, name)

    def _metric_known(self, name: str) -> bool:
        return name in self.metric_names() or metric_table.per_class(self.task, name)

    def metric_names(self) -> set[str]:
        """The plain metric names this config computes (per-class names aside)."""
        output_kind = self.output_kind if self.task == Task.CLASSIFICATION else None
        names = metric_table.task_names(self.task, self.top_k, output_kind, self.binary_thresholds)
        return names | (self.binarize.names() if self.binarize is not None else set())

    def _check_slice_features(self) -> None:
        seen: dict[frozenset[str], int] = {}
        for i, entry in enumerate(self.slice_features):
            check_cross(f"slice_features[{i}]", entry)
            j = seen.setdefault(frozenset(cross_of(entry)), i)
            if j != i:
                fail(f"slice_features[{i}]", entry, f"it slices the examples as slice_features[{j}]="
                     f"{self.slice_features[j]!r} does; list each slice once")

    def _check_slice(self, path: str, st: SliceThreshold) -> None:
        check_cross(f"{path}.feature", st.feature)
        if st.feature not in self.slice_features:
            listed = next((f for f in self.slice_features if set(cross_of(f)) == set(cross_of(st.feature))), None)
            fail(f"{path}.feature", st.feature, f"slice_features lists this cross as {listed!r}: name it in that "
                 f"order" if listed is not None else f"add it to slice_features (now {list(self.slice_features)})")
        check_value(f"{path}.value", st.feature, st.value)
        if not st.metrics:
            fail(f"{path}.metrics", st.metrics, "set at least one metric threshold for the slice")
        if st.min_examples < 1:
            fail(f"{path}.min_examples", st.min_examples, "use 1 or more")
        for name, threshold in st.metrics.items():
            self._check_metric(f"{path}.metrics[{name!r}]", name, threshold)
            if metric_table.split_binarized(name)[0] in WHOLE_SPLIT_ONLY:
                fail(f"{path}.metrics[{name!r}]", name, "it is computed for the whole split only (a 10,000-bucket "
                     "histogram per slice would cost ~320 KB per slice, model and work unit); gate it in "
                     "thresholds.metrics, and gate the slice on binary_accuracy, precision or recall")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationConfig:
        """A native dict, or a tfma.EvalConfig's dict form (MessageToDict): schemas/tfma_config.py."""
        from tfx_edge.schemas import tfma_config
        if tfma_config.is_eval_config_dict(data):
            return tfma_config.from_tfma(data)
        return _strict.from_dict(cls, data)

    @classmethod
    def from_tfma(cls, eval_config: Any, **overrides: Any) -> EvaluationConfig:
        """The config of a tfma.EvalConfig (proto, dict or JSON), with native fields as overrides."""
        from tfx_edge.schemas import tfma_config
        return tfma_config.from_tfma(eval_config, **overrides)

    @classmethod
    def coerce(cls, config: Any) -> EvaluationConfig:
        """An EvaluationConfig, its dict, or a tfma.EvalConfig (the proto or its dict form)."""
        from tfx_edge.schemas import tfma_config
        if tfma_config.is_message(config, tfma_config.EVAL_CONFIG):
            return tfma_config.from_tfma(config)
        return super().coerce(config)

    @property
    def references(self) -> list[str]:
        """The models the quantized one is compared with, in report order."""
        return [names.FLOAT_TFLITE] + ([names.SAVED_MODEL] if self.compare_saved_model else [])

    @property
    def primary_metric(self) -> str:
        return "accuracy" if self.task == Task.CLASSIFICATION else "rmse"


__all__ = ["Average", "Binarize",
           "Budgets", "EvaluationConfig", "Guards", "OutputConfig", "Kernel", "LatencyConfig", "MetricThreshold",
           "OutputKind", "SliceFeature", "SliceThreshold", "SliceValue", "Task", "Thresholds", "cross_of",
           "metric_direction", "values_of",
           "HIGHER", "LOWER", "METRIC_DIRECTIONS", "PAIR_METRICS"]
