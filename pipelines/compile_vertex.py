"""Compiles a pipeline offline for Vertex AI Pipelines and Kubeflow Pipelines: the bundled demo,
or the tfx.dsl.Pipeline your own function returns (--pipeline MODULE:FUNCTION).

    tfx-edge vertex --image REGION-docker.pkg.dev/PROJECT/REPO/tfx-edge:TAG \\
        --pipeline-root gs://BUCKET/root --data-root gs://BUCKET/digits --serving-dir gs://BUCKET/serving

    tfx-edge vertex --image ... --pipeline-root gs://BUCKET/root \\
        --pipeline my_pipelines.edge:create_pipeline \\
        --pipeline-arg data_root=gs://BUCKET/data --pipeline-arg train_steps=200

With --pipeline, the function is called with keyword arguments: each --pipeline-arg, plus
pipeline_root (--pipeline-root) and pipeline_name (--pipeline-name) when it has such a
parameter and no --pipeline-arg sets it. The demo's flags (--data-root, --serving-dir, the
quantization and gate flags) configure the bundled demo only and are refused with --pipeline.

Writes two files: the Vertex PipelineJob JSON (`aiplatform.PipelineJob(template_path=...)`) and
its PipelineSpec as YAML, which KFP's client loads (`create_run_from_pipeline_package`). Each
step runs `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor
--executor_class_path <the component's executor>` in the image, which must have this package
(and the modules your pipeline names) installed (see the Dockerfile). Placeholder image and
bucket values are refused unless --allow-placeholders is given.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from typing import Any, Callable, Sequence

from tfx_edge.pipelines import pipeline_factory, run_local

GCS_PREFIX = "gs://"
PLACEHOLDERS = {"--image": "gcr.io/my-project/tfx-edge:latest", "--pipeline-root": "gs://my-bucket/tfx-edge/root",
                "--data-root": "gs://my-bucket/tfx-edge/data/digits",
                "--serving-dir": "gs://my-bucket/tfx-edge/serving_model"}
DEMO_PATHS = ("--pipeline-root", "--data-root", "--serving-dir")
_CLOUD_ONLY = (f"Vertex's steps run in Google's cloud and read and write {GCS_PREFIX}... paths only; give "
               f"gs://BUCKET/... paths (or --allow-local-paths to run the compiled steps on this machine)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """ArgumentDefaultsHelpFormatter (the description keeps its layout), except: a help text that
    states its default already, "(default ...", keeps its own words, a flag shows '(default: off)',
    and an option without help shows its default alone."""

    def _format_action(self, action: argparse.Action) -> str:
        if not action.help and action.option_strings:
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        return super()._get_help_string(action)


def add_vertex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline", type=pipeline_factory.factory_reference, metavar="MODULE:FUNCTION",
                   help="compile the tfx.dsl.Pipeline this function returns (MODULE: a dotted name importable "
                   "from the current directory or sys.path) (default: none, the bundled demo)")
    p.add_argument("--pipeline-arg", type=pipeline_factory.pipeline_arg, action="append", metavar="NAME=VALUE",
                   help="a keyword argument of the --pipeline function, repeatable; VALUE is read as JSON when it "
                   "parses as JSON (false, 100, [], {}, null, \"text\"), else as a string (gs://B/data); Python's "
                   "True/False/None are refused (write true/false/null) (default: none)")
    p.add_argument("--image", default=PLACEHOLDERS["--image"], help="the component image (see the Dockerfile)")
    p.add_argument("--pipeline-root", default=PLACEHOLDERS["--pipeline-root"],
                   help="where Vertex writes the artifacts: a gs:// path (Vertex cannot write a local one); with "
                   "--pipeline, the function's pipeline_root argument when it has one")
    p.add_argument("--pipeline-name", help=f"the pipeline's name (default: {run_local.PIPELINE_NAME} for the demo; "
                   "with --pipeline the module's last part, '_' as '-', given as the function's pipeline_name "
                   "argument when it has one)")
    p.add_argument("--output", help="the PipelineJob JSON; the PipelineSpec YAML goes beside it "
                   "(default: work/<pipeline name>.json)")
    p.add_argument("--allow-local-paths", action="store_true",
                   help="compile with non-gs:// paths (to run the compiled steps on this machine through TFX's "
                   "Kubeflow V2 entry point; Vertex itself cannot use them)")
    p.add_argument("--allow-placeholders", action="store_true",
                   help="compile with the placeholder image/bucket defaults (for a dry run)")
    add_demo_args(p)


def add_demo_args(p: argparse.ArgumentParser) -> None:
    """The bundled demo's flags (refused with --pipeline)."""
    p.add_argument("--data-root", default=PLACEHOLDERS["--data-root"], help="the demo's train/ and eval/ TFRecords")
    p.add_argument("--serving-dir", default=PLACEHOLDERS["--serving-dir"], help="the demo's push destination")
    run_local.add_quantization_args(p)
    run_local.add_gate_args(p)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_vertex_args(p)
    return check_args(run_local.check_args(p, p.parse_args(argv)), argv)


