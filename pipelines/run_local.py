"""Runs the demo pipeline: LocalDagRunner (default) or BeamDagRunner, SQLite metadata.

    python -m tfx_edge.pipelines.run_local [--runner beam] [--mode int8] [--max-drop 0.02]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
import uuid
from typing import Any, Callable

from tfx_edge import extras
from tfx_edge.schemas import (AEQ_PRESETS, AeqConfig, AutoConfig, CalibrationConfig, ConfigError, EvaluationConfig,
                              MetricThreshold, Mode, Placement, QatConfig, QuantizationConfig, Target)

# Importing this module is light (argument parsing for `tfx-edge --help`); TFX, TensorFlow and
# ML Metadata are imported when a pipeline is built or run. Every argument is checked while
# parsing (the `type=` functions below and check_args), before any of them is imported.

PIPELINE_NAME = "tfx-edge-digits"
RUN_FNS = {"digits": "tfx_edge.pipelines.digits_model.run_fn",
           "outlier": "tfx_edge.pipelines.digits_model.run_fn_outlier"}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer; give 1 or more")
    return value


def checked(kind: Callable[[str], Any], check: Callable[[Any], object]) -> Callable[[str], Any]:
    """argparse type: `kind(text)`, refused with the config's own message when `check(value)`
    (building or validating a config piece from schemas/) raises ConfigError."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        try:
            check(value)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value
    return parse


def _accuracy(**limits: Any) -> None:
    MetricThreshold(**limits).validate("accuracy", "accuracy")


DEFAULT_FLOOR, TAXI_FLOOR = 0.9, 0.6
FLOORS: dict[str, float | None] = {"taxi": TAXI_FLOOR, "imdb": None}   # taxi: TFX's Evaluator's; imdb: see imdb.py


def min_accuracy(args: argparse.Namespace) -> float | None:
    """--min-accuracy, else the example's floor (None: the imdb example has none by default)."""
    if args.min_accuracy is not None:
        return args.min_accuracy
    return FLOORS.get(str(getattr(args, "example", "")), DEFAULT_FLOOR)


ACCURACY_DROP = checked(float, lambda v: _accuracy(max_absolute_drop=v))
ACCURACY_FLOOR = checked(float, lambda v: _accuracy(lower_bound=v))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_demo_args(p)
    return check_args(p, p.parse_args(argv))


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """What no single argument shows: the configs they build together (p.error: exit 2)."""
    try:
        quantization_config(args)
        _accuracy(max_absolute_drop=args.max_drop, lower_bound=min_accuracy(args))
    except ConfigError as error:
        p.error(str(error))
    return args


EXAMPLES = ("digits", "penguin", "taxi", "imdb", "template")


def add_demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", default=os.path.abspath("work"), help="data, artifacts, metadata, logs")
    p.add_argument("--serving-dir", default=os.path.abspath("serving_model"), help="push destination")
    p.add_argument("--runner", choices=("local", "beam"), default="local")
    p.add_argument("--example", choices=EXAMPLES, default="digits",
                   help="'penguin': TFX's own penguin example (CSV, Transform, Keras 3) through tfx-edge; "
                   "'template': the model of TFX's penguin template (tfx template copy; Keras 2, tf_keras); "
                   "'taxi': TFX's Chicago taxi example, 'imdb': TFX's IMDB sentiment example (Bidirectional "
                   "LSTM); module files and data from the tfx wheel")
    add_quantization_args(p)
    add_gate_args(p)
    p.add_argument("--train-steps", type=positive_int, default=400)
    p.add_argument("--pipeline-name", default=PIPELINE_NAME)
    p.add_argument("--verbose", action="store_true", help="show TFX's and TensorFlow's logs instead of "
                   "writing them to <work-dir>/logs/")


def add_quantization_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.INT8.value,
                   help=f"quantization mode (default here {Mode.INT8.value}; QuantizationConfig's own default, in "
                   f"a pipeline of yours, is {QuantizationConfig().mode.value})")
    p.add_argument("--calibration-samples", type=checked(int, lambda v: CalibrationConfig(num_samples=v)),
                   default=200)
    p.add_argument("--qat-epochs", type=checked(int, lambda v: QatConfig(epochs=v)), default=1, help="with --mode qat")
    p.add_argument("--aeq-recipe", default="static_wi8_ai8", choices=AEQ_PRESETS, help="with --mode aeq")
    p.add_argument("--auto-max-drop", type=checked(float, lambda v: AutoConfig(max_absolute_drop=v)), default=0.01,
                   help="with --mode auto: tolerated accuracy drop on the validation subset")
    p.add_argument("--model", choices=sorted(RUN_FNS), default="digits",
                   help="'outlier': the same CNN with one outlier activation unit, where int8 fails")
    p.add_argument("--placement", choices=[p.value for p in Placement], default=Placement.EMBEDDED.value,
                   help="penguin: Transform inside the .tflite (embedded) or applied by the app (transformed)")


