"""Gate integrity: never fail open, never leave a contradictory artifact.

A table-driven matrix of bad inputs, grouped by component. Each entry is
(id, builder, expected, regex):

* builder(env) builds ONE bad input: copies of the session artifacts (trained_model,
  examples_artifact, int8_export) in tmp_path, damaged there. The session fixtures
  themselves are only ever read.
* expected is an exception type (the run must raise it, with `regex` found in the message:
  the input (field / file / feature), the value and the fix), or an outcome:
  "NOT_BLESSED" / "BLESSED" for the EdgeEvaluator (regex searched in its checks, one
  "name: detail" line each), OK for a Quantizer / TFLiteExporter run that must succeed.
* Afterwards nothing may be left that could be pushed: no plan.json (Quantizer), no
  Format-Serving/tflite in either output (TFLiteExporter), no BLESSED file and, when the
  executor raised, no `blessed` property set to 1 (EdgeEvaluator). Outcome cases check
  what they state instead (e.g. a retry leaves no file of the earlier attempt).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import types
from typing import Any, Callable

import numpy as np
import pytest

from tfx_edge.components import artifacts
from tfx_edge.components.edge_evaluator import tfma_output
from tfx_edge.components.core.derive import DeriveError
from tfx_edge.components.core.examples import ExamplesError
from tfx_edge.components.core.input_mapping import InputMappingError
from tfx_edge.components.core.metrics import LabelError
from tfx_edge.schemas import (AutoConfig, Budgets, CalibrationConfig, EvaluationConfig, LatencyConfig, MetricThreshold, Mode,
                              OutputKind, QatConfig, QuantizationConfig, SliceThreshold, Thresholds)
from tfx_edge.schemas._strict import ConfigError
from tfx_edge.components.record_files import WiringError
from tfx_edge.schemas.records import RecordError
from helpers import make_artifact, run_exporter, run_quantizer

OK = "OK"                    # the run must succeed (its `after` check says what must hold)
BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"
SPLIT_FILE = "data_tfrecord-00000-of-00001"


# --- building bad inputs -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def split_records(examples_uri: str, split: str) -> tuple[bytes, ...]:
    """The serialized examples of a split of the (read-only) session Examples artifact."""
    import tensorflow as tf
    path = os.path.join(examples_uri, f"Split-{split}", SPLIT_FILE)
    return tuple(tf.data.TFRecordDataset(path).as_numpy_iterator())


def write_records(path: str, records) -> None:
    import tensorflow as tf
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def edit(record: bytes, fn: Callable) -> bytes:
    """A serialized tf.Example changed by fn(example) in place."""
    import tensorflow as tf
    example = tf.train.Example.FromString(record)
    fn(example)
    return example.SerializeToString()


def new_examples(root: str, splits: dict[str, dict[str, Any]]):
    """An Examples artifact under root: {split: {file name: list of records | bytes}}."""
    from tfx.types import artifact_utils, standard_artifacts
    examples = make_artifact(standard_artifacts.Examples, root)
    for split, files in splits.items():
        split_dir = os.path.join(root, f"Split-{split}")
        os.makedirs(split_dir, exist_ok=True)
        for name, content in files.items():
            if isinstance(content, bytes):
                with open(os.path.join(split_dir, name), "wb") as f:
                    f.write(content)
            else:
                write_records(os.path.join(split_dir, name), content)
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    return examples


def copy_artifact(source, root: str, cls=None):
    """A copy of an artifact's directory as a new artifact of the same type (or cls)."""
    shutil.copytree(source.uri, root)
    return make_artifact(cls or type(source), root)


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


def write_json(path: str, data) -> None:
    with open(path, "w") as f:
        json.dump(data, f)


class RawConfig:
    """An executor `config` parameter exactly as given (what a hand-edited pipeline spec may hold)."""

    def __init__(self, text: str):
        self.text = text

    def to_json(self) -> str:
        return self.text


def _auto_not_met_then_lost(path, report):
    _auto_not_met(path, report)
    os.remove(path)


def ev_tflite_missing(env):
    model = tflite_copy(env)
    os.remove(os.path.join(model.uri, "Format-Serving", artifacts.TFLITE_FILE))
    return plain(env, tflite=model)


