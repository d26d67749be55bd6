"""Shared fixtures: the demo data, one trained model and one int8 export per session.

TensorFlow costs seconds per import and the model a few seconds to train, so
everything heavy is session-scoped and built once on small, real data.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from helpers import make_artifact, run_exporter, run_quantizer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TRAIN_STEPS = 300
REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    from tfx_edge.pipelines import demo_data
    root = str(tmp_path_factory.mktemp("data"))
    demo_data.write(root)
    return root


@pytest.fixture(scope="session")
def examples_artifact(data_root, tmp_path_factory):
    """An Examples artifact laid out as ExampleGen writes it (Split-train/, Split-eval/)."""
    from tfx.types import artifact_utils, standard_artifacts
    uri = str(tmp_path_factory.mktemp("examples"))
    for split in ("train", "eval"):
        os.makedirs(os.path.join(uri, f"Split-{split}"))
        shutil.copy(os.path.join(data_root, split, "digits.tfrecord"),
                    os.path.join(uri, f"Split-{split}", "data_tfrecord-00000-of-00001"))
    examples = make_artifact(standard_artifacts.Examples, uri)
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    return examples


@pytest.fixture(scope="session")
def trained_model(data_root, tmp_path_factory):
    """The demo CNN trained once, as a Trainer Model artifact (<uri>/Format-Serving)."""
    from tfx.types import standard_artifacts
    from tfx_edge.pipelines import digits_model
    uri = str(tmp_path_factory.mktemp("trainer_model"))
    digits_model.train(os.path.join(data_root, "train", "digits.tfrecord"),
                       os.path.join(data_root, "eval", "digits.tfrecord"),
                       os.path.join(uri, "Format-Serving"), steps=TRAIN_STEPS)
    return make_artifact(standard_artifacts.Model, uri)


@pytest.fixture(scope="session")
def outlier_model(data_root, tmp_path_factory):
    """The demo CNN with one outlier activation unit (int8 collapses it), trained once."""
    from tfx.types import standard_artifacts
    from tfx_edge.pipelines import digits_model
    uri = str(tmp_path_factory.mktemp("outlier_model"))
    digits_model.train(os.path.join(data_root, "train", "digits.tfrecord"),
                       os.path.join(data_root, "eval", "digits.tfrecord"),
                       os.path.join(uri, "Format-Serving"), steps=TRAIN_STEPS, outlier_channel=True)
    return make_artifact(standard_artifacts.Model, uri)


@pytest.fixture(scope="session")
def serving_dir(trained_model):
    return os.path.join(trained_model.uri, "Format-Serving")


@pytest.fixture(scope="session")
def int8_export(trained_model, examples_artifact, tmp_path_factory):
    """Quantizer + TFLiteExporter executors with mode int8 (the demo's default)."""
    from tfx_edge.schemas import CalibrationConfig, Mode, QuantizationConfig
    root = str(tmp_path_factory.mktemp("int8"))
    config = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=64, seed=3))
    plan = run_quantizer(config, trained_model, examples_artifact, os.path.join(root, "plan"))
    tflite, float_model = run_exporter(trained_model, plan, root)
    return {"plan": plan, "tflite": tflite, "float": float_model, "config": config, "root": root}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> pathlib.Path:
    """A wheel built from a copy of the tracked source tree (the repository stays clean)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    src = tmp_path_factory.mktemp("src")
    for rel in tracked:
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(src)], check=True, capture_output=True, timeout=300)
    return next(out.glob("tfx_edge-*.whl"))


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> pathlib.Path:
    """The wheel installed (without dependencies) into a directory of its own: put it first on
    PYTHONPATH to run an installed copy instead of the source tree."""
    target = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return target
