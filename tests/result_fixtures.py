"""Hand-built EdgeEvaluation results (metrics.json as dicts) for the report and CLI tests: complete
records, which the tests type with records.EvaluationResult.from_dict as the real readers do."""

from __future__ import annotations

import copy

from tfx_edge.schemas import records

AUTO_CONFIG = {"mode": "auto", "auto": {"max_absolute_drop": 0.01}}
EVIL = "<script>alert(1)</script>"
CONFUSION_QUANT = [[50, 2, 0], [1, 45, 4], [0, 3, 47]]
CONFUSION_FLOAT = [[51, 1, 0], [1, 47, 2], [0, 3, 47]]



def _class_metrics(precision: list, recall: list) -> dict:
    out = {}
    for i, (p, r) in enumerate(zip(precision, recall)):
        out[f"precision_class_{i}"] = p
        out[f"recall_class_{i}"] = r
    return out


def _slice(examples: int, quant_acc: float, float_acc: float, columns: tuple = ()) -> dict:
    drop = float_acc - quant_acc
    return {
        "columns": [list(c) for c in columns], "examples": examples, "nonfinite": {"quantized": 0, "float_tflite": 0},
        "metrics": {
            "quantized": {"accuracy": quant_acc, "top_3_accuracy": 1.0, "loss": 0.1234,
                          "macro_precision": 0.9367, "macro_recall": 0.9333,
                          **_class_metrics([0.98, 0.9, 0.92], [0.9615, 0.9, 0.94])},
            "float_tflite": {"accuracy": float_acc, "top_3_accuracy": 1.0, "loss": 0.1111,
                             "macro_precision": 0.9533, "macro_recall": 0.9533,
                             **_class_metrics([0.98, 0.92, 0.96], [0.9808, 0.94, 0.94])},
        },
        "pairs": {"float_tflite": {"agreement": 0.98, "max_output_diff": 0.031}},
        "drops": {"float_tflite": {"accuracy": {"absolute": drop, "relative": drop / float_acc},
                                   "loss": {"absolute": 0.0123, "relative": 0.1107}}},
    }


CONFIG = {"thresholds": {"metrics": {"accuracy": {"max_absolute_drop": 0.02}}}, "slice_features": ["digit_group"]}
PROVENANCE = {"export_report_sha256": "e" * 64, "plan_sha256": "p" * 64, "quantized_sha256": "q" * 64,
              "float_sha256": "f" * 64}


def _latency(p50: float, p95: float, mean: float, low: float, kernel: str) -> dict:
    return {"p50_us": p50, "p95_us": p95, "mean_us": mean, "min_us": low, "runs": 200, "warmup": 20,
            "num_threads": 1, "kernel": kernel}


def _nonfinite(models) -> dict:
    return {m: 0 for m in models}


def classification_result(blessed: bool = False) -> dict:
    return {
        "kind": records.EvaluationResult.KIND, "version": records.EvaluationResult.VERSION,
        "blessed": blessed,
        "task": "classification",
        "mode": "int8",
        "primary_metric": "accuracy",
        "examples": 152,
        "num_classes": 3,
        "label_format": "sparse", "batch_size": 256,
        "output_name": "probabilities",
        "input_mapping": {"image": "image_feature"},
        "references": ["float_tflite"],
        "models": {
            "quantized": {"size_bytes": 162000, "path": "/x/model.tflite",
                          "ops": {"total": 12, "integer": 8, "float": 0, "hybrid": 0,
                                  "boundary": 2, "shape": 2}},
            "float_tflite": {"size_bytes": 609000, "path": "/y/model.tflite",
                             "ops": {"total": 12, "integer": 0, "float": 10, "hybrid": 0,
                                     "boundary": 0, "shape": 2}},
        },
        "slices": {"": _slice(152, 0.9276, 0.9539),
                   "digit_group=low": _slice(50, 0.88, 0.96, (("digit_group", "low"),))},
        "confusion": {"quantized": copy.deepcopy(CONFUSION_QUANT),
                      "float_tflite": copy.deepcopy(CONFUSION_FLOAT)},
        "other_outputs": {}, "curves": {}, "scored_outputs": {},
        "latency": {
            "quantized": {"xnnpack": _latency(9.9, 12.0, 10.1, 9.0, "xnnpack"),
                          "builtin": _latency(30.5, 35.0, 31.0, 29.0, "builtin")},
            "float_tflite": {"xnnpack": _latency(14.2, 16.0, 14.5, 13.0, "xnnpack"),
                             "builtin": _latency(41.0, 47.5, 42.0, 40.0, "builtin")},
        },
        "latency_host": None,
        "checks": [
            {"name": "accuracy.max_absolute_drop", "slice": "", "reference": "float_tflite",
             "value": 0.0263, "limit": 0.02, "passed": False,
             "detail": "accuracy drop vs float_tflite 0.0263 > 0.02"},
            {"name": "size.max_bytes", "slice": "", "reference": None,
             "value": 162000, "limit": 1000000, "passed": True, "detail": "162000 <= 1000000"},
            {"name": "ops.no_float", "slice": "", "reference": None,
             "value": True, "limit": "required", "passed": True, "detail": "no float ops"},
        ],
        "config": copy.deepcopy(CONFIG),
        "provenance": dict(PROVENANCE),
    }


def regression_result() -> dict:
    nan = float("nan")
    return {
        "kind": records.EvaluationResult.KIND, "version": records.EvaluationResult.VERSION,
        "blessed": True, "task": "regression", "mode": "dynamic_range", "primary_metric": "rmse",
        "examples": 80, "num_classes": None, "label_format": "value", "batch_size": 64, "output_name": "value",
        "input_mapping": {"x": "x"}, "references": ["float_tflite", "saved_model"],
        "models": {"quantized": {"size_bytes": 4096, "path": "/q", "ops": None},
                   "float_tflite": {"size_bytes": 9000, "path": "/f", "ops": None},
                   "saved_model": {"size_bytes": None, "path": "/s/Format-Serving", "ops": None}},
        "slices": {"": {"columns": [], "examples": 80,
                        "nonfinite": _nonfinite(["quantized", "float_tflite", "saved_model"]),
                        "metrics": {"quantized": {"mae": 0.4321, "rmse": 0.61},
                                    "float_tflite": {"mae": 0.43, "rmse": nan},
                                    "saved_model": {"mae": 0.43, "rmse": 0.6}},
                        "pairs": {},
                        "drops": {"float_tflite": {"rmse": {"absolute": None, "relative": None}},
                                  "saved_model": {"rmse": {"absolute": 0.01, "relative": 0.0167}}}}},
        "confusion": {}, "other_outputs": {}, "curves": {}, "scored_outputs": {},
        "latency": {}, "latency_host": None,
        "checks": [{"name": "rmse.max_absolute_drop", "slice": "", "reference": "float_tflite",
                    "value": None, "limit": 0.05, "passed": True, "detail": "reference rmse is NaN"}],
        "config": {"task": "regression", "compare_saved_model": True,
                   "thresholds": {"metrics": {"rmse": {"max_absolute_drop": 0.05}}}},
        "provenance": dict(PROVENANCE),
    }


