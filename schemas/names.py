"""Names shared by configs, results, reports and artifacts: the roles of the compared models
and the overall slice. Defined once; everything else imports them."""

QUANTIZED = "quantized"          # the TFLite model under test (what the Pusher would push)
FLOAT_TFLITE = "float_tflite"    # its float32 TFLite reference, written by the same export
SAVED_MODEL = "saved_model"      # the Trainer's float SavedModel (optional comparison)
MODEL_ROLES = (QUANTIZED, FLOAT_TFLITE, SAVED_MODEL)

OVERALL = ""                     # the slice key of the whole split

__all__ = ["FLOAT_TFLITE", "MODEL_ROLES", "OVERALL", "QUANTIZED", "SAVED_MODEL"]
