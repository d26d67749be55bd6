"""A dense, frozen, TFLite-convertible SavedModel derived from any serving signature.

Two things stop the TFLiteConverter on the models TFX users have, and both are
handled here once, for every mode:

* Keras 3 models keep resource variables, which the converter leaves as
  VAR_HANDLE / READ_VARIABLE ops (NaN outputs, int8 failures). The signature's
  concrete function is frozen first (variables become constants).
* TFX Trainers export `serving_default` over serialized tf.Examples: parsing,
  then the Transform graph, then the model. The frozen graph is cut at its
  ParseExample op: the parsed dense features become the inputs, one tensor per
  feature named as the feature (placement 'embedded': preprocessing inside the
  .tflite), or at the Transform layer's outputs (placement 'transformed': the
  .tflite takes transformed features, named as Transform names them).

The result is written as a SavedModel with the same signature key (and, for
'transformed', a second signature TRANSFORM_KEY: serialized tf.Examples -> transformed
features, the signature's own parsing and Transform, used to compute calibration inputs), so conversion, calibration,
the debugger and the auto search work on it unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Sequence

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import convert_to_constants

from tfx_edge.components.core import examples, graph_cut, graph_rewrite, static_tables, transform_cut
from tfx_edge.components.core.graph_cut import DeriveError
from tfx_edge.components.core.input_mapping import TensorSpec
from tfx_edge.schemas import records
from tfx_edge.schemas.quantization import Placement

TRANSFORM_KEY = "tfx_edge_transform"   # raw features -> transformed features ('transformed' only)
_SPECIALIZED = "_GrapplerSpecializedFunc"
DENSE = "dense"                        # the signature already takes dense numeric tensors
EXAMPLES = "examples"                  # the signature takes serialized tf.Examples


@dataclasses.dataclass(frozen=True)
class Derived:
    """What was derived: the kind of the source signature, the placement, and the inputs
    the app must feed (name, dtype, shape with -1 for the batch)."""

    signature_kind: str
    placement: str
    inputs: tuple[TensorSpec, ...]
    raw_features: tuple[TensorSpec, ...] = ()   # 'transformed': what TRANSFORM_KEY takes
    single_valued: tuple[str, ...] = ()         # inputs fed dense from VarLen features (single_valued.py)

    @property
    def missing_contract(self) -> dict[str, str]:
        """{feature: dtype} of the single-valued inputs (what single_valued.fill takes)."""
        return self.record().missing_contract

    def record(self) -> records.Derivation:
        def specs(items):
            return tuple(records.TensorRecord(t.name, t.dtype, tuple(t.shape)) for t in items)
        return records.Derivation(self.signature_kind, Placement(self.placement),  # type: ignore[arg-type]
                                  specs(self.inputs), specs(self.raw_features), self.single_valued)

    @classmethod
    def from_record(cls, record: records.Derivation) -> Derived:
        def specs(items):
            return tuple(TensorSpec(t.name, t.dtype, tuple(-1 if d is None else d for d in t.shape))
                         for t in items)
        return cls(record.signature_kind, record.placement.value, specs(record.inputs),
                   specs(record.raw_features), tuple(record.single_valued))


def load_signature(saved_model_dir: str, key: str):
    loaded = tf.saved_model.load(saved_model_dir)
    if key not in loaded.signatures:
        raise DeriveError(f"signature_key={key!r} is not in the SavedModel at {saved_model_dir}; "
                          f"it has {sorted(loaded.signatures)}. Set QuantizationConfig.signature_key")
    return loaded, loaded.signatures[key]


def derive(saved_model_dir: str, key: str, out_dir: str, placement: Placement,
           probe: Sequence[bytes] | None = None, single_valued: frozenset[str] | None = None) -> Derived:
    """Writes the derived SavedModel (signature `key`) to out_dir; returns what it takes.
    probe: serialized examples of the pipeline's data ('transformed': names the Transform outputs).
    single_valued: the features the pipeline's schema or statistics show with at most one value per
    example (None: neither given); 'embedded' feeds such VarLen features dense [batch, 1]."""
    loaded, signature = load_signature(saved_model_dir, key)
    frozen = convert_to_constants.convert_variables_to_constants_v2(signature)
    graph_def, rewritten = graph_rewrite.rewrite(frozen.graph.as_graph_def())
    if rewritten:
        logging.info("derive: rewrote %s into builtin ops", rewritten)
    tables = _tables(signature)
    rebuilt = static_tables.rebuild(graph_def, tables)
    static_tables.pin_shapes(graph_def, frozenset(rebuilt))
    if rebuilt:
        logging.info("derive: rebuilt lookup tables %s from their contents (builtin hash tables)", sorted(rebuilt))
    graph = graph_cut.Graph(graph_def, key, tables | {n: t.resource_handle for n, t in rebuilt.items()},
                            frozenset(rebuilt))
    layer = graph_cut.find_transform_layer(loaded)
    outputs = _outputs(signature, frozen)
    parse = graph.parse_node()
    raw: list[graph_cut.Feed] = []
    signatures: dict = {}
    why_sparse, dense_sparse = "", []
    if parse is None:
        feeds = graph_cut.placeholder_feeds(frozen, signature, key)
        kind, used_placement = DENSE, Placement.EMBEDDED
    elif placement == Placement.TRANSFORMED:
        raw = [transform_cut.examples_feed(graph, parse)]
        feeds, signatures[TRANSFORM_KEY] = _transform_outputs(graph, parse, layer, key, probe)
        kind, used_placement = EXAMPLES, placement
    else:
        feeds = graph.dense_features(parse)
        sparse = graph.used_sparse(feeds, outputs, parse)
        dense_sparse = graph.single_valued_features(parse, sparse & (single_valued or frozenset()))
        feeds += dense_sparse
        strings = graph.string_sparse(parse, sparse)
        why_sparse = _why_sparse(single_valued, strings, sparse - strings - {f.name for f in dense_sparse})
        kind, used_placement = EXAMPLES, placement
    graph.check_reachable(feeds, outputs, parse, why_sparse)
    signatures[key] = graph_cut.function(graph.graph_def, feeds, outputs, graph.resources)
    _save(signatures, out_dir, layer, list(rebuilt.values()))
    return Derived(kind, used_placement.value, tuple(f.spec for f in feeds), tuple(f.spec for f in raw),
                   tuple(f.name for f in dense_sparse))


def _why_sparse(single_valued: frozenset[str] | None, strings: set[str], numeric: set[str]) -> str:
    """Why the sparse features left (strings, numeric) are not fed dense (for the refusal)."""
    why = []
    if strings:
        why.append(f"string features {sorted(strings)} stay sparse: LiteRT has no builtin kernel that makes sparse "
                   f"strings dense (SparseToDense, SelectV2 on strings)")
    if numeric and single_valued is None:
        why.append("a numeric VarLen feature is fed dense [batch, 1] when the pipeline's schema or statistics "
                   "show at most one value per example, but neither reached the Quantizer: wire SchemaGen's and "
                   "StatisticsGen's outputs into it, Quantizer(schema=..., statistics=...) / "
                   "edge_components(..., schema=..., statistics=...)")
    elif numeric:
        why.append(f"numeric features {sorted(numeric)} are fed dense only when the schema (value_count.max: 1) "
                   f"or the statistics of every split show at most one value per example")
    return " (" + "; ".join(why) + ")" if why else ""


def _transform_outputs(graph: graph_cut.Graph, parse, layer, key: str, probe):
    """(the Transform layer's outputs that the model consumes, named as Transform names them;
    TRANSFORM_KEY: serialized examples -> those outputs)."""
    crossing = graph.crossing(graph_cut.TRANSFORM_SCOPE)
    if not crossing or layer is None:
        missing = ("no tf.Transform layer inside it" if not crossing else
                   f"no Transform layer saved on the model (looked for {list(graph_cut.TRANSFORM_ATTRIBUTES)} "
                   f"and any tracked tf.Transform TransformFeaturesLayer)")
        raise DeriveError(
            f"placement='transformed' cuts signature {key!r} where the Transform layer's outputs enter the model, "
            f"but it has {missing}. Call tf_transform_output.transform_features_layer() in the serving function "
            f"and save it on the model (TFX: model.tft_layer = ...)")
    return transform_cut.name_outputs(graph, parse, layer, crossing, probe)


def _outputs(signature, frozen) -> dict[str, str]:
    """Signature output key -> tensor name in the frozen graph (flattened in key order)."""
    keys = sorted(signature.structured_outputs)
    if len(keys) != len(frozen.outputs):
        raise DeriveError(f"the signature's outputs {keys} do not flatten to its "
                          f"{len(frozen.outputs)} tensors; return a flat dict of tensors")
    return {k: t.name for k, t in zip(keys, frozen.outputs)}


def _tables(signature) -> dict:
    """Resource placeholder name -> live handle for what freezing leaves as inputs: lookup tables
    (a Transform vocabulary is not a variable, so it is not turned into a constant)."""
    captured = list(signature.captured_inputs)
    own = signature.inputs[len(signature.inputs) - len(captured):]
    return {t.name.split(":")[0]: c for t, c in zip(own, captured) if c.dtype == tf.resource}


def _save(signatures: dict, out_dir: str, tft_layer, tables: list) -> None:
    """Saves the cut functions; the Transform layer is tracked so its tables and vocabulary assets
    are saved with them, and so are the tables rebuilt from constants (their initializers).
    Grappler marks the functions it specialized while freezing with an attribute
    tf.saved_model.load refuses; it only records provenance and is dropped."""
    module = tf.Module()
    module.functions = list(signatures.values())
    if tft_layer is not None:
        module.tft_layer = tft_layer
    module.tables = tables
    tf.saved_model.save(module, out_dir, signatures={k: f.get_concrete_function() for k, f in signatures.items()})
    path = os.path.join(out_dir, "saved_model.pb")
    saved = saved_model_pb2.SavedModel.FromString(tf.io.gfile.GFile(path, "rb").read())
    marked = [f for g in saved.meta_graphs for f in g.graph_def.library.function if _SPECIALIZED in f.attr]
    for function in marked:
        del function.attr[_SPECIALIZED]
    if marked:
        with tf.io.gfile.GFile(path, "wb") as f:
            f.write(saved.SerializeToString())


def inputs_from_records(records, derived: Derived, derived_dir: str, explicit=None):
    """({input name: array}, {input: feature}) for the derived model from serialized Examples.

    'transformed': the serialized examples run through TRANSFORM_KEY (the signature's own parsing
    and Transform); the inputs are then Transform's outputs, fed by name from transformed examples
    (mapping {}).
    """
    if derived.raw_features:
        return transform_cut.transform_fn(derived_dir, TRANSFORM_KEY)(records), {}
    return examples.model_inputs(records, list(derived.inputs), explicit, derived.missing_contract)


__all__ = ["DENSE", "EXAMPLES", "TRANSFORM_KEY", "DeriveError", "Derived", "derive", "inputs_from_records",
           "load_signature"]
