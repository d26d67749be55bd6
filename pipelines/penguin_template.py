"""The penguin template: the model TFX's `tfx template copy --model=penguin` starts a user with.

`tfx/experimental/templates/penguin/models/` from the tfx wheel, unchanged: `preprocessing.py`
(z-score Transform, label passed through as `species_xf`) and `model.py` (a Keras DNN on logits that
saves the Transform layer as `tft_layer_inference` / `tft_layer_eval` and signatures
`serving_default` and `transform_features`), on the bundled penguin data, as the template's own
pipeline wires them (CsvExampleGen -> StatisticsGen -> SchemaGen -> Transform -> Trainer).

`model.py` saves with `model.save(..., save_format='tf')`, which Keras 3 no longer accepts, so its
Trainer needs TensorFlow's Keras 2 (`TF_USE_LEGACY_KERAS=1` before TensorFlow is imported, with the
`tf_keras` package): `tfx-edge demo --example template` sets it for its process when unset.
"""

from __future__ import annotations

PIPELINE_NAME = "tfx-edge-penguin-template"
PREPROCESSING_MODULE = "tfx.experimental.templates.penguin.models.preprocessing"
RUN_MODULE = "tfx.experimental.templates.penguin.models.model"
LEGACY_KERAS = "TF_USE_LEGACY_KERAS"