def add_gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-drop", type=ACCURACY_DROP, default=0.02, help="max absolute accuracy drop")
    p.add_argument("--min-accuracy", type=ACCURACY_FLOOR, default=None,
                   help=f"accuracy floor (default {DEFAULT_FLOOR}; taxi {TAXI_FLOOR}, TFX's taxi Evaluator's; imdb "
                   f"none: 100 reviews train a model near chance)")
    p.add_argument("--max-slice-drop", type=ACCURACY_DROP, default=0.1,
                   help="max accuracy drop within each label's slice")
    p.add_argument("--targets", type=_targets, default=Target.CPU.value, metavar="T[,T...]",
                   help="where the model must run, each a gate check: " + ", ".join(t.value for t in Target)
                   + " (microcontroller needs the 'micro' extra, tflite-micro)")


def _targets(text: str) -> tuple[Target, ...]:
    try:
        return tuple(Target(t.strip()) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use a comma-separated list of "
                                         + ", ".join(t.value for t in Target)) from None


def gate(args: argparse.Namespace, evaluation: EvaluationConfig) -> EvaluationConfig:
    """The example's gate with the command line's deployment targets."""
    return dataclasses.replace(evaluation, targets=args.targets)


def quantization_config(args: argparse.Namespace) -> QuantizationConfig:
    mode = Mode(args.mode)
    return QuantizationConfig(
        mode=mode, calibration=CalibrationConfig(num_samples=args.calibration_samples),
        qat=QatConfig(epochs=args.qat_epochs) if mode == Mode.QAT else None,
        aeq=AeqConfig(recipe=args.aeq_recipe) if mode == Mode.AEQ else None, placement=args.placement,
        auto=AutoConfig(max_absolute_drop=args.auto_max_drop) if mode == Mode.AUTO else None)


def build(args: argparse.Namespace):
    from tfx_edge.pipelines import demo_data  # pylint: disable=g-import-not-at-top
    from tfx_edge.pipelines.pipeline import create_pipeline, demo_evaluation  # pylint: disable=g-import-not-at-top
    if args.example == "penguin":
        return _build_penguin(args)
    if args.example == "taxi":
        return _build_taxi(args)
    if args.example == "imdb":
        return _build_imdb(args)
    if args.example == "template":
        return _build_template(args)
    data_root = os.path.join(args.work_dir, "data", "digits")
    demo_data.write(data_root)
    quantization = quantization_config(args)
    evaluation = gate(args, demo_evaluation(args.max_drop, min_accuracy(args), args.max_slice_drop))
    return create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=os.path.join(args.work_dir, "pipeline_root"),
        data_root=data_root, serving_dir=args.serving_dir,
        quantization=quantization, evaluation=evaluation,
        metadata_path=metadata_path(args), train_steps=args.train_steps, trainer_run_fn=RUN_FNS[args.model])


def _transform_example(args: argparse.Namespace, pipeline_name: str, evaluation, **pipeline_kwargs):
    """One of TFX's Transform examples (penguin, taxi, imdb, the penguin template) under <work-dir>/<example>/."""
    from tfx_edge.pipelines import penguin  # pylint: disable=g-import-not-at-top
    return penguin.create_penguin_pipeline(
        pipeline_name=pipeline_name, pipeline_root=os.path.join(args.work_dir, args.example, "pipeline_root"),
        serving_dir=args.serving_dir, quantization=quantization_config(args), evaluation=gate(args, evaluation),
        metadata_path=metadata_path(args), train_steps=args.train_steps, **pipeline_kwargs)


def _penguin_gate(args: argparse.Namespace):
    from tfx_edge.pipelines import penguin  # pylint: disable=g-import-not-at-top
    return penguin.penguin_evaluation(args.max_drop, min_accuracy(args), args.max_slice_drop, Placement(args.placement))