def check_args(args: argparse.Namespace, argv: Sequence[str]) -> argparse.Namespace:
    """What the parser cannot see: flags that would be ignored (the demo's with --pipeline,
    --pipeline-arg without it) and a --pipeline-arg given twice. argv: the command line."""
    if args.pipeline is None:
        if args.pipeline_arg:
            raise SystemExit(f"tfx-edge vertex: --pipeline-arg {args.pipeline_arg[0].text} without --pipeline: "
                             f"the bundled demo takes no arguments of a function; give --pipeline MODULE:FUNCTION")
        return args
    demo = [flag for flag in given_flags(argv) if flag in _flags(add_demo_args)]
    if demo:
        raise SystemExit(f"tfx-edge vertex: {', '.join(demo)} configure{'s' if len(demo) == 1 else ''} the "
                         f"bundled demo, not --pipeline "
                         f"{args.pipeline}; drop them and pass the function's own arguments with "
                         f"--pipeline-arg NAME=VALUE")
    try:
        pipeline_factory.check_unique(args.pipeline_arg or ())
    except pipeline_factory.FactoryError as error:
        raise SystemExit(f"tfx-edge vertex: {error}") from None
    return args


def given_flags(argv: Sequence[str]) -> list[str]:
    """The vertex flags on the command line, whatever their values: parsed again into a namespace
    that holds None for each (argparse fills in a default only where the namespace has none)."""
    p = argparse.ArgumentParser(add_help=False)
    add_vertex_args(p)
    blank = argparse.Namespace(**dict.fromkeys(vars(p.parse_args([]))))
    given = vars(p.parse_known_args(list(argv), namespace=blank)[0])
    return [_flag(dest) for dest, value in given.items() if value is not None]


def _flags(add: Callable[[argparse.ArgumentParser], None]) -> list[str]:
    p = argparse.ArgumentParser(add_help=False)
    add(p)
    return [_flag(dest) for dest in vars(p.parse_args([]))]


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_placeholders(args: argparse.Namespace) -> None:
    """Placeholder values are refused (unless a dry run), and so are paths Vertex cannot use. With
    --pipeline only --image here: the pipeline's root is checked once the function returns it."""
    paths = () if args.pipeline else DEMO_PATHS
    local = [f"{flag} {_value(args, flag)!r}" for flag in paths if not str(_value(args, flag)).startswith(GCS_PREFIX)]
    if local and not args.allow_local_paths:
        raise SystemExit(f"tfx-edge vertex: {', '.join(local)} not on Cloud Storage: {_CLOUD_ONLY}")
    left = [flag for flag in ("--image", *paths) if _value(args, flag) == PLACEHOLDERS[flag]]
    if left and not args.allow_placeholders:
        raise SystemExit(f"tfx-edge vertex: {', '.join(left)} still {'has a' if len(left) == 1 else 'have'} "
                         f"placeholder value{'' if len(left) == 1 else 's'} "
                         f"({', '.join(PLACEHOLDERS[f] for f in left)}): give your image and buckets, "
                         f"or --allow-placeholders for a dry run")


def check_pipeline_root(args: argparse.Namespace, root: Any) -> None:
    """The root of the pipeline --pipeline's function returned (a placeholder resolved at run time passes)."""
    if not isinstance(root, str):
        return
    where = (f"--pipeline {args.pipeline} returned a pipeline whose root {root!r} (from --pipeline-root, or set "
             f"by the function itself)")
    if not root.startswith(GCS_PREFIX) and not args.allow_local_paths:
        raise SystemExit(f"tfx-edge vertex: {where} is not on Cloud Storage: {_CLOUD_ONLY}")
    if root == PLACEHOLDERS["--pipeline-root"] and not args.allow_placeholders:
        raise SystemExit(f"tfx-edge vertex: {where} is the placeholder; give --pipeline-root gs://BUCKET/..., "
                         f"or --allow-placeholders for a dry run")


