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

from tfx_edge.components.core import graph_scan, single_valued, static_tables
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
    "StringToNumber", "UpperBound", "LowerBound"})   # Bounds: tf.Transform's apply_buckets (searchsorted)
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
    # a single-valued VarLen feature fed dense [batch, 1]: the parse's (indices, values, dense_shape)
    # tensors it stands for (components/core/single_valued.py: the missing-value contract)
    parts: tuple[str, ...] = ()

    @property
    def spec(self) -> TensorSpec:
        return TensorSpec(self.name, self.dtype, self.shape)

    @property
    def tensors(self) -> tuple[str, ...]:
        """The graph tensors this feed replaces."""
        return self.parts or (self.tensor,)

    def placeholders(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(graph tensor, dtype, shape) of each tensor this feed replaces."""
        if not self.parts:
            return [(self.tensor, self.dtype, self.shape)]
        return [(self.parts[0], "int64", (-1, 2)), (self.parts[1], self.dtype, (-1,)), (self.parts[2], "int64", (2,))]


def by_tensor(feeds: list[Feed]) -> dict[str, str]:
    """Graph tensor (with and without ':0') -> the feed's name, for every tensor a feed replaces."""
    out = {}
    for f in feeds:
        for tensor in f.tensors:
            out[tensor] = out[tensor.removesuffix(":0")] = f.name
    return out


class Graph:
    """A frozen GraphDef with look-ups by node name."""

    def __init__(self, graph_def, key: str, resources: dict | None = None, rebuilt: frozenset = frozenset()):
        """rebuilt: the resource placeholders whose tables static_tables.py rebuilt from constants
        (their handles in `resources`); their lookups convert to LiteRT builtin hash-table ops."""
        self.graph_def, self.key = graph_def, key
        self.nodes = {n.name: n for n in graph_def.node}
        # resource placeholder name -> live handle: what freezing left unfrozen (lookup tables)
        self.resources = {n: h for n, h in (resources or {}).items()
                          if n in self.nodes and graph_scan.is_resource_placeholder(self.nodes[n])}
        self.rebuilt = rebuilt
        self._builtin_lookups = {n for n, p in static_tables.lookup_of(graph_def).items() if p in rebuilt}

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

    def single_valued_features(self, parse, names: set[str]) -> list[Feed]:
        """The parsed numeric sparse features in `names`, as dense [batch, 1] feeds standing for their
        parts. String ones are left to the refusal: LiteRT has no builtin kernel that densifies
        sparse strings (SparseToDense, SelectV2 on strings)."""
        feeds = [f for f in self._sparse_feeds(parse) if f.name in names and f.dtype != "string"]
        for f in feeds:
            _check_name(f.name, "feature")
        return feeds

    def _sparse_feeds(self, parse) -> list[Feed]:
        """Every parsed sparse feature as a feed standing for its (indices, values, dense_shape)."""
        if parse is None:
            return []
        num_sparse = parse.attr["num_sparse"].i
        dtypes = [tf.as_dtype(t).name for t in parse.attr["sparse_types"].list.type]
        return [Feed(name, f"{parse.name}:{num_sparse + i}", dtypes[i], (-1, 1),
                     tuple(f"{parse.name}:{k * num_sparse + i}" for k in range(3)))
                for i, name in enumerate(self.keys(parse, 2))]

    def string_sparse(self, parse, names: set[str]) -> set[str]:
        """Which of the parsed sparse features `names` hold strings."""
        dtypes = [tf.as_dtype(t).name for t in parse.attr["sparse_types"].list.type]
        return {n for n, dtype in zip(self.keys(parse, 2), dtypes) if n in names and dtype == "string"}

    def used_sparse(self, feeds: list[Feed], outputs: dict[str, str], parse) -> set[str]:
        """The parsed sparse (VarLen) features the outputs read beyond the feeds."""
        _, _, parsed = self._walk(feeds, outputs, parse)
        num_sparse = parse.attr["num_sparse"].i
        keys = self.keys(parse, 2)
        return {keys[i % num_sparse] for i in parsed if i < 3 * num_sparse}

    def crossing(self, scope: str) -> list[str]:
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

    def check_reachable(self, feeds: list[Feed], outputs: dict[str, str], parse, why_sparse: str = "") -> None:
        """Everything the outputs need is computable from the feeds with builtin ops (function
        bodies included); a lookup table beyond the cut is refused. why_sparse: why a sparse
        feature the outputs read is not fed (said in the refusal)."""
        unsupported, tables, parsed = self._walk(feeds, outputs, parse)
        reasons = []
        if parsed:
            reasons.append(self._parse_outputs_reason(parse, parsed, feeds, why_sparse))
        if unsupported:
            reasons.append(self._ops_reason(unsupported))
        if tables:
            reasons.append(
                f"signature {self.key!r} needs lookup tables {sorted(set(tables))} that cannot become LiteRT "
                f"builtin hash tables (those are rebuilt from their contents when every use is a lookup in the "
                f"signature itself, string -> int64 or int64 -> string); converted as they are they would be "
                f"empty. Use placement='transformed' if a Transform computes them, or look the values up in the app")
        if reasons:
            raise DeriveError(" Also: ".join(reasons))

    def _walk(self, feeds: list[Feed], outputs: dict[str, str], parse):
        """From the outputs back to the feeds: (unsupported ops with their features, tables not
        rebuilt, ParseExampleV2 output indices read beyond the feeds)."""
        fed = set(by_tensor(feeds))
        named = feeds + [f for f in self._sparse_feeds(parse) if f.name not in {g.name for g in feeds}]
        seen, stack = set(), [graph_scan.node_of(t) for t in outputs.values()]
        unsupported: dict[str, set] = {}
        tables: list[str] = []
        parsed: set[int] = set()   # ParseExampleV2 outputs the kept part reads beyond the feeds
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            node = self.nodes[name]
            self._collect_unsupported(node, named, unsupported)
            for inp in graph_scan.data_inputs(node):
                if inp in fed:
                    continue
                if parse is not None and graph_scan.node_of(inp) == parse.name:
                    parsed.add(graph_scan.index_of(inp))
                    continue
                source = self.nodes[graph_scan.node_of(inp)]
                if graph_scan.is_resource_placeholder(source):
                    if source.name not in self.rebuilt:
                        tables.append(source.name)
                elif source.op == "Placeholder":
                    raise DeriveError(f"signature {self.key!r} output needs graph input {source.name!r} "
                                      f"beyond the cut; export a signature whose inputs are all features")
                else:
                    stack.append(source.name)
        return unsupported, tables, parsed

    def _collect_unsupported(self, node, feeds: list[Feed], found: dict[str, set]) -> None:
        """Ops LiteRT cannot run at this node or in the functions it calls, with the features feeding them."""
        if node.op in NEEDS_SELECT_OPS and node.name not in self._builtin_lookups:
            found.setdefault(node.op, set()).update(self._features_feeding(node.name, feeds))
        inputs = graph_scan.data_inputs(node)
        names = by_tensor(feeds)
        for function in graph_scan.called_functions(node):
            for op, indices in graph_scan.library_ops(self.graph_def, function, NEEDS_SELECT_OPS):
                features = found.setdefault(op, set())
                for i in (i for i in indices if i < len(inputs)):
                    if inputs[i] in names:
                        features.add(names[inputs[i]])
                    else:
                        features.update(self._features_feeding(graph_scan.node_of(inputs[i]), feeds))

    def _parse_outputs_reason(self, parse, indices: set[int], feeds: list[Feed], why_sparse: str) -> str:
        """Every parsed feature the kept part reads other than through the feeds, named at once."""
        num_sparse = parse.attr["num_sparse"].i
        num_dense = len(parse.attr["Tdense"].list.type)
        by_kind: dict[str, set[str]] = {}
        for index in indices:
            if index < 3 * num_sparse:
                by_kind.setdefault("sparse (VarLenFeature)", set()).add(self.keys(parse, 2)[index % num_sparse])
            elif index < 3 * num_sparse + num_dense:
                by_kind.setdefault("raw", set()).add(self.keys(parse, 3)[index - 3 * num_sparse])
            else:
                by_kind.setdefault("ragged", set()).add("(ragged)")
        used = "; ".join((f"feature {next(iter(names))!r} is used as a {kind} feature" if len(names) == 1 else
                          f"features {sorted(names)} are used as {kind} features")
                         for kind, names in sorted(by_kind.items()))
        return (
            f"{used} where the cut feeds {[f.name for f in feeds]}; TFLite takes one dense tensor per feature"
            f"{why_sparse}: give such features a fixed length in the schema (FixedLenFeature with a default "
            f"value), or use placement='transformed' (the app feeds Transform's outputs)")

    def _ops_reason(self, by_op: dict[str, set[str]]) -> str:
        detail = "; ".join(f"{op} (features {sorted(f) or 'none'})" for op, f in sorted(by_op.items()))
        return (
            f"signature {self.key!r} needs ops outside LiteRT's builtin set: {detail}. The interpreter "
            f"has no Flex (Select TF ops) delegate; a vocabulary lookup becomes a builtin hash table only "
            f"when its table is used by lookups in the signature itself (not inside a function body). "
            f"Use placement='transformed' (the app feeds Transform's outputs), or compute these features "
            f"outside the model")

    def _features_feeding(self, name: str, feeds: list[Feed]) -> set[str]:
        names = by_tensor(feeds)
        found, seen, stack = set(), set(), [name]
        while stack:
            node = self.nodes[stack.pop()]
            for inp in node.input:
                if inp in names:
                    found.add(names[inp])
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
    `resources`: live handles (lookup tables) for the graph's resource placeholders the cut needs.

    It imports only what the fetches need from the feeds (nodes and library functions), with each
    fed tensor replaced by a placeholder. Build one function per cut: importing the same library
    function twice in a process breaks the later import's calls (a Transform layer that freezing
    leaves as a call op: "Failed to bind all placeholders").
    """
    keys = sorted(fetches)
    sub, fed, tables = _subgraph(graph_def, feeds, [fetches[k] for k in keys], resources or {})
    handles = [(resources or {})[n] for n in tables]
    specs = [tf.TensorSpec([None if d < 0 else d for d in f.shape], f.dtype, name=f.name) for f in feeds]

    def imported(*args):
        values = [part for f, arg in zip(feeds, args) for part in (_sparse_parts(arg) if f.parts else (arg,))]
        input_map = dict(zip(fed, values)) | {n + ":0": tf.identity(h) for n, h in zip(tables, handles)}
        return tf.graph_util.import_graph_def(sub, input_map=input_map, return_elements=[fetches[k] for k in keys],
                                              name="")
    # wrap_function: a v1 graph function, so no automatic control dependencies are added between the
    # outputs and stateful ops inside a frozen while loop's frame (which the converter refuses)
    graph_fn = tf.compat.v1.wrap_function(imported, specs)

    @tf.function(input_signature=specs)
    def cut(*args):
        return dict(zip(keys, graph_fn(*args)))
    cut.graph_fn = graph_fn   # keeps the imported graph alive with the function
    return cut


def _sparse_parts(dense: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(indices, values, dense_shape) of the sparse tensor ParseExampleV2 gives for a feature with at
    most one value per example, from its dense [batch, 1] form (single_valued.py's missing values).
    A float input is read through its bits (BITCAST): no op that int8 quantization rewrites touches
    it before the missing values are left out, so NaN never reaches a calibrated range."""
    if dense.dtype == tf.float32:
        bits = tf.bitcast(dense, tf.int32)
        present = tf.not_equal(bits, tf.constant(single_valued.FLOAT_MISSING_BITS, tf.int32))
        indices = tf.where(present)
        values = tf.bitcast(tf.gather_nd(bits, indices), tf.float32)
    else:
        present = tf.not_equal(dense, tf.constant(single_valued.INT_MISSING, dense.dtype))
        indices = tf.where(present)
        values = tf.gather_nd(dense, indices)
    width = tf.cast(tf.reduce_any(present), tf.int64)   # ParseExampleV2: the batch's most values (0 or 1)
    return indices, values, tf.stack([tf.shape(dense, out_type=tf.int64)[0], width])


