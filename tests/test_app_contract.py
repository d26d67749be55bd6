"""What reaches the serving directory with the model: LiteRT metadata inside the .tflite, labels.txt and
app_contract.json beside it (components/core/app_contract.py), written by the TFLiteExporter.

Read back with independent readers: tflite-support's generated metadata schema (tests/vendor) and
LiteRT's model schema; the stock Pusher is run on the export and must push all three files.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from helpers import make_artifact, run_exporter
from test_tflite_metadata import read
from tfx_edge import __version__
from tfx_edge.components import artifacts, record_files
from tfx_edge.schemas import ExportConfig, records

DIGITS = tuple(f"digit {i}" for i in range(10))


def _serving(model) -> str:
    return os.path.join(model.uri, "Format-Serving")


def _bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def labelled(trained_model, int8_export, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("labelled"))
    export = ExportConfig(label_names=DIGITS, description="Handwritten digits, 8x8 grey levels.", author="tests")
    tflite, _ = run_exporter(trained_model, int8_export["plan"], root, export)
    return tflite


def test_every_export_carries_metadata_and_a_contract_tied_to_its_bytes(int8_export):
    tflite = int8_export["tflite"]
    assert sorted(os.listdir(_serving(tflite))) == [artifacts.APP_CONTRACT_FILE, artifacts.TFLITE_FILE]
    model = _bytes(os.path.join(_serving(tflite), artifacts.TFLITE_FILE))
    report, _ = record_files.read_export_report(tflite.uri)
    contract = records.AppContract.from_json(_bytes(os.path.join(_serving(tflite), artifacts.APP_CONTRACT_FILE)),
                                             "app_contract.json", "re-run the TFLiteExporter")
    assert contract.model_sha256 == records.sha256(model) == report.quantized.sha256
    assert contract.model_file == artifacts.TFLITE_FILE and contract.labels_file is None
    assert [(t.name, t.dtype, t.shape) for t in contract.inputs] == [("image", "float32", (-1, 64))]
    assert contract.inputs[0].meaning.startswith("raw feature 'image'") and contract.inputs[0].missing is None
    assert contract.provenance["mode"] == "int8" and contract.provenance["source_sha256"] == report.plan.source_sha256
    assert contract.provenance["plan_sha256"] == report.plan_sha256
    md = read(model)
    assert md.Version().decode() == __version__
    description = md.Description().decode()
    assert json.loads(description.split("Provenance: ")[1]) == contract.provenance
    sg = md.SubgraphMetadata(0)
    assert sg.InputTensorMetadata(0).Name() == b"image"
    assert sg.InputTensorMetadata(0).Description().decode() == contract.inputs[0].meaning


def test_class_names_travel_as_labels_txt_beside_and_inside_the_model(labelled):
    names = sorted(os.listdir(_serving(labelled)))
    assert names == sorted([artifacts.APP_CONTRACT_FILE, "labels.txt", artifacts.TFLITE_FILE])
    assert _bytes(os.path.join(_serving(labelled), "labels.txt")).decode().splitlines() == list(DIGITS)
    model = _bytes(os.path.join(_serving(labelled), artifacts.TFLITE_FILE))
    with zipfile.ZipFile(io.BytesIO(model)) as archive:
        assert archive.read("labels.txt").decode().splitlines() == list(DIGITS)
    output = read(model).SubgraphMetadata(0).OutputTensorMetadata(0)
    assert output.AssociatedFilesLength() == 1 and output.AssociatedFiles(0).Name() == b"labels.txt"
    assert read(model).Description().decode().startswith("Handwritten digits, 8x8 grey levels.")


def test_metadata_changes_no_output(labelled, int8_export, examples_artifact):
    from ai_edge_litert.interpreter import Interpreter
    plain = _bytes(os.path.join(_serving(int8_export["tflite"]), artifacts.TFLITE_FILE))
    named = _bytes(os.path.join(_serving(labelled), artifacts.TFLITE_FILE))
    assert plain != named
    x = np.random.default_rng(0).uniform(0, 16, size=(32, 64)).astype(np.float32)
    outs = [Interpreter(model_content=m).get_signature_runner("serving_default")(image=x) for m in (plain, named)]
    assert all(outs[0][k].tobytes() == outs[1][k].tobytes() for k in outs[0])


def test_wrong_label_names_are_refused_before_anything_is_written(trained_model, int8_export, tmp_path):
    with pytest.raises(ValueError, match=r"label_names has 2 names but output .* has 10 values per example"):
        run_exporter(trained_model, int8_export["plan"], str(tmp_path), ExportConfig(label_names=("a", "b")))
    assert not os.path.exists(os.path.join(tmp_path, "tflite_model", "Format-Serving"))


def test_the_stock_pusher_pushes_the_model_with_its_contract_and_labels(labelled, tmp_path):
    from tfx.components.pusher import executor as pusher_executor
    from tfx.proto import pusher_pb2
    from tfx.types import standard_artifacts, standard_component_specs
    from tfx.utils import proto_utils
    blessing = make_artifact(standard_artifacts.ModelBlessing, str(tmp_path / "blessing"))
    blessing.set_int_custom_property("blessed", 1)
    pushed = make_artifact(standard_artifacts.PushedModel, str(tmp_path / "pushed"))
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
        base_directory=str(tmp_path / "serving")))
    pusher_executor.Executor().Do(
        {standard_component_specs.MODEL_KEY: [labelled], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
        {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
        {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
    (version,) = os.listdir(tmp_path / "serving")
    assert sorted(os.listdir(tmp_path / "serving" / version)) == sorted(os.listdir(_serving(labelled)))
