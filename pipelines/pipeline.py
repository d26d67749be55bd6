"""The demo pipeline, defined once for every runner.

ImportExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Trainer
  -> Evaluator (stock TFMA, float SavedModel, with a latest-blessed baseline)
  -> Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher (stock)
"""

from __future__ import annotations

from typing import Sequence

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from tfx_edge.components import EdgeEvaluator, Quantizer, TFLiteExporter
from tfx_edge.pipelines import digits_model
from tfx_edge.pipelines.demo_data import LABEL_KEY
from tfx_edge.schemas import (EvaluationConfig, ExportConfig, MetricThreshold, OutputKind, QuantizationConfig,
                              SliceThreshold, Thresholds)

TRAINER_RUN_FN = "tfx_edge.pipelines.digits_model.run_fn"


def float_eval_config(min_accuracy: float) -> tfma.EvalConfig:
    """The stock Evaluator's config for the float SavedModel.

    model_type is set explicitly: left unset, TFMA probes the model with
    tf.keras (Keras 3 in TF 2.21), which cannot load this Keras 2 SavedModel.
    """
    accuracy = tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        threshold=tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -0.05})))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=digits_model.EXAMPLES_SIGNATURE,
                                    label_key=LABEL_KEY, model_type=tfma.TF_GENERIC)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[accuracy])])


def demo_evaluation(max_drop: float, min_accuracy: float | None, max_slice_drop: float) -> EvaluationConfig:
    """The demo's gate: overall accuracy drop and floor, and the drop within each label."""
    return EvaluationConfig(
        thresholds=Thresholds(
            metrics={"accuracy": MetricThreshold(max_absolute_drop=max_drop, lower_bound=min_accuracy)},
            slices=(SliceThreshold(feature="label", min_examples=20,
                                   metrics={"accuracy": MetricThreshold(max_absolute_drop=max_slice_drop)}),)),
        output_kind=OutputKind.PROBABILITIES, top_k=(3,), slice_features=("label",))


def _check_splits(quantization: QuantizationConfig, evaluation: EvaluationConfig) -> None:
    """The auto search must never see the examples the gate decides on."""
    if quantization.auto is not None and quantization.auto.validation_split == evaluation.split:
        raise ValueError(f"auto.validation_split={quantization.auto.validation_split!r} is the split the "
                         f"EdgeEvaluator gates on (EvaluationConfig.split); validate on another split, "
                         f"e.g. 'train'")


# The demo's class names and description, in the pushed model's metadata and labels.txt
DIGITS_EXPORT = ExportConfig(label_names=tuple(str(digit) for digit in range(10)),
                             description="Handwritten digit (0-9) from 8x8 grey levels 0-16, the 64 pixels row by row.")


def create_pipeline(pipeline_name: str, pipeline_root: str, data_root: str, serving_dir: str,
                    quantization: QuantizationConfig, evaluation: EvaluationConfig,
                    metadata_path: str | None = None, train_steps: int = 400,
                    trainer_run_fn: str = TRAINER_RUN_FN,
                    float_min_accuracy: float = 0.8,
                    beam_pipeline_args: Sequence[str] | None = None,
                    enable_cache: bool = True) -> tfx.dsl.Pipeline:
    _check_splits(quantization, evaluation)
    front = _data_components(data_root)
    examples, schema = front[0].outputs["examples"], front[2].outputs["schema"]
    trainer = tfx.components.Trainer(
        run_fn=trainer_run_fn, examples=examples, schema=schema,
        train_args=tfx.proto.TrainArgs(num_steps=train_steps))
    baseline, evaluator = _float_evaluation(examples, trainer.outputs["model"], float_min_accuracy)
    edge = edge_components(trainer.outputs["model"], examples, evaluator.outputs["blessing"],
                           quantization, evaluation, serving_dir, export=DIGITS_EXPORT)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root,
        components=front + [trainer, baseline, evaluator] + edge,
        enable_cache=enable_cache,
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
            if metadata_path else None),
        beam_pipeline_args=list(beam_pipeline_args or ["--direct_num_workers=1"]))


def _data_components(data_root: str) -> list:
    """ImportExampleGen (train/, eval/ folders of TFRecords), StatisticsGen, SchemaGen, ExampleValidator."""
    example_gen = tfx.components.ImportExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="train", pattern="train/*"),
            example_gen_pb2.Input.Split(name="eval", pattern="eval/*"),
        ]))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    return [example_gen, statistics_gen, schema_gen, example_validator]


def _float_evaluation(examples, model, float_min_accuracy: float):
    """The stock Evaluator on the float SavedModel, with the latest blessed model as baseline."""
    # Only the float Evaluator's blessings carry `current_model_id`, so this
    # resolver can never pick the EdgeEvaluator-blessed TFLite model as baseline.
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=examples, model=model, baseline_model=baseline.outputs["model"],
        eval_config=float_eval_config(float_min_accuracy))
    return baseline, evaluator


def edge_components(model, examples, float_blessing, quantization: QuantizationConfig,
                    evaluation: EvaluationConfig, serving_dir: str, eval_examples=None, schema=None,
                    statistics=None, export: ExportConfig | None = None) -> list:
    """The tfx-edge tail after any Trainer: Quantizer -> TFLiteExporter -> EdgeEvaluator -> Pusher.

    eval_examples: what the EdgeEvaluator scores (default `examples`); with placement
    'transformed', Transform's transformed_examples. schema / statistics: SchemaGen's /
    StatisticsGen's outputs (the Quantizer feeds single-valued VarLen features dense in placement
    'embedded'). export: the TFLiteExporter's config (class names, description for the app).
    """
    quantizer = Quantizer(model=model, examples=examples, config=quantization, schema=schema,
                          statistics=statistics)
    exporter = TFLiteExporter(model=model, plan=quantizer.outputs["plan"], config=export)
    edge_evaluator = EdgeEvaluator(
        examples=eval_examples or examples, model=exporter.outputs["tflite_model"],
        float_model=exporter.outputs["float_model"], float_blessing=float_blessing, config=evaluation)
    pusher = tfx.components.Pusher(
        model=exporter.outputs["tflite_model"], model_blessing=edge_evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)))
    return [quantizer, exporter, edge_evaluator, pusher]
