"""The IMDB example: TFX's sentiment pipeline (Transform tokenizes, Embedding + Bidirectional LSTM)
followed by tfx-edge, module file and data from the tfx wheel unchanged.

CsvExampleGen -> StatisticsGen -> SchemaGen -> Transform -> Trainer -> Quantizer -> TFLiteExporter
  -> EdgeEvaluator -> Pusher (stock)

`tfx/examples/imdb/imdb_utils_native_keras.py` on `data/imdb_small_with_labels.txt` (100 labelled
reviews). Its Transform splits the text and applies a vocabulary (`tf.strings.split` has no
builtin LiteRT op), so the placement is 'transformed': the app tokenizes and feeds the 400 token
ids, `text_xf`; the model outputs one logit; the gate scores Transform's transformed examples,
whose label is `label_xf`.
"""

from __future__ import annotations

import os

import tfx

from tfx_edge.schemas import EvaluationConfig, MetricThreshold, OutputKind, Thresholds

PIPELINE_NAME = "tfx-edge-imdb"
MODULE = "tfx.examples.imdb.imdb_utils_native_keras"
DATA_ROOT = os.path.join(os.path.dirname(tfx.__file__), "examples", "imdb", "data")
LABEL_KEY = "label_xf"


def imdb_evaluation(max_drop: float, min_accuracy: float | None) -> EvaluationConfig:
    """The drop of binary accuracy (logit > 0) and, when given, a floor. TFX's 100 reviews train a
    model near chance, so the example sets no floor by default; the collapse guards stay on."""
    return EvaluationConfig(
        thresholds=Thresholds(metrics={
            "binary_accuracy": MetricThreshold(max_absolute_drop=max_drop, lower_bound=min_accuracy)}),
        label_feature=LABEL_KEY, output_kind=OutputKind.LOGITS)
