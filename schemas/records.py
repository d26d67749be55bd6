"""The records the gate trusts, as typed, versioned dataclasses with one strict reader and writer.

Every file one component writes and a later one reads (the Quantizer's `plan.json`, the
TFLiteExporter's `export_report.json`, the EdgeEvaluator's `metrics.json`) is one record
class here. Each file starts with its header, `{"kind": "tfx_edge.<Record>", "version": N}`,
then the record's fields. `Record.from_json` refuses another kind or version, an unknown or
missing field, a value of the wrong type (a string where a bool is recorded is never truthy),
an unknown enum value and NaN, naming the file, the field, the value and the fix; `to_json`
writes strict JSON (non-finite floats as null) and is checked by reading it back, so what is
written can always be read. Parts that are records of their own (the calibration record, the
parity record, the auto search...) are dataclasses here too, embedded once, never copied field
by field: the export report embeds the plan it was made from, plus the plan file's sha256.

Pure: no TensorFlow, TFX or Beam (the CLI's `report` reads metrics.json with these alone).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, ClassVar, Literal, TypeVar

from tfx_edge.schemas import _strict, names
from tfx_edge.schemas.evaluation import EvaluationConfig
from tfx_edge.schemas.quantization import Placement, QuantizationConfig

R = TypeVar("R", bound="Record")
Scalar = float | int | bool | str | None


class RecordError(ValueError):
    """A record file is missing, unreadable, of another kind or version, or mistyped."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Record:
    """Mixin of the top-level records: header, strict JSON reader and writer."""

    KIND: ClassVar[str]
    VERSION: ClassVar[int]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.KIND, "version": self.VERSION, **finite_or_none(_strict.to_dict(self))}

    def to_json(self) -> str:
        """Strict JSON (sorted keys, no NaN), proven readable by reading it back."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"
        type(self).from_json(text, f"the {self.KIND} record being written", "this is a bug in tfx-edge")
        return text

    @classmethod
    def from_json(cls: type[R], text: str | bytes, source: str, fix: str) -> R:
        """The record in `text` (read from `source`); RecordError names source, field, value, fix."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise RecordError(f"{source} is not readable JSON ({error}); {fix}") from error
        return cls.from_dict(data, source, fix)

    @classmethod
    def from_dict(cls: type[R], data: Any, source: str, fix: str) -> R:
        if not isinstance(data, dict):
            raise RecordError(f"{source} holds a JSON {type(data).__name__}, not a {cls.KIND} record; {fix}")
        kind, version = data.get("kind"), data.get("version")
        if kind != cls.KIND:
            raise RecordError(f"{source} is a {kind!r} record, not {cls.KIND!r} (or written by a tfx-edge "
                              f"before records had kinds); {fix}")
        if version != cls.VERSION or isinstance(version, bool):
            raise RecordError(f"{source} is {cls.KIND} version {version!r}; this tfx-edge reads version "
                              f"{cls.VERSION}; {fix}")
        body = {k: v for k, v in data.items() if k not in ("kind", "version")}
        try:
            return _strict.from_dict(cls, body)
        except _strict.ConfigError as error:
            raise RecordError(f"{source}: {error}; {fix}") from error


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (records hold finite numbers or null)")


def finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


# ---- parts shared by several records ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TensorRecord:
    """A model input or output: name, dtype, shape (-1 or None: any size)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]


@dataclasses.dataclass(frozen=True)
class Derivation:
    """What the derived model takes (core/derive.Derived): the app's inputs."""

    signature_kind: Literal["examples", "dense"]
    placement: Placement
    inputs: tuple[TensorRecord, ...]
    raw_features: tuple[TensorRecord, ...] = ()
    # inputs that are single-valued VarLen features fed dense, missing values as
    # core/single_valued.py writes them (b"", NaN, the smallest int64)
    single_valued: tuple[str, ...] = ()

    @property
    def missing_contract(self) -> dict[str, str]:
        """{feature: dtype} of the single-valued inputs (what core/single_valued.fill takes)."""
        return {t.name: t.dtype for t in self.inputs if t.name in self.single_valued}


@dataclasses.dataclass(frozen=True)
class CalibrationRecord:
    """The representative data the Quantizer sampled (calibration.npz, its sha256)."""

    split: str
    seed: int
    requested: int
    used: int
    examples_seen: int
    files: tuple[str, ...]
    sha256: str
    file: str
    excluded_examples: int = 0


