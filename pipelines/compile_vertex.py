"""Compiles the demo pipeline offline for Vertex AI Pipelines and Kubeflow Pipelines.

    tfx-edge vertex --image REGION-docker.pkg.dev/PROJECT/REPO/tfx-edge:TAG \\
        --pipeline-root gs://BUCKET/root --data-root gs://BUCKET/digits --serving-dir gs://BUCKET/serving

Writes two files: the Vertex PipelineJob JSON (`aiplatform.PipelineJob(template_path=...)`) and
its PipelineSpec as YAML, which KFP's client loads (`create_run_from_pipeline_package`). Each
step runs `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor
--executor_class_path tfx_edge.components.<component>.executor.Executor` in the image, which
must have this package installed (see the Dockerfile). Placeholder image and bucket values are
refused unless --allow-placeholders is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tfx_edge.pipelines import run_local

GCS_PREFIX = "gs://"
PLACEHOLDERS = {"--image": "gcr.io/my-project/tfx-edge:latest", "--pipeline-root": "gs://my-bucket/tfx-edge/root",
                "--data-root": "gs://my-bucket/tfx-edge/data/digits",
                "--serving-dir": "gs://my-bucket/tfx-edge/serving_model"}


def add_vertex_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", default=PLACEHOLDERS["--image"], help="the component image (see the Dockerfile)")
    p.add_argument("--pipeline-root", default=PLACEHOLDERS["--pipeline-root"],
                   help="where Vertex writes the artifacts: a gs:// path (Vertex cannot write a local one)")
    p.add_argument("--data-root", default=PLACEHOLDERS["--data-root"], help="train/ and eval/ TFRecords")
    p.add_argument("--serving-dir", default=PLACEHOLDERS["--serving-dir"], help="push destination")
    p.add_argument("--output", default=os.path.join("work", f"{run_local.PIPELINE_NAME}.json"),
                   help="the PipelineJob JSON; the PipelineSpec YAML goes beside it")
    p.add_argument("--allow-local-paths", action="store_true",
                   help="compile with non-gs:// paths (to run the compiled steps on this machine through TFX's "
                   "Kubeflow V2 entry point; Vertex itself cannot use them)")
    p.add_argument("--allow-placeholders", action="store_true",
                   help="compile with the placeholder image/bucket defaults (for a dry run)")
    run_local.add_quantization_args(p)
    run_local.add_gate_args(p)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vertex_args(p)
    return run_local.check_args(p, p.parse_args(argv))


def check_placeholders(args: argparse.Namespace) -> None:
    """Placeholder values are refused (unless a dry run), and so are paths Vertex cannot use."""
    local = [f"{flag} {_value(args, flag)!r}" for flag in ("--pipeline-root", "--data-root", "--serving-dir")
             if not str(_value(args, flag)).startswith(GCS_PREFIX)]
    if local and not args.allow_local_paths:
        raise SystemExit(f"tfx-edge vertex: {', '.join(local)} not on Cloud Storage: Vertex's steps run in "
                         f"Google's cloud and read and write {GCS_PREFIX}... paths only; give gs://BUCKET/... paths "
                         f"(or --allow-local-paths to run the compiled steps on this machine)")
    left = [flag for flag, value in PLACEHOLDERS.items() if _value(args, flag) == value]
    if left and not args.allow_placeholders:
        raise SystemExit(f"tfx-edge vertex: {', '.join(left)} still have placeholder values "
                         f"({', '.join(PLACEHOLDERS[f] for f in left)}): give your image and buckets, "
                         f"or --allow-placeholders for a dry run")


def _value(args: argparse.Namespace, flag: str):
    return getattr(args, flag[2:].replace("-", "_"))


def compile_pipeline(args: argparse.Namespace) -> str:
    """Writes the PipelineJob JSON and the PipelineSpec YAML; returns the JSON's path."""
    check_placeholders(args)   # before the imports below (seconds)
    from tfx_edge import extras  # pylint: disable=g-import-not-at-top
    extras.require("kfp", "tfx-edge vertex (KubeflowV2DagRunner)")
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    from tfx_edge.pipelines.pipeline import create_pipeline, demo_evaluation  # pylint: disable=g-import-not-at-top
    pipeline = create_pipeline(
        pipeline_name=run_local.PIPELINE_NAME, pipeline_root=args.pipeline_root, data_root=args.data_root,
        serving_dir=args.serving_dir, quantization=run_local.quantization_config(args),
        trainer_run_fn=run_local.RUN_FNS[args.model],
        evaluation=demo_evaluation(args.max_drop, run_local.min_accuracy(args), args.max_slice_drop))
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_dir=os.path.dirname(output), output_filename=os.path.basename(output))
    runner.run(pipeline, write_out=True)
    write_pipeline_spec(output, spec_path(output))
    return output


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