def ev_float_five_classes(env):
    import tensorflow as tf
    from tfx.types import standard_artifacts
    module = tf.Module()
    module.fn = tf.function(lambda image: {"probabilities": tf.nn.softmax(image[:, :5])},
                            input_signature=[tf.TensorSpec([None, 64], tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.fn.get_concrete_function()], module)
    model = make_artifact(standard_artifacts.Model, os.path.join(env.tmp, "five"))
    os.makedirs(os.path.join(model.uri, "Format-Serving"))
    with open(os.path.join(model.uri, "Format-Serving", artifacts.TFLITE_FILE), "wb") as f:
        f.write(converter.convert())
    return plain(env, float_model=model)


def eval_split(env, files: dict[str, Any]):
    return new_examples(os.path.join(env.tmp, "ex"), {"eval": files})


def ev_string_labels(env):
    def to_string(example):
        value = example.features.feature["label"].int64_list.value[0]
        del example.features.feature["label"]
        example.features.feature["label"].bytes_list.value.append(str(value).encode())
    records = [edit(r, to_string) for r in split_records(env.examples.uri, "eval")]
    return plain(env, examples=eval_split(env, {SPLIT_FILE: records}))


def ev_empty_shard_first(env):
    examples = eval_split(env, {"_SUCCESS": b"", "data_tfrecord-00000-of-00002": b"",
                                "data_tfrecord-00001-of-00002": list(split_records(env.examples.uri, "eval"))})

    def after(blessing, evaluation, result):
        assert result["examples"] == result["slices"][""]["examples"] == 360
        assert blessing.get_int_custom_property("blessed") == 1
        assert os.listdir(blessing.uri) == [artifacts.BLESSED_FILE]
    return plain(env, examples=examples, after=after)


def ev_only_empty_shard(env):
    return plain(env, examples=eval_split(env, {SPLIT_FILE: b""}))


def ev_corrupt_record_file(env):
    """The first file is fine (planning reads it); the second is truncated (read by the Beam job)."""
    examples = eval_split(env, {"data_tfrecord-00000-of-00002": list(split_records(env.examples.uri, "eval")),
                                "data_tfrecord-00001-of-00002": truncated_file(env, "eval")})
    return plain(env, examples=examples)


def ev_corrupt_file_read_in_worker_processes(env):
    """The corrupt file is read by a Beam worker process: its own error type and message come back first."""
    run = ev_corrupt_record_file(env)
    run.beam_args = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
    return run


def ev_huge_frame_header(env):
    """A 2.7 MB eval file (cut into byte ranges) whose last frame claims 1 TiB."""
    records = list(split_records(env.examples.uri, "eval")) * 24
    path = os.path.join(env.tmp, "big.tfrecord")
    write_records(path, records)
    with open(path, "ab") as f:
        f.write(frame_claiming_1_tib())
    with open(path, "rb") as f:
        content = f.read()
    return plain(env, examples=eval_split(env, {SPLIT_FILE: content}))


def ev_float_not_blessed(env):
    from tfx.types import standard_artifacts
    float_blessing = make_artifact(standard_artifacts.ModelBlessing, os.path.join(env.tmp, "float_blessing"))
    float_blessing.set_int_custom_property("blessed", 0)
    open(os.path.join(float_blessing.uri, artifacts.NOT_BLESSED_FILE), "w").close()
    return plain(env, float_blessing=float_blessing)


def first_attempt_blessed(out_root_run: EdgeRun):
    """Runs a blessing evaluation into the run's URIs first (what an earlier attempt left)."""
    def before(out_root):
        blessing, evaluation = edge_outputs(out_root)
        run_edge(out_root_run, blessing, evaluation, config=gate())
        assert os.listdir(blessing.uri) == [artifacts.BLESSED_FILE]
    return before


def ev_retry_blessed_then_error(env):
    run = plain(env, gate(label_feature="digit"))
    run.before = first_attempt_blessed(run)
    return run


def ev_retry_blessed_then_not_blessed(env):
    run = plain(env, gate({"accuracy": MetricThreshold(lower_bound=0.999)}))
    run.before = first_attempt_blessed(run)

    def after(blessing, evaluation, result):
        assert os.listdir(blessing.uri) == [artifacts.NOT_BLESSED_FILE]
        assert sorted(os.listdir(evaluation.uri)) == sorted(["metrics.json", "report.html", "report.txt",
                                                             *tfma_output.FILES])
    run.after = after
    return run


@pytest.fixture
def env(tmp_path, trained_model, examples_artifact, int8_export):
    return types.SimpleNamespace(tmp=str(tmp_path), model=trained_model, examples=examples_artifact,
                                 export=int8_export)


def case_ids(cases) -> list[str]:
    """The first field of each entry (an entry may be wrapped in pytest.param for its marks)."""
    return [c.values[0] if isinstance(c, type(pytest.param(None))) else c[0] for c in cases]


# === schemas: no executor ==================================================================

ACC = {"accuracy": MetricThreshold(max_absolute_drop=0.2, lower_bound=0.5)}


def gate(metrics=None, **kwargs):
    kwargs.setdefault("latency", LatencyConfig(runs=0))
    kwargs.setdefault("batch_size", 100)
    return EvaluationConfig(thresholds=Thresholds(metrics=metrics or ACC, slices=kwargs.pop("slices", ())),
                            **kwargs)


SCHEMA_CASES = [
    ("calibration_seed_negative", lambda: CalibrationConfig(seed=-1), ConfigError,
     r"calibration\.seed=-1 is invalid: use an integer seed in \[0, 2\*\*32\)"),
    ("qat_seed_negative", lambda: QatConfig(seed=-1), ConfigError,
     r"qat\.seed=-1 is invalid: use an integer seed in \[0, 2\*\*32\)"),
    ("auto_seed_negative", lambda: AutoConfig(max_absolute_drop=0.01, seed=-1), ConfigError,
     r"auto\.seed=-1 is invalid: use an integer seed in \[0, 2\*\*32\)"),
    ("lower_bound_above_upper_bound",
     lambda: gate({"accuracy": MetricThreshold(lower_bound=0.9, upper_bound=0.5)}), ConfigError,
     r"thresholds\.metrics\['accuracy'\]\.lower_bound=0\.9 is invalid: it is above upper_bound=0\.5: "
     r"no value can pass; swap or fix them"),
    ("accuracy_lower_bound_2", lambda: gate({"accuracy": MetricThreshold(lower_bound=2)}), ConfigError,
     r"thresholds\.metrics\['accuracy'\]\.lower_bound=2 is invalid: 'accuracy' is at most 1: no model can "
     r"pass; a fraction is written as e\.g\. 0\.9, not 90"),
    ("accuracy_lower_bound_0_vacuous", lambda: gate({"accuracy": MetricThreshold(lower_bound=0)}), ConfigError,
     r"thresholds\.metrics\['accuracy'\]\.lower_bound=0 is invalid: 'accuracy' is never below 0, so this bound "
     r"always passes; remove it or set a real floor"),
    pytest.param(
        "accuracy_upper_bound_1_vacuous", lambda: gate({"accuracy": MetricThreshold(upper_bound=1)}), ConfigError,
        r"thresholds\.metrics\['accuracy'\]\.upper_bound=1 is invalid: 'accuracy' is at most 1, so this bound "
        r"always passes[;:,.] *(remove|drop|use|set|lower)"),
    ("accuracy_max_absolute_drop_1_5", lambda: gate({"accuracy": MetricThreshold(max_absolute_drop=1.5)}),
     ConfigError,
     r"thresholds\.metrics\['accuracy'\]\.max_absolute_drop=1\.5 is invalid: 'accuracy' is at most 1, so a drop "
     r"of 1\.5 always passes; a fraction is written as e\.g\. 0\.01 \(one point\)"),
    pytest.param(
        "loss_upper_bound_negative",
        lambda: gate({**ACC, "loss": MetricThreshold(upper_bound=-1)}, output_kind=OutputKind.PROBABILITIES),
        ConfigError,
        r"thresholds\.metrics\['loss'\]\.upper_bound=-1 is invalid: 'loss' is never below 0: no model can "
        r"pass[;:,.] *(remove|drop|use|set)"),
    ("parity_tolerance_0", lambda: QuantizationConfig(parity_tolerance=0), ConfigError,
     r"parity_tolerance=0 is invalid: use a positive bound on \|float32 TFLite - SavedModel\|"),
    ("placement_sideways", lambda: QuantizationConfig(placement="sideways"), ConfigError,
     r"placement='sideways' is not a known value; use one of 'embedded', 'transformed'"),
    ("unknown_metric_name", lambda: gate({"acuracy": MetricThreshold(lower_bound=0.9)}), ConfigError,
     r"thresholds\.metrics\['acuracy'\]='acuracy' is invalid: not a classification metric; use one of "
     r"\[.*'accuracy'.*\]"),
    ("lower_bound_a_string", lambda: MetricThreshold(lower_bound="0.9"), ConfigError,
     r"MetricThreshold\.lower_bound='0\.9' is invalid: expected float \(a number\), got a string; write it "
     r"without quotes"),
    ("parity_tolerance_a_string", lambda: QuantizationConfig(parity_tolerance="1e-4"), ConfigError,
     r"QuantizationConfig\.parity_tolerance='1e-4' is invalid: expected float \(a number\), got a string"),
    ("evaluation_config_without_thresholds", lambda: EvaluationConfig.from_dict({"split": "eval"}), ConfigError,
     r"EvaluationConfig needs option\(s\) thresholds, which is missing; set it"),
    ("max_relative_drop_vacuous", lambda: gate({"accuracy": MetricThreshold(max_relative_drop=1e9)}), ConfigError,
     r"thresholds\.metrics\['accuracy'\]\.max_relative_drop=1000000000\.0 is invalid: 'accuracy' lies in "
     r"\[0, 1\], so it cannot fall by more than 100% of its reference.*a fraction is written as e\.g\. 0\.02"),
    ("num_samples_a_float", lambda: CalibrationConfig(num_samples=10.5), ConfigError,
     r"calibration\.num_samples=10\.5 is invalid: expected int, got float"),
    ("compare_saved_model_a_string",
     lambda: EvaluationConfig.from_dict({**json.loads(gate().to_json()), "compare_saved_model": "yes"}),
     ConfigError, r"compare_saved_model='yes' is invalid: expected true or false, got str"),
    ("keep_float_ops_a_string", lambda: QuantizationConfig.from_dict({"mode": "int8", "keep_float_ops": "CONV_2D"}),
     ConfigError, r"keep_float_ops='CONV_2D' is invalid: expected a list"),
    ("model_bytes_budget_a_string", lambda: Budgets(max_model_bytes="1MB"), ConfigError,
     r"Budgets\.max_model_bytes='1MB' is invalid: expected int \(a number\), got a string"),
    ("latency_runs_a_boolean", lambda: LatencyConfig(runs=True), ConfigError,
     r"LatencyConfig\.runs=True is invalid: expected a number \(int\), not a boolean"),
    ("top_k_strings", lambda: EvaluationConfig.from_dict({**json.loads(gate().to_json()), "top_k": ["3"]}),
     ConfigError, r"top_k\[0\]='3' is invalid: expected int \(a number\), got a string"),
    ("slice_feature_not_in_slice_features",
     lambda: gate(slices=(SliceThreshold(feature="writer", metrics=ACC),), slice_features=("label",)),
     ConfigError,
     r"thresholds\.slices\[0\]\.feature='writer' is invalid: add it to slice_features \(now \['label'\]\)"),
]


@pytest.mark.parametrize("case_id, build, error, regex", SCHEMA_CASES, ids=case_ids(SCHEMA_CASES))
def test_schema_refuses(case_id, build, error, regex):
    with pytest.raises(error, match=regex):
        build()


# === Quantizer ============================================================================

@dataclasses.dataclass
class QuantizerRun:
    config: QuantizationConfig
    examples: Any
    plan_uri: str
    after: Callable[[str], None] | None = None   # (plan uri) -> None, for OK cases


CAL = CalibrationConfig(num_samples=200, seed=0)
INT8 = QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(num_samples=16))


