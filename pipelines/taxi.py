"""The taxi example: TFX's flagship Chicago taxi pipeline (Transform + Keras) followed by tfx-edge.

CsvExampleGen -> StatisticsGen -> SchemaGen (infer_feature_shape=False, as TFX's taxi pipeline)
  -> Transform -> Trainer -> Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher (stock)

The Transform and Trainer run TFX's module file as it ships in the tfx wheel, unchanged
(`tfx/examples/chicago_taxi_pipeline/taxi_utils_native_keras.py`), on the data the wheel ships
(`data/simple/data.csv`). The module saves the Transform layer as `tft_layer_inference` and
`tft_layer_eval`, parses 10 of its features as VarLen (sparse) and one-hot encodes ids with Keras
`CategoryEncoding`. Placement 'transformed': the app feeds Transform's outputs and the gate scores
Transform's transformed examples, whose label is `tips_xf` (tips > 20% of the fare).
"""

from __future__ import annotations

import os

import tfx

from tfx_edge.schemas import EvaluationConfig, MetricThreshold, OutputKind, Thresholds

PIPELINE_NAME = "tfx-edge-taxi"
MODULE = "tfx.examples.chicago_taxi_pipeline.taxi_utils_native_keras"
DATA_ROOT = os.path.join(os.path.dirname(tfx.__file__), "examples", "chicago_taxi_pipeline", "data", "simple")
LABEL_KEY = "tips_xf"


def taxi_evaluation(max_drop: float, min_accuracy: float | None) -> EvaluationConfig:
    """TFX's taxi gate (BinaryAccuracy with a floor and a change threshold) and AUC, on the sigmoid
    output; the collapse guards are on by default."""
    return EvaluationConfig(
        thresholds=Thresholds(metrics={
            "binary_accuracy": MetricThreshold(max_absolute_drop=max_drop, lower_bound=min_accuracy),
            "auc": MetricThreshold(max_absolute_drop=max_drop)}),
        label_feature=LABEL_KEY, output_kind=OutputKind.PROBABILITIES)
