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

from tfx_edge.components.core import graph_scan, static_tables
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

    def check_reachable(self, feeds: list[Feed], outputs: dict[str, str], parse) -> None:
        """Everything the outputs need is computable from the feeds with builtin ops (function
        bodies included); a lookup table beyond the cut is refused."""
        fed = {f.tensor for f in feeds} | {f.tensor.removesuffix(":0") for f in feeds}
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
            self._collect_unsupported(node, feeds, unsupported)
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
        if parsed:
            self._refuse_parse_outputs(parse, parsed, feeds)
        if unsupported:
            self._refuse_ops(unsupported)
        if tables:
            raise DeriveError(
                f"signature {self.key!r} needs lookup tables {sorted(set(tables))} that cannot become LiteRT "
                f"builtin hash tables (those are rebuilt from their contents when every use is a lookup in the "
                f"signature itself, string -> int64 or int64 -> string); converted as they are they would be "
                f"empty. Use placement='transformed' if a Transform computes them, or look the values up in the app")

    def _collect_unsupported(self, node, feeds: list[Feed], found: dict[str, set]) -> None:
        """Ops LiteRT cannot run at this node or in the functions it calls, with the features feeding them."""
        if node.op in NEEDS_SELECT_OPS and node.name not in self._builtin_lookups:
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

    def _refuse_parse_outputs(self, parse, indices: set[int], feeds: list[Feed]) -> None:
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
        raise DeriveError(
            f"{used} where the cut feeds {[f.name for f in feeds]}; TFLite takes one dense tensor per feature: "
            f"give such features a fixed length in the schema (FixedLenFeature with a default value), or use "
            f"placement='transformed' (the app feeds Transform's outputs)")

    def _refuse_ops(self, by_op: dict[str, set[str]]) -> None:
        detail = "; ".join(f"{op} (features {sorted(f) or 'none'})" for op, f in sorted(by_op.items()))
        raise DeriveError(
            f"signature {self.key!r} needs ops outside LiteRT's builtin set: {detail}. The interpreter "
            f"has no Flex (Select TF ops) delegate; a vocabulary lookup becomes a builtin hash table only "
            f"when its table is used by lookups in the signature itself (not inside a function body). "
            f"Use placement='transformed' (the app feeds Transform's outputs), or compute these features "
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
        input_map = dict(zip(fed, args)) | {n + ":0": tf.identity(h) for n, h in zip(tables, handles)}
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
    fed_nodes = {graph_scan.node_of(f.tensor) for f in feeds}
    beyond = _beyond_cut(nodes, fed_nodes, resources)
    inputs = {name: [i for i in node.input if not (i.startswith("^") and (i[1:] in beyond or i[1:] in fed_nodes))]
              for name, node in nodes.items()}
    needed, stack = set(), [graph_scan.node_of(t) for t in fetches]
    while stack:
        name = stack.pop()
        if name not in needed and name not in fed_nodes:
            needed.add(name)
            stack.extend(graph_scan.node_of(i) for i in inputs[name])
    names = {f.tensor: f"tfx_edge_feed_{i}" for i, f in enumerate(feeds)}
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
    for f in feeds:
        placeholder = sub.node.add(name=names[f.tensor], op="Placeholder")
        placeholder.attr["dtype"].type = tf.as_dtype(f.dtype).as_datatype_enum
        placeholder.attr["shape"].shape.CopyFrom(tf.TensorShape([None if d < 0 else d for d in f.shape]).as_proto())
    return sub, [names[f.tensor] + ":0" for f in feeds], sorted(n for n in resources if n in needed)