def q_nan_rows(env):
    def nan_pixels(example):
        values = example.features.feature["image"].float_list.value
        values[10] = float("nan")
    records = [edit(r, nan_pixels) if i % 7 == 0 else r
               for i, r in enumerate(split_records(env.examples.uri, "train")[:50])]   # 8 of 50 rows
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {SPLIT_FILE: records}})
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CAL), examples, os.path.join(env.tmp, "plan"))


def q_signature_key(env):
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CAL, signature_key="serving_tflite"),
                        env.examples, os.path.join(env.tmp, "plan"))


def q_mapping_missing_feature(env):
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CAL, input_mapping={"image": "pixels"}),
                        env.examples, os.path.join(env.tmp, "plan"))


def q_bytes_feature(env):
    def add_name(example):
        example.features.feature["writer"].bytes_list.value.append(b"writer-07")
    records = [edit(r, add_name) for r in split_records(env.examples.uri, "train")[:40]]
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {SPLIT_FILE: records}})
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CAL, input_mapping={"image": "writer"}),
                        examples, os.path.join(env.tmp, "plan"))


def q_split_not_a_split(env):
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CalibrationConfig(split="validation")),
                        env.examples, os.path.join(env.tmp, "plan"))


def truncated_file(env, split: str) -> bytes:
    with open(os.path.join(env.examples.uri, f"Split-{split}", SPLIT_FILE), "rb") as f:
        return f.read()[:1000]


def frame_claiming_1_tib() -> bytes:
    """A TFRecord frame header with a valid length checksum whose length is 1 TiB, then a few bytes."""
    import struct
    from tfx_edge.components.core import tfrecord
    length = struct.pack("<Q", 1 << 40)
    return length + struct.pack("<I", tfrecord.masked_crc(length)) + b"\0" * 64


def q_huge_frame_header(env):
    good = list(split_records(env.examples.uri, "train")[:100])
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {
        "data_tfrecord-00000-of-00002": good, "data_tfrecord-00001-of-00002": frame_claiming_1_tib()}})
    return QuantizerRun(INT8, examples, os.path.join(env.tmp, "plan"))


def q_corrupt_file(env):
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {
        "data_tfrecord-00000-of-00002": list(split_records(env.examples.uri, "train")[:100]),
        "data_tfrecord-00001-of-00002": truncated_file(env, "train")}})
    return QuantizerRun(INT8, examples, os.path.join(env.tmp, "plan"))


def q_gz_named_plain_file(env):
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {
        "data_tfrecord-00000-of-00001.gz": list(split_records(env.examples.uri, "train")[:100])}})
    return QuantizerRun(INT8, examples, os.path.join(env.tmp, "plan"))


def q_success_marker_only(env):
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {"_SUCCESS": b""}})
    return QuantizerRun(INT8, examples, os.path.join(env.tmp, "plan"))


def q_empty_calibration_split(env):
    examples = new_examples(os.path.join(env.tmp, "ex"), {"train": {SPLIT_FILE: b""}})
    return QuantizerRun(INT8, examples, os.path.join(env.tmp, "plan"))


def q_config_not_json(env):
    return QuantizerRun(RawConfig('{"mode": int8}'), env.examples, os.path.join(env.tmp, "plan"))


def q_retry_int8_then_dynamic_range(env):
    """The int8 attempt's plan (calibration.npz included) is in the URI; the retry plans dynamic_range."""
    plan_uri = os.path.join(env.tmp, "plan")
    shutil.copytree(env.export["plan"].uri, plan_uri)
    assert os.path.exists(os.path.join(plan_uri, artifacts.CALIBRATION_FILE))

    def after(uri):
        files = sorted(os.listdir(uri))
        assert artifacts.CALIBRATION_FILE not in files, files
        plan = read_json(os.path.join(uri, artifacts.PLAN_FILE))
        assert plan["config"]["mode"] == "dynamic_range" and plan["calibration"] is None
    return QuantizerRun(QuantizationConfig(mode=Mode.DYNAMIC_RANGE), env.examples, plan_uri, after)


