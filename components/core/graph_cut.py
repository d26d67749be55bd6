"""Cutting a frozen serving graph: where its inputs are, what the kept part needs, and a
tf.function over the cut (used by derive.py).

The graph is a frozen GraphDef (variables are constants). A cut feeds chosen tensors
(the parsed dense features, or the Transform layer's outputs) and fetches the
signature's outputs; everything the outputs need must be computable from the feeds
with ops LiteRT's builtin set has, or the cut is refused naming the features and ops.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import tensorflow as tf

from tfx_edge.components.core import graph_scan
from tfx_edge.components.core.input_mapping import TensorSpec

PARSE_OPS = ("ParseExampleV2",)
OLD_PARSE_OPS = ("ParseExample", "ParseSingleExample", "ParseSequenceExample", "ParseSequenceExampleV2")
TRANSFORM_SCOPE = "transform_features_layer"   # TFT's TransformFeaturesLayer, inlined into the signature
# Where TFX's modules keep the layer: the penguin example `tft_layer`, the taxi example and the penguin
# template `tft_layer_inference` (serving) / `tft_layer_eval`; else found by what it tracks.
TRANSFORM_ATTRIBUTES = ("tft_layer", "tft_layer_inference", "tft_layer_eval")
_LAYER_MARK = "_saved_model_loader_tracked_dict"   # tracked by tft's TransformFeaturesLayer
# Ops the interpreter here cannot run (no Flex delegate in ai_edge_litert), or whose tables
# lose their contents in conversion.
NEEDS_SELECT_OPS = frozenset({
    "LookupTableFindV2", "LookupTableFind", "HashTableV2", "MutableHashTableV2", "StringToHashBucketFast",
    "StringToHashBucketStrong", "StringToHashBucket", "DenseBincount", "Bincount", "StringSplitV2",
    "StaticRegexReplace", "RegexReplace", "StringLower", "StringStrip", "Substr", "AsString",
    "StringToNumber"})
_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


class DeriveError(ValueError):
    """The signature cannot be turned into a TFLite-convertible function; says why and the way out."""


@dataclasses.dataclass(frozen=True)
class Feed:
    """One input of the cut: its name for the app, the graph tensor it replaces, dtype and shape."""

    name: str
    tensor: str
    dtype: str
    shape: tuple[int, ...]   # -1 for the batch (and any dynamic) dimension

    @property
    def spec(self) -> TensorSpec:
        return TensorSpec(self.name, self.dtype, self.shape)


class Graph:
    """A frozen GraphDef with look-ups by node name."""

    def __init__(self, graph_def, key: str, resources: dict | None = None):
        self.graph_def, self.key = graph_def, key
        self.nodes = {n.name: n for n in graph_def.node}
        # resource placeholder name -> live handle: what freezing left unfrozen (lookup tables)
        self.resources = {n: h for n, h in (resources or {}).items()
                          if n in self.nodes and graph_scan.is_resource_placeholder(self.nodes[n])}

    def parse_node(self):
        """The signature's ParseExampleV2 node, None for a dense signature."""
        old = [n.name for n in self.graph_def.node if n.op in OLD_PARSE_OPS]
        if old:
            raise DeriveError(f"signature {self.key!r} parses Examples with {old} (not ParseExampleV2); "
                              f"export it with tf.io.parse_example, or export a dense signature")
        found = [n for n in self.graph_def.node if n.op in PARSE_OPS]
        if len(found) > 1:
            raise DeriveError(f"signature {self.key!r} parses Examples {len(found)} times "
                              f"({[n.name for n in found]}); export one tf.io.parse_example call")
        return found[0] if found else None

    def _const(self, tensor: str) -> np.ndarray:
        return tf.make_ndarray(self.nodes[graph_scan.node_of(tensor)].attr["value"].tensor)

    def keys(self, parse, which: int) -> list[str]:
        """ParseExampleV2 input 2: sparse keys, 3: dense keys, 4: ragged keys."""
        return [k.decode() for k in self._const(parse.input[which]).reshape(-1)]

    def dense_features(self, parse) -> list[Feed]:
        """The parsed dense features, as feeds named after the features."""
        num_sparse = parse.attr["num_sparse"].i
        dtypes = [tf.as_dtype(t).name for t in parse.attr["Tdense"].list.type]
        shapes = [[d.size for d in s.dim] for s in parse.attr["dense_shapes"].list.shape]
        feeds = []
        for i, (name, dtype, shape) in enumerate(zip(self.keys(parse, 3), dtypes, shapes)):
            if any(d < 0 for d in shape):
                raise DeriveError(f"feature {name!r} is parsed with a varying length (FixedLenSequenceFeature); "
                                  f"a TFLite input needs a fixed shape: give it a fixed length, or use "
                                  f"placement='transformed'")
            _check_name(name, "feature")
            feeds.append(Feed(name, f"{parse.name}:{3 * num_sparse + i}", dtype, tuple([-1] + shape)))
        return feeds

    def transform_outputs(self, parse, layer, key: str) -> list[Feed]:
        """The Transform layer's outputs that the model consumes, named as Transform names them."""
        crossing = self._crossing(TRANSFORM_SCOPE)
        if not crossing or layer is None:
            missing = ("no tf.Transform layer inside it" if not crossing else
                       f"no Transform layer saved on the model (looked for {list(TRANSFORM_ATTRIBUTES)} and any "
                       f"tracked tf.Transform TransformFeaturesLayer)")
            raise DeriveError(
                f"placement='transformed' cuts signature {key!r} where the Transform layer's outputs enter the "
                f"model, but it has {missing}. Call tf_transform_output.transform_features_layer() in the serving "
                f"function and save it on the model (TFX: model.tft_layer = ...)")
        sparse = self.keys(parse, 2)
        if sparse:
            raise DeriveError(
                f"placement='transformed' does not support a Transform over sparse (VarLen) features yet: "
                f"signature {key!r} parses {sparse} as VarLenFeature. Supported today: Transforms over "
                f"fixed-length features (SchemaGen(infer_feature_shape=True) with every feature present), "
                f"or a dense signature over Transform's outputs exported by the Trainer")
        return _name_by_values(self, parse, layer, crossing)

    def _crossing(self, scope: str) -> list[str]:
        """Tensors produced inside `scope` and consumed outside it (data edges only), in graph order."""
        out: list[str] = []
        for node in self.graph_def.node:
            if scope in node.name:
                continue
            for inp in graph_scan.data_inputs(node):
                tensor = inp if ":" in inp else inp + ":0"
                if scope in graph_scan.node_of(inp) and tensor not in out:
                    out.append(tensor)
        return out

    def check_reachable(self, feeds: list[Feed], outputs: dict[str, str], parse) -> None:
        """Everything the outputs need is computable from the feeds with builtin ops (function
        bodies included); a lookup table beyond the cut is refused."""
        fed = {f.tensor for f in feeds} | {f.tensor.removesuffix(":0") for f in feeds}
        seen, stack = set(), [graph_scan.node_of(t) for t in outputs.values()]
        unsupported: dict[str, set] = {}
        tables: list[str] = []
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            node = self.nodes[name]
            self._collect_unsupported(node, feeds, unsupported)
            for inp in graph_scan.data_inputs(node):
                if inp in fed:
                    continue
                if parse is not None and graph_scan.node_of(inp) == parse.name:
                    self._refuse_parse_output(parse, graph_scan.index_of(inp), feeds)
                source = self.nodes[graph_scan.node_of(inp)]
                if graph_scan.is_resource_placeholder(source):
                    tables.append(source.name)
                elif source.op == "Placeholder":
                    raise DeriveError(f"signature {self.key!r} output needs graph input {source.name!r} "
                                      f"beyond the cut; export a signature whose inputs are all features")
                else:
                    stack.append(source.name)
        if unsupported:
            self._refuse_ops(unsupported)
        if tables:
            raise DeriveError(f"signature {self.key!r} needs lookup tables ({sorted(set(tables))}) beyond the "
                              f"cut, which lose their contents in conversion; use placement='transformed'")

    def _collect_unsupported(self, node, feeds: list[Feed], found: dict[str, set]) -> None:
        """Ops LiteRT cannot run at this node or in the functions it calls, with the features feeding them."""
        if node.op in NEEDS_SELECT_OPS:
            found.setdefault(node.op, set()).update(self._features_feeding(node.name, feeds))
        inputs = graph_scan.data_inputs(node)
        by_tensor = {f.tensor: f.name for f in feeds} | {f.tensor.removesuffix(":0"): f.name for f in feeds}
        for function in graph_scan.called_functions(node):
            for op, indices in graph_scan.library_ops(self.graph_def, function, NEEDS_SELECT_OPS):
                features = found.setdefault(op, set())
                for i in (i for i in indices if i < len(inputs)):
                    if inputs[i] in by_tensor:
                        features.add(by_tensor[inputs[i]])
                    else:
                        features.update(self._features_feeding(graph_scan.node_of(inputs[i]), feeds))

    def _refuse_parse_output(self, parse, index: int, feeds: list[Feed]) -> None:
        num_sparse = parse.attr["num_sparse"].i
        num_dense = len(parse.attr["Tdense"].list.type)
        if index < 3 * num_sparse:
            feature, kind = self.keys(parse, 2)[index % num_sparse], "sparse (VarLenFeature)"
        elif index < 3 * num_sparse + num_dense:
            feature, kind = self.keys(parse, 3)[index - 3 * num_sparse], "raw"
        else:
            feature, kind = "(ragged)", "ragged"
        raise DeriveError(
            f"feature {feature!r} is used as a {kind} feature where the cut feeds {[f.name for f in feeds]}; "
            f"TFLite takes one dense tensor per feature: give the feature a fixed length in the schema "
            f"(FixedLenFeature with a default value), or use placement='transformed'")

    def _refuse_ops(self, by_op: dict[str, set[str]]) -> None:
        detail = "; ".join(f"{op} (features {sorted(f) or 'none'})" for op, f in sorted(by_op.items()))
        raise DeriveError(
            f"signature {self.key!r} needs ops outside LiteRT's builtin set: {detail}. The interpreter "
            f"has no Flex (Select TF ops) delegate and vocabulary tables lose their contents in "
            f"conversion (Keras CategoryEncoding is rewritten to builtin ops; these are not). Use "
            f"placement='transformed' (the app feeds Transform's outputs), or compute these features "
            f"outside the model")

    def _features_feeding(self, name: str, feeds: list[Feed]) -> set[str]:
        by_tensor = {f.tensor: f.name for f in feeds} | {f.tensor.removesuffix(":0"): f.name for f in feeds}
        found, seen, stack = set(), set(), [name]
        while stack:
            node = self.nodes[stack.pop()]
            for inp in node.input:
                if inp in by_tensor:
                    found.add(by_tensor[inp])
                elif not inp.startswith("^") and graph_scan.node_of(inp) not in seen:
                    seen.add(graph_scan.node_of(inp))
                    stack.append(graph_scan.node_of(inp))
        return found


