"""Names shared by configs, results, reports and artifacts: the roles of the compared models
and the overall slice. Defined once; everything else imports them."""

QUANTIZED = "quantized"          # the TFLite model under test (what the Pusher would push)
FLOAT_TFLITE = "float_tflite"    # its float32 TFLite reference, written by the same export
SAVED_MODEL = "saved_model"      # the Trainer's float SavedModel (optional comparison)
MODEL_ROLES = (QUANTIZED, FLOAT_TFLITE, SAVED_MODEL)

OVERALL = ""                     # the slice key of the whole split

# Files inside artifacts (components/artifacts.py re-exports them).
PLAN_FILE = "plan.json"
CALIBRATION_FILE = "calibration.npz"
PARITY_FILE = "parity_sample.tfrecord"   # serialized examples for the float32-vs-SavedModel check
DERIVED_MODEL_DIR = "derived_model"      # the dense, frozen SavedModel every conversion starts from
QAT_MODEL_DIR = "qat_saved_model"
AEQ_RECIPE_FILE = "aeq_recipe.json"
LAYER_REPORT_FILE = "layer_report.csv"
TFLITE_FILE = "tflite"                 # <Model.uri>/Format-Serving/tflite: TFMA's and TFX's name
EXPORT_REPORT_FILE = "export_report.json"
APP_CONTRACT_FILE = "app_contract.json"   # beside the tflite in Format-Serving: pushed with it
LABELS_FILE = "labels.txt"                # the class names, beside the tflite and inside its metadata
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.txt"
HTML_REPORT_FILE = "report.html"
BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"


__all__ = ["FLOAT_TFLITE", "MODEL_ROLES", "OVERALL", "QUANTIZED", "SAVED_MODEL"]