def q_retry_int8_then_error(env):
    """The int8 attempt's complete plan is in the URI; the retry fails (unknown signature): no plan.json
    of the earlier attempt may be left for the TFLiteExporter to pick up."""
    plan_uri = os.path.join(env.tmp, "plan")
    shutil.copytree(env.export["plan"].uri, plan_uri)
    return QuantizerRun(QuantizationConfig(mode=Mode.INT8, calibration=CAL, signature_key="serving_tflite"),
                        env.examples, plan_uri)


QUANTIZER_CASES = [
    ("calibration_nan_rows", q_nan_rows, ExamplesError,
     r"calibration\.split='train': 8 of 50 sampled examples have NaN or inf in the features feeding the model "
     r"\(\['image'\]; files .*Split-train.*\).*Fix or filter those examples"),
    ("unknown_signature_key", q_signature_key, DeriveError,
     r"signature_key='serving_tflite' is not in the SavedModel at .*Format-Serving; it has "
     r"\['serve_tf_examples', 'serving_default'\]\. Set QuantizationConfig\.signature_key"),
    ("input_mapping_to_missing_feature", q_mapping_missing_feature, InputMappingError,
     r"model input tensor 'image' cannot be fed: input_mapping maps it to feature 'pixels'\. Available "
     r"features: \['image', 'label'\]\. Fix: set input_mapping=\{'image': '<feature>'\}"),
    ("bytes_feature_mapped_to_float_input", q_bytes_feature, InputMappingError,
     r"feature 'writer' \(feeding model input 'image', float32\) holds strings \(bytes, e\.g\. b'writer-07'\), "
     r"not numbers;.*map another feature in input_mapping"),
    ("calibration_split_not_a_split", q_split_not_a_split, ExamplesError,
     r"calibration\.split='validation' is not a split of the Examples artifact; it has \['train', 'eval'\]\. "
     r"Set calibration\.split to one of them"),
    ("corrupt_record_file", q_corrupt_file, ExamplesError,
     r"record file '.*Split-train/data_tfrecord-00001-of-00002' is corrupt or not a TFRecord file \(read as "
     r"uncompressed TFRecords; a GZIP file must be named '\*\.gz'\).*Re-create it"),
    ("frame_header_claiming_1_tib", q_huge_frame_header, ExamplesError,
     r"record file '.*Split-train/data_tfrecord-00001-of-00002' is corrupt or not a TFRecord file .*: truncated "
     r"or corrupt record at offset 0: its header claims 1099511627776 bytes of data but only 76 bytes remain"),
    ("gz_named_plain_file", q_gz_named_plain_file, ExamplesError,
     r"record file '.*Split-train/data_tfrecord-00000-of-00001\.gz' is corrupt or not a TFRecord file \(read as "
     r"GZIP because its name ends in '\.gz'\).*name it by its compression"),
    pytest.param(
        "split_with_only_success_marker", q_success_marker_only, ExamplesError,
        r"calibration\.split='train'.*split directory '.*Split-train' holds no record files.*[;:.] *"
        r"(re-run|rerun|set|use|write|pick|choose)"),
    ("calibration_split_empty", q_empty_calibration_split, ExamplesError,
     r"calibration\.split='train' holds no examples \(1 record file\(s\): \['.*Split-train/" + SPLIT_FILE +
     r"'\]\); set calibration\.split to a split with data, or re-run the ExampleGen"),
    ("config_parameter_not_json", q_config_not_json, ConfigError,
     r"Quantizer parameter config='\{\"mode\": int8\}' is not JSON \(.*\); give Quantizer\(config=\.\.\.\) a "
     r"QuantizationConfig instance or a dict"),
    ("retry_int8_then_dynamic_range", q_retry_int8_then_dynamic_range, OK, None),
    ("retry_int8_then_error", q_retry_int8_then_error, DeriveError,
     r"signature_key='serving_tflite' is not in the SavedModel"),
]


@pytest.mark.parametrize("case_id, build, expected, regex", QUANTIZER_CASES, ids=case_ids(QUANTIZER_CASES))
def test_quantizer_bad_input(case_id, build, expected, regex, env):
    run = build(env)
    if expected == OK:
        run_quantizer(run.config, env.model, run.examples, run.plan_uri)
        run.after(run.plan_uri)
        return
    with pytest.raises(expected, match=regex):
        run_quantizer(run.config, env.model, run.examples, run.plan_uri)
    assert not os.path.exists(os.path.join(run.plan_uri, artifacts.PLAN_FILE))


# === TFLiteExporter =======================================================================

@dataclasses.dataclass
class ExportRun:
    model: Any
    plan: Any
    out_root: str
    after: Callable[[str], None] | None = None   # (out root) -> None, for OK cases


def plan_copy(env):
    from tfx_edge.components.artifacts import QuantizationPlan
    return copy_artifact(env.export["plan"], os.path.join(env.tmp, "plan"), QuantizationPlan)


def damaged_plan(fn):
    """A builder: a copy of the int8 plan, then fn(plan uri, plan dict) damages it."""
    def build(env):
        plan = plan_copy(env)
        fn(plan.uri, read_json(os.path.join(plan.uri, artifacts.PLAN_FILE)))
        return ExportRun(env.model, plan, os.path.join(env.tmp, "out"))
    return build