def _value(args: argparse.Namespace, flag: str):
    return getattr(args, flag[2:].replace("-", "_"))


def compile_pipeline(args: argparse.Namespace) -> str:
    """Writes the PipelineJob JSON and the PipelineSpec YAML; returns the JSON's path."""
    check_placeholders(args)   # before the imports below (seconds)
    pipeline = factory_pipeline(args) if args.pipeline else demo_pipeline(args)
    output = os.path.abspath(args.output or os.path.join("work", f"{pipeline.pipeline_name}.json"))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_dir=os.path.dirname(output), output_filename=os.path.basename(output))
    runner.run(pipeline, write_out=True)
    write_pipeline_spec(output, spec_path(output))
    return output


def _require_kfp() -> None:
    from tfx_edge import extras  # pylint: disable=g-import-not-at-top
    extras.require("kfp", "tfx-edge vertex (KubeflowV2DagRunner)")


def demo_pipeline(args: argparse.Namespace):
    _require_kfp()
    from tfx_edge.pipelines.pipeline import create_pipeline, demo_evaluation  # pylint: disable=g-import-not-at-top
    return create_pipeline(
        pipeline_name=args.pipeline_name or run_local.PIPELINE_NAME, pipeline_root=args.pipeline_root,
        data_root=args.data_root, serving_dir=args.serving_dir, quantization=run_local.quantization_config(args),
        trainer_run_fn=run_local.RUN_FNS[args.model],
        evaluation=run_local.gate(args, demo_evaluation(args.max_drop, run_local.min_accuracy(args),
                                                        args.max_slice_drop)))


def factory_pipeline(args: argparse.Namespace):
    """The pipeline --pipeline's function returns, its arguments checked before the call and
    what it returns after."""
    function, kwargs = factory_call(args)
    _require_kfp()
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    pipeline = function(**kwargs)
    if not isinstance(pipeline, tfx.dsl.Pipeline):
        kind = type(pipeline)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise SystemExit(f"tfx-edge vertex: --pipeline {args.pipeline} returned {name}, not a tfx.dsl.Pipeline; "
                         f"make the function return the pipeline (tfx.dsl.Pipeline(...)), not a runner or a list of "
                         f"components")
    check_pipeline_root(args, pipeline.pipeline_info.pipeline_root)
    return pipeline


def factory_call(args: argparse.Namespace) -> tuple[Callable[..., Any], dict[str, Any]]:
    """--pipeline's function and its keyword arguments (SystemExit naming what does not fit)."""
    supplied = {"pipeline_root": args.pipeline_root,
                "pipeline_name": args.pipeline_name or pipeline_factory.default_name(args.pipeline)}
    explicit = {}
    if args.pipeline_root != PLACEHOLDERS["--pipeline-root"]:
        explicit["pipeline_root"] = f"--pipeline-root {args.pipeline_root}"
    if args.pipeline_name is not None:
        explicit["pipeline_name"] = f"--pipeline-name {args.pipeline_name}"
    try:
        function = pipeline_factory.load(args.pipeline)
        return function, pipeline_factory.keyword_arguments(function, args.pipeline, args.pipeline_arg or (),
                                                            supplied, explicit)
    except pipeline_factory.FactoryError as error:
        raise SystemExit(f"tfx-edge vertex: {error}") from None


def spec_path(job_path: str) -> str:
    return os.path.splitext(job_path)[0] + ".pipeline_spec.yaml"


def write_pipeline_spec(job_path: str, path: str) -> None:
    """The PipelineSpec part of the PipelineJob, as the YAML KFP's client loads."""
    import yaml  # pylint: disable=g-import-not-at-top
    with open(job_path) as f:
        spec = json.load(f)["pipelineSpec"]
    with open(path, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    from tfx_edge.pipelines import cli  # pylint: disable=g-import-not-at-top
    return cli.main(["vertex"] + list(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