@dataclasses.dataclass(frozen=True)
class ParitySample:
    """The serialized examples the TFLiteExporter checks the float32 TFLite on."""

    file: str
    examples: int
    split: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class QatRecord:
    """Quantization-aware fine-tuning: data, schedule and the figures it reached."""

    split_uri: str
    split: str
    files: tuple[str, ...]
    examples_in_split: int
    examples_used: int
    epochs: int
    steps_per_epoch: int
    steps: int
    batch_size: int
    learning_rate: float
    loss: str
    label_feature: str
    seed: int
    train_loss: float | None          # of the last epoch
    train_accuracy: float | None
    final_loss: float | None
    final_accuracy: float | None
    float_layers: tuple[str, ...]
    model_dir: str
    model_sha256: str = ""


@dataclasses.dataclass(frozen=True)
class Trial:
    """One auto-search candidate measured on the validation subset (core/auto_search.Trial)."""

    name: str
    config: QuantizationConfig
    passed: bool = False
    reasons: tuple[str, ...] = ()
    size_bytes: int | None = None
    latency_p50_us: float | None = None
    metric: float | None = None
    reference: float | None = None
    absolute_drop: float | None = None
    relative_drop: float | None = None
    seconds: float = 0.0
    cached: bool = False
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Tolerance:
    max_absolute_drop: float | None
    max_relative_drop: float | None


@dataclasses.dataclass(frozen=True)
class AutoBudgets:
    max_model_bytes: int | None
    max_latency_p50_us: float | None


@dataclasses.dataclass(frozen=True)
class ValidationSubset:
    """The examples the auto search held out and measured every candidate on."""

    split: str
    examples: int
    examples_seen: int
    fraction: float
    seed: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class AutoSearch:
    """Mode 'auto': what was asked, every trial, and whether the planned candidate met it."""

    met: bool
    selected: str | None
    best: str | None
    planned: str
    metric: str
    tolerance: Tolerance
    budgets: AutoBudgets
    float_bytes: int                 # the float32 TFLite's size: a candidate must be smaller to save anything
    validation: ValidationSubset
    requested: QuantizationConfig
    trials: tuple[Trial, ...]
    stopped: str | None
    seconds: float


# ---- plan.json -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class QuantizationPlanRecord(Record):
    """plan.json: the concrete config the TFLiteExporter applies and everything it applies it to.
    `source_sha256` fingerprints the Trainer's SavedModel, `derived_sha256` the derived model."""

    KIND: ClassVar[str] = "tfx_edge.QuantizationPlan"
    VERSION: ClassVar[int] = 4

    config: QuantizationConfig
    source_model: str
    source_sha256: str
    derived_model: str
    derived_sha256: str
    derivation: Derivation
    input_mapping: dict[str, str]
    calibration: CalibrationRecord | None = None
    parity: ParitySample | None = None
    qat: QatRecord | None = None
    auto: AutoSearch | None = None

    @property
    def signature_key(self) -> str:
        return self.config.signature_key


# ---- export_report.json --------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class QuantizedTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float = 0.0          # 0: not quantized
    zero_point: int = 0


@dataclasses.dataclass(frozen=True)
class OpCounts:
    """Ops by kind (core/litert.op_summary); by_op: op name -> kind -> count."""

    total: int
    integer: int
    float: int
    hybrid: int
    boundary: int
    shape: int
    by_op: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelDescription:
    """A written TFLite model: its bytes' size and sha256, signature tensors, op kinds."""

    bytes: int
    sha256: str
    inputs: tuple[QuantizedTensor, ...]
    outputs: tuple[QuantizedTensor, ...]
    dynamic_batch: bool
    ops: OpCounts


@dataclasses.dataclass(frozen=True)
class ParityOutput:
    max_abs_diff: float | None
    scale: float


@dataclasses.dataclass(frozen=True)
class ParityRecord:
    """The float32 TFLite checked against the Trainer's own signature (core/parity)."""

    source: Literal["examples", "probe"]
    examples: int
    tolerance: float
    worst_relative_diff: float | None
    outputs: dict[str, ParityOutput]
    passed: bool


@dataclasses.dataclass(frozen=True)
class ExportReport(Record):
    """export_report.json: the plan the export applied (embedded, and the plan file's sha256)
    and both TFLite files it wrote (sha256 each): the EdgeEvaluator's chain of custody."""

    KIND: ClassVar[str] = "tfx_edge.ExportReport"
    VERSION: ClassVar[int] = 4

    plan_sha256: str
    plan: QuantizationPlanRecord
    quantized: ModelDescription
    float_model: ModelDescription
    size_ratio: float
    parity: ParityRecord
    tf_version: str
    layer_report: str | None = None
    aeq_recipe: str | None = None

    @property
    def mode(self) -> str:
        return self.plan.config.mode.value


