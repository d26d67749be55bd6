"""A TFMA EvalConfig as the EdgeEvaluator's config: `from_tfma(eval_config, **overrides)`.

The stock Evaluator's `tfma.EvalConfig` (the proto message, or its JSON/dict form as
`google.protobuf.json_format.MessageToDict` gives it, camelCase or snake_case keys) becomes an
`EvaluationConfig`; the EdgeEvaluator then gates the quantized TFLite model on it, with the
float32 TFLite reference as TFMA's baseline. One engine underneath: the result is a plain
EvaluationConfig, validated as every other one. Pure: no TensorFlow, no TFMA import
(google.protobuf.json_format only, lazily, to turn a message into a dict).

Everything of TFMA's that tfx-edge cannot do the same way is refused by name when the config is
built (a ConfigError naming the TFMA field path, the value and the fix), never ignored:

  TFMA field                              tfx-edge
  model_specs (one candidate)             label_key -> label_feature, prediction_key -> output_name,
                                          example_weight_key -> example_weight_key,
                                          inference_batch_size -> batch_size, name (matched against
                                          metrics_specs[].model_names); signature_name only
                                          'serving_default', model_type only 'tf_lite'.
  model_specs (is_baseline)               ignored: the EdgeEvaluator's baseline is the float32 TFLite
                                          reference exported with the quantized model (at most one).
  preprocessing_function_names,           refused (wire Transform's transformed_examples as the
  label_keys / prediction_keys /          EdgeEvaluator's examples instead; multi-output models are
  example_weight_keys, padding_options    not supported yet; ragged labels are not supported).
  metrics_specs[].metrics[]               class_name -> metric name (tfma_metrics._CLASSES), config
                                          JSON checked key by key; a metric without a threshold is
                                          computed and reported anyway (tfx-edge computes its whole
                                          metric set); thresholded ones become Thresholds entries.
  metrics_specs[].output_names (one)      output_name (must agree with prediction_key).
  metrics_specs[].thresholds /            refused: TFMA 0.52 matches them only to the model's in-graph
  per_slice_thresholds (maps)             metrics (never to a MetricConfig's: 'Metric not found');
                                          set MetricConfig.threshold / per_slice_thresholds instead.
  metrics_specs[].example_weights         accepted where the weighting is what tfx-edge computes.
  binarize, aggregate, query_key,         refused (not supported yet); cross_slicing_specs and
  output_weights, cross_slice_thresholds, cross_slice_thresholds compare one slice with another (TFMA's
  cross_slicing_specs                     cross-slice comparison), which tfx-edge does not do.
  value_threshold {lower_bound,           lower_bound / upper_bound (same inclusive comparisons).
  upper_bound}
  change_threshold {direction, absolute,  max_absolute_drop / max_relative_drop against the float32
  relative}                               reference (conversion in tfma_thresholds `_change_limits`).
  slicing_specs                           {} is the overall slice (required when slicing_specs is
                                          set: tfx-edge always gates the whole split);
                                          feature_keys [f] and feature_values {f: v} -> slice_features
                                          "f"; several features (feature_keys [a, b], feature_values
                                          {a: x, b: y}, or both mixed) are a crossed slice -> the cross
                                          ("a", "b") in slice_features, its features sorted by name as
                                          TFMA's slice keys are; slice_keys_sql refused.
  MetricConfig.threshold                  TFMA applies it to every slice it computes, so it gates
                                          the overall slice and each slicing_specs slice, crossed ones
                                          too (SliceThreshold value None for feature_keys, the value for
                                          feature_values; a cross's value one entry per feature, None
                                          for its feature_keys).
  per_slice_thresholds                    SliceThreshold(feature, value, metrics), on a single or a
                                          crossed slice; the slice must be one slicing_specs computes
                                          (else TFMA fails it as missing).
  options.min_slice_size                  SliceThreshold.min_examples of every slice threshold.
  options.compute_confidence_intervals    accepted when every configured metric has an interval (the
                                          drops of means and of ratios such as precision; not AUC,
                                          calibration or the counts: then refused, naming them). Both
                                          TFMA and tfx-edge gate the point values; the intervals are of
                                          the drops, in metrics.json, the report and TFMA's _diff
                                          metrics. confidence_intervals.method refused (the intervals
                                          are analytic, not resampled).
  options.include_default_metrics         accepted either way: tfx-edge computes its own metric set
                                          and never reads the model's compiled metrics.
  options.disabled_outputs                refused (tfx-edge always writes its evaluation outputs).

output_kind: TFMA's binary metrics (AUC, Precision, Calibration, ...) and the cross-entropies read
the prediction as a probability, so output_kind is 'probabilities' whenever a configured metric
needs an output kind (metric_table `needs_output_kind`); 'logits' when the cross-entropy metrics
say from_logits=true. Pass output_kind=... to say otherwise.

The other EvaluationConfig fields (split, latency, guards, input_mapping, ...) keep their defaults;
`from_tfma(eval_config, split='eval', output_kind='logits', budgets=Budgets(...))` sets them
(`budgets` is Thresholds.budgets). A keyword that disagrees with what the EvalConfig says is refused.

Known differences that remain (tfx-edge is stricter or reports instead of failing):
  * slices: examples without the slice feature form a "<feature>=<missing>" slice (in a cross, the
    feature's "<missing>" value), which value-None slice thresholds gate too (TFMA has no such slice).
  * min_slice_size: a slice smaller than it is reported and not gated (SliceThreshold value None);
    TFMA's validator fails such a slice ("Metric not found"). A slice named by value must have
    min_slice_size examples in both.
  * a relative change threshold against a reference whose value is exactly 0: TFMA fails it (its
    ratio is NaN); tfx-edge's relative drop is then 0 when the model is no worse, else infinite.

The conversion's parts: tfma_proto (config.proto's field schema, the dict form normalized),
tfma_metrics (class names and MetricConfig.config), tfma_thresholds (value / change thresholds,
slices), tfma_specs (model_specs, slicing_specs, options) and tfma_gates (metrics_specs, the gates).
"""

