"""What an app needs beside the exported model: LiteRT metadata inside it, `labels.txt`, `app_contract.json`.

The TFLiteExporter writes all three into the Model artifact's Format-Serving directory, which the
stock Pusher copies as it is, so they reach the serving directory with the .tflite they describe:

* the .tflite carries a TFLITE_METADATA entry (components/core/tflite_metadata.py): per input what the
  app feeds (the raw feature, or Transform's output; the missing-value convention of a single-valued
  VarLen feature), per output what it means, the class names as an associated labels file, and a
  provenance line (tfx-edge version, mode, placement, the Trainer model's and the plan's sha256);
* `labels.txt`: the class names, one per line (export.label_names);
* `app_contract.json` (records.AppContract): the same facts for code that does not read metadata, with
  each tensor's dtype, shape and quantization and the sha256 of the .tflite it belongs to. The gate's
  figures are not in it: the Pusher pushes only what the EdgeEvaluator blessed, and that evaluation
  records the same sha256 (EdgeEvaluation provenance.quantized_sha256).
"""

from __future__ import annotations

from tfx_edge.components.core import litert, single_valued, tflite_metadata
from tfx_edge.components.core.input_mapping import STRING_DTYPES, TensorSpec
from tfx_edge.schemas import names, records
from tfx_edge.schemas.export import ExportConfig
from tfx_edge.schemas.quantization import Placement

GATE = ("the Pusher pushes this model only when the EdgeEvaluator blessed it; that EdgeEvaluation's "
        "provenance.quantized_sha256 is model_sha256, and its metrics.json holds the gate's figures")


def package(model: bytes, model_file: str, plan: records.QuantizationPlanRecord, plan_sha256: str,
            export: ExportConfig, version: str) -> tuple[bytes, dict[str, bytes], records.AppContract]:
    """(the model with its LiteRT metadata, {file name: bytes} to write beside it, the app contract of
    those bytes). Raises before anything is written when export does not fit the model."""
    key = plan.config.signature_key
    inputs, outputs = litert.signature_specs(litert.load(model), key)
    labelled = _labelled_output(outputs, export)
    info = tflite_metadata.ModelInfo(
        name=f"tfx-edge {plan.config.mode.value} model", version=version,
        description=export.description or f"{plan.config.mode.value} TFLite model exported by tfx-edge",
        author=export.author, license=export.license,
        inputs=tuple(_tensor(t, _input_meaning(t, plan.derivation)) for t in inputs),
        outputs=tuple(_tensor(t, f"model output {t.name!r}", names.LABELS_FILE if t.name == labelled else None)
                      for t in outputs),
        labels=export.label_names or None,
        provenance=provenance(plan, plan_sha256, version))
    described = tflite_metadata.populate(model, info)   # signatures and tensors unchanged
    files = {names.LABELS_FILE: tflite_metadata.labels_bytes(export.label_names)} if export.label_names else {}
    contract = records.AppContract(
        model_file=model_file, model_sha256=records.sha256(described), signature_key=key,
        placement=plan.derivation.placement, preprocessing=_preprocessing(plan.derivation),
        inputs=tuple(_app_tensor(t, _input_meaning(t, plan.derivation), _missing(t, plan.derivation))
                     for t in inputs),
        outputs=tuple(_app_tensor(t, f"model output {t.name!r}", None) for t in outputs),
        labels_file=names.LABELS_FILE if export.label_names else None, label_output=labelled,
        provenance=provenance(plan, plan_sha256, version), gate=GATE)
    return described, files, contract


def provenance(plan: records.QuantizationPlanRecord, plan_sha256: str, version: str) -> dict[str, str]:
    return {"tfx_edge_version": version, "mode": plan.config.mode.value,
            "placement": plan.derivation.placement.value, "source_sha256": plan.source_sha256,
            "plan_sha256": plan_sha256}


def _labelled_output(outputs: list[TensorSpec], export: ExportConfig) -> str | None:
    """The output the class names label, checked against its last axis."""
    if not export.label_names:
        return None
    names = [o.name for o in outputs]
    if export.label_output is None and len(outputs) != 1:
        raise ValueError(f"export.label_names: the model has outputs {names}; set export.label_output to the one "
                         f"the names label")
    name = export.label_output or names[0]
    if name not in names:
        raise ValueError(f"export.label_output={name!r} is not an output of the model; its outputs are {names}")
    width = next(o for o in outputs if o.name == name).shape[-1]
    if width > 0 and width != len(export.label_names):
        raise ValueError(f"export.label_names has {len(export.label_names)} names but output {name!r} has {width} "
                         f"values per example; give one name per class, in the output's order")
    return name


def _input_meaning(t: TensorSpec, derivation: records.Derivation) -> str:
    if derivation.placement == Placement.TRANSFORMED:
        return f"Transform output {t.name!r}: apply the pipeline's Transform (its transform_graph) and feed this"
    meaning = f"raw feature {t.name!r}, as the pipeline's examples hold it"
    missing = _missing(t, derivation)
    return meaning + (f"; at most one value per example, a missing value fed as {missing}" if missing else "")


def _missing(t: TensorSpec, derivation: records.Derivation) -> str | None:
    return single_valued.describe(t.dtype) if t.name in derivation.single_valued else None


def _preprocessing(derivation: records.Derivation) -> str:
    if derivation.placement == Placement.TRANSFORMED:
        return ("apply the pipeline's Transform (Transform's transform_graph artifact: vocabularies and "
                "statistics included) to each raw example and feed its outputs by name")
    return "none: the preprocessing is inside the model; feed each raw feature by name"


def _dtype(t: TensorSpec) -> str:
    """The tensor's dtype as LiteRT's schema names it ('string', where numpy says 'bytes')."""
    return "string" if t.dtype in STRING_DTYPES else t.dtype


def _tensor(t: TensorSpec, meaning: str, labels_file: str | None = None) -> tflite_metadata.TensorInfo:
    return tflite_metadata.TensorInfo(t.name, meaning, _dtype(t), tuple(t.shape), labels_file=labels_file)


def _app_tensor(t: TensorSpec, meaning: str, missing: str | None) -> records.AppTensor:
    return records.AppTensor(name=t.name, dtype=_dtype(t), shape=tuple(t.shape), meaning=meaning,
                             scale=t.scale, zero_point=t.zero_point, missing=missing)
