"""Transform + Trainer module for tests/test_vocab_e2e.py: a string-vocabulary Transform.

A categorical string feature `color` goes through tft.compute_and_apply_vocabulary with
a frequency threshold and two OOV buckets (rare and unseen colors hash into them), two
float features are z-scored, and the label is passed through as `label_xf`. The Keras 3
model embeds the color index and classifies from the embedding and the floats. It is
exported as TFX's penguin example does (tfx/examples/penguin/penguin_utils_base.py +
penguin_utils_keras.py): `serving_default` over serialized tf.Examples, parsing the raw
feature spec minus the label, `model.tft_layer_inference` (the taxi module's name), `tf.saved_model.save`.

Used by dotted path (`vocab_module.preprocessing_fn`, `vocab_module.run_fn`): tests/ is
on sys.path under pytest and LocalDagRunner runs the components in-process.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow import keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

CATEGORICAL = "color"
FLOATS = ("size", "weight")
LABEL = "label"
NUM_CLASSES = 2
NUM_OOV_BUCKETS = 2
FREQUENCY_THRESHOLD = 3          # rarer colors are out of vocabulary (hashed into the OOV buckets)
VOCAB_NAME = "color_vocab"
BATCH_SIZE = 20


def xf(key: str) -> str:
    return key + "_xf"


def preprocessing_fn(inputs):
    outputs = {xf(k): tft.scale_to_z_score(inputs[k]) for k in FLOATS}
    outputs[xf(CATEGORICAL)] = tft.compute_and_apply_vocabulary(
        inputs[CATEGORICAL], frequency_threshold=FREQUENCY_THRESHOLD, num_oov_buckets=NUM_OOV_BUCKETS,
        vocab_filename=VOCAB_NAME)
    outputs[xf(LABEL)] = inputs[LABEL]
    return outputs


def _dataset(files, data_accessor, tf_transform_output: tft.TFTransformOutput) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=BATCH_SIZE, label_key=xf(LABEL)),
        tf_transform_output.transformed_metadata.schema).repeat()


def _model(num_buckets: int) -> keras.Model:
    color = keras.Input(shape=(1,), name=xf(CATEGORICAL), dtype="int64")
    floats = [keras.Input(shape=(1,), name=xf(k), dtype="float32") for k in FLOATS]
    embedded = keras.layers.Flatten()(keras.layers.Embedding(num_buckets, 4)(color))
    d = keras.layers.concatenate([embedded] + floats)
    d = keras.layers.Dense(16, activation="relu")(d)
    outputs = keras.layers.Dense(NUM_CLASSES)(d)
    model = keras.Model(inputs=[color] + floats, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model


def _signatures(model, tf_transform_output: tft.TFTransformOutput) -> dict:
    model.tft_layer_inference = tf_transform_output.transform_features_layer()   # TFX taxi's name

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_example):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_feature_spec.pop(LABEL)
        raw_features = tf.io.parse_example(serialized_tf_example, raw_feature_spec)
        transformed_features = model.tft_layer_inference(raw_features)
        return {"outputs": model(transformed_features)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_tf_example):
        raw_features = tf.io.parse_example(serialized_tf_example, tf_transform_output.raw_feature_spec())
        return model.tft_layer_inference(raw_features)

    return {"serving_default": serve_tf_examples_fn, "transform_features": transform_features_fn}


def run_fn(fn_args: tfx.components.FnArgs):
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    keras.utils.set_random_seed(0)
    train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output)
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output)
    model = _model(tf_transform_output.num_buckets_for_transformed_feature(xf(CATEGORICAL)))
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, verbose=0)
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=_signatures(model, tf_transform_output))
