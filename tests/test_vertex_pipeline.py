"""`tfx-edge vertex --pipeline MODULE:FUNCTION`: your own pipeline factory compiled for Vertex AI /
Kubeflow (TFX's penguin Kubeflow pipeline as the tfx wheel ships it, a factory of tfx-edge's
components), and every refusal, each naming the value and the fix."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

from test_cli import run_cli

IMAGE = "example.com/tfx-edge:test"
PENGUIN = "tfx.examples.penguin.penguin_pipeline_kubeflow:create_pipeline"
# Its required parameters (pipeline_name and pipeline_root come from --pipeline-name / --pipeline-root).
PENGUIN_ARGS = {
    "data_root": "gs://b/penguin/data", "module_file": "gs://b/penguin/penguin_utils.py",
    "ai_platform_training_args": "{}", "ai_platform_serving_args": "{}", "enable_tuning": "false",
    "enable_cache": "false", "user_provided_schema_path": "gs://b/penguin/schema.pbtxt", "beam_pipeline_args": "[]",
    "use_cloud_component": "false", "use_aip": "false", "use_vertex": "true", "serving_model_dir": "gs://b/serving",
}
EXECUTORS = ("tfx_edge.components.quantizer.executor.Executor",
             "tfx_edge.components.tflite_exporter.executor.Executor",
             "tfx_edge.components.edge_evaluator.executor.Executor")

EDGE_FACTORY = """
from tfx_edge.pipelines import penguin
from tfx_edge.schemas import CalibrationConfig, Mode, Placement, QuantizationConfig


def create_pipeline(pipeline_name, pipeline_root, data_root, serving_dir, mode="int8", max_drop=0.02,
                    min_accuracy=0.9, train_steps=100):
    quantization = QuantizationConfig(mode=Mode(mode), calibration=CalibrationConfig(num_samples=100),
                                      placement=Placement.EMBEDDED)
    evaluation = penguin.penguin_evaluation(max_drop, min_accuracy, 0.1, Placement.EMBEDDED)
    return penguin.create_penguin_pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, serving_dir=serving_dir,
        quantization=quantization, evaluation=evaluation, data_root=data_root, train_steps=train_steps)
"""

SMALL_FACTORIES = """
from tfx import v1 as tfx


def create_pipeline(pipeline_name, pipeline_root, data_root, *, enable_cache: bool = False):
    return tfx.dsl.Pipeline(pipeline_name=pipeline_name, pipeline_root=pipeline_root, enable_cache=enable_cache,
                            components=[tfx.components.CsvExampleGen(input_base=data_root)])


def own_root(data_root):
    return tfx.dsl.Pipeline(pipeline_name="own-root", pipeline_root="/tmp/my-local-root",
                            components=[tfx.components.CsvExampleGen(input_base=data_root)])


def components_only(data_root):
    return [tfx.components.CsvExampleGen(input_base=data_root)]


CREATE = 3
"""


def pipeline_args(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--pipeline-arg", f"{name}={value}")]


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """write(name, source): a module of the user's in a directory on sys.path, forgotten afterwards."""
    names = []

    def write(name: str, source: str) -> str:
        (tmp_path / "user_code").mkdir(exist_ok=True)
        (tmp_path / "user_code" / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path / "user_code"))
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


def compile_job(tmp_path, *argv: str) -> tuple[dict, str]:
    from tfx_edge.pipelines import compile_vertex
    out = tmp_path / "job.json"
    compile_vertex.compile_pipeline(compile_vertex.parse_args(["--image", IMAGE, "--output", str(out), *argv]))
    return json.loads(out.read_text()), out.read_text()


def refusal(*argv: str) -> str:
    """The message of the SystemExit compiling `argv` ends in (before or after the factory is called)."""
    from tfx_edge.pipelines import compile_vertex
    with pytest.raises(SystemExit) as raised:
        compile_vertex.compile_pipeline(compile_vertex.parse_args(["--image", IMAGE, *argv]))
    return str(raised.value)