# ---- metrics.json --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Drop:
    """Direction-aware worsening vs a reference: positive means worse (None: not measured)."""

    absolute: float | None
    relative: float | None
    ci_low: float | None = None        # 95% interval of the absolute drop (paired per-example differences)
    ci_high: float | None = None
    ci_examples: int | None = None     # the examples it rests on


@dataclasses.dataclass(frozen=True)
class SliceSummary:
    """One slice: metrics per model, pair metrics and drops per reference. `columns` is the slice, typed:
    () for the whole split, ((feature, value),) for a single feature, one pair per feature in the cross's
    order for a crossed slice; EvaluationResult.slices keys it by its display key (core/slicing.key_of)."""

    columns: tuple[tuple[str, str], ...]
    examples: int
    nonfinite: dict[str, int]
    metrics: dict[str, dict[str, float | None]]
    pairs: dict[str, dict[str, float | None]]
    drops: dict[str, dict[str, Drop]]

    def metric(self, model: str, name: str) -> float | None:
        return self.metrics.get(model, {}).get(name)

    def drop(self, reference: str, name: str) -> Drop | None:
        return self.drops.get(reference, {}).get(name)


@dataclasses.dataclass(frozen=True)
class OutputComparison:
    """An output the metrics do not read, compared with one reference (core/output_guard)."""

    examples: int
    nonfinite: int
    agreement: float | None               # top-1 agreement, outputs of more than one unit
    relative_rms_difference: float | None  # RMS(candidate - reference) / RMS(reference)
    max_abs_difference: float | None


@dataclasses.dataclass(frozen=True)
class ScoredOutput:
    """Another output of the model, scored with its own label (EvaluationConfig.outputs), whole split."""

    examples: int
    label_format: str | None
    slices: dict[str, SliceSummary]
    confusion: dict[str, tuple[tuple[int, ...], ...]]


@dataclasses.dataclass(frozen=True)
class BinaryCurves:
    """A binary output's curves on the whole split (core/binary_scoring.curves)."""

    roc: tuple[tuple[float, float], ...]              # (false positive rate, true positive rate)
    pr: tuple[tuple[float, float], ...]               # (recall, precision)
    calibration: tuple[tuple[float, float, float], ...]   # (mean prediction, mean label, weight) per bin


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    size_bytes: int | None
    path: str
    ops: OpCounts | None
    sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    p50_us: float
    p95_us: float
    mean_us: float
    min_us: float
    runs: int
    warmup: int
    num_threads: int
    kernel: str


@dataclasses.dataclass(frozen=True)
class Host:
    """Where latency was measured (core/latency.host)."""

    cpu: str
    machine: str
    cores: int | None
    litert: str
    system: str
    note: str


@dataclasses.dataclass(frozen=True)
class CheckRecord:
    """One gate check (core/gate.Check)."""

    name: str
    value: Scalar
    limit: Scalar
    passed: bool
    detail: str
    slice: str = ""                                   # the slice's display key ("" the whole split)
    reference: str | None = None
    columns: tuple[tuple[str, str], ...] = ()         # the slice, typed (SliceSummary.columns)


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What the gate verified it evaluated: the export report (sha256) and both models' bytes."""

    export_report_sha256: str
    plan_sha256: str
    quantized_sha256: str
    float_sha256: str


@dataclasses.dataclass(frozen=True)
class RunIdentity:
    """Which run and files an evaluation is of, so a report can be tied to them."""

    tfx_edge_version: str
    evaluated_at: str               # UTC, ISO 8601, to the second
    pipeline_run_id: str | None     # the orchestrator's run id (None when run outside a pipeline)
    model_uri: str
    float_model_uri: str
    examples_uri: str


@dataclasses.dataclass(frozen=True)
class LayerError:
    """One tensor of the export's layer report (QuantizationDebugger), by its int8 error."""

    tensor: str
    op: str
    trimmed_nsr: float | None       # noise-to-signal ratio of the int8 tensor, outliers trimmed


@dataclasses.dataclass(frozen=True)
class TargetOp:
    """An op a deployment target cannot run, and why."""

    op: str
    reason: str