def _rm(*parts):
    path = os.path.join(*parts)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def _truncate_plan(uri, plan):
    text = json.dumps(plan)
    with open(os.path.join(uri, artifacts.PLAN_FILE), "w") as f:
        f.write(text[:len(text) // 2])


def _older_format(uri, plan):
    """A plan.json as tfx-edge 0.2.0 wrote it: no kind, format 2."""
    plan = {k: v for k, v in plan.items() if k not in ("kind", "version")}
    write_json(os.path.join(uri, artifacts.PLAN_FILE), {**plan, "tfx_edge_format": 2})


def _plan_edit(fn):
    """A plan damage: fn(plan dict) changes the parsed plan.json, which is written back."""
    def damage(uri, plan):
        fn(plan)
        write_json(os.path.join(uri, artifacts.PLAN_FILE), plan)
    return damage


def _write_text(name, text):
    def damage(uri, plan):
        with open(os.path.join(uri, name), "w") as f:
            f.write(text)
    return damage


def _corrupt_saved_model_pb(uri, plan):
    path = os.path.join(uri, artifacts.DERIVED_MODEL_DIR, "saved_model.pb")
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 16)


def _empty_parity_sample(uri, plan):
    open(os.path.join(uri, artifacts.PARITY_FILE), "wb").close()


def _short_parity_sample(uri, plan):
    """The sample cut to 10 records and its recorded sha256 updated: only the count can tell."""
    import hashlib
    path = os.path.join(uri, artifacts.PARITY_FILE)
    write_records(path, list(__import__("tensorflow").data.TFRecordDataset(path).as_numpy_iterator())[:10])
    with open(path, "rb") as f:
        plan["parity"]["sha256"] = hashlib.sha256(f.read()).hexdigest()
    write_json(os.path.join(uri, artifacts.PLAN_FILE), plan)


def _alter_calibration(uri, plan):
    path = os.path.join(uri, artifacts.CALIBRATION_FILE)
    with np.load(path) as data:
        arrays = {k: data[k].copy() for k in data.files}
    arrays["image"][0, 0] += 1.0
    np.savez(path, **arrays)


def _parity_sample_without_image(uri, plan):
    """The sample's examples renamed 'image' to 'pixels' (sha256 updated): the sample, not the mapping, is off."""
    import hashlib
    import tensorflow as tf

    def rename(example):
        example.features.feature["pixels"].CopyFrom(example.features.feature["image"])
        del example.features.feature["image"]
    path = os.path.join(uri, artifacts.PARITY_FILE)
    write_records(path, [edit(r, rename) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()])
    with open(path, "rb") as f:
        plan["parity"]["sha256"] = hashlib.sha256(f.read()).hexdigest()
    write_json(os.path.join(uri, artifacts.PLAN_FILE), plan)


def e_model_changed(env):
    """The plan was made for a model directory whose files then changed (same path, other bytes)."""
    other = copy_artifact(env.model, os.path.join(env.tmp, "other_model"))
    plan = plan_copy(env)
    path = os.path.join(plan.uri, artifacts.PLAN_FILE)
    write_json(path, {**read_json(path), "source_model": os.path.join(other.uri, "Format-Serving")})
    with open(os.path.join(other.uri, "Format-Serving", "saved_model.pb"), "ab") as f:
        f.write(b"\0")
    return ExportRun(other, plan, os.path.join(env.tmp, "out"))


def e_other_model(env):
    """The plan was made for the session model; the exporter is given another Trainer model (a copy)."""
    other = copy_artifact(env.model, os.path.join(env.tmp, "other_model"))
    return ExportRun(other, plan_copy(env), os.path.join(env.tmp, "out"))


@pytest.fixture(scope="module")
def dynamic_plan(trained_model, examples_artifact, tmp_path_factory):
    config = QuantizationConfig(mode=Mode.DYNAMIC_RANGE)
    return run_quantizer(config, trained_model, examples_artifact, str(tmp_path_factory.mktemp("dr") / "plan"))


def e_retry_int8_then_dynamic_range(env):
    """The int8 attempt's outputs (layer_report.csv beside the model) are in the URIs; the retry exports
    dynamic_range, which writes no layer report."""
    out = os.path.join(env.tmp, "out")
    for name in ("tflite_model", "float_model"):
        shutil.copytree(env.export["tflite" if name == "tflite_model" else "float"].uri, os.path.join(out, name))
    assert os.path.exists(os.path.join(out, "tflite_model", artifacts.LAYER_REPORT_FILE))

    def after(root):
        files = sorted(os.listdir(os.path.join(root, "tflite_model")))
        assert files == ["Format-Serving", artifacts.EXPORT_REPORT_FILE], files
        report = read_json(os.path.join(root, "tflite_model", artifacts.EXPORT_REPORT_FILE))
        assert report["plan"]["config"]["mode"] == "dynamic_range" and report["layer_report"] is None
    return ExportRun(env.model, env.dynamic_plan, out, after)


def e_retry_int8_then_error(env):
    """The int8 attempt's models are in the output URIs; the retry fails (its plan.json is gone): neither
    Format-Serving/tflite of the earlier attempt may be left for the Pusher."""
    run = damaged_plan(lambda uri, plan: _rm(uri, artifacts.PLAN_FILE))(env)
    shutil.copytree(env.export["tflite"].uri, os.path.join(run.out_root, "tflite_model"))
    shutil.copytree(env.export["float"].uri, os.path.join(run.out_root, "float_model"))
    return run


PLAN = r"plan '.*/plan/plan\.json'"
RERUN_Q = r"connect the Quantizer's outputs\['plan'\] \(or re-run the Quantizer with this tfx-edge\)"

EXPORTER_CASES = [
    ("plan_json_missing", damaged_plan(lambda uri, plan: _rm(uri, artifacts.PLAN_FILE)), RecordError,
     PLAN + r" is missing; connect the Quantizer's outputs\['plan'\]"),
    ("plan_json_truncated", damaged_plan(_truncate_plan), RecordError,
     PLAN + r" is not readable JSON \(.*\); connect the Quantizer's outputs\['plan'\]"),
    ("plan_older_format", damaged_plan(_older_format), RecordError,
     PLAN + r" is a None record, not 'tfx_edge\.QuantizationPlan' \(or written by a tfx-edge before records had "
     r"kinds\); " + RERUN_Q),
    ("plan_other_version", damaged_plan(_plan_edit(lambda p: p.update(version=2))), RecordError,
     PLAN + r" is tfx_edge\.QuantizationPlan version 2; this tfx-edge reads version 4; " + RERUN_Q),
    ("plan_other_kind", damaged_plan(_plan_edit(lambda p: p.update(kind="tfx_edge.ExportReport"))), RecordError,
     PLAN + r" is a 'tfx_edge\.ExportReport' record, not 'tfx_edge\.QuantizationPlan'"),
    ("plan_not_an_object", damaged_plan(_write_text(artifacts.PLAN_FILE, "[1, 2]")), RecordError,
     PLAN + r" holds a JSON list, not a tfx_edge\.QuantizationPlan record; " + RERUN_Q),
    ("plan_without_config", damaged_plan(_plan_edit(lambda p: p.pop("config"))), RecordError,
     PLAN + r": QuantizationPlanRecord needs option\(s\) config, which is missing; set it.*; " + RERUN_Q),
    ("plan_calibration_without_sha256", damaged_plan(_plan_edit(lambda p: p["calibration"].pop("sha256"))),
     RecordError, PLAN + r": CalibrationRecord needs option\(s\) calibration\.sha256, which is missing"),
    ("plan_unknown_field", damaged_plan(_plan_edit(lambda p: p.update(calibraton=None))), RecordError,
     PLAN + r": unknown option\(s\) calibraton for QuantizationPlanRecord; allowed: .*calibration"),
    ("plan_nan_literal", damaged_plan(_write_text(artifacts.PLAN_FILE, '{"kind": NaN}')), RecordError,
     PLAN + r" is not readable JSON \(NaN is not JSON"),
    ("plan_mode_unknown", damaged_plan(_plan_edit(lambda p: p["config"].update(mode="int3"))), RecordError,
     PLAN + r": config\.mode='int3' is not a known value; use one of 'dynamic_range', 'int8'"),
    ("plan_calibration_used_string", damaged_plan(_plan_edit(lambda p: p["calibration"].update(used="64"))),
     RecordError, PLAN + r": calibration\.used='64' is invalid: expected int \(a number\), got a string"),
    ("plan_derivation_placement_unknown",
     damaged_plan(_plan_edit(lambda p: p["derivation"].update(placement="sideways"))), RecordError,
     PLAN + r": derivation\.placement='sideways' is not a known value; use one of 'embedded', 'transformed'"),
    ("plan_input_mapping_not_strings",
     damaged_plan(_plan_edit(lambda p: p.update(input_mapping={"image": 3}))), RecordError,
     PLAN + r": input_mapping\['image'\]=3 is invalid: expected str, got int"),
    ("plan_source_model_changed", e_model_changed, ValueError,
     r"the model at '.*other_model/Format-Serving' is not the one plan '.*/plan' was made for \(its files' "
     r"sha256 differ from the plan's source_sha256.*re-run the Quantizer on it"),
    ("calibration_npz_not_a_zip", damaged_plan(_write_text(artifacts.CALIBRATION_FILE, "not a zip")), ValueError,
     r"calibration data '.*/plan/calibration\.npz' is unreadable \(\w+: .*\); connect the Quantizer's"),
    ("derived_saved_model_pb_corrupt", damaged_plan(_corrupt_saved_model_pb), ValueError,
     r"the plan's derived model '.*/plan/derived_model' is not what the Quantizer wrote \(its files' sha256 "
     r"differ from the plan's derived_sha256\); re-run the Quantizer"),
    ("parity_sample_emptied", damaged_plan(_empty_parity_sample), ValueError,
     r"parity sample '.*/plan/parity_sample\.tfrecord' \(recorded in the plan: 64 examples\) is not what the "
     r"Quantizer wrote \(sha256 differs\); " + RERUN_Q),
    ("parity_sample_short", damaged_plan(_short_parity_sample), ValueError,
     r"parity sample '.*/plan/parity_sample\.tfrecord' \(recorded in the plan: 64 examples\) holds 10 "
     r"examples; " + RERUN_Q),
    ("plan_for_another_model", e_other_model, ValueError,
     r"plan '.*/plan' was made for the model at '.*trainer_model.*/Format-Serving', not the TFLiteExporter's "
     r"model at '.*other_model/Format-Serving': give the Quantizer and the TFLiteExporter the same model"),
    ("calibration_npz_missing", damaged_plan(lambda uri, plan: _rm(uri, artifacts.CALIBRATION_FILE)),
     FileNotFoundError,
     r"calibration data '.*/plan/calibration\.npz' recorded in the plan is missing; connect the Quantizer's"),
    ("calibration_npz_altered", damaged_plan(_alter_calibration), ValueError,
     r"calibration data '.*/plan/calibration\.npz' is not what the plan recorded \(sha256 differs\); connect "
     r"the Quantizer's"),
    ("derived_model_missing", damaged_plan(lambda uri, plan: _rm(uri, artifacts.DERIVED_MODEL_DIR)),
     FileNotFoundError, r"the plan's derived model '.*/plan/derived_model' is missing; re-run the Quantizer"),
    ("parity_sample_missing", damaged_plan(lambda uri, plan: _rm(uri, artifacts.PARITY_FILE)), FileNotFoundError,
     r"parity sample '.*/plan/parity_sample\.tfrecord' \(recorded in the plan: 64 examples\) is missing; "
     + RERUN_Q),
    ("parity_sample_lacks_an_input", damaged_plan(_parity_sample_without_image), InputMappingError,
     r"the parity sample '.*/plan/parity_sample\.tfrecord' \(64 examples of split 'train', drawn by the "
     r"Quantizer\) cannot feed the model: .*'image'.*If input_mapping is right, those examples lack the feature"),
    ("retry_int8_then_dynamic_range", e_retry_int8_then_dynamic_range, OK, None),
    ("retry_int8_then_error", e_retry_int8_then_error, RecordError,
     r"plan '.*/plan/plan\.json' is missing; connect the Quantizer's outputs\['plan'\]"),
]


@pytest.mark.parametrize("case_id, build, expected, regex", EXPORTER_CASES, ids=case_ids(EXPORTER_CASES))
def test_exporter_bad_input(case_id, build, expected, regex, env, request):
    if expected == OK:
        env.dynamic_plan = request.getfixturevalue("dynamic_plan")
    run = build(env)
    if expected == OK:
        run_exporter(run.model, run.plan, run.out_root)
        run.after(run.out_root)
        return
    with pytest.raises(expected, match=regex):
        run_exporter(run.model, run.plan, run.out_root)
    for name in ("tflite_model", "float_model"):
        assert not os.path.exists(os.path.join(run.out_root, name, "Format-Serving", artifacts.TFLITE_FILE))


# === EdgeEvaluator ========================================================================

@dataclasses.dataclass
class EdgeRun:
    config: EvaluationConfig
    examples: Any
    tflite: Any
    float_model: Any
    out_root: str
    float_blessing: Any = None
    before: Callable[[str], None] | None = None      # (out root) -> None: a first attempt into the same URIs
    after: Callable[[Any, Any, dict], None] | None = None   # (blessing, evaluation, metrics) for outcomes
    beam_args: tuple[str, ...] = ()                   # the EdgeEvaluator's beam_pipeline_args


def edge_outputs(out_root: str):
    """Fresh output artifacts on fixed URIs, as an orchestrator's retry creates them."""
    from tfx.types import standard_artifacts
    from tfx_edge.components.artifacts import EdgeEvaluation
    return (make_artifact(standard_artifacts.ModelBlessing, os.path.join(out_root, "blessing")),
            make_artifact(EdgeEvaluation, os.path.join(out_root, "evaluation")))


def run_edge(run: EdgeRun, blessing, evaluation, config=None) -> None:
    from tfx_edge.components import specs
    from tfx_edge.components.edge_evaluator import executor
    inputs = {specs.EXAMPLES_KEY: [run.examples], specs.MODEL_KEY: [run.tflite],
              specs.FLOAT_MODEL_KEY: [run.float_model]}
    if run.float_blessing is not None:
        inputs[specs.FLOAT_BLESSING_KEY] = [run.float_blessing]
    from tfx.dsl.components.base import base_beam_executor
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(run.beam_args))
    executor.Executor(context).Do(inputs, {specs.BLESSING_KEY: [blessing], specs.EVALUATION_KEY: [evaluation]},
                           {specs.CONFIG_KEY: (config or run.config).to_json()})