def _build_penguin(args: argparse.Namespace):
    from tfx_edge.pipelines import penguin  # pylint: disable=g-import-not-at-top
    return _transform_example(args, penguin.PIPELINE_NAME, _penguin_gate(args), export=penguin.PENGUIN_EXPORT)


def _build_taxi(args: argparse.Namespace):
    from tfx_edge.pipelines import taxi  # pylint: disable=g-import-not-at-top
    return _transform_example(args, taxi.PIPELINE_NAME, taxi.taxi_evaluation(args.max_drop, min_accuracy(args)),
                              data_root=taxi.DATA_ROOT, module=taxi.MODULE, infer_feature_shape=False)


def _build_imdb(args: argparse.Namespace):
    from tfx_edge.pipelines import imdb  # pylint: disable=g-import-not-at-top
    return _transform_example(args, imdb.PIPELINE_NAME, imdb.imdb_evaluation(args.max_drop, min_accuracy(args)),
                              data_root=imdb.DATA_ROOT, module=imdb.MODULE)


def _build_template(args: argparse.Namespace):
    from tfx_edge.pipelines import penguin, penguin_template  # pylint: disable=g-import-not-at-top
    return _transform_example(args, penguin_template.PIPELINE_NAME, _penguin_gate(args),
                              module=penguin_template.PREPROCESSING_MODULE, run_module=penguin_template.RUN_MODULE,
                              export=penguin.PENGUIN_EXPORT)


def legacy_keras(args: argparse.Namespace) -> None:
    """The template's model.py saves with save_format='tf' (Keras 2 only): TF_USE_LEGACY_KERAS=1
    is set for this process, which works only before TensorFlow is imported."""
    from tfx_edge.pipelines import penguin_template  # pylint: disable=g-import-not-at-top
    if args.example != "template" or os.environ.get(penguin_template.LEGACY_KERAS) == "1":
        return
    if "tensorflow" in sys.modules:
        raise ConfigError(f"--example template needs {penguin_template.LEGACY_KERAS}=1 before TensorFlow is "
                          f"imported (its model.py saves with Keras 2's save_format='tf'); this process "
                          f"imported TensorFlow already: set {penguin_template.LEGACY_KERAS}=1 in the environment")
    os.environ[penguin_template.LEGACY_KERAS] = "1"
    extras.require("tf_keras", "--example template (TFX's penguin template trains with Keras 2)")


def metadata_path(args: argparse.Namespace) -> str:
    if args.example != "digits":
        return os.path.join(args.work_dir, args.example, "metadata.sqlite")
    return os.path.join(args.work_dir, "metadata.sqlite")


def run(args: argparse.Namespace, on_run_id=None) -> str:
    """Runs the pipeline and returns the summary of this run (not of a concurrent one).
    on_run_id(run_id, metadata_path) is called before the run starts (progress reporting)."""
    from tfx_edge.pipelines import summary  # pylint: disable=g-import-not-at-top
    if args.runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner  # pylint: disable=g-import-not-at-top
        runner = BeamDagRunner()
    else:
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
        runner = LocalDagRunner()
    run_id = run_with_id(runner, build(args), lambda rid: on_run_id and on_run_id(rid, metadata_path(args)))
    store = summary.store_for(metadata_path(args))
    return summary.render(summary.latest_run(store, run_id), summary.latest_evaluation(store, run_id),
                          summary.latest_push(store, run_id), summary.latest_report_path(store, run_id))


def run_with_id(runner, pipeline, before=None) -> str:
    """Runs with a run id of our own (a timestamp and a random suffix), so the summary can read
    exactly this run: TFX's runners name the run by the time alone and do not return it.
    Compiled as IrBasedRunner.run does; our pipelines have no module_file to package."""
    from tfx.dsl.compiler import compiler  # pylint: disable=g-import-not-at-top
    from tfx.dsl.compiler import constants  # pylint: disable=g-import-not-at-top
    from tfx.orchestration.portable import runtime_parameter_utils  # pylint: disable=g-import-not-at-top
    ir = compiler.Compiler().compile(pipeline)
    run_id = f"{datetime.datetime.now().isoformat()}-{uuid.uuid4().hex[:8]}"
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    if before is not None:
        before(run_id)
    runner.run_with_ir(ir)
    return run_id


def main(argv: list[str] | None = None) -> int:
    from tfx_edge.pipelines import cli  # pylint: disable=g-import-not-at-top
    return cli.main(["demo"] + list(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
