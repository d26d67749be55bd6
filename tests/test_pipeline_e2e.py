"""The demo pipeline for real: LocalDagRunner three times, BeamDagRunner once, Vertex compile."""

import json
import os

import pytest

from tfx_edge.pipelines import run_local, summary

pytestmark = pytest.mark.e2e


def args_for(root, *extra):
    return run_local.parse_args(["--work-dir", str(root / "work"), "--serving-dir", str(root / "serving"),
                                 "--train-steps", "200", "--calibration-samples", "64", *extra])


def versions(root):
    serving = root / "serving"
    return sorted(os.listdir(serving)) if serving.exists() else []


def blessing_of(store, producer_type_name="ModelBlessing"):
    return max(store.get_artifacts_by_type(producer_type_name), key=lambda a: a.id)


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    outputs = []
    for extra in ((), (), ("--min-accuracy", "1.0")):
        text = run_local.run(args_for(root, *extra))
        store = summary.store_for(run_local.metadata_path(args_for(root)))
        outputs.append({"text": text, "states": summary.latest_run(store),
                        "evaluation": summary.latest_evaluation(store),
                        "push": summary.latest_push(store), "versions": versions(root),
                        "max_artifact_id": max(a.id for a in store.get_artifacts())})
    return root, outputs, store


def test_first_run_blesses_and_pushes_the_quantized_tflite(local_runs):
    root, runs, _ = local_runs
    first = runs[0]
    assert first["evaluation"].blessed, first["text"]
    assert first["push"]["pushed"] and len(first["versions"]) == 1
    pushed = root / "serving" / first["versions"][0]
    assert sorted(os.listdir(pushed)) == ["app_contract.json", "labels.txt", "tflite"]   # the model and what the app needs
    assert os.path.getsize(pushed / "tflite") == first["evaluation"].models["quantized"].size_bytes
    assert "BLESSED" in first["text"] and "pushed:" in first["text"]


def test_second_run_reuses_cached_executions(local_runs):
    _, runs, _ = local_runs
    states = runs[1]["states"]
    for component in ("ImportExampleGen", "StatisticsGen", "SchemaGen", "Trainer", "Quantizer",
                      "TFLiteExporter"):
        assert states[component] == "CACHED", states


def test_float_evaluator_baseline_is_never_the_tflite_model(local_runs):
    _, _, store = local_runs
    trainer_models = {a.id for a in store.get_artifacts_by_type("Model")
                      if "/Trainer/" in a.uri}
    baselines = [b.custom_properties["baseline_model_id"].int_value
                 for b in store.get_artifacts_by_type("ModelBlessing")
                 if "baseline_model_id" in b.custom_properties]
    assert baselines, "the Evaluator never had a baseline: run 2 should resolve one"
    assert set(baselines) <= trainer_models


def test_vertex_resolver_queries_give_the_float_savedmodel_as_baseline(local_runs, tmp_path):
    """The compiled V2 resolver (newest LIVE blessed ModelBlessing, then the Model named by its
    current_model_id) evaluated on this store after each run: after run 2 the newest blessed
    blessing is the EdgeEvaluator's, and it still leads to the float SavedModel."""
    from tfx_edge.pipelines import compile_vertex
    from v2_container import ResolverQueries
    _, runs, store = local_runs
    out = tmp_path / "p.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(["--output", str(out), "--allow-placeholders"]))
    queries = ResolverQueries(json.loads(out.read_text())["pipelineSpec"])
    for run in runs:
        blessing, model = queries.baseline_model(store, run["max_artifact_id"])
        assert model is not None and "/Trainer/" in model.uri, (blessing, model)
    edge_blessing, model = queries.baseline_model(store, runs[1]["max_artifact_id"])
    assert "/EdgeEvaluator/" in edge_blessing.uri
    float_blessing = max((b for b in store.get_artifacts_by_type("ModelBlessing")
                          if "/Evaluator/" in b.uri and b.id <= runs[1]["max_artifact_id"]), key=lambda b: b.id)
    assert (edge_blessing.custom_properties["current_model_id"].int_value
            == float_blessing.custom_properties["current_model_id"].int_value == model.id)


