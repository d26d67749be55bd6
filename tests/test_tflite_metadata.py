"""components/core/tflite_metadata.py: the TFLITE_METADATA writer, read back with tflite-support's own generated
reader (tests/vendor, tflite-support 0.4.4) and LiteRT's model schema; outputs compared with LiteRT."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from tfx_edge.components.core import tflite_metadata as tm
from vendor import metadata_schema_py_generated as mfb

LABELS = ("setosa", "versicolor", "virginica")


def _convert(module, fn) -> bytes:
    import tensorflow as tf
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn], module).convert())


@pytest.fixture(scope="module")
def model() -> bytes:
    """[None, 4] float32 'features' -> softmax over 3 classes 'probabilities' (signature serving_default)."""
    import tensorflow as tf

    class Classifier(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.constant(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3))
            self.b = tf.constant(np.array([0.1, -0.2, 0.3], dtype=np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
        def serve(self, x):
            return {"probabilities": tf.nn.softmax(tf.matmul(x, self.w) + self.b)}

    module = Classifier()
    return _convert(module, module.serve.get_concrete_function())


@pytest.fixture(scope="module")
def two_io_model() -> bytes:
    """Inputs 'a' [None, 2], 'b' [None, 3] (both float32); outputs 'sum' [None, 1] and 'scores' [None, 2]."""
    import tensorflow as tf

    class TwoIO(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="a"),
                                      tf.TensorSpec([None, 3], tf.float32, name="b")])
        def serve(self, a, b):
            s = tf.reduce_sum(a, axis=1, keepdims=True) + tf.reduce_sum(b, axis=1, keepdims=True)
            return {"sum": s, "scores": tf.nn.softmax(a * s)}

    module = TwoIO()
    return _convert(module, module.serve.get_concrete_function())


def features(**overrides) -> tm.TensorInfo:
    kw: dict = dict(name="features", description="Sepal and petal sizes, cm.", dtype="float32", shape=(-1, 4),
                    min=0.0, max=8.0, mean=(5.8, 3.0, 3.8, 1.2), std=(0.8, 0.4, 1.8, 0.8))
    kw.update(overrides)
    return tm.TensorInfo(**kw)


def probabilities(**overrides) -> tm.TensorInfo:
    kw: dict = dict(name="probabilities", description="Class probabilities.", dtype="float32", shape=(-1, 3),
                    min=0.0, max=1.0, labels_file="labels.txt")
    kw.update(overrides)
    return tm.TensorInfo(**kw)


def info(**overrides) -> tm.ModelInfo:
    kw: dict = dict(name="iris_int8", version="7", description="Classifies iris flowers.", author="tfx-edge",
                    license="Apache-2.0", inputs=(features(),), outputs=(probabilities(),), labels=LABELS,
                    provenance={"tfx_edge": "0.2.0", "source_sha256": "ab" * 32, "mode": "int8",
                                "gate": "BLESSED"})
    kw.update(overrides)
    return tm.ModelInfo(**kw)


# ---- independent readers: LiteRT's model schema, tflite-support's metadata schema ----

def model_metadata(data: bytes) -> dict[str, bytes]:
    """{Model.metadata name: its buffer's bytes}, read with LiteRT's generated schema."""
    from ai_edge_litert import schema_py_generated as schema
    root = schema.Model.GetRootAs(data, 0)
    entries = [root.Metadata(i) for i in range(root.MetadataLength())]
    names = [e.Name().decode() for e in entries]
    assert len(names) == len(set(names)), names
    return {n: root.Buffers(e.Buffer()).DataAsNumpy().tobytes() for n, e in zip(names, entries)}


def read(data: bytes):
    buf = model_metadata(data)["TFLITE_METADATA"]
    assert mfb.ModelMetadata.ModelMetadataBufferHasIdentifier(buf, 0)
    return mfb.ModelMetadata.GetRootAsModelMetadata(buf, 0)


def run(data: bytes, batches) -> list[bytes]:
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(model_content=data).get_signature_runner("serving_default")
    return [runner(features=x)["probabilities"].tobytes() for x in batches]


# ---- what is written ----

def test_model_and_tensor_fields_read_back(model):
    md = read(tm.populate(model, info()))
    assert (md.Name(), md.Version(), md.Author(), md.License()) == (b"iris_int8", b"7", b"tfx-edge", b"Apache-2.0")
    assert md.MinParserVersion() == b"1.0.0"
    assert md.SubgraphMetadataLength() == 1 and md.AssociatedFilesLength() == 0
    sg = md.SubgraphMetadata(0)
    assert sg.InputTensorMetadataLength() == 1 and sg.OutputTensorMetadataLength() == 1

    x = sg.InputTensorMetadata(0)
    assert (x.Name(), x.Description()) == (b"features", b"Sepal and petal sizes, cm.")
    assert x.Content().ContentPropertiesType() == mfb.ContentProperties.FeatureProperties
    assert x.ProcessUnitsLength() == 1
    unit = x.ProcessUnits(0)
    assert unit.OptionsType() == mfb.ProcessUnitOptions.NormalizationOptions
    norm = mfb.NormalizationOptions()
    norm.Init(unit.Options().Bytes, unit.Options().Pos)
    np.testing.assert_array_equal(norm.MeanAsNumpy(), np.float32([5.8, 3.0, 3.8, 1.2]))
    np.testing.assert_array_equal(norm.StdAsNumpy(), np.float32([0.8, 0.4, 1.8, 0.8]))
    assert (x.Stats().MinAsNumpy().tolist(), x.Stats().MaxAsNumpy().tolist()) == ([0.0], [8.0])
    assert x.AssociatedFilesLength() == 0

    y = sg.OutputTensorMetadata(0)
    assert (y.Name(), y.Description()) == (b"probabilities", b"Class probabilities.")
    assert y.ProcessUnitsLength() == 0
    assert (y.Stats().MinAsNumpy().tolist(), y.Stats().MaxAsNumpy().tolist()) == ([0.0], [1.0])
    assert y.AssociatedFilesLength() == 1
    f = y.AssociatedFiles(0)
    assert (f.Name(), f.Type()) == (b"labels.txt", mfb.AssociatedFileType.TENSOR_AXIS_LABELS)
    assert f.Description() == b"Labels for categories that the model can recognize."
    assert f.Version() is None and f.Locale() is None   # AssociatedFile.version would need parser 1.4.1


def test_provenance_is_a_json_line_at_the_end_of_the_description(model):
    description = read(tm.populate(model, info())).Description().decode()
    text, line = description.split("\n\n")
    assert text == "Classifies iris flowers."
    assert line.startswith("Provenance: ")
    assert json.loads(line[len("Provenance: "):]) == {"tfx_edge": "0.2.0", "source_sha256": "ab" * 32,
                                                       "mode": "int8", "gate": "BLESSED"}
    assert line == "Provenance: " + json.dumps(dict(sorted(info().provenance.items())))
    reordered = dict(reversed(list(info().provenance.items())))
    assert tm.populate(model, info(provenance=reordered)) == tm.populate(model, info())
    assert read(tm.populate(model, info(provenance={}))).Description() == b"Classifies iris flowers."


def test_labels_file_is_an_uncompressed_zip_after_the_flatbuffer(model):
    out = tm.populate(model, info())
    zf = zipfile.ZipFile(io.BytesIO(out))
    assert zf.namelist() == ["labels.txt"]
    assert zf.read("labels.txt") == b"setosa\nversicolor\nvirginica\n"
    member = zf.getinfo("labels.txt")
    assert member.compress_type == zipfile.ZIP_STORED   # the C++ ModelMetadataExtractor refuses others
    assert member.date_time == (1980, 1, 1, 0, 0, 0)
    # offsets count from the start of the .tflite, as zipfile's append mode writes them upstream
    assert out[member.header_offset:member.header_offset + 4] == b"PK\x03\x04"
    assert model_metadata(out[:member.header_offset]) == model_metadata(out)  # the whole model comes first
    assert not zipfile.is_zipfile(io.BytesIO(tm.populate(model, info(labels=None,
                                                                     outputs=(probabilities(labels_file=None),)))))


def test_conversion_entries_kept_and_signatures_unchanged(model):
    from ai_edge_litert.interpreter import Interpreter
    before, out = model_metadata(model), tm.populate(model, info())
    after = model_metadata(out)
    assert list(before) == ["min_runtime_version", "CONVERSION_METADATA"]
    assert list(after) == ["min_runtime_version", "CONVERSION_METADATA", "TFLITE_METADATA"]
    assert {k: after[k] for k in before} == before
    assert Interpreter(model_content=out).get_signature_list() == Interpreter(model_content=model).get_signature_list()


def test_litert_outputs_byte_identical(model):
    rng = np.random.default_rng(0)
    batches = [rng.normal(5, 2, size=(n, 4)).astype(np.float32) for n in (1, 3, 17)]
    batches.append(np.float32([[0, 0, 0, 0], [1e6, -1e6, 3.4e38, -0.0]]))
    plain = run(model, batches)
    out = tm.populate(model, info())
    assert run(out, batches) == plain
    assert run(tm.populate(out, info(description="again")), batches) == plain


def test_deterministic_and_repopulating_replaces(model):
    once = tm.populate(model, info())
    assert tm.populate(model, info()) == once
    assert tm.populate(once, info()) == once          # the old archive and entry are replaced, not kept
    changed = tm.populate(once, info(description="Second run.", version="8", labels=("x", "y", "z")))
    assert list(model_metadata(changed)) == ["min_runtime_version", "CONVERSION_METADATA", "TFLITE_METADATA"]
    md = read(changed)
    assert md.Description().decode().startswith("Second run.\n\nProvenance: ") and md.Version() == b"8"
    assert zipfile.ZipFile(io.BytesIO(changed)).read("labels.txt") == b"x\ny\nz\n"
    assert len(zipfile.ZipFile(io.BytesIO(changed)).namelist()) == 1
    assert changed == tm.populate(model, info(description="Second run.", version="8", labels=("x", "y", "z")))
    from ai_edge_litert import schema_py_generated as schema
    assert (schema.Model.GetRootAs(changed, 0).BuffersLength() == schema.Model.GetRootAs(once, 0).BuffersLength())


def test_model_tensor_names_match_too(model):
    """Upstream matches TensorMetadata to the model by tensor name; signature keys work as well."""
    from ai_edge_litert.tools import flatbuffer_utils as fb
    sg = fb.read_model_from_bytearray(bytearray(model)).subgraphs[0]
    x_name, y_name = sg.tensors[sg.inputs[0]].name.decode(), sg.tensors[sg.outputs[0]].name.decode()
    assert (x_name, y_name) != ("features", "probabilities")
    md = read(tm.populate(model, info(inputs=(features(name=x_name),), outputs=(probabilities(name=y_name),))))
    sgm = md.SubgraphMetadata(0)
    assert (sgm.InputTensorMetadata(0).Name().decode(), sgm.OutputTensorMetadata(0).Name().decode()) == (
        x_name, y_name)


def test_tensor_metadata_follows_the_model_order(two_io_model):
    from ai_edge_litert import schema_py_generated as schema
    root = schema.Model.GetRootAs(two_io_model, 0)
    sig = root.SignatureDefs(0)
    key = {sig.Inputs(i).TensorIndex(): sig.Inputs(i).Name().decode() for i in range(sig.InputsLength())}
    key.update({sig.Outputs(i).TensorIndex(): sig.Outputs(i).Name().decode() for i in range(sig.OutputsLength())})
    sg = root.Subgraphs(0)
    model_inputs = [key[sg.Inputs(i)] for i in range(sg.InputsLength())]
    model_outputs = [key[sg.Outputs(i)] for i in range(sg.OutputsLength())]
    shapes = {"a": (-1, 2), "b": (-1, 3), "sum": (-1, 1), "scores": (-1, 2)}

    def t(name, **kw):
        return tm.TensorInfo(name, f"the {name}", "float32", shapes[name], **kw)

    two = tm.ModelInfo("two", "1", "", "", "", inputs=tuple(t(n) for n in reversed(model_inputs)),
                       outputs=tuple(t(n, labels_file="scores.txt" if n == "scores" else None)
                                     for n in reversed(model_outputs)))
    out = tm.populate(two_io_model, two, {"scores.txt": b"low\nhigh\n"})
    sgm = read(out).SubgraphMetadata(0)
    assert [sgm.InputTensorMetadata(i).Name().decode() for i in range(2)] == model_inputs
    assert [sgm.OutputTensorMetadata(i).Name().decode() for i in range(2)] == model_outputs
    labelled = [sgm.OutputTensorMetadata(i) for i in range(2) if sgm.OutputTensorMetadata(i).Name() == b"scores"]
    assert labelled[0].AssociatedFiles(0).Name() == b"scores.txt"
    assert zipfile.ZipFile(io.BytesIO(out)).read("scores.txt") == b"low\nhigh\n"
    empty = read(out)
    assert empty.Description() is None and empty.Author() is None   # '' is left out


# ---- errors: each names the input, its value and the fix ----

ERRORS = [
    (dict(inputs=(features(name="pixels"),)), "name='pixels' matches none of the model's inputs"),
    (dict(inputs=(features(), features())), r"names \['features'\] appear more than once"),
    (dict(outputs=()), r"0 TensorInfo \[\] for the model's 1 outputs"),
    (dict(inputs=(features(dtype="int8"),)), "dtype='int8' but the model's tensor is float32; set dtype='float32'"),
    (dict(inputs=(features(shape=(1, 4)),)), r"shape=\(1, 4\) .* shape \(-1, 4\) .*set shape=\(-1, 4\)"),
    (dict(labels=("a", "b")), "'labels.txt' has 2 labels but .* has 3 classes; give one label per class"),
    (dict(labels=("a", "b\nc", "d")), r"ModelInfo.labels\[1\]='b\\nc': .*without line breaks"),
    (dict(labels=("a", "a", "b")), "label 'a' appears more than once"),
    (dict(labels=()), r"ModelInfo.labels=\(\): give one label per class"),
    (dict(outputs=(probabilities(labels_file=None),)),
     r"\['labels.txt'\] are attached to no tensor; set labels_file='labels.txt' on the output"),
    (dict(labels=None), r"labels_file='labels.txt' is not among the associated files \[\]"),
    (dict(inputs=(features(mean=(1.0, 2.0)),)), "normalization needs both, of equal length"),
    (dict(inputs=(features(mean=(1.0, 2.0), std=(1.0, 1.0)),)), "2 mean/std values for a last axis of 4"),
    (dict(inputs=(features(mean=(1.0,), std=(0.0,)),)), "std non-zero"),
    (dict(inputs=(features(min=2.0, max=1.0),)), "min=2.0 > max=1.0; swap them"),
    (dict(inputs=(features(max=float("nan")),)), "max=nan; Stats need a finite number"),
    (dict(name=""), "ModelInfo.name='': give the model a non-empty name"),
    (dict(provenance={"mode": 8}), r"provenance\['mode'\]=8: .*convert the value with str\(\)"),
]


@pytest.mark.parametrize("overrides,message", ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_errors(model, overrides, message):
    with pytest.raises(tm.MetadataError, match=message):
        tm.populate(model, info(**overrides))


def test_file_errors(model):
    with pytest.raises(tm.MetadataError, match="'labels.txt' is given and ModelInfo.labels writes 'labels.txt' "
                                               "too; drop one of them"):
        tm.populate(model, info(), {"labels.txt": b"a\nb\nc\n"})
    with pytest.raises(tm.MetadataError, match="name 'meta/labels.txt': give a plain file name"):
        tm.populate(model, info(labels=None, outputs=(probabilities(labels_file="meta/labels.txt"),)),
                    {"meta/labels.txt": b"a\nb\nc\n"})
    with pytest.raises(tm.MetadataError, match=r"associated files \['readme.txt'\] are attached to no tensor"):
        tm.populate(model, info(), {"readme.txt": b"hello"})
    with pytest.raises(tm.MetadataError, match="not UTF-8"):
        tm.populate(model, info(labels=None, outputs=(probabilities(labels_file="l.txt"),)), {"l.txt": b"\xff\n"})
    with pytest.raises(tm.MetadataError, match="are not a TFLite flatbuffer; pass the .tflite file's bytes"):
        tm.populate(b"PK\x03\x04 not a model", info())
    with pytest.raises(tm.MetadataError, match=r"shape=\['x'\]; give a tuple of ints"):
        tm.TensorInfo("t", "", "float32", ["x"])
    with pytest.raises(tm.MetadataError, match="min='low'; give a number, or None"):
        tm.TensorInfo("t", "", "float32", (1,), min="low")
    assert tm.TensorInfo("t", "", "float32", [2, 3], min=np.float32(0.5), mean=[1]).shape == (2, 3)
