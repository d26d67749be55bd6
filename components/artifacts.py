"""Custom artifact types and the names (files, properties) every component shares.

Type names follow Kubeflow V2's rule `^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$`.
"""

from tfx.types import artifact


class QuantizationPlan(artifact.Artifact):
    """What the Quantizer decided: config, input mapping, calibration data, QAT model."""

    TYPE_NAME = "tfx_edge.QuantizationPlan"


class EdgeEvaluation(artifact.Artifact):
    """Every figure the EdgeEvaluator measured, and its decision."""

    TYPE_NAME = "tfx_edge.EdgeEvaluation"


# Files inside artifacts: defined in schemas/names.py (TF-free readers use them too).
from tfx_edge.schemas.names import (AEQ_RECIPE_FILE, APP_CONTRACT_FILE, BLESSED_FILE,  # noqa: E402,F401
                                    CALIBRATION_FILE, DERIVED_MODEL_DIR, EXPORT_REPORT_FILE, HTML_REPORT_FILE,
                                    LABELS_FILE, LAYER_REPORT_FILE, METRICS_FILE, NOT_BLESSED_FILE, PARITY_FILE,
                                    PLAN_FILE, QAT_MODEL_DIR, REPORT_FILE, TFLITE_FILE)

# Custom properties. The blessing's `current_model_id` / `current_model` name the float
# parent the gate compared against (copied from the float Evaluator's blessing), never a
# TFLite model: LatestBlessedModelStrategy locally, and the two queries Kubeflow V2
# compiles it into, then resolve to that float SavedModel.
BLESSED_KEY = "blessed"
EDGE_MODEL_URI_KEY = "edge_model_uri"
MODE_KEY = "quantization_mode"
SIZE_KEY = "tflite_bytes"
FLOAT_SIZE_KEY = "float_tflite_bytes"
# The primary metric (accuracy, or rmse for regression), as float properties on the
# blessing and the evaluation: "<metric>_quantized", "<metric>_float_tflite", "<metric>_drop".
