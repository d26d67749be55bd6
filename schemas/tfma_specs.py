"""The EvalConfig's model_specs, slicing_specs and options, read into the converter's state (`_Specs`,
which tfma_gates._Converter extends with the metrics_specs). Pure: no TensorFlow, no TFMA import.
"""

from __future__ import annotations

from typing import Any

from tfx_edge.schemas.tfma_metrics import _Metric
from tfx_edge.schemas.tfma_proto import _refuse
from tfx_edge.schemas.tfma_thresholds import _Gate, _native, _slice, _Target


class _Specs:
    """The converter's state: the EvaluationConfig fields the EvalConfig sets, and where each came from."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}          # EvaluationConfig fields the EvalConfig sets
        self.origins: dict[str, str] = {}         # EvaluationConfig field path -> TFMA field path
        self.candidate_name = ""
        self.slices: list[_Target] = []             # slicing_specs' slices (overall aside)
        self.min_examples = 1
        self.metrics: list[_Metric] = []
        # slice -> metric -> limits; None: the whole split, else the slice's (features, values or None)
        self.gates: dict[_Target | None, dict[str, _Gate]] = {}
        self.explicit_kind = False               # output_kind from the cross-entropies' from_logits
        self.confidence_intervals = ""          # options.compute_confidence_intervals' path when true

    def set(self, field: str, value: Any, origin: str) -> None:
        if field in self.fields and self.fields[field] != value:
            _refuse(origin, value, f"it disagrees with {self.origins[field]}={self.fields[field]!r}; tfx-edge "
                    f"evaluates one model output: make them equal")
        self.fields[field] = value
        self.origins.setdefault(field, origin)

    # model_specs
    def model_specs(self, specs: list[dict[str, Any]]) -> None:
        baselines = [i for i, s in enumerate(specs) if s.get("is_baseline")]
        candidates = [i for i, s in enumerate(specs) if not s.get("is_baseline")]
        if len(baselines) > 1:
            _refuse("model_specs", [specs[i].get("name", "") for i in baselines], "at most one baseline spec: the "
                    "EdgeEvaluator's baseline is the float32 TFLite reference exported with the quantized model")
        if specs and len(candidates) != 1:
            _refuse("model_specs", [s.get("name", "") for s in specs], "give exactly one candidate ModelSpec (without "
                    "is_baseline): the EdgeEvaluator gates one model, the quantized TFLite")
        if not candidates:
            return
        i = candidates[0]
        spec, path = specs[i], f"model_specs[{i}]"
        self.candidate_name = spec.get("name", "")
        for key, value in spec.items():
            where = f"{path}.{key}"
            if key == "label_key":
                self.set("label_feature", value, where)
            elif key == "prediction_key":
                self.set("output_name", value, where)
            elif key == "example_weight_key":
                self.set("example_weight_key", value, where)
            elif key == "inference_batch_size":
                if value < 1:
                    _refuse(where, value, "use a batch size >= 1")
                self.set("batch_size", value, where)
            elif key == "signature_name" and value != "serving_default":
                _refuse(where, value, "the EdgeEvaluator evaluates the TFLite model, converted from the signature "
                        "QuantizationConfig.signature_key names (default 'serving_default'); set signature_key="
                        f"{value!r} on the Quantizer and remove signature_name here")
            elif key == "model_type" and value != "tf_lite":
                _refuse(where, value, "the EdgeEvaluator evaluates the TFLite models (TFMA's 'tf_lite'), not the "
                        "Trainer's model; remove model_type")
            elif key == "preprocessing_function_names":
                _refuse(where, value, "the EdgeEvaluator runs no preprocessing function: wire Transform's "
                        "transformed_examples as the EdgeEvaluator's examples instead (QuantizationConfig."
                        "placement='transformed', label_key the transformed label), or keep the Transform in the "
                        ".tflite (placement='embedded') with a raw-feature label_key; then remove this field")
            elif key in ("label_keys", "prediction_keys", "example_weight_keys"):
                _refuse(where, value, f"multi-output models are not supported yet; for one output use "
                        f"{key[:-1]} (a single key)")
            elif key == "padding_options":
                _refuse(where, value, "padded (ragged) labels and predictions are not supported: tfx-edge reads "
                        "one label per example; remove padding_options")
            # name: matched against metrics_specs[].model_names; is_baseline: False here

    # slicing_specs
    def slicing_specs(self, specs: list[dict[str, Any]]) -> None:
        overall = not specs
        for i, spec in enumerate(specs):
            target = _slice(spec, f"slicing_specs[{i}]")
            if target is None:
                overall = True
            else:
                feature = _native(target)[0]
                if feature not in self.fields.setdefault("slice_features", []):
                    self.fields["slice_features"].append(feature)
                    self.origins.setdefault("slice_features", f"slicing_specs[{i}]")
                if target not in self.slices:
                    self.slices.append(target)
        if not overall:
            _refuse("slicing_specs", specs, "add an empty SlicingSpec() (the overall slice): tfx-edge always gates "
                    "the whole split, and TFMA computes (and gates) the overall slice only when slicing_specs "
                    "lists it")

    def computed(self, target: _Target) -> bool:
        """Whether a slicing_specs slice covers target's: the same features, every value it fixes fixed alike."""
        features, values = target
        return any(f == features and all(s is None or s == v for s, v in zip(fixed, values))
                   for f, fixed in self.slices)

    # options
    def options(self, options: dict[str, Any]) -> None:
        for key, value in options.items():
            where = f"options.{key}"
            if key == "compute_confidence_intervals" and value:
                self.confidence_intervals = where       # checked against the metrics (tfma_gates.derive)
            elif key == "confidence_intervals" and value.get("method"):
                _refuse(f"{where}.method", value["method"], "tfx-edge's intervals are analytic, from the paired "
                        "per-example differences of the two models (normal, Agresti-Min or delta method), and need "
                        "no resampling; remove confidence_intervals.method")
            elif key == "min_slice_size":
                if value < 0:
                    _refuse(where, value, "use 1 or more")
                self.min_examples = max(1, value)
            elif key == "disabled_outputs" and value:
                _refuse(where, value, "tfx-edge always writes its outputs (metrics.json, report.txt, report.html, "
                        "the blessing); remove disabled_outputs")
            # include_default_metrics: tfx-edge computes its own metric set, never the model's compiled
            # metrics (the MetricsSpec.thresholds that could name those are refused in tfma_gates.py).