def _beyond_cut(nodes: dict, fed_nodes: set[str], resources: dict) -> set[str]:
    """Nodes that depend on a graph input the cut does not feed (its parsed examples, say): forward
    from those inputs, not through fed nodes (cycle-safe: while loops have back edges)."""
    consumers: dict[str, list[str]] = {}
    for name, node in nodes.items():
        for i in node.input:
            consumers.setdefault(graph_scan.node_of(i), []).append(name)
    stack = [n for n, node in nodes.items() if node.op == "Placeholder" and n not in fed_nodes and n not in resources]
    found: set[str] = set()
    while stack:
        name = stack.pop()
        if name not in found and name not in fed_nodes:
            found.add(name)
            stack.extend(consumers.get(name, ()))
    return found


def _subgraph(graph_def, feeds: list[Feed], fetches: list[str], resources: dict):
    """(the nodes `fetches` need from `feeds`, data edges only, with every fed tensor read from a new
    placeholder, and the library functions they call; the fed placeholders' tensors; the resource
    placeholders needed). Control inputs are kept (a while loop's frame needs them) unless they
    come from a fed node or from beyond the cut: checks such as Keras' value-range Asserts on the parsed features are
    dropped (LiteRT drops them in conversion; the parity check compares the outputs)."""
    nodes = {n.name: n for n in graph_def.node}
    placeholders = [p for f in feeds for p in f.placeholders()]
    fed_nodes = {graph_scan.node_of(tensor) for tensor, _, _ in placeholders}
    beyond = _beyond_cut(nodes, fed_nodes, resources)
    inputs = {name: [i for i in node.input if not (i.startswith("^") and (i[1:] in beyond or i[1:] in fed_nodes))]
              for name, node in nodes.items()}
    needed, stack = set(), [graph_scan.node_of(t) for t in fetches]
    while stack:
        name = stack.pop()
        if name not in needed and name not in fed_nodes:
            needed.add(name)
            stack.extend(graph_scan.node_of(i) for i in inputs[name])
    names = {tensor: f"tfx_edge_feed_{i}" for i, (tensor, _, _) in enumerate(placeholders)}
    names |= {t.removesuffix(":0"): n for t, n in list(names.items()) if t.endswith(":0")}
    sub = type(graph_def)()
    sub.versions.CopyFrom(graph_def.versions)
    kept = [n for n in graph_def.node if n.name in needed]
    used = graph_scan.used_functions(graph_def, kept)
    sub.library.function.extend(f for f in graph_def.library.function if f.signature.name in used)
    sub.library.gradient.extend(graph_def.library.gradient)
    for node in kept:
        copy = sub.node.add()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(names.get(i, i) + (":0" if i in names else "") for i in inputs[node.name])
    for tensor, dtype, shape in placeholders:
        placeholder = sub.node.add(name=names[tensor], op="Placeholder")
        placeholder.attr["dtype"].type = tf.as_dtype(dtype).as_datatype_enum
        placeholder.attr["shape"].shape.CopyFrom(tf.TensorShape([None if d < 0 else d for d in shape]).as_proto())
    return sub, [names[t] + ":0" for t, _, _ in placeholders], sorted(n for n in resources if n in needed)