CALL_PREFIX = "StatefulPartitionedCall/"   # what freezing prefixes the inlined signature body with


def find_transform_layer(loaded):
    """The Transform layer saved on the model (by TFX's attribute names, then by type), or None."""
    for name in TRANSFORM_ATTRIBUTES:
        if hasattr(loaded, name):
            return getattr(loaded, name)
    children = loaded._trackable_children() if hasattr(loaded, "_trackable_children") else vars(loaded)
    return next((child for _, child in sorted(children.items()) if hasattr(child, _LAYER_MARK)), None)


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise DeriveError(f"{what} name {name!r} cannot name a TFLite input (letters, digits, '_', '.', "
                          f"'-', '/'); rename it in the schema / Transform")


def placeholder_feeds(frozen, signature, key: str) -> list[Feed]:
    """A dense signature's own inputs (sorted by name, the order the frozen function takes them)."""
    _, kwargs = signature.structured_input_signature
    names = sorted(kwargs)
    feeds = []
    for name, tensor in zip(names, frozen.inputs):
        spec = kwargs[name]
        if spec.dtype == tf.string:
            raise DeriveError(f"signature {key!r} input {name!r} takes strings but is not parsed as "
                              f"tf.Examples inside the signature; TFLite needs numeric inputs")
        shape = tuple(-1 if d is None else int(d) for d in spec.shape.as_list())
        if not shape or shape[0] != -1:
            raise DeriveError(f"signature {key!r} input {name!r} has shape {list(shape)}: the batch "
                              f"dimension must be dynamic; export it with shape [None, ...]")
        feeds.append(Feed(name, tensor.name, spec.dtype.name, shape))
    return feeds


