"""The compiled Vertex pipeline's steps, run as its containers run them (kubeflow_v2_run_executor).

The ExecutorInput of each task is built from the compiled JSON (see v2_container.py);
the Trainer and ExampleGen are stood in for by the session's trained model and
Examples. Each step runs in a subprocess from a directory outside the repository,
so the executor class paths and artifact type names must import from the package.
"""

from __future__ import annotations

import json
import os

import pytest

from v2_container import CompiledPipeline


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, trained_model, examples_artifact):
    from tfx_edge.pipelines import compile_vertex
    root = tmp_path_factory.mktemp("v2")
    out = root / "pipeline.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(
        ["--output", str(out), "--mode", "int8", "--image", "example.com/tfx-edge:test"]))
    pipeline = CompiledPipeline(str(out), str(root / "pipeline_root"))
    pipeline.provide("Trainer", "model", trained_model.uri)
    pipeline.provide("ImportExampleGen", "examples", examples_artifact.uri,
                     {"split_names": examples_artifact.split_names})
    return pipeline


def _run(pipeline: CompiledPipeline, task: str, tmp_path) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = pipeline.run(task, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, f"{task} exited {proc.returncode}:\n{proc.stderr[-3000:]}"


def test_custom_artifact_type_names_import_as_python_paths(compiled):
    import importlib
    from tfx_edge.components.artifacts import EdgeEvaluation, QuantizationPlan
    for cls in (QuantizationPlan, EdgeEvaluation):
        module, name = cls.TYPE_NAME.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name) is cls
        assert f"title: {cls.TYPE_NAME}" in json.dumps(compiled.spec)


def test_quantizer_and_exporter_run_through_the_v2_entry_point(compiled, tmp_path):
    _run(compiled, "Quantizer", tmp_path)
    plan = compiled.produced[("Quantizer", "plan")]
    assert json.loads(open(os.path.join(plan["uri"], "plan.json")).read())["config"]["mode"] == "int8"
    _run(compiled, "TFLiteExporter", tmp_path)
    tflite = compiled.produced[("TFLiteExporter", "tflite_model")]
    model = open(os.path.join(tflite["uri"], "Format-Serving", "tflite"), "rb").read()
    assert model[4:8] == b"TFL3"
    assert tflite["metadata"]["quantization_mode"] == "int8"
