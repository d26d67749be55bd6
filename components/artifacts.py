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


# Files inside artifacts.
PLAN_FILE = "plan.json"
CALIBRATION_FILE = "calibration.npz"
PARITY_FILE = "parity_sample.tfrecord"   # serialized examples for the float32-vs-SavedModel check
DERIVED_MODEL_DIR = "derived_model"      # the dense, frozen SavedModel every conversion starts from
QAT_MODEL_DIR = "qat_saved_model"
AEQ_RECIPE_FILE = "aeq_recipe.json"
LAYER_REPORT_FILE = "layer_report.csv"
TFLITE_FILE = "tflite"                 # <Model.uri>/Format-Serving/tflite: TFMA's and TFX's name
EXPORT_REPORT_FILE = "export_report.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.txt"
HTML_REPORT_FILE = "report.html"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"

# Written into plan.json and export_report.json; the readers refuse another format.
FORMAT_KEY = "tfx_edge_format"
FORMAT = 2

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