def test_tfx_penguin_kubeflow_pipeline_compiles_unchanged(tmp_path, monkeypatch, capsys):
    """TFX's own penguin Kubeflow pipeline through `tfx-edge vertex`. Its Transform and Trainer take
    a module_file, which KubeflowV2DagRunner packages into a wheel under the pipeline root while
    compiling (it reads gs:// there); TFX's UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES keeps this
    test off the network (the next test packages into a local root)."""
    import yaml
    from tfx_edge.pipelines import cli
    monkeypatch.setenv("UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES", "1")
    out = tmp_path / "penguin.json"
    assert cli.main(["vertex", "--image", IMAGE, "--pipeline-root", "gs://b/penguin/root", "--output", str(out),
                     "--pipeline", PENGUIN, *pipeline_args(PENGUIN_ARGS)]) == 0
    job = json.loads(out.read_text())
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {"CsvExampleGen", "ImportSchemaGen", "Transform", "Trainer", "Evaluator", "Pusher"} <= set(tasks)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/penguin/root"
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "penguin-pipeline-kubeflow"   # the module's name
    assert "gs://b/penguin/penguin_utils.py" in out.read_text() and IMAGE in out.read_text()
    spec = tmp_path / "penguin.pipeline_spec.yaml"
    assert yaml.safe_load(spec.read_text()) == job["pipelineSpec"]
    assert capsys.readouterr().out.splitlines()[-2:] == [f"wrote {out}", f"wrote {spec}"]


def test_module_file_is_packaged_into_a_local_root(tmp_path):
    """What compiling does with a module_file: a wheel per component under <root>/_wheels/ (with a
    gs:// root, in the bucket: compiling then needs access to it)."""
    import tfx.examples.penguin as penguin_examples
    module_file = f"{penguin_examples.__path__[0]}/penguin_utils_keras.py"
    root = tmp_path / "root"
    job, text = compile_job(tmp_path, "--pipeline", PENGUIN, "--pipeline-root", str(root), "--allow-local-paths",
                            "--pipeline-name", "penguin-local",
                            *pipeline_args({**PENGUIN_ARGS, "module_file": module_file}))
    wheels = sorted(p.name for p in (root / "_wheels").iterdir())
    assert [w.split("-")[0] for w in wheels] == ["tfx_user_code_trainer", "tfx_user_code_transform"]
    assert all(w in text for w in wheels) and job["runtimeConfig"]["gcsOutputDirectory"] == str(root)
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "penguin-local"


def test_a_factory_of_tfx_edge_components_compiles(tmp_path, user_module):
    module = user_module("my_edge_pipeline", EDGE_FACTORY)
    job, text = compile_job(tmp_path, "--pipeline", f"{module}:create_pipeline",
                            "--pipeline-root", "gs://b/edge/root", "--pipeline-name", "my-edge",
                            "--pipeline-arg", "data_root=gs://b/edge/data",
                            "--pipeline-arg", "serving_dir=gs://b/edge/serving",
                            "--pipeline-arg", "mode=float16", "--pipeline-arg", "train_steps=50")
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {"Transform", "Trainer", "Quantizer", "TFLiteExporter", "EdgeEvaluator", "Pusher"} <= set(tasks)
    assert all(path in text for path in EXECUTORS)
    assert "tfx.examples.penguin.penguin_utils_keras.run_fn" in text
    assert '\\"mode\\": \\"float16\\"' in text and "gs://b/edge/serving" in text
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/edge/root"
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "my-edge"


def test_the_output_is_named_after_the_pipeline_by_default(tmp_path, user_module, monkeypatch):
    from tfx_edge.pipelines import compile_vertex
    module = user_module("small_factories", SMALL_FACTORIES)
    monkeypatch.chdir(tmp_path)
    job = compile_vertex.compile_pipeline(compile_vertex.parse_args([
        "--image", IMAGE, "--pipeline", f"{module}:create_pipeline", "--pipeline-root", "gs://b/root",
        "--pipeline-arg", "data_root=gs://b/data", "--pipeline-arg", "enable_cache=true"]))
    assert job == str(tmp_path / "work" / "small-factories.json")
    assert json.loads((tmp_path / "work" / "small-factories.json").read_text())["pipelineSpec"]["root"]["dag"]["tasks"]


