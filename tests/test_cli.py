"""The `tfx-edge` command's face and the optional extras' messages (no TensorFlow needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from result_fixtures import classification_result

from tfx_edge import extras
from tfx_edge.schemas import ConfigError


def test_help_is_fast_and_loads_no_tensorflow():
    code = ("import sys, contextlib, io\n"
            "from tfx_edge.pipelines import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n        cli.main(['demo', '--help'])\n    except SystemExit:\n        pass\n"
            "assert '--placement' in out.getvalue() and 'default:' in out.getvalue(), out.getvalue()\n"
            "heavy = sorted({'tensorflow', 'tfx', 'apache_beam', 'ml_metadata'} & set(sys.modules))\n"
            "assert not heavy, heavy\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - start < 2.0


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "tfx-edge")
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "demo" in proc.stdout and "vertex" in proc.stdout and "report" in proc.stdout


@pytest.mark.parametrize("module, extra", [("ai_edge_quantizer", "aeq"), ("tensorflow_model_optimization", "qat"),
                                           ("kfp", "kfp"), ("sklearn.datasets", "demo")])
def test_a_missing_extra_says_which_to_install(module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)   # what an environment without the package gives
    with pytest.raises(ImportError, match=rf"pip install 'tfx-edge\[{extra}\]'"):
        extras.require(module, "this feature")


def test_vertex_refuses_placeholder_values():
    from tfx_edge.pipelines import compile_vertex
    args = compile_vertex.parse_args(["--image", "example.com/tfx-edge:1"])
    with pytest.raises(SystemExit, match=r"--pipeline-root, --data-root, --serving-dir still have placeholder"):
        compile_vertex.check_placeholders(args)


def test_report_of_a_missing_artifact_says_what_to_give(tmp_path, capsys):
    from tfx_edge.pipelines import cli
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "give an EdgeEvaluation artifact's directory" in capsys.readouterr().err


# Every argument error and `report`, in a fresh interpreter: message, exit code, time, and the
# heavy modules it loaded (printed at exit by the wrapper, last line of stderr).
CLI = ("import atexit, sys\n"
       "atexit.register(lambda: print('loaded:', sorted({'tensorflow', 'tfx', 'apache_beam', 'ml_metadata'}"
       " & set(sys.modules)), file=sys.stderr))\n"
       "from tfx_edge.pipelines import cli\n"
       "sys.exit(cli.main(sys.argv[1:]))\n")


def run_cli(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr without the wrapper's line), asserting < 3 s and no TensorFlow/TFX."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CLI, *args], cwd="/", capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - start
    *err, loaded = proc.stderr.rstrip("\n").split("\n")
    assert loaded == "loaded: []", proc.stderr[-2000:]
    assert seconds < 3.0, f"tfx-edge {' '.join(args)} took {seconds:.1f} s"
    return proc.returncode, proc.stdout, "\n".join(err)


def test_version_is_printed_without_tensorflow():
    import tfx_edge
    code, out, _ = run_cli("--version")
    assert (code, out) == (0, f"tfx-edge {tfx_edge.__version__}\n")


@pytest.mark.parametrize("args, code, message", [
    (["demo", "--train-steps", "-5"], 2, "argument --train-steps: -5 is not a positive integer"),
    (["demo", "--train-steps", "0"], 2, "argument --train-steps: 0 is not a positive integer"),
    (["demo", "--train-steps", "many"], 2, "argument --train-steps: 'many' is not an integer"),
    (["demo", "--max-drop", "2"], 2, "argument --max-drop: accuracy.max_absolute_drop=2.0 is invalid: 'accuracy' is "
                                     "at most 1, so a drop of 2 always passes"),
    (["demo", "--max-drop", "-0.1"], 2, "argument --max-drop: accuracy.max_absolute_drop=-0.1 is invalid"),
    (["demo", "--max-drop", "two"], 2, "argument --max-drop: 'two' is not a number"),
    (["demo", "--min-accuracy", "90"], 2, "argument --min-accuracy: accuracy.lower_bound=90.0 is invalid"),
    (["demo", "--max-slice-drop", "1"], 2, "argument --max-slice-drop: accuracy.max_absolute_drop=1.0 is invalid"),
    (["demo", "--calibration-samples", "0"], 2, "argument --calibration-samples: calibration.num_samples=0 is "
                                                "invalid"),
    (["demo", "--qat-epochs", "0"], 2, "argument --qat-epochs: qat.epochs=0 is invalid"),
    (["demo", "--auto-max-drop", "-1"], 2, "argument --auto-max-drop: auto.max_absolute_drop=-1.0 is invalid"),
    (["demo", "--mode", "int9"], 2, "argument --mode: invalid choice: 'int9'"),
    (["vertex", "--image", "example.com/x:1", "--max-drop", "2"], 2, "argument --max-drop:"),
    (["vertex", "--train-steps", "5"], 2, "unrecognized arguments: --train-steps 5"),
    (["vertex"], 1, "--image, --pipeline-root, --data-root, --serving-dir still have placeholder values"),
])
def test_argument_errors_come_before_tensorflow(args, code, message):
    got, out, err = run_cli(*args)
    assert (got, out) == (code, "")
    assert message in err and "Traceback" not in err, err


METRICS = {**classification_result(), "examples": 360, "mode": "int8",
           "slices": {"": {**classification_result()["slices"][""], "examples": 360}},
           "checks": [{"name": "budgets.max_model_bytes", "value": 1, "limit": 2, "passed": True, "detail": "size"},
                      {"name": "accuracy.lower_bound", "value": 0.5, "limit": 0.9, "passed": False,
                       "detail": "quantized accuracy 0.5 >= 0.9: FAILED"}]}
METRICS["slices"][""]["metrics"] = {"quantized": {"accuracy": 0.5}, "float_tflite": {"accuracy": 0.975}}
METRICS["slices"][""]["drops"] = {"float_tflite": {"accuracy": {"absolute": 0.475, "relative": 0.487}}}
METRICS["models"] = {m: {**METRICS["models"][m], "size_bytes": size}
                     for m, size in (("quantized", 163840), ("float_tflite", 610304))}


def _artifact(tmp_path, content) -> str:
    if isinstance(content, bytes):
        (tmp_path / "metrics.json").write_bytes(content)
    elif content == "a directory":
        (tmp_path / "metrics.json").mkdir()
    elif content is not None:
        (tmp_path / "metrics.json").write_text(json.dumps(content))
    return str(tmp_path)


@pytest.mark.parametrize("blessed", [True, False])
def test_report_prints_the_summary_without_tensorflow(tmp_path, blessed):
    code, out, err = run_cli("report", _artifact(tmp_path, {**METRICS, "blessed": blessed}))
    assert code == (0 if blessed else 1), err
    assert "accuracy: float32 0.975  quantized 0.5  drop 0.475 (relative 48.70%, 360 eval examples)" in out
    assert f"gate: {'BLESSED' if blessed else 'NOT BLESSED'} (1 of 2 checks passed)" in out
    assert f"report: {tmp_path / 'report.html'}" in out


RESULT = "the EdgeEvaluator's result '{path}'"


@pytest.mark.parametrize("content, message", [
    (None, RESULT + " does not exist; give an EdgeEvaluation artifact's directory written by this tfx-edge"),
    ("a directory", RESULT + " is a directory, not a file; give an EdgeEvaluation artifact's directory"),
    (b'{"blessed": tr', RESULT + " is not readable JSON (Expecting value: line 1 column 13"),
    (b"\xff\xfe", RESULT + " is not readable JSON ("),
    ([1, 2], RESULT + " holds a JSON list, not a tfx_edge.EdgeEvaluation record; give an EdgeEvaluation"),
    ({"blessed": True, "checks": []}, RESULT + " is a None record, not 'tfx_edge.EdgeEvaluation'"),
    ({**METRICS, "models": []}, RESULT + ": models=[] is invalid: expected a mapping; give an EdgeEvaluation"),
    ({**METRICS, "checks": [1]}, RESULT + ": checks[0]=1 is invalid: expected a mapping for CheckRecord"),
    ({**METRICS, "blessed": "true"}, RESULT + ": blessed='true' is invalid: expected true or false, got str"),
])
def test_report_of_a_missing_or_broken_metrics_file_is_one_line(tmp_path, content, message):
    code, out, err = run_cli("report", _artifact(tmp_path, content))
    assert (code, out) == (2, "")
    assert err.startswith("tfx-edge report: ") and "\n" not in err, err
    assert message.format(path=tmp_path / "metrics.json") in err, err


def test_template_example_in_a_process_that_already_imported_tensorflow_says_to_set_legacy_keras(monkeypatch):
    import tensorflow  # noqa: F401  (what makes TF_USE_LEGACY_KERAS too late)
    from tfx_edge.pipelines import penguin_template, run_local
    monkeypatch.delenv(penguin_template.LEGACY_KERAS, raising=False)
    with pytest.raises(ConfigError, match="TF_USE_LEGACY_KERAS=1 in the environment"):
        run_local.legacy_keras(run_local.parse_args(["--example", "template"]))
    assert penguin_template.LEGACY_KERAS not in os.environ
    run_local.legacy_keras(run_local.parse_args(["--example", "penguin"]))   # other examples: untouched
    assert penguin_template.LEGACY_KERAS not in os.environ


def test_vertex_refuses_local_paths_naming_them():
    from tfx_edge.pipelines import compile_vertex
    args = compile_vertex.parse_args(["--image", "example.com/tfx-edge:1", "--pipeline-root", "/local/root",
                                      "--data-root", "gs://b/data", "--serving-dir", "gs://b/serving"])
    with pytest.raises(SystemExit, match=r"--pipeline-root '/local/root' not on Cloud Storage.*gs://BUCKET"):
        compile_vertex.check_placeholders(args)