def function(graph_def, feeds: list[Feed], fetches: dict[str, str], resources: dict | None = None):
    """A tf.function over the graph, fed at `feeds` (named inputs), returning {key: fetched tensor}.
    `resources`: live handles (lookup tables) for the graph's resource placeholders the cut needs."""
    wrapped = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
    keys = sorted(fetches)
    nodes = {n.name: n for n in graph_def.node}
    needed = graph_scan.needed_nodes(nodes, [f.tensor for f in feeds], fetches.values())
    resources = resources or {}
    tables = sorted(n for n in resources if n in needed)
    pruned = wrapped.prune([wrapped.graph.get_tensor_by_name(f.tensor) for f in feeds]
                           + [wrapped.graph.get_tensor_by_name(n + ":0") for n in tables],
                           [wrapped.graph.get_tensor_by_name(fetches[k]) for k in keys])
    handles = [resources[n] for n in tables]
    specs = [tf.TensorSpec([None if d < 0 else d for d in f.shape], f.dtype, name=f.name) for f in feeds]

    @tf.function(input_signature=specs)
    def cut(*args):
        return dict(zip(keys, pruned(*args, *handles)))
    cut.pruned = pruned   # keeps the pruned graph alive with the function
    return cut


def _name_by_values(graph: Graph, parse, tft_layer, crossing: list[str]) -> list[Feed]:
    """Names each crossing tensor after the Transform output with the same values on probe inputs."""
    raw = graph.dense_features(parse)
    probe = _probe(raw)
    expected = {k: v.numpy() for k, v in tft_layer({f.name: tf.constant(probe[f.name]) for f in raw}).items()}
    got = function(graph.graph_def, raw, {t: t for t in crossing}, graph.resources)(*[probe[f.name] for f in raw])
    feeds = []
    for tensor in crossing:
        value = got[tensor].numpy()
        names = [k for k, v in sorted(expected.items()) if v.shape == value.shape and v.dtype == value.dtype
                 and _same(v, value)]
        if len(names) != 1:
            raise DeriveError(f"the Transform output feeding the model at {tensor} matches "
                              f"{names or 'no'} Transform feature(s) on probe inputs; use placement='embedded'")
        feeds.append(Feed(names[0], tensor, value.dtype.name, (-1,) + value.shape[1:]))
    return sorted(feeds, key=lambda f: f.name)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal, up to float rounding (the inlined graph and the eager layer may order ops differently)."""
    if np.issubdtype(a.dtype, np.floating):
        return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))
    return bool(np.array_equal(a, b))


def _probe(raw: list[Feed], batch: int = 7) -> dict[str, np.ndarray]:
    """Seeded, distinct probe values per feature (strings: distinct tokens)."""
    rng = np.random.default_rng(0)
    out = {}
    for i, f in enumerate(raw):
        shape = (batch,) + f.shape[1:]
        if f.dtype == "string":
            out[f.name] = np.array([f"tfx_edge_probe_{i}_{j}".encode() for j in range(int(np.prod(shape)))],
                                   dtype=object).reshape(shape)
        elif f.dtype.startswith("int"):
            out[f.name] = rng.integers(0, 1000, size=shape).astype(f.dtype)
        else:
            out[f.name] = rng.uniform(-3, 3, size=shape).astype(f.dtype)
    return out