@dataclasses.dataclass(frozen=True)
class TargetReport:
    """One deployment target's check of the quantized model (core/targets.py).

    runs: the target accepts the model (gpu: every op in the delegate's table; microcontroller: TFLite
    Micro allocated and ran it, its outputs equal to LiteRT's reference kernels'); refused: the ops it
    cannot run. For the microcontroller: the smallest tensor arena TFLite Micro allocated the model
    in, the sample examples run, the largest output difference from LiteRT's reference kernels and
    its tolerance (output units), and from the XNNPACK outputs the gate's figures come from.
    """

    target: str
    runs: bool
    detail: str
    checked_by: str                                   # the tool and version (or table source) that decided
    refused: tuple[TargetOp, ...] = ()
    arena_bytes: int | None = None
    examples: int | None = None
    max_abs_diff: float | None = None
    tolerance: float | None = None
    agree: bool | None = None                         # outputs within the tolerance on every sample example
    scored_max_abs_diff: float | None = None          # vs the outputs the gate scored (LiteRT, XNNPACK)


@dataclasses.dataclass(frozen=True)
class EvaluationResult(Record):
    """metrics.json: every figure the EdgeEvaluator measured, every check, and its decision."""

    KIND: ClassVar[str] = "tfx_edge.EdgeEvaluation"
    VERSION: ClassVar[int] = 8

    blessed: bool
    task: str
    mode: str
    primary_metric: str
    examples: int
    num_classes: int | None
    label_format: str | None
    batch_size: int | None                  # the scoring batch used (EvaluationConfig.batch_size or chosen)
    output_name: str | None
    input_mapping: dict[str, str]
    references: tuple[str, ...]
    models: dict[str, ModelFacts]
    slices: dict[str, SliceSummary]
    confusion: dict[str, tuple[tuple[int, ...], ...]]
    other_outputs: dict[str, dict[str, OutputComparison]]   # output -> reference -> comparison
    curves: dict[str, BinaryCurves]                        # model -> curves (a binary output only)
    scored_outputs: dict[str, ScoredOutput]                # output -> its scores (EvaluationConfig.outputs)
    latency: dict[str, dict[str, LatencyStats]]
    latency_host: Host | None
    checks: tuple[CheckRecord, ...]
    config: EvaluationConfig
    provenance: Provenance
    auto: AutoSearch | None = None
    parity: ParityRecord | None = None
    derivation: Derivation | None = None
    identity: RunIdentity | None = None
    worst_layers: tuple[LayerError, ...] = ()   # the layer report's worst tensors (int8 modes)
    targets: tuple[TargetReport, ...] = ()      # EvaluationConfig.targets beyond 'cpu', in config order

    @property
    def overall(self) -> SliceSummary | None:
        return self.slices.get(names.OVERALL)

    @property
    def failed(self) -> tuple[CheckRecord, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def primary(self) -> dict[str, float | None]:
        """The primary metric of the candidate and the float32 TFLite, and its absolute drop."""
        name, overall = self.primary_metric, self.overall
        drop = overall.drop(names.FLOAT_TFLITE, name) if overall else None
        return {f"{name}_quantized": overall.metric(names.QUANTIZED, name) if overall else None,
                f"{name}_float_tflite": overall.metric(names.FLOAT_TFLITE, name) if overall else None,
                f"{name}_drop": drop.absolute if drop else None}


# ---- app_contract.json ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AppTensor:
    """One input or output as the app sees it: real = scale * (q - zero_point) when scale is not 0."""

    name: str
    dtype: str
    shape: tuple[int, ...]          # -1 for the batch (and any dynamic) dimension
    meaning: str
    scale: float = 0.0
    zero_point: int = 0
    missing: str | None = None      # what the app feeds for a missing value (single-valued VarLen inputs)


@dataclasses.dataclass(frozen=True)
class AppContract(Record):
    """app_contract.json, beside the model in Format-Serving (pushed with it): what the app feeds,
    what it gets back, which file and bytes, and where the gate's figures are."""

    KIND: ClassVar[str] = "tfx_edge.AppContract"
    VERSION: ClassVar[int] = 1

    model_file: str
    model_sha256: str
    signature_key: str
    placement: Placement
    preprocessing: str
    inputs: tuple[AppTensor, ...]
    outputs: tuple[AppTensor, ...]
    labels_file: str | None
    label_output: str | None
    provenance: dict[str, str]
    gate: str


RECORDS: tuple[type[Record], ...] = (QuantizationPlanRecord, ExportReport, EvaluationResult, AppContract)
