"""The compiled Vertex pipeline's steps, run as its containers run them (kubeflow_v2_run_executor),
from an installed copy of the package (the wheel installed into its own directory, first on
PYTHONPATH), so a module or package-data file missing from the wheel fails here.

The ExecutorInput of each task is built from the compiled JSON (see v2_container.py); the
Trainer, ExampleGen and float Evaluator are stood in for by the session's trained model, its
Examples and a blessed ModelBlessing. Each step runs in a subprocess from a directory outside
the repository. What cannot run here is the Vertex service itself (scheduling, Vertex ML
Metadata, GCS): the pipeline root and the push destination are local directories.
"""

from __future__ import annotations

import json
import os

import pytest

from tfx_edge.components import record_files
from v2_container import CompiledPipeline

pytestmark = pytest.mark.e2e


def _compile(root, name: str, *extra) -> CompiledPipeline:
    from tfx_edge.pipelines import compile_vertex
    out = root / f"{name}.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(
        ["--output", str(out), "--mode", "int8", "--image", "example.com/tfx-edge:test",
         "--pipeline-root", str(root / name), "--data-root", str(root / "unused"),
         "--serving-dir", str(root / f"serving_{name}"), "--allow-local-paths", *extra]))
    return CompiledPipeline(str(out), str(root / f"{name}_root"))


@pytest.fixture(scope="module")
def env(installed):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(installed))


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory, trained_model, examples_artifact):
    root = tmp_path_factory.mktemp("v2")
    blessed, strict = _compile(root, "blessed"), _compile(root, "strict", "--min-accuracy", "1.0")
    float_blessing = root / "float_blessing"
    float_blessing.mkdir()
    (float_blessing / "BLESSED").write_text("")
    for pipeline in (blessed, strict):
        pipeline.provide("Trainer", "model", trained_model.uri)
        pipeline.provide("ImportExampleGen", "examples", examples_artifact.uri,
                         {"split_names": examples_artifact.split_names})
        pipeline.provide("Evaluator", "blessing", str(float_blessing), {"blessed": 1})
    return root, blessed, strict


def _run(pipeline: CompiledPipeline, task: str, cwd, env) -> dict:
    proc = pipeline.run(task, cwd=str(cwd), env=env)
    assert proc.returncode == 0, f"{task} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(open(os.path.join(pipeline.root, task, "executor_output.json")).read())


def test_the_subprocesses_import_the_installed_copy(env, installed, tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", "import tfx_edge.components.edge_evaluator.html_report as m; "
                           "print(m.__file__)"], cwd=str(tmp_path), env=env, capture_output=True, text=True)
    assert proc.stdout.strip().startswith(str(installed)), proc.stdout + proc.stderr


def test_custom_artifact_type_names_import_as_python_paths(pipelines):
    import importlib
    from tfx_edge.components.artifacts import EdgeEvaluation, QuantizationPlan
    _, blessed, _ = pipelines
    for cls in (QuantizationPlan, EdgeEvaluation):
        module, name = cls.TYPE_NAME.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name) is cls
        assert f"title: {cls.TYPE_NAME}" in json.dumps(blessed.spec)


def test_every_step_and_the_stock_pusher_run_through_the_v2_entry_point(pipelines, env, tmp_path):
    root, blessed, strict = pipelines
    _run(blessed, "Quantizer", tmp_path, env)
    plan = blessed.produced[("Quantizer", "plan")]
    assert record_files.read_plan(plan["uri"])[0].config.mode.value == "int8"
    _run(blessed, "TFLiteExporter", tmp_path, env)
    tflite = blessed.produced[("TFLiteExporter", "tflite_model")]
    assert open(os.path.join(tflite["uri"], "Format-Serving", "tflite"), "rb").read()[4:8] == b"TFL3"
    assert tflite["metadata"]["quantization_mode"] == "int8"
    out = _run(blessed, "EdgeEvaluator", tmp_path, env)
    metadata = out["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert metadata["blessed"] == 1 and metadata["failed_checks"] == 0
    evaluation = out["artifacts"]["evaluation"]["artifacts"][0]
    assert os.path.exists(os.path.join(evaluation["uri"], "report.html"))
    pushed = _run(blessed, "Pusher", tmp_path, env)["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert pushed["pushed"] == 1
    versions = os.listdir(root / "serving_blessed")
    assert len(versions) == 1 and sorted(os.listdir(root / "serving_blessed" / versions[0])) == [
        "app_contract.json", "labels.txt", "tflite"]   # the model and what the app needs

    # The same exported model against a gate it cannot pass: NOT_BLESSED, and the Pusher pushes nothing.
    strict.produced.update({k: v for k, v in blessed.produced.items() if k[0] in ("Quantizer", "TFLiteExporter")})
    out = _run(strict, "EdgeEvaluator", tmp_path, env)
    metadata = out["artifacts"]["blessing"]["artifacts"][0]["metadata"]
    assert metadata["blessed"] == 0 and metadata["first_failure"].startswith("accuracy.lower_bound")
    pushed = _run(strict, "Pusher", tmp_path, env)["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert pushed["pushed"] == 0 and not (root / "serving_strict").exists()


@pytest.mark.parametrize("swap, message", [
    ("candidate_is_the_float_file", r"WiringError: model: .*swapped/Format-Serving/tflite .* is not the quantized "
                                    r"model that .* recorded .* \(it is the float32 reference of that export\)"),
    ("reference_is_the_candidate", r"WiringError: float_model: .*swapped/Format-Serving/tflite .* is not the float32 "
                                   r"reference that .* recorded .*: it comes from another TFLiteExporter run"),
])
def test_a_swapped_tflite_file_fails_the_v2_edge_evaluator_naming_the_wiring(swap, message, pipelines, env,
                                                                              tmp_path):
    """After the run above: the TFLiteExporter's outputs with one file swapped fail the EdgeEvaluator."""
    import copy
    import re
    import shutil
    pipeline = copy.copy(pipelines[1])
    pipeline.produced = dict(pipeline.produced)
    exported = {key: dict(pipeline.produced[("TFLiteExporter", key)]) for key in ("tflite_model", "float_model")}
    target, source = (("tflite_model", "float_model") if swap == "candidate_is_the_float_file"
                      else ("float_model", "tflite_model"))
    swapped = tmp_path / "swapped"
    shutil.copytree(exported[target]["uri"], swapped)
    shutil.copy(os.path.join(exported[source]["uri"], "Format-Serving", "tflite"), swapped / "Format-Serving")
    exported[target]["uri"] = str(swapped)
    for key, artifact in exported.items():
        pipeline.produced[("TFLiteExporter", key)] = artifact
    pipeline.root = str(tmp_path / "root")
    proc = pipeline.run("EdgeEvaluator", cwd=str(tmp_path), env=env)
    assert proc.returncode != 0 and re.search(message, proc.stderr), proc.stderr[-3000:]
    blessing = tmp_path / "root" / "EdgeEvaluator" / "blessing"
    assert not blessing.exists() or not os.listdir(blessing)


def test_kfp_client_loads_the_pipeline_spec(pipelines):
    from kfp.client import client
    from tfx_edge.pipelines import compile_vertex
    root, _, _ = pipelines
    doc = client._extract_pipeline_yaml(compile_vertex.spec_path(str(root / "blessed.json")))  # kfp's own loader
    assert doc.pipeline_spec.pipeline_info.name == "tfx-edge-digits"
    assert "EdgeEvaluator" in doc.pipeline_spec.root.dag.tasks
