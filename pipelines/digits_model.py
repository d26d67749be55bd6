"""The demo model: a small Keras 2 (tf_keras) CNN on 8x8 digits, and the Trainer's run_fn.

Keras 2 is deliberate: tensorflow-model-optimization 0.8.1 (QAT) only
quantizes tf_keras Sequential/Functional models. The SavedModel has two
signatures: `serving_default` takes a dense float `image` [None, 64] (what
TFLite converts, with a dynamic batch), `serve_tf_examples` takes serialized
tf.Examples (what the stock Evaluator / TFMA feeds).
"""

from __future__ import annotations

from typing import Any


import tensorflow as tf

from tfx_edge import extras

from tfx_edge.pipelines.demo_data import IMAGE_KEY, LABEL_KEY

tf_keras = extras.require("tf_keras", "the digits demo model (Keras 2)")

NUM_PIXELS = 64
NUM_CLASSES = 10
OUTPUT_KEY = "probabilities"
BATCH_SIZE = 32
EXAMPLES_SIGNATURE = "serve_tf_examples"
FEATURE_SPEC = {
    IMAGE_KEY: tf.io.FixedLenFeature([NUM_PIXELS], tf.float32),
    LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64),
}


def build_model() -> Any:
    """151k parameters: two 3x3 convolutions, a max-pool and two dense layers."""
    inputs = tf_keras.Input(shape=(NUM_PIXELS,), name=IMAGE_KEY)
    x = tf_keras.layers.Rescaling(1.0 / 16.0)(inputs)
    x = tf_keras.layers.Reshape((8, 8, 1))(x)
    x = tf_keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = tf_keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = tf_keras.layers.MaxPooling2D(2)(x)
    x = tf_keras.layers.Flatten()(x)
    x = tf_keras.layers.Dense(128, activation="relu")(x)
    outputs = tf_keras.layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT_KEY)(x)
    model = tf_keras.Model(inputs, outputs)
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def add_outlier_channel(model: Any, images, factor: float = 1000.0) -> int:
    """Makes one hidden unit's activation `factor` times larger and divides its outgoing
    weights by the same factor: the float function is unchanged (ReLU is positively
    homogeneous), but that unit now dominates the layer's activation range. This is the
    outlier-activation pathology known from LLMs (LLM.int8(), SmoothQuant); per-tensor
    int8 activations then crush every other unit to zero. Returns the unit's index.
    It exists to show what mode 'auto' does when full-integer int8 misses a tolerance.
    """
    hidden = [layer for layer in model.layers if isinstance(layer, tf_keras.layers.Dense)][-2]
    head = model.get_layer(OUTPUT_KEY)
    activations = tf_keras.Model(model.inputs, hidden.output)(images, training=False).numpy()
    unit = int(activations.mean(axis=0).argmax())
    kernel, bias = hidden.get_weights()
    kernel[:, unit] *= factor
    bias[unit] *= factor
    hidden.set_weights([kernel, bias])
    head_kernel, head_bias = head.get_weights()
    head_kernel[unit, :] /= factor
    head.set_weights([head_kernel, head_bias])
    return unit


def _files(patterns) -> list[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return sorted(f for p in patterns for f in (tf.io.gfile.glob(p) if "*" in p or "?" in p else [p]))


def dataset(patterns, batch_size: int = BATCH_SIZE, repeat: bool = True, seed: int = 0) -> tf.data.Dataset:
    files = _files(patterns)
    compression = "GZIP" if files and files[0].endswith(".gz") else ""
    ds = tf.data.TFRecordDataset(files, compression_type=compression)
    ds = ds.map(lambda r: tf.io.parse_single_example(r, FEATURE_SPEC))
    ds = ds.map(lambda f: (f[IMAGE_KEY], f[LABEL_KEY]))
    if repeat:
        ds = ds.shuffle(2048, seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size)


def export(model: Any, serving_dir: str) -> None:
    @tf.function(input_signature=[tf.TensorSpec([None, NUM_PIXELS], tf.float32, name=IMAGE_KEY)])
    def serve_dense(image):
        return {OUTPUT_KEY: model(image, training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        parsed = tf.io.parse_example(serialized, {IMAGE_KEY: FEATURE_SPEC[IMAGE_KEY]})
        return {OUTPUT_KEY: model(parsed[IMAGE_KEY], training=False)}

    model.save(serving_dir, save_format="tf", signatures={
        "serving_default": serve_dense, EXAMPLES_SIGNATURE: serve_examples})


def train(train_patterns, eval_patterns, serving_dir: str, steps: int, seed: int = 0,
          outlier_channel: bool = False) -> float:
    """Trains and exports; returns eval accuracy (Keras). outlier_channel: see add_outlier_channel."""
    tf_keras.utils.set_random_seed(seed)
    model = build_model()
    epochs = max(1, steps // 100)
    model.fit(dataset(train_patterns, seed=seed), steps_per_epoch=max(1, steps // epochs),
              epochs=epochs, verbose=0)
    if outlier_channel:
        images, _ = next(iter(dataset(train_patterns, batch_size=256, repeat=False)))
        add_outlier_channel(model, images)
    _, accuracy = model.evaluate(dataset(eval_patterns, repeat=False), verbose=0)
    export(model, serving_dir)
    return float(accuracy)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (Trainer(run_fn='pipelines.digits_model.run_fn'))."""
    accuracy = train(fn_args.train_files, fn_args.eval_files, fn_args.serving_model_dir,
                     steps=fn_args.train_steps)
    tf.get_logger().info("digits CNN eval accuracy (Keras): %.4f", accuracy)


def run_fn_outlier(fn_args) -> None:
    """Trainer entry point of the outlier-activation variant (see add_outlier_channel)."""
    accuracy = train(fn_args.train_files, fn_args.eval_files, fn_args.serving_model_dir,
                     steps=fn_args.train_steps, outlier_channel=True)
    tf.get_logger().info("digits CNN (outlier unit) eval accuracy (Keras): %.4f", accuracy)