def plain(env, config=None, **kwargs):
    """The int8 export (read only) on the session eval split."""
    return EdgeRun(config or gate(), kwargs.pop("examples", env.examples), kwargs.pop("tflite", env.export["tflite"]),
                   kwargs.pop("float_model", env.export["float"]), os.path.join(env.tmp, "out"), **kwargs)


def tflite_copy(env):
    from tfx.types import standard_artifacts
    return copy_artifact(env.export["tflite"], os.path.join(env.tmp, "tflite_model"), standard_artifacts.Model)


def damaged_report(fn):
    """A builder: a copy of the int8 TFLite model whose export_report.json fn(path, report) damages."""
    def build(env):
        model = tflite_copy(env)
        path = os.path.join(model.uri, artifacts.EXPORT_REPORT_FILE)
        fn(path, read_json(path))
        return plain(env, tflite=model)
    return build


def _truncate(path, report):
    text = json.dumps(report)
    with open(path, "w") as f:
        f.write(text[:len(text) // 3])


def _other_format(path, report):
    """An export report as tfx-edge 0.2.0 wrote it: no kind, format 2."""
    write_json(path, {**{k: v for k, v in report.items() if k not in ("kind", "version")}, "tfx_edge_format": 2})


def _lacking_keys(path, report):
    write_json(path, {k: v for k, v in report.items() if k != "plan"})


AUTO_NOT_MET = {
    "met": False, "selected": None, "best": "int8", "planned": "int8", "metric": "accuracy",
    "tolerance": {"max_absolute_drop": 0.001, "max_relative_drop": None},
    "budgets": {"max_model_bytes": None, "max_latency_p50_us": None}, "float_bytes": 650_000,
    "validation": {"split": "train", "examples": 287, "examples_seen": 1437, "fraction": 0.2, "seed": 0,
                   "sha256": "0" * 64},
    "requested": {"mode": "auto", "auto": {"max_absolute_drop": 0.001}},
    "trials": [], "stopped": None, "seconds": 1.0}


def _with_auto(auto):
    """A report damage: the embedded plan's auto-search record replaced by `auto`."""
    def damage(path, report):
        report["plan"]["auto"] = auto
        write_json(path, report)
    return damage


def _auto_not_met(path, report):
    """What the TFLiteExporter records when the Quantizer's search found no candidate within tolerance."""
    _with_auto(AUTO_NOT_MET)(path, report)


def _report_edit(fn):
    def damage(path, report):
        fn(report)
        write_json(path, report)
    return damage


def ev_candidate_is_the_float_file(env):
    """The candidate's file replaced by the export's own float32 reference (sizes, inputs, classes match)."""
    model = tflite_copy(env)
    shutil.copy(os.path.join(env.export["float"].uri, "Format-Serving", artifacts.TFLITE_FILE),
                os.path.join(model.uri, "Format-Serving", artifacts.TFLITE_FILE))
    return plain(env, tflite=model)


def ev_candidate_from_another_export(env):
    """Another model's .tflite under this export's report."""
    model = tflite_copy(env)
    other = ev_float_five_classes(env).float_model
    shutil.copy(os.path.join(other.uri, "Format-Serving", artifacts.TFLITE_FILE),
                os.path.join(model.uri, "Format-Serving", artifacts.TFLITE_FILE))
    return plain(env, tflite=model)


def ev_reference_forged_in_report(env):
    """A report rewritten to record another model as the float32 reference: the class count still differs."""
    from helpers import write_export_report
    run = ev_float_five_classes(env)
    model = tflite_copy(env)
    write_export_report(model.uri, env.export["tflite"].uri, reference_uri=run.float_model.uri)
    run.tflite = model
    return run


REPORT = r"the TFLiteExporter's report '.*tflite_model/export_report\.json'"
FIX = r"connect the TFLiteExporter's outputs\['tflite_model'\] \(or re-run it with this tfx-edge\)"
WIRE = (r"wire EdgeEvaluator\(model=exporter\.outputs\['tflite_model'\], float_model=exporter\.outputs"
        r"\['float_model'\]\) from one TFLiteExporter")

EDGE_CASES = [
    ("export_report_missing", damaged_report(lambda path, report: os.remove(path)), RecordError,
     REPORT + " is missing; " + FIX),
    ("export_report_truncated", damaged_report(_truncate), RecordError,
     REPORT + r" is not readable JSON \(.*\); " + FIX),
    ("export_report_other_format", damaged_report(_other_format), RecordError,
     REPORT + r" is a None record, not 'tfx_edge\.ExportReport' \(or written by a tfx-edge before records had "
     r"kinds\); " + FIX),
    ("export_report_other_version", damaged_report(_report_edit(lambda r: r.update(version=99))), RecordError,
     REPORT + r" is tfx_edge\.ExportReport version 99; this tfx-edge reads version 4; " + FIX),
    ("export_report_lacking_plan", damaged_report(_lacking_keys), RecordError,
     REPORT + r": ExportReport needs option\(s\) plan, which is missing; set it .*; " + FIX),
    ("export_report_unknown_field", damaged_report(_report_edit(lambda r: r.update(blessed=True))), RecordError,
     REPORT + r": unknown option\(s\) blessed for ExportReport; allowed: "),
    ("export_report_sha256_not_a_string",
     damaged_report(_report_edit(lambda r: r["quantized"].update(sha256=None))), RecordError,
     REPORT + r": quantized\.sha256=None is invalid: expected str, got NoneType; " + FIX),
    ("auto_search_not_met", damaged_report(_auto_not_met), NOT_BLESSED,
     r"^auto_search_met_tolerance: auto search found no candidate within its tolerance \(best: int8\): FAILED$"),
    ("auto_met_is_a_string", damaged_report(_with_auto({**AUTO_NOT_MET, "met": "false"})), RecordError,
     REPORT + r": plan\.auto\.met='false' is invalid: expected true or false, got str; " + FIX),
    ("auto_is_a_list", damaged_report(_with_auto([])), RecordError,
     REPORT + r": plan\.auto=\[\] is invalid: expected a mapping for AutoSearch; " + FIX),
    ("auto_without_planned",
     damaged_report(_with_auto({k: v for k, v in AUTO_NOT_MET.items() if k != "planned"})), RecordError,
     REPORT + r": AutoSearch needs option\(s\) plan\.auto\.planned, which is missing"),
    ("auto_trial_passed_is_a_number",
     damaged_report(_with_auto({**AUTO_NOT_MET, "trials": [{"name": "int8", "config": {"mode": "int8"},
                                                              "passed": 1}]})), RecordError,
     REPORT + r": plan\.auto\.trials\[0\]\.passed=1 is invalid: expected true or false, got int"),
    ("auto_search_not_met_without_export_report", damaged_report(_auto_not_met_then_lost), RecordError,
     REPORT + " is missing; " + FIX),
    ("candidate_is_the_float32_reference", ev_candidate_is_the_float_file, WiringError,
     r"model: .*tflite_model/Format-Serving/tflite \(\d+ bytes, sha256 \w+\) is not the quantized model that "
     r".*export_report\.json recorded \(sha256 \w+\) \(it is the float32 reference of that export\); " + WIRE),
    ("candidate_from_another_export", ev_candidate_from_another_export, WiringError,
     r"model: .*tflite_model/Format-Serving/tflite \(\d+ bytes, sha256 \w+\) is not the quantized model that "
     r".*export_report\.json recorded \(sha256 \w+\); " + WIRE),
    ("reference_from_another_export", ev_float_five_classes, WiringError,
     r"float_model: .*five/Format-Serving/tflite \(\d+ bytes, sha256 \w+\) is not the float32 reference that "
     r".*export_report\.json recorded \(sha256 \w+\): it comes from another TFLiteExporter run; " + WIRE),
    ("reference_is_the_candidate", lambda env: plain(env, float_model=env.export["tflite"]), WiringError,
     r"float_model: .*int8\w*/tflite_model/Format-Serving/tflite .* is not the float32 reference that .* "
     r"recorded .*: it comes from another TFLiteExporter run; " + WIRE),
    ("config_parameter_not_json", lambda env: plain(env, RawConfig("{thresholds: accuracy}")), ConfigError,
     r"EdgeEvaluator parameter config='\{thresholds: accuracy\}' is not JSON \(.*\); give "
     r"EdgeEvaluator\(config=\.\.\.\) a EvaluationConfig instance or a dict"),
    ("config_parameter_wrong_type",
     lambda env: plain(env, RawConfig(json.dumps({**json.loads(gate().to_json()), "batch_size": "100"}))),
     ConfigError, r"batch_size='100' is invalid: expected int \(a number\), got a string"),
    ("tflite_file_missing", ev_tflite_missing, FileNotFoundError,
     r"model: no TFLite model at .*tflite_model/Format-Serving/tflite; connect the TFLiteExporter's "
     r"outputs\['tflite_model'\] here"),
    ("float_reference_other_class_count", ev_reference_forged_in_report, ValueError,
     r"output 'probabilities': the quantized model has shape \[-1, 10\] but the float reference "
     r".*five/Format-Serving/tflite has .*5.*; connect the float_model written by the same TFLiteExporter run"),
    ("top_k_not_below_class_count", lambda env: plain(env, gate(top_k=(10,))), ValueError,
     r"top_k=\[10\]: k=\[10\] .*the model's 10 classes, so top-k accuracy would always be 1; use k < 10"),
    ("label_feature_holds_strings", ev_string_labels, LabelError,
     r"label feature 'label' holds strings \(bytes, e\.g\. b'\d'\), not numbers; labels must be integer class "
     r"ids.*map strings to ids in a Transform step"),
    ("label_feature_missing", lambda env: plain(env, gate(label_feature="digit")), ExamplesError,
     r"label_feature='digit' is missing from examples of split 'eval' \(features there: \['image', 'label'\]\); "
     r"set EvaluationConfig\.label_feature"),
    ("slice_feature_no_example_has", lambda env: plain(env, gate(slice_features=("writer",))), ExamplesError,
     r"slice_features: no example of split 'eval' has feature 'writer'; fix the feature name in slice_features"),
    ("empty_shard_and_marker_before_data", ev_empty_shard_first, BLESSED,
     r"^examples: 360 examples evaluated$"),
    ("split_with_only_an_empty_shard", ev_only_empty_shard, NOT_BLESSED,
     r"^examples: 0 examples evaluated: FAILED \(empty split\)$"),
    pytest.param(
        "split_with_only_success_marker", lambda env: plain(env, examples=eval_split(env, {"_SUCCESS": b""})),
        ExamplesError,
        r"split='eval'.*split directory '.*Split-eval' holds no record files.*[;:.] *"
        r"(re-run|rerun|set|use|write|pick|choose)"),
    ("corrupt_record_file_in_eval_split", ev_corrupt_record_file, ExamplesError,
     r"record file '.*Split-eval/data_tfrecord-00001-of-00002' is corrupt or not a TFRecord file \(read as "
     r"uncompressed TFRecords; a GZIP file must be named '\*\.gz'\).*Re-create it"),
    ("corrupt_record_file_read_by_a_worker_process", ev_corrupt_file_read_in_worker_processes, ExamplesError,
     r"^record file '.*Split-eval/data_tfrecord-00001-of-00002' is corrupt or not a TFRecord file .*\n"
     r"\(raised in a Beam worker: \w+; its traceback follows\)"),
    ("frame_header_claiming_1_tib_in_a_byte_range", ev_huge_frame_header, ExamplesError,
     r"record file '.*Split-eval/" + SPLIT_FILE + r"' is corrupt or not a TFRecord file .*: truncated or corrupt "
     r"record at offset \d+: its header claims 1099511627776 bytes of data but only 76 bytes remain"),
    ("float_model_not_blessed", ev_float_not_blessed, NOT_BLESSED,
     r"^float_model_blessed: the float model's Evaluator blessing is NOT_BLESSED: FAILED$"),
    ("retry_blessed_then_error", ev_retry_blessed_then_error, ExamplesError,
     r"label_feature='digit' is missing from examples of split 'eval'"),
    ("retry_blessed_then_not_blessed", ev_retry_blessed_then_not_blessed, NOT_BLESSED,
     r"^accuracy\.lower_bound: quantized accuracy .* >= 0\.999: FAILED$"),
]


def check_lines(evaluation) -> tuple[dict, str]:
    result = read_json(os.path.join(evaluation.uri, artifacts.METRICS_FILE))
    return result, "\n".join(f"{c['name']}: {c['detail']}" for c in result["checks"])


@pytest.mark.parametrize("case_id, build, expected, regex", EDGE_CASES, ids=case_ids(EDGE_CASES))
def test_edge_evaluator_bad_input(case_id, build, expected, regex, env):
    import re
    run = build(env)
    if run.before:
        run.before(run.out_root)
    blessing, evaluation = edge_outputs(run.out_root)
    if expected in (BLESSED, NOT_BLESSED):
        run_edge(run, blessing, evaluation)
        result, checks = check_lines(evaluation)
        failed = "\n".join(f"{c['name']}: {c['detail']}" for c in result["checks"] if not c["passed"])
        assert re.search(regex, failed if expected == NOT_BLESSED else checks, re.M), checks
        if expected == NOT_BLESSED:
            assert not result["blessed"] and blessing.get_int_custom_property(artifacts.BLESSED_KEY) == 0
            assert os.listdir(blessing.uri) == [artifacts.NOT_BLESSED_FILE]
        if run.after:
            run.after(blessing, evaluation, result)
        return
    with pytest.raises(expected, match=regex):
        run_edge(run, blessing, evaluation)
    assert os.listdir(blessing.uri) == [], os.listdir(blessing.uri)       # neither BLESSED nor NOT_BLESSED
    assert not (blessing.has_custom_property(artifacts.BLESSED_KEY)
                and blessing.get_int_custom_property(artifacts.BLESSED_KEY) == 1)
    assert os.listdir(evaluation.uri) == [], os.listdir(evaluation.uri)
