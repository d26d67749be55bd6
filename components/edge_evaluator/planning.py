"""Everything the EdgeEvaluator resolves before any Beam work, so errors come early.

Loads both TFLite models (an unreadable file is an error naming it), reads the
first batch of the split, resolves the input mapping, the output, the number
of classes and the slice features, and builds the scoring Job.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from tfx_edge.components.core import binary_scoring, examples, input_mapping, litert, metrics, scoring, single_valued
from tfx_edge.components.edge_evaluator import beam_job
from tfx_edge.schemas import metric_table
from tfx_edge.schemas.evaluation import EvaluationConfig, Task
from tfx_edge.schemas import names


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    name: str
    path: str
    data: bytes
    inputs: list[input_mapping.TensorSpec]
    outputs: list[input_mapping.TensorSpec]


def load_tflite(name: str, path: str, data: bytes, key: str, fix: str) -> LoadedModel:
    try:
        interp = litert.load(data)
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"{name}: {path} ({len(data)} bytes) is not a loadable TFLite model: {e}. "
                         f"{fix}") from e
    inputs, outputs = litert.signature_specs(interp, key)
    return LoadedModel(name, path, data, inputs, outputs)


@dataclasses.dataclass(frozen=True)
class Plan:
    job: beam_job.Job | None          # None when the split holds no examples
    first: dict[str, Any] | None      # the first decoded batch (latency feeds)
    num_classes: int | None


# batch_size=None: the largest power of two in [MIN, MAX] whose batch takes about BUDGET bytes
# (records plus both models' inputs and outputs). Larger batches amortize the per-batch cost of the
# statistics (bench/evaluator_bench: 1.12-1.14x the examples/s of batch 256 on the digits pair).
AUTO_BATCH_MIN, AUTO_BATCH_MAX, AUTO_BATCH_BUDGET = 16, 1024, 8 << 20
FIRST_BATCH = 256   # records read to resolve the inputs, label and shapes


def auto_batch_size(record_bytes: float, models: tuple[LoadedModel, ...]) -> int:
    """The scoring batch for examples of `record_bytes` (mean serialized size) through `models`."""
    per_example = record_bytes + sum(_tensor_bytes(t) for m in models for t in (*m.inputs, *m.outputs))
    batch = AUTO_BATCH_MAX
    while batch > AUTO_BATCH_MIN and batch * per_example > AUTO_BATCH_BUDGET:
        batch //= 2
    return batch


def _tensor_bytes(spec: input_mapping.TensorSpec) -> int:
    elements = 1
    for dim in spec.shape[1:]:
        elements *= max(dim, 1)
    return elements * max(np.dtype(spec.dtype).itemsize, 8)   # strings: at least a pointer each


def plan(config: EvaluationConfig, quant: LoadedModel, ref: LoadedModel, files: list[str],
         key: str, explicit_mapping: dict | None, saved_model_dir: str | None,
         contract: Mapping[str, str] | None = None) -> Plan:
    """contract: {feature: dtype} of single-valued VarLen inputs fed dense (core/single_valued.py)."""
    if [t.name for t in quant.inputs] != [t.name for t in ref.inputs]:
        raise ValueError(f"quantized and float models take different inputs: "
                         f"{[t.name for t in quant.inputs]} vs {[t.name for t in ref.inputs]}")
    output = output_name(config.output_name, quant.outputs)
    records = _first_batch(files, config.batch_size or FIRST_BATCH)
    if not records:
        return Plan(None, None, None)
    contract = dict(contract or {})
    first = single_valued.fill(examples.Decoder().decode(records), contract, len(records))
    mapping = input_mapping.resolve(quant.inputs, list(first), explicit_mapping or {})
    _check_label(config, first)
    classes = _classes(config, quant, ref, output)
    scored = _scored_outputs(config, quant, first)
    others = (tuple(o.name for o in quant.outputs if o.name != output and o.name not in config.outputs)
              if config.guards.other_outputs else ())
    spec = scoring.ScoreSpec(
        metrics.Spec(config.task.value, classes,
                     config.output_kind.value if config.output_kind else None, tuple(config.top_k)),
        config.label_feature, output, tuple(config.slice_features),
        references=tuple(config.references), other_outputs=others, binary=_binary(config, classes, output),
        weight_feature=config.example_weight_key, scored_outputs=scored,
        one_vs_rest=_one_vs_rest(config, classes, output))
    models = {names.QUANTIZED: (beam_job.TFLITE, quant.path), names.FLOAT_TFLITE: (beam_job.TFLITE, ref.path)}
    if saved_model_dir is not None:
        models[names.SAVED_MODEL] = (beam_job.SAVED_MODEL, saved_model_dir)
    batch = config.batch_size or auto_batch_size(sum(map(len, records)) / len(records), (quant, ref))
    job = beam_job.Job(models, key, mapping, spec, batch, config.num_threads,
                       config.shards_per_file, contract)
    return Plan(job, first, classes)


def _scored_outputs(config: EvaluationConfig, quant: LoadedModel, first: dict) -> tuple[scoring.ScoreSpec, ...]:
    """A ScoreSpec per extra output of EvaluationConfig.outputs (whole split, its own label)."""
    shapes = {o.name: o.shape for o in quant.outputs}
    specs = []
    for name, out in sorted(config.outputs.items()):
        if name not in shapes:
            raise ValueError(f"outputs[{name!r}]: the model has no output {name!r}; its outputs are {sorted(shapes)}")
        if out.label_feature not in first:
            raise examples.ExamplesError(f"outputs[{name!r}].label_feature={out.label_feature!r} is missing from the "
                                         f"examples of split {config.split!r} (features there: {sorted(first)})")
        classification = out.task == Task.CLASSIFICATION
        spec = metrics.Spec(out.task.value, metrics.num_classes(shapes[name]) if classification else None,
                            out.output_kind.value if out.output_kind else None, tuple(out.top_k))
        specs.append(scoring.ScoreSpec(spec, out.label_feature, name, references=tuple(config.references)))
    return tuple(specs)


def _first_batch(files: list[str], batch_size: int) -> list[bytes]:
    """The first records of the split: empty shards are skipped, so emptiness is the total count."""
    for path in files:
        records = next(examples.read_batches(path, 0, 1, batch_size), [])
        if records:
            return records
    return []


def _check_label(config: EvaluationConfig, first: dict) -> None:
    """Every example needs the label, so its absence from any batch is an error wherever it is.
    Slice features may be absent from some examples (their `<missing>` slice); one that no
    example has is refused after scoring."""
    if config.label_feature not in first:
        raise examples.ExamplesError(
            f"label_feature={config.label_feature!r} is missing from examples of split {config.split!r} "
            f"(features there: {sorted(first)}); set EvaluationConfig.label_feature")


def _classes(config: EvaluationConfig, quant: LoadedModel, ref: LoadedModel, output: str) -> int | None:
    """The classes of the output; the reference must have the same, and top_k must fit."""
    if config.task != Task.CLASSIFICATION:
        return None
    shapes = {m.name: next((o.shape for o in m.outputs if o.name == output), ()) for m in (quant, ref)}
    if not shapes[ref.name] or metrics.num_classes(shapes[ref.name]) != metrics.num_classes(shapes[quant.name]):
        ref_shape = list(shapes[ref.name]) if shapes[ref.name] else None
        raise ValueError(f"output {output!r}: the quantized model has shape {list(shapes[quant.name])} but the "
                         f"float reference {ref.path} has {ref_shape}; connect the float_model written "
                         f"by the same TFLiteExporter run as the model")
    classes = metrics.num_classes(shapes[quant.name])
    too_big = [k for k in config.top_k if k >= classes]
    if too_big:
        raise ValueError(f"top_k={list(config.top_k)}: k={too_big} is not below the model's {classes} classes, "
                         f"so top-k accuracy would always be 1; use k < {classes}")
    return classes


def _binary(config: EvaluationConfig, classes: int | None, output: str) -> binary_scoring.BinarySpec | None:
    """TFMA's binary metrics for a binary output whose kind is known; asking for them (a threshold
    on one, binary_thresholds or example_weight_key) on another output is an error."""
    if classes == 2 and config.output_kind is not None:
        return binary_scoring.BinarySpec(tuple(config.binary_thresholds), config.example_weight_key is not None)
    asked = sorted(name for name in _thresholded(config) if getattr(metric_table.get(name), "binary", False))
    weighted = config.example_weight_key and config.binarize is None    # binarized metrics are weighted too
    if asked or config.binary_thresholds or weighted:
        what = asked or ["binary_thresholds" if config.binary_thresholds else "example_weight_key"]
        raise ValueError(f"{what} need a binary output (two classes) and output_kind; output {output!r} has "
                         f"{classes} classes (one-vs-rest binarization is not supported yet): gate it on "
                         f"accuracy / per-class precision and recall, or choose a binary output_name")
    return None


def _one_vs_rest(config: EvaluationConfig, classes: int | None, output: str) -> binary_scoring.OneVsRest | None:
    """The one-vs-rest binarization of a multi-class output (EvaluationConfig.binarize), its class ids checked
    against the output's classes."""
    b = config.binarize
    if b is None:
        return None
    if classes is None or classes < 3:
        raise ValueError(f"binarize={b}: output {output!r} has {classes} classes; one-vs-rest binarization is of a "
                         f"multi-class output (a binary output has the binary metrics already: gate auc, precision, "
                         f"...); remove binarize")
    for field, ids in (("class_ids", b.class_ids), ("class_weights", tuple(c for c, _ in b.class_weights))):
        outside = [c for c in ids if c >= classes]
        if outside:
            raise ValueError(f"binarize.{field}: class ids {outside} are outside output {output!r}'s {classes} "
                             f"classes; use ids in 0..{classes - 1}")
    return binary_scoring.OneVsRest(b.class_ids, tuple(a.value for a in b.aggregate), b.class_weights,
                                    config.example_weight_key is not None)


def _thresholded(config: EvaluationConfig) -> set[str]:
    return set(config.thresholds.metrics) | {n for st in config.thresholds.slices for n in st.metrics}


def output_name(wanted: str | None, outputs) -> str:
    names = [o.name for o in outputs]
    if wanted is None:
        if len(names) != 1:
            raise ValueError(f"the model has outputs {names}; set EvaluationConfig.output_name to one")
        return names[0]
    if wanted not in names:
        raise ValueError(f"output_name={wanted!r} is not a model output; outputs are {names}")
    return wanted
