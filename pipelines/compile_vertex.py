"""Compiles the demo pipeline offline to a Kubeflow V2 / Vertex AI pipeline JSON.

    python -m tfx_edge.pipelines.compile_vertex --image us-docker.pkg.dev/PROJECT/REPO/tfx-edge:TAG \
        --pipeline-root gs://BUCKET/root --data-root gs://BUCKET/digits --serving-dir gs://BUCKET/serving

The image must have this package installed (`pip install .`): each step runs
`python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor
--executor_class_path components.<component>.executor.Executor`.
"""

from __future__ import annotations

import argparse
import os
import sys

from tfx import v1 as tfx

from tfx_edge.pipelines.pipeline import create_pipeline, demo_evaluation
from tfx_edge.pipelines import run_local
from tfx_edge.pipelines.run_local import PIPELINE_NAME


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default="gcr.io/my-project/tfx-edge:latest", help="container image")
    p.add_argument("--pipeline-root", default="gs://my-bucket/tfx-edge/root")
    p.add_argument("--data-root", default="gs://my-bucket/tfx-edge/data/digits")
    p.add_argument("--serving-dir", default="gs://my-bucket/tfx-edge/serving_model")
    p.add_argument("--output", default=os.path.join("work", f"{PIPELINE_NAME}.json"))
    run_local.add_quantization_args(p)
    run_local.add_gate_args(p)
    return p.parse_args(argv)


def compile_pipeline(args: argparse.Namespace) -> str:
    pipeline = create_pipeline(
        pipeline_name=PIPELINE_NAME, pipeline_root=args.pipeline_root, data_root=args.data_root,
        serving_dir=args.serving_dir, quantization=run_local.quantization_config(args),
        trainer_run_fn=run_local.RUN_FNS[args.model],
        evaluation=demo_evaluation(args.max_drop, args.min_accuracy, args.max_slice_drop))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_dir=os.path.dirname(os.path.abspath(args.output)),
        output_filename=os.path.basename(args.output))
    runner.run(pipeline, write_out=True)
    return os.path.abspath(args.output)


def main(argv=None) -> int:
    print(f"wrote {compile_pipeline(parse_args(argv))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