from __future__ import annotations

import typing
from typing import Any

from tfx_edge.schemas import _strict
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.schemas.evaluation import Budgets, EvaluationConfig
from tfx_edge.schemas.tfma_gates import CROSS_SLICE, _Converter
from tfx_edge.schemas.tfma_proto import (EVAL_CONFIG, METRIC_THRESHOLD, _as_dict, _normalize, _refuse,
                                         is_eval_config_dict, is_message)
from tfx_edge.schemas.tfma_thresholds import metric_threshold, native_thresholds

# Re-exported (`X as X`): the field schema and the class table, which tests/test_tfma_config.py reads here.
from tfx_edge.schemas.tfma_metrics import _CLASSES as _CLASSES
from tfx_edge.schemas.tfma_proto import _ENUMS as _ENUMS, EVAL_CONFIG_KEYS as EVAL_CONFIG_KEYS, MESSAGES as MESSAGES


# EvaluationConfig fields from_tfma sets from the EvalConfig: a keyword may repeat them, not contradict
# them; the tuples may be extended (more slices, k or thresholds reported; the gates stay the EvalConfig's).
_DERIVED = ("task", "label_feature", "output_name", "example_weight_key", "batch_size")
_EXTENSIBLE = ("top_k", "slice_features", "binary_thresholds")


def from_tfma(eval_config: Any, **overrides: Any) -> EvaluationConfig:
    """The EdgeEvaluator's EvaluationConfig from a tfma.EvalConfig (see the module docstring for the
    mapping): a `tensorflow_model_analysis.proto.config_pb2.EvalConfig`, its MessageToDict form
    (camelCase, or snake_case with preserving_proto_field_name=True) or its JSON text.

    The baseline is the float32 TFLite reference exported with the quantized model: a model spec with
    is_baseline is ignored, and change thresholds apply against that reference. Metrics without a
    threshold are computed and reported anyway (tfx-edge computes its whole metric set); the
    thresholded ones gate. output_kind is 'probabilities' (TFMA reads predictions as probabilities)
    when a configured metric needs one, 'logits' when the cross-entropies say from_logits.

    overrides: EvaluationConfig fields (split='eval', output_kind='logits', latency=..., ...) and
    `budgets` (Thresholds.budgets). `thresholds` comes from the EvalConfig; a field the EvalConfig
    sets (label_feature, output_name, ...) may only be repeated with the same value.
    """
    data = _normalize(_as_dict(eval_config, "EvalConfig"), "EvalConfig", "")
    convert = _Converter()
    convert.model_specs(data.get("model_specs", []))
    convert.slicing_specs(data.get("slicing_specs", []))
    if "cross_slicing_specs" in data:
        _refuse("cross_slicing_specs", data["cross_slicing_specs"], CROSS_SLICE)
    convert.options(data.get("options", {}))
    convert.metrics_specs(data.get("metrics_specs", []))
    convert.derive()
    return _build(convert, overrides)


def _build(convert: _Converter, overrides: dict[str, Any]) -> EvaluationConfig:
    hints = typing.get_type_hints(EvaluationConfig)
    budgets = _strict._coerce(Budgets, overrides.pop("budgets", Budgets()), "budgets")
    kwargs = dict(convert.fields)
    for name, value in overrides.items():
        if name == "thresholds":
            _refuse(name, value, "the thresholds come from the EvalConfig's metrics_specs; pass budgets=Budgets(...) "
                    "for size and latency budgets")
        if name not in hints:
            _refuse(name, value, "not an EvaluationConfig field; use one of " + ", ".join(sorted(hints)) + ", budgets")
        value = _strict._coerce(hints[name], value, name)
        if name in kwargs and (name in _DERIVED or name == "output_kind" and convert.explicit_kind):
            if _plain(value) != _plain(kwargs[name]):
                _refuse(name, _plain(value), f"the EvalConfig sets it to {_plain(kwargs[name])!r} "
                        f"({convert.origins[name]}); change it there or drop this argument")
        if name in _EXTENSIBLE and name in kwargs and not set(kwargs[name]) <= set(value):
            _refuse(name, value, f"the EvalConfig sets {tuple(kwargs[name])!r} ({convert.origins[name]}); keep "
                    f"those values (more may be added)")
        kwargs[name] = value
    try:
        return EvaluationConfig(thresholds=convert.thresholds(budgets), **kwargs)
    except ConfigError as error:
        field = str(error).split("=", 1)[0]
        origin = next((o for p, o in sorted(convert.origins.items(), key=lambda kv: -len(kv[0]))
                       if field.startswith(p)), None)
        raise ConfigError(f"{error} [converted from the TFMA EvalConfig" + (f": {origin}]" if origin else "]")
                          ) from None


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


__all__ = ["EVAL_CONFIG", "METRIC_THRESHOLD", "from_tfma", "is_eval_config_dict", "is_message",
           "metric_threshold", "native_thresholds"]
