"""The records the gate trusts (schemas/records.py): round trips, a schema snapshot per record, and a
fuzz test of the strict readers on real records written by the session's int8 export."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import random
import typing

import pytest

from tfx_edge.schemas import records
from tfx_edge.schemas.evaluation import EvaluationConfig
from tfx_edge.schemas.quantization import QuantizationConfig

# Adding, removing, renaming or retyping a field changes a record's schema: bump its VERSION (readers
# refuse other versions, so old files are re-made rather than misread) and update the line here.
SCHEMAS = {
    "tfx_edge.QuantizationPlan": (4, "ad547c33d2dd"),
    "tfx_edge.ExportReport": (4, "1e88d33c9f6a"),
    "tfx_edge.EdgeEvaluation": (8, "0deeca90474a"),
    "tfx_edge.AppContract": (1, "e1fd7b004603"),
}


def schema_of(hint) -> str:
    """A record's structure as JSON sees it: field names and value types, nested records expanded,
    enums by their values; class names do not count (renaming a class changes no file). The configs
    count by name only (they are read by their own strict reader, with defaults for new options)."""
    if hint in (QuantizationConfig, EvaluationConfig):
        return f"config:{hint.__name__}"
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return "{" + ", ".join(f"{f.name}: {schema_of(hints[f.name])}" for f in dataclasses.fields(hint)) + "}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "enum(" + ",".join(sorted(str(m.value) for m in hint)) + ")"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return "literal(" + ",".join(map(repr, args)) + ")"
    if origin is not None:
        inner = ",".join("..." if a is Ellipsis else schema_of(a) for a in args)
        return f"{getattr(origin, '__name__', 'union')}[{inner}]"
    return "None" if hint is type(None) else hint.__name__


def _dataclasses_in(hint) -> list:
    if dataclasses.is_dataclass(hint):
        return [hint]
    return [d for arg in typing.get_args(hint) for d in _dataclasses_in(arg)]


def _hints_in(hint) -> list:
    return [hint] + [h for arg in typing.get_args(hint) for h in _hints_in(arg)]


@pytest.mark.parametrize("cls", records.RECORDS, ids=lambda c: c.KIND)
def test_schema_snapshot_matches_the_version(cls):
    digest = hashlib.sha256(schema_of(cls).encode()).hexdigest()[:12]
    assert (cls.VERSION, digest) == SCHEMAS[cls.KIND], (
        f"{cls.KIND}'s fields changed: bump {cls.__name__}.VERSION and set SCHEMAS[{cls.KIND!r}] = "
        f"({cls.VERSION + 1}, {digest!r})")


@pytest.mark.parametrize("cls", records.RECORDS, ids=lambda c: c.KIND)
def test_no_field_is_typed_any(cls):
    def walk(c, seen):
        for name, hint in typing.get_type_hints(c).items():
            if name in ("KIND", "VERSION"):
                continue
            assert typing.Any not in _hints_in(hint), f"{c.__name__}.{name} is typed Any"
            for inner in _dataclasses_in(hint):
                if inner not in seen:
                    seen.add(inner)
                    walk(inner, seen)
    walk(cls, set())


# ---- the session's real records ---------------------------------------------------------

@pytest.fixture(scope="module")
def written(int8_export, examples_artifact, tmp_path_factory):
    """{record class: file bytes} of the plan, the export report, the app contract and an evaluation of
    the int8 export."""
    from helpers import run_edge_evaluator
    from tfx_edge.schemas import LatencyConfig, MetricThreshold, Thresholds
    config = EvaluationConfig(thresholds=Thresholds(metrics={"accuracy": MetricThreshold(max_absolute_drop=0.05)}),
                              latency=LatencyConfig(runs=5, warmup=1))
    _, evaluation = run_edge_evaluator(config, examples_artifact, int8_export["tflite"], int8_export["float"],
                                       str(tmp_path_factory.mktemp("records")))
    paths = {records.QuantizationPlanRecord: os.path.join(int8_export["plan"].uri, "plan.json"),
             records.ExportReport: os.path.join(int8_export["tflite"].uri, "export_report.json"),
             records.EvaluationResult: os.path.join(evaluation.uri, "metrics.json"),
             records.AppContract: os.path.join(int8_export["tflite"].uri, "Format-Serving", "app_contract.json")}
    return {cls: open(path, "rb").read() for cls, path in paths.items()}


@pytest.mark.parametrize("cls", records.RECORDS, ids=lambda c: c.KIND)
def test_round_trip_gives_the_same_record_and_bytes(cls, written):
    record = cls.from_json(written[cls], "test", "fix")
    assert record.to_json().encode() == written[cls]
    assert cls.from_json(record.to_json(), "test", "fix") == record
    assert json.loads(written[cls])["kind"] == cls.KIND


def test_a_written_record_is_always_readable(written):
    """NaN in a field that must hold a number is refused when writing, never written unreadable."""
    result = records.EvaluationResult.from_json(written[records.EvaluationResult], "test", "fix")
    host = next(iter(next(iter(result.latency.values())).values()))
    broken = dataclasses.replace(result, latency={"quantized": {"xnnpack": dataclasses.replace(
        host, p50_us=float("nan"))}})
    with pytest.raises(records.RecordError, match=r"latency\['quantized'\]\['xnnpack'\]\.p50_us=None is invalid"):
        broken.to_json()


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    yield path


def _set(data, path, value):
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _delete(data, path):
    for key in path[:-1]:
        data = data[key]
    del data[path[-1]]


OTHER_VALUES = ["false", "1", 1, 0, -1, 1.5, True, False, None, [], {}, ["x"], {"k": 1}, "", 2 ** 40]


def _mutate(text: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:                                   # truncation
        return text[:rng.randrange(len(text))]
    if kind == 1:                                   # bit flips
        data = bytearray(text)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    data = json.loads(text)
    paths = [p for p in _leaves(data) if p]
    path = rng.choice(paths)
    if kind == 2:                                   # a value of another type
        _set(data, path, rng.choice(OTHER_VALUES))
    elif kind == 3:                                 # a field or item removed
        _delete(data, path)
    else:                                           # an unknown field added
        target = data
        for key in path[:-1]:
            target = target[key]
        if isinstance(target, dict):
            target[f"extra_{rng.randrange(100)}"] = rng.choice(OTHER_VALUES)
        else:
            _set(data, path, rng.choice(OTHER_VALUES))
    return json.dumps(data).encode()


@pytest.mark.parametrize("cls", records.RECORDS, ids=lambda c: c.KIND)
def test_fuzzed_records_are_read_exactly_or_refused_by_name(cls, written):
    """Seeded truncations, bit flips, retyped / removed / added fields: every mutant is either a valid
    record (which then round-trips) or a RecordError naming the file; never another exception, and a
    bool, number or string field never takes a value of another type."""
    rng = random.Random(f"records-{cls.KIND}")
    refused = 0
    for _ in range(300):
        mutant = _mutate(written[cls], rng)
        try:
            record = cls.from_json(mutant, "the mutant", "fix")
        except records.RecordError as error:
            assert str(error).startswith("the mutant"), error
            refused += 1
            continue
        assert cls.from_json(record.to_json(), "again", "fix") == record
    assert refused > 200