def test_gate_figures_are_custom_properties_in_mlmd(local_runs):
    """What the Vertex / Kubeflow UIs show: read back from MLMD, for the NOT_BLESSED third run."""
    from tfx_edge.components import artifacts
    _, runs, store = local_runs
    evaluation = max(store.get_artifacts_by_type(artifacts.EdgeEvaluation.TYPE_NAME), key=lambda a: a.id)
    blessing = max((b for b in store.get_artifacts_by_type("ModelBlessing") if "/EdgeEvaluator/" in b.uri),
                   key=lambda a: a.id)
    result = runs[2]["evaluation"]
    for props in (evaluation.custom_properties, blessing.custom_properties):
        assert props["checks"].int_value == len(result.checks) and props["failed_checks"].int_value == 1
        assert props["first_failure"].string_value.startswith("accuracy.lower_bound: ")
        assert props["accuracy_quantized"].double_value == pytest.approx(result.primary()["accuracy_quantized"], rel=1e-5)
        assert "accuracy_float_tflite" in props and "accuracy_drop" in props
        assert props["size_bytes_quantized"].int_value == result.models["quantized"].size_bytes
        assert 0.2 < props["size_ratio"].double_value < 0.35
        for model in ("quantized", "float_tflite"):
            for kernel in ("xnnpack", "builtin"):
                assert 0 < props[f"latency_p50_us_{model}_{kernel}"].double_value <= \
                    props[f"latency_p95_us_{model}_{kernel}"].double_value
    assert blessing.custom_properties["blessed"].int_value == 0


def test_impossible_threshold_blocks_the_push(local_runs):
    _, runs, _ = local_runs
    third = runs[2]
    assert not third["evaluation"].blessed
    assert not third["push"]["pushed"]
    assert third["versions"] == runs[1]["versions"]
    failed = [c.name for c in third["evaluation"].failed]
    assert failed == ["accuracy.lower_bound"]
    assert third["states"]["Trainer"] == "CACHED" and third["states"]["EdgeEvaluator"] == "COMPLETE"


def test_beam_dag_runner_runs_the_same_pipeline(tmp_path):
    text = run_local.run(args_for(tmp_path, "--runner", "beam"))
    assert "gate: BLESSED" in text and len(versions(tmp_path)) == 1


def test_vertex_compile_names_our_executors(tmp_path):
    from tfx_edge.pipelines import compile_vertex
    out = tmp_path / "pipeline.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(
        ["--output", str(out), "--image", "example.com/tfx-edge:test", "--allow-placeholders"]))
    spec = json.loads(out.read_text())
    text = out.read_text()
    for path in ("tfx_edge.components.quantizer.executor.Executor",
                 "tfx_edge.components.tflite_exporter.executor.Executor",
                 "tfx_edge.components.edge_evaluator.executor.Executor",
                 "tfx_edge.pipelines.digits_model.run_fn"):
        assert path in text
    assert "example.com/tfx-edge:test" in text
    assert "tfx_edge.QuantizationPlan" in text and spec["pipelineSpec"]["pipelineInfo"]["name"] == "tfx-edge-digits"


@pytest.mark.parametrize("mode", ["qat", "aeq", "auto"])
def test_every_mode_compiles_for_vertex(mode, tmp_path):
    from tfx_edge.pipelines import compile_vertex
    out = tmp_path / "p.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(["--output", str(out), "--mode", mode, "--allow-placeholders"]))
    assert f'\\"mode\\": \\"{mode}\\"' in out.read_text()


def test_cli_demo_prints_progress_then_the_summary_and_no_native_logs(tmp_path):
    """`tfx-edge demo` as a user runs it: one line per component, the summary, nothing else."""
    import re
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(sys.executable), "tfx-edge")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([script, "demo", "--work-dir", str(tmp_path / "work"), "--serving-dir",
                           str(tmp_path / "serving"), "--train-steps", "100", "--calibration-samples", "32"],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr
    before, _, after = proc.stdout.partition("=== tfx-edge demo summary ===")
    lines = [line for line in before.splitlines() if line.strip()]
    assert lines[0].startswith("tfx-edge demo: digits pipeline, logs in ")
    progress = lines[1:]
    assert len(progress) == 11 and all(re.fullmatch(r"  \S+ +(COMPLETE|CACHED) +\d+\.\d s", l) for l in progress)
    assert "gate: BLESSED" in after
    log = lines[0].split("logs in ")[1]
    assert os.path.getsize(log) > 0   # TF's and TFX's output went there