def test_a_local_root_compiles_with_allow_local_paths(tmp_path, user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    job, _ = compile_job(tmp_path, "--pipeline", f"{module}:own_root", "--pipeline-arg", "data_root=/tmp/data",
                         "--allow-local-paths")
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "/tmp/my-local-root"


# The refusals made while parsing: argparse's (exit 2, the message on stderr) and check_args'.
@pytest.mark.parametrize("argv, message", [
    (["--pipeline", "penguin_pipeline"], "argument --pipeline: 'penguin_pipeline' has no ':'; give MODULE:FUNCTION"),
    (["--pipeline", "a.b:c:d"], "argument --pipeline: 'a.b:c:d': 'c:d' is not a dotted Python name"),
    (["--pipeline", PENGUIN, "--pipeline-arg", "data_root"],
     "argument --pipeline-arg: 'data_root' has no '='; give NAME=VALUE"),
    (["--pipeline", PENGUIN, "--pipeline-arg", "enable_cache=False"],
     "argument --pipeline-arg: 'enable_cache=False': VALUE is read as JSON, where False would be the string "
     "'False'; write enable_cache=false (JSON)"),
])
def test_malformed_arguments_are_refused_by_the_parser(argv, message, capsys):
    from tfx_edge.pipelines import compile_vertex
    with pytest.raises(SystemExit) as raised:
        compile_vertex.parse_args(argv)
    assert raised.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--pipeline", PENGUIN, "--mode", "int8", "--data-root", "gs://b/data", "--max-drop", "0.05"],
     f"--data-root, --mode, --max-drop configure the bundled demo, not --pipeline {PENGUIN}; drop them and pass "
     f"the function's own arguments with --pipeline-arg NAME=VALUE"),
    (["--pipeline", PENGUIN, "--serving-dir=gs://b/s"], "--serving-dir configures the bundled demo"),
    (["--pipeline-arg", "data_root=gs://b/data"],
     "--pipeline-arg data_root=gs://b/data without --pipeline: the bundled demo takes no arguments"),
    (["--pipeline", PENGUIN, "--pipeline-arg", "use_aip=false", "--pipeline-arg", "use_aip=true"],
     "--pipeline-arg use_aip=false and --pipeline-arg use_aip=true both set 'use_aip'; give it once"),
])
def test_flags_that_would_be_ignored_are_refused(argv, message):
    from tfx_edge.pipelines import compile_vertex
    with pytest.raises(SystemExit, match=re.escape(message)):
        compile_vertex.parse_args(argv)


@pytest.mark.parametrize("argv, code, message", [
    (["--pipeline", "penguin_pipeline"], 2, "'penguin_pipeline' has no ':'"),
    (["--pipeline", PENGUIN, "--mode", "int8"], 1, "--mode configures the bundled demo"),
    (["--pipeline", "no_such_module_xyz:create_pipeline", "--image", IMAGE], 1,
     "--pipeline 'no_such_module_xyz:create_pipeline': no module named 'no_such_module_xyz'"),
])
def test_refusals_before_the_factory_load_no_tensorflow(argv, code, message):
    got, out, err = run_cli("vertex", *argv)
    assert (got, out) == (code, "") and message in err and "Traceback" not in err, err


def test_an_unknown_module_is_named(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))   # the current directory is searched first
    message = refusal("--pipeline", "no_such_module_xyz.pipelines:create_pipeline")
    assert message.startswith("tfx-edge vertex: --pipeline 'no_such_module_xyz.pipelines:create_pipeline': no module "
                              f"named 'no_such_module_xyz' (searched the current directory {tmp_path} and sys.path)")


def test_a_module_whose_own_import_fails_says_so(user_module):
    module = user_module("broken_factory", "import no_such_dependency_xyz\n")
    message = refusal("--pipeline", f"{module}:create_pipeline")
    assert (f"module '{module}' was found but importing it failed: No module named 'no_such_dependency_xyz'; "
            f"install what it imports") in message


