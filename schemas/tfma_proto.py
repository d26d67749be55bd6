"""TFMA 0.52's config.proto as pure Python, and a TFMA message's dict form normalized against it.

`MESSAGES` / `_ENUMS` are the field schema of the messages an EvalConfig holds (tests check them
against config_pb2, field by field); `_normalize` turns a message's dict form (MessageToDict,
camelCase or snake_case keys) into snake_case keys with typed values and proto3 defaults left out,
refusing unknown keys; `_as_dict` accepts the message itself, its dict or its JSON text. Pure: no
TensorFlow, no TFMA import (google.protobuf.json_format only, lazily, to turn a message into a dict).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, NoReturn

from tfx_edge.schemas import _strict
from tfx_edge.schemas._strict import ConfigError

EVAL_CONFIG = "tensorflow_model_analysis.EvalConfig"
METRIC_THRESHOLD = "tensorflow_model_analysis.MetricThreshold"
# The top-level keys that tell an EvalConfig's dict form from a native EvaluationConfig dict.
EVAL_CONFIG_KEYS = frozenset({"modelSpecs", "model_specs", "metricsSpecs", "metrics_specs",
                              "slicingSpecs", "slicing_specs"})


def _refuse(field: str, value: Any, fix: str) -> NoReturn:
    """_strict.fail: a ConfigError naming the field, the value and the fix."""
    _strict.fail(field, value, fix)
    raise AssertionError("unreachable")


def is_message(value: Any, full_name: str) -> bool:
    """Whether `value` is a protobuf message of type `full_name` (no protobuf import needed)."""
    return getattr(getattr(value, "DESCRIPTOR", None), "full_name", None) == full_name


def is_eval_config_dict(data: Any) -> bool:
    return isinstance(data, Mapping) and any(key in data for key in EVAL_CONFIG_KEYS)


@dataclasses.dataclass(frozen=True)
class _Field:
    type: str                # a scalar ("string", "bool", "int32", "int64", "float", "double"), a
    #                          wrapper ("DoubleValue", "Int32Value", "BoolValue"), an enum or a message
    label: str = "single"    # "single" | "repeated" | "map" (string keys in the dict form)
    oneof: bool = False      # a oneof member: present even at its default value


def _rep(type_: str) -> _Field:
    return _Field(type_, "repeated")


def _map(type_: str) -> _Field:
    return _Field(type_, "map")


_ENUMS = {
    "MetricDirection": ("UNKNOWN", "LOWER_IS_BETTER", "HIGHER_IS_BETTER"),
    "ConfidenceIntervalOptions.ConfidenceIntervalMethod": (
        "UNKNOWN_CONFIDENCE_INTERVAL_METHOD", "POISSON_BOOTSTRAP", "JACKKNIFE"),
}
_WRAPPERS = {"DoubleValue": "double", "Int32Value": "int32", "BoolValue": "bool"}
_S, _B, _F = _Field("string"), _Field("bool"), _Field("float")

MESSAGES: dict[str, dict[str, _Field]] = {
    "EvalConfig": {"model_specs": _rep("ModelSpec"), "slicing_specs": _rep("SlicingSpec"),
                   "cross_slicing_specs": _rep("CrossSlicingSpec"), "metrics_specs": _rep("MetricsSpec"),
                   "options": _Field("Options")},
    "ModelSpec": {"name": _S, "model_type": _S, "signature_name": _S, "preprocessing_function_names": _rep("string"),
                  "label_key": _S, "label_keys": _map("string"), "prediction_key": _S,
                  "prediction_keys": _map("string"), "example_weight_key": _S, "example_weight_keys": _map("string"),
                  "is_baseline": _B, "padding_options": _Field("PaddingOptions"),
                  "inference_batch_size": _Field("int32")},
    "PaddingOptions": {"label_int_padding": _Field("int64", oneof=True),
                       "label_float_padding": _Field("float", oneof=True),
                       "prediction_int_padding": _Field("int64", oneof=True),
                       "prediction_float_padding": _Field("float", oneof=True)},
    "SlicingSpec": {"feature_keys": _rep("string"), "feature_values": _map("string"), "slice_keys_sql": _S},
    "CrossSlicingSpec": {"baseline_spec": _Field("SlicingSpec"), "slicing_specs": _rep("SlicingSpec")},
    "MetricsSpec": {"metrics": _rep("MetricConfig"), "model_names": _rep("string"), "output_names": _rep("string"),
                    "output_weights": _map("float"), "binarize": _Field("BinarizationOptions"),
                    "aggregate": _Field("AggregationOptions"), "example_weights": _Field("ExampleWeightOptions"),
                    "query_key": _S, "thresholds": _map("MetricThreshold"),
                    "per_slice_thresholds": _map("PerSliceMetricThresholds"),
                    "cross_slice_thresholds": _map("CrossSliceMetricThresholds")},
    "MetricConfig": {"class_name": _S, "module": _S, "config": _S, "threshold": _Field("MetricThreshold"),
                     "per_slice_thresholds": _rep("PerSliceMetricThreshold"),
                     "cross_slice_thresholds": _rep("CrossSliceMetricThreshold")},
    "MetricThreshold": {"value_threshold": _Field("GenericValueThreshold", oneof=True),
                        "change_threshold": _Field("GenericChangeThreshold", oneof=True)},
    "GenericValueThreshold": {"lower_bound": _Field("DoubleValue"), "upper_bound": _Field("DoubleValue")},
    "GenericChangeThreshold": {"absolute": _Field("DoubleValue"), "relative": _Field("DoubleValue"),
                               "direction": _Field("MetricDirection")},
    "PerSliceMetricThreshold": {"slicing_specs": _rep("SlicingSpec"), "threshold": _Field("MetricThreshold")},
    "PerSliceMetricThresholds": {"thresholds": _rep("PerSliceMetricThreshold")},
    "CrossSliceMetricThreshold": {"cross_slicing_specs": _rep("CrossSlicingSpec"),
                                  "threshold": _Field("MetricThreshold")},
    "CrossSliceMetricThresholds": {"thresholds": _rep("CrossSliceMetricThreshold")},
    "BinarizationOptions": {"class_ids": _Field("RepeatedInt32Value"), "k_list": _Field("RepeatedInt32Value"),
                            "top_k_list": _Field("RepeatedInt32Value")},
    "RepeatedInt32Value": {"values": _rep("int32")},
    "RepeatedStringValue": {"values": _rep("string")},
    "AggregationOptions": {"micro_average": _Field("bool", oneof=True), "macro_average": _Field("bool", oneof=True),
                           "weighted_macro_average": _Field("bool", oneof=True), "class_weights": _map("float"),
                           "top_k_list": _Field("RepeatedInt32Value")},
    "ExampleWeightOptions": {"weighted": _B, "unweighted": _B},
    "Options": {"include_default_metrics": _Field("BoolValue"), "compute_confidence_intervals": _Field("BoolValue"),
                "confidence_intervals": _Field("ConfidenceIntervalOptions"),
                "min_slice_size": _Field("Int32Value"), "disabled_outputs": _Field("RepeatedStringValue")},
    "ConfidenceIntervalOptions": {"method": _Field("ConfidenceIntervalOptions.ConfidenceIntervalMethod")},
}

_UNSET = object()
_DEFAULTS: dict[str, Any] = {"string": "", "bool": False, "int32": 0, "int64": 0, "float": 0.0, "double": 0.0}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _normalize(data: Any, message: str, path: str) -> dict[str, Any]:
    """The dict form of a TFMA message with snake_case keys, typed values and proto3 defaults left
    out (scalars at their default are absent, as in the proto; messages and wrappers keep presence).
    Unknown keys are refused, so a misspelled field is never dropped."""
    if not isinstance(data, Mapping):
        _refuse(path or message, data, f"expected a mapping (the dict form of tfma.{message})")
    fields = MESSAGES[message]
    camel = {_camel(name): name for name in fields}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if isinstance(key, str) and key in fields else camel.get(str(key))
        if name is None:
            _refuse(_join(path, str(key)), value, f"not a field of tfma.{message.split('.')[-1]}; its fields are "
                    f"{', '.join(fields)} (snake_case or camelCase)")
        if name in out:
            _refuse(_join(path, name), value, "given twice (in camelCase and in snake_case); keep one")
        converted = _value(fields[name], value, _join(path, name))
        if converted is not _UNSET:
            out[name] = converted
    return out


def _value(field: _Field, value: Any, path: str) -> Any:
    if value is None:
        return _UNSET
    if field.label == "map":
        if not isinstance(value, Mapping):
            _refuse(path, value, "expected a mapping")
        items = {str(k): _single(field.type, v, f"{path}[{k!r}]") for k, v in value.items()}
        return items or _UNSET
    if field.label == "repeated":
        if not isinstance(value, (list, tuple)):
            _refuse(path, value, "expected a list")
        return [_single(field.type, v, f"{path}[{i}]") for i, v in enumerate(value)] or _UNSET
    converted = _single(field.type, value, path)
    if not field.oneof and (field.type in _DEFAULTS and converted == _DEFAULTS[field.type]
                            or field.type in _ENUMS and converted == _ENUMS[field.type][0]):
        return _UNSET
    return converted


def _single(type_: str, value: Any, path: str) -> Any:
    if type_ in MESSAGES:
        return _normalize(value, type_, path)
    if type_ in _WRAPPERS:     # google.protobuf.DoubleValue & co: a bare value (JSON) or {"value": x}
        if isinstance(value, Mapping):
            if set(value) - {"value"}:
                _refuse(path, value, f"a {type_} is a number or {{'value': x}}")
            value = value.get("value", _DEFAULTS[_WRAPPERS[type_]])
        return _scalar(_WRAPPERS[type_], value, path)
    if type_ in _ENUMS:
        names = _ENUMS[type_]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        if value not in names:
            _refuse(path, value, f"use one of {', '.join(names)}")
        return value
    return _scalar(type_, value, path)


def _scalar(type_: str, value: Any, path: str) -> Any:
    if type_ == "string":
        if not isinstance(value, str):
            _refuse(path, value, "expected a string")
        return value
    if type_ == "bool":
        if not isinstance(value, bool):
            _refuse(path, value, "expected true or false")
        return value
    if type_ in ("int32", "int64"):
        if type_ == "int64" and isinstance(value, str) and value.lstrip("-").isdigit():   # int64 in JSON
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            _refuse(path, value, "expected an integer")
        return value
    if isinstance(value, str) and value in ("Infinity", "-Infinity", "NaN"):   # proto JSON of non-finite doubles
        return float(value.replace("Infinity", "inf"))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        _refuse(path, value, "expected a number")
    return float(value)


def _as_dict(config: Any, message: str) -> Mapping[str, Any]:
    """The dict form of a TFMA message, of its JSON text, or the dict itself."""
    if is_message(config, f"tensorflow_model_analysis.{message}"):
        from google.protobuf import json_format
        return json_format.MessageToDict(config, preserving_proto_field_name=True)
    if isinstance(config, str):
        try:
            loaded = json.loads(config)
        except json.JSONDecodeError as error:
            raise ConfigError(f"eval_config={config[:80]!r} is invalid: not JSON ({error}); pass a "
                              f"tfma.{message}, its MessageToDict dict or its JSON text") from None
        return loaded
    if isinstance(config, Mapping):
        return config
    raise ConfigError(f"eval_config={config!r} is invalid: pass a tfma.{message} "
                      f"(tensorflow_model_analysis.proto.config_pb2), its MessageToDict dict or its JSON text")
