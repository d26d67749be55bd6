"""The penguin demo: TFX's own penguin example (Transform + Keras 3) followed by tfx-edge.

CsvExampleGen -> StatisticsGen -> SchemaGen -> Transform -> Trainer
  -> Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher (stock)

The Transform and Trainer run TFX's module file as it ships in the tfx wheel,
unchanged (`tfx/examples/penguin/penguin_utils_keras.py`): a z-score Transform
and a Keras 3 model exported with a `serving_default` signature over serialized
tf.Examples. tfx-edge derives a dense TFLite function from that signature itself.
"""

from __future__ import annotations

import os
from typing import Sequence

from tfx import v1 as tfx

from tfx_edge import extras
from tfx_edge.pipelines.pipeline import edge_components
from tfx_edge.schemas import (EvaluationConfig, ExportConfig, MetricThreshold, OutputKind, Placement,
                              QuantizationConfig, SliceThreshold, Thresholds)

PIPELINE_NAME = "tfx-edge-penguin"
MODULE = "tfx.examples.penguin.penguin_utils_keras"
LABEL_KEY = "species"
TFX_PACKAGES = ("tfx.examples.", "tfx.experimental.templates.")
DATA_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "penguin")
# The class names of `species` 0-2 in TFX's penguin data, read off the data itself: 146 / 68 / 120 rows
# (palmerpenguins' complete Adelie / Chinstrap / Gentoo cases); class 0 has the shortest culmen, 1 a
# long and deep one, 2 the longest flippers and the largest mass.
PENGUIN_EXPORT = ExportConfig(label_names=("Adelie", "Chinstrap", "Gentoo"),
                              description="Penguin species from culmen length and depth, flipper length and body "
                              "mass, each scaled to [0, 1] as in TFX's penguin data.")


def penguin_evaluation(max_drop: float, min_accuracy: float | None, max_slice_drop: float,
                       placement: Placement) -> EvaluationConfig:
    """The penguin gate: accuracy drop and floor overall and within each species. The model
    outputs logits; with placement 'transformed' the label is Transform's `species_xf`."""
    label = LABEL_KEY + "_xf" if placement == Placement.TRANSFORMED else LABEL_KEY
    return EvaluationConfig(
        thresholds=Thresholds(
            metrics={"accuracy": MetricThreshold(max_absolute_drop=max_drop, lower_bound=min_accuracy)},
            slices=(SliceThreshold(feature=label, min_examples=10,
                                   metrics={"accuracy": MetricThreshold(max_absolute_drop=max_slice_drop)}),)),
        label_feature=label, output_kind=OutputKind.LOGITS, slice_features=(label,))


def create_penguin_pipeline(pipeline_name: str, pipeline_root: str, serving_dir: str,
                            quantization: QuantizationConfig, evaluation: EvaluationConfig,
                            data_root: str = DATA_ROOT, metadata_path: str | None = None,
                            train_steps: int = 100, eval_steps: int = 5,
                            beam_pipeline_args: Sequence[str] | None = None,
                            enable_cache: bool = True, module: str = MODULE,
                            infer_feature_shape: bool = True,
                            run_module: str | None = None, export: ExportConfig | None = None) -> tfx.dsl.Pipeline:
    """CSV -> Transform -> Trainer with `module`'s preprocessing_fn and `run_module`'s run_fn
    (default: both from TFX's penguin module file), then the tfx-edge tail. infer_feature_shape:
    SchemaGen's (TFX's taxi pipeline sets False: its features are then parsed as VarLen). export: the
    TFLiteExporter's config (PENGUIN_EXPORT names the penguin classes)."""
    run_module = run_module or module
    if run_module.startswith(TFX_PACKAGES):
        extras.require("tensorboard", f"TFX's {run_module} (its Trainer logs to TensorBoard)")
    example_gen = tfx.components.CsvExampleGen(input_base=data_root)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=infer_feature_shape)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=f"{module}.preprocessing_fn")
    trainer = tfx.components.Trainer(
        run_fn=f"{run_module}.run_fn", examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=eval_steps))
    transformed = quantization.placement == Placement.TRANSFORMED
    edge = edge_components(trainer.outputs["model"], example_gen.outputs["examples"], None,
                           quantization, evaluation, serving_dir,
                           eval_examples=transform.outputs["transformed_examples"] if transformed else None,
                           schema=schema_gen.outputs["schema"], statistics=statistics_gen.outputs["statistics"],
                           export=export)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, transform, trainer] + edge,
        enable_cache=enable_cache,
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
            if metadata_path else None),
        beam_pipeline_args=list(beam_pipeline_args or ["--direct_num_workers=1"]))