@pytest.mark.parametrize("function, message", [
    ("create_pipelin", "has no 'create_pipelin' (did you mean 'create_pipeline'?); its functions: components_only, "
                       "create_pipeline, own_root"),
    ("CREATE", "CREATE is a int, not a function; name the function that returns the tfx.dsl.Pipeline"),
])
def test_a_missing_or_uncallable_attribute_is_named(function, message, user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    assert message in refusal("--pipeline", f"{module}:{function}")


def test_an_unknown_argument_lists_the_parameters(user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    message = refusal("--pipeline", f"{module}:create_pipeline", "--pipeline-arg", "data_rot=gs://b/data")
    assert message == ("tfx-edge vertex: --pipeline-arg data_rot=gs://b/data: create_pipeline() has no parameter "
                       "'data_rot' (did you mean 'data_root'?); it takes: pipeline_name, pipeline_root, data_root, "
                       "enable_cache=False")


def test_missing_required_arguments_are_named_with_the_flag_to_add():
    message = refusal("--pipeline", PENGUIN, "--pipeline-root", "gs://b/root",
                      *pipeline_args({k: v for k, v in PENGUIN_ARGS.items() if k not in ("data_root", "use_vertex")}))
    assert (f"--pipeline '{PENGUIN}': create_pipeline() needs data_root, use_vertex, which no --pipeline-arg sets; "
            "add\n  --pipeline-arg data_root=VALUE    (str)\n  --pipeline-arg use_vertex=VALUE   (bool)") in message


def test_a_return_that_is_not_a_pipeline_is_refused(user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    message = refusal("--pipeline", f"{module}:components_only", "--pipeline-arg", "data_root=gs://b/data")
    assert message == (f"tfx-edge vertex: --pipeline {module}:components_only returned list, not a tfx.dsl.Pipeline; "
                       f"make the function return the pipeline (tfx.dsl.Pipeline(...)), not a runner or a list of "
                       f"components")


def test_a_local_pipeline_root_is_refused_without_allow_local_paths(user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    message = refusal("--pipeline", f"{module}:own_root", "--pipeline-arg", "data_root=gs://b/data")
    assert ("--pipeline small_factories:own_root returned a pipeline whose root '/tmp/my-local-root' (from "
            "--pipeline-root, or set by the function itself) is not on Cloud Storage") in message
    assert "--allow-local-paths" in message
    message = refusal("--pipeline", f"{module}:create_pipeline", "--pipeline-root", "/tmp/root",
                      "--pipeline-arg", "data_root=gs://b/data")
    assert "whose root '/tmp/root'" in message and "not on Cloud Storage" in message


def test_the_placeholder_root_is_refused_without_allow_placeholders(user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    message = refusal("--pipeline", f"{module}:create_pipeline", "--pipeline-arg", "data_root=gs://b/data")
    assert "'gs://my-bucket/tfx-edge/root'" in message and "is the placeholder; give --pipeline-root gs://" in message


@pytest.mark.parametrize("argv, message", [
    (["--pipeline-root", "gs://b/root"],
     "--pipeline-root gs://b/root: own_root() has no parameter 'pipeline_root', so the flag would be ignored (its "
     "pipeline sets its own); drop --pipeline-root"),
    (["--pipeline-name", "mine"], "--pipeline-name mine: own_root() has no parameter 'pipeline_name'"),
])
def test_a_root_or_name_the_function_does_not_take_is_refused(argv, message, user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    assert message in refusal("--pipeline", f"{module}:own_root", "--pipeline-arg", "data_root=gs://b/data", *argv)


def test_a_root_given_twice_is_refused(user_module):
    module = user_module("small_factories", SMALL_FACTORIES)
    message = refusal("--pipeline", f"{module}:create_pipeline", "--pipeline-root", "gs://b/one",
                      "--pipeline-arg", "pipeline_root=gs://b/two", "--pipeline-arg", "data_root=gs://b/data")
    assert "--pipeline-root gs://b/one and --pipeline-arg pipeline_root=... both set pipeline_root; give one" in message


def test_the_image_placeholder_is_still_refused():
    from tfx_edge.pipelines import compile_vertex
    args = compile_vertex.parse_args(["--pipeline", PENGUIN])
    with pytest.raises(SystemExit, match=r"--image still has a placeholder value \(gcr.io/my-project"):
        compile_vertex.check_placeholders(args)


@pytest.mark.parametrize("raw, value", [("false", False), ("100", 100), ("[]", []), ('{"a": 1}', {"a": 1}),
                                        ("null", None), ('"007"', "007"), ("gs://b/data", "gs://b/data"),
                                        ("", ""), ("a=b", "a=b")])
def test_values_are_json_when_they_parse_as_json(raw, value):
    from tfx_edge.pipelines import pipeline_factory
    assert pipeline_factory.pipeline_arg(f"x={raw}") == ("x", value, f"x={raw}")


def test_every_vertex_help_entry_shows_its_default(capsys):
    from tfx_edge.pipelines import cli
    with pytest.raises(SystemExit):
        cli.main(["vertex", "--help"])
    options = capsys.readouterr().out.split("\noptions:\n", 1)[1]
    entries = re.split(r"\n(?=  -)", options.strip("\n"))
    assert len(entries) > 20
    for entry in entries[1:]:   # [0]: -h, --help
        text = " ".join(entry.split())
        assert "(default" in text, entry
        assert "default: None" not in text and "default: False" not in text, entry
